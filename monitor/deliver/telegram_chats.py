"""The chats a bot can see, read from ``getUpdates``: how to find a chat's numeric id.

Telegram keeps a bot's updates for 24 hours until they are confirmed, and an update is
confirmed only by a later ``getUpdates`` call whose ``offset`` is past it.  This module
calls ``getUpdates`` without an offset (and without ``allowed_updates``, which Telegram
would remember for the bot), so nothing is confirmed: a bot started afterwards still
receives every update.  Telegram allows one ``getUpdates`` reader per token at a time;
when another process polls, the call fails with 409 Conflict, reported here as such.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from telegram import Bot, Chat, Update
from telegram.error import Conflict, InvalidToken, NetworkError, TelegramError, TimedOut
from telegram.request import HTTPXRequest

from monitor.deliver.telegram import DEFAULT_API_URL, URL_LOGGERS, RedactToken
from monitor.errors import DeliveryError

_TYPE_ORDER = {"channel": 0, "supergroup": 1, "group": 2, "private": 3}


@dataclass(frozen=True, slots=True)
class SeenChat:
    """One chat found in the pending updates.

    ``bot_status`` is the bot's membership there when an update said it (``administrator``,
    ``member``, ``left``, ``kicked``), else None.
    """

    id: int
    type: str
    title: str
    username: str | None
    bot_status: str | None
    last_seen: datetime | None
    topics: tuple[tuple[int, str], ...] = ()
    """Forum topics seen in the updates: ``(message_thread_id, name)`` (for ``topic:``)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "title": self.title,
            "username": self.username,
            "bot_status": self.bot_status,
            "last_seen": self.last_seen.isoformat() if self.last_seen else None,
            "topics": [{"id": t, "name": n} for t, n in self.topics],
        }


@dataclass(frozen=True, slots=True)
class ChatsReport:
    """What ``getUpdates`` showed: the bot's ``@username``, the updates and their chats."""

    bot_username: str
    updates: int
    chats: tuple[SeenChat, ...]


async def seen_chats(token: str, *, api_url: str | None = None, wait: float = 20.0) -> ChatsReport:
    """The chats named in the bot's pending updates, without confirming any update.

    Raises:
        DeliveryError: the token is rejected, another process polls this bot (409
            Conflict), a webhook is set, or the Bot API cannot be reached.
    """
    api = (api_url or DEFAULT_API_URL).rstrip("/")
    redact = RedactToken(token)
    for name in URL_LOGGERS:
        logging.getLogger(name).addFilter(redact)
    request = HTTPXRequest(
        connect_timeout=wait, read_timeout=wait, write_timeout=wait, pool_timeout=wait
    )
    bot = Bot(
        token,
        base_url=f"{api}/bot",
        base_file_url=f"{api}/file/bot",
        request=request,
        get_updates_request=request,
    )
    try:
        async with bot:
            # No offset: reading confirms nothing.  timeout=0: answer at once.
            updates = await bot.get_updates(timeout=0, limit=100)
            username = bot.username
    except InvalidToken as exc:
        # PTB's message quotes the token: not shown.
        raise DeliveryError(
            f"telegram: {api} rejected the bot token (check TELEGRAM_BOT_TOKEN)"
        ) from exc
    except Conflict as exc:
        if "webhook" in exc.message.lower():
            hint = "a webhook is set for this bot; getUpdates works only without one"
        else:
            hint = (
                "another process is reading this bot's updates (is `monitor run` running "
                "with this token?); stop it and try again"
            )
        raise DeliveryError(f"telegram: {hint} (Telegram said: {_safe(exc, token)})") from exc
    except (TimedOut, NetworkError) as exc:
        raise DeliveryError(f"telegram: cannot reach {api}: {_safe(exc, token)}") from exc
    except TelegramError as exc:
        raise DeliveryError(f"telegram: getUpdates failed: {_safe(exc, token)}") from exc
    finally:
        for name in URL_LOGGERS:
            logging.getLogger(name).removeFilter(redact)
    return ChatsReport(username, len(updates), chats_of(updates))


def chats_of(updates: Sequence[Update]) -> tuple[SeenChat, ...]:
    """Every distinct chat in ``updates`` (the latest update wins), channels first."""
    found: dict[int, SeenChat] = {}
    for update in updates:
        chat = update.effective_chat
        if chat is None:
            continue
        status = None
        member = update.my_chat_member
        if member is not None:
            status = str(member.new_chat_member.status)
        previous = found.get(chat.id)
        if status is None and previous is not None:
            status = previous.bot_status
        topics = dict(previous.topics) if previous is not None else {}
        topic = _topic(update)
        if topic is not None:
            topics[topic[0]] = topic[1] or topics.get(topic[0], "")
        found[chat.id] = SeenChat(
            id=chat.id,
            type=str(chat.type),
            title=_title(chat),
            username=chat.username,
            bot_status=status,
            last_seen=_date(update),
            topics=tuple(sorted(topics.items())),
        )
    return tuple(sorted(found.values(), key=lambda c: (_TYPE_ORDER.get(c.type, 9), c.title)))


def _topic(update: Update) -> tuple[int, str] | None:
    """The forum topic a message was posted in, and its name when the update tells it
    (the topic's "created" service message, or the one a topic message replies to)."""
    message = update.effective_message
    if message is None or not message.is_topic_message or message.message_thread_id is None:
        return None
    created = message.forum_topic_created
    if created is None and message.reply_to_message is not None:
        created = message.reply_to_message.forum_topic_created
    return message.message_thread_id, created.name if created is not None else ""


def _safe(exc: TelegramError, token: str) -> str:
    return exc.message.replace(token, "***")


def _title(chat: Chat) -> str:
    if chat.title:
        return chat.title
    return " ".join(p for p in (chat.first_name, chat.last_name) if p) or str(chat.id)


def _date(update: Update) -> datetime | None:
    for part in (update.effective_message, update.my_chat_member, update.chat_member):
        date = getattr(part, "date", None)
        if isinstance(date, datetime):
            return date
    return None
