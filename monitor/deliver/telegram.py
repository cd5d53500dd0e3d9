"""Telegram transport: python-telegram-bot's ``ExtBot`` behind the :class:`Sender` seam.

Sending is throttled below Telegram's flood limits by :class:`FloodLimiter`; errors are
mapped onto the delivery error tree once, here; a message Telegram cannot parse as HTML
is sent again, at once, as its plain twin so that the alert is not lost.  Retrying is
the outbox's business: nothing here sleeps on a 429.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import warnings
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Message
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.ext import BaseRateLimiter, ExtBot
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from monitor.errors import (
    DeliveryError,
    HeldDeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
    TransportSettingsError,
)
from monitor.models import Channel, LinkPreview, OutgoingMessage, SendReceipt, Target
from monitor.render.telegram import render_test_message
from monitor.route import split_topic

DEFAULT_API_URL = "https://api.telegram.org"
log = logging.getLogger(__name__)

_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
_PREVIEWS: dict[LinkPreview, LinkPreviewOptions] = {
    "off": _NO_PREVIEW,
    "on": LinkPreviewOptions(is_disabled=False),
    "above": LinkPreviewOptions(show_above_text=True),
    "small": LinkPreviewOptions(prefer_small_media=True),
}
# Telegram's words for a forum topic that cannot take messages (deleted or closed).
TOPIC_GONE = ("message thread not found", "topic_closed", "topic_deleted", "topic_id_invalid")
# Loggers that print request URLs, and python-telegram-bot puts the token in the URL.
URL_LOGGERS = ("httpx", "httpcore", "telegram.Bot", "telegram.ext.ExtBot")
_JSONResult = bool | dict[str, Any] | list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class TelegramLimits:
    """Sliding windows (requests, seconds).  The defaults are Telegram's published limits:
    about 30 messages a second per bot, 20 a minute per group or channel, 1 a second
    per private chat (https://core.telegram.org/bots/faq#broadcasting-to-users)."""

    overall: tuple[int, float] = (30, 1.0)
    group: tuple[int, float] = (20, 60.0)
    private: tuple[int, float] = (1, 1.0)


class _Window:
    """At most ``rate`` requests in any ``period`` seconds.

    A request holds its place from the moment it starts until ``period`` after it has
    finished: the server saw it somewhere in between, so two requests can never reach
    it closer together than the window allows, whatever the network latency.
    """

    def __init__(self, rate: int, period: float) -> None:
        self.rate = rate
        self.period = period
        self._done: deque[float] = deque()
        self._busy = 0
        self._changed = asyncio.Condition()

    def idle(self) -> bool:
        now = time.monotonic()
        return not self._busy and all(now - t >= self.period for t in self._done)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._changed:
            while True:
                now = time.monotonic()
                while self._done and now - self._done[0] >= self.period:
                    self._done.popleft()
                if self._busy + len(self._done) < self.rate:
                    break
                timeout = self._done[0] + self.period - now if self._done else None
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout)
            self._busy += 1
        try:
            yield
        finally:
            async with self._changed:
                self._busy -= 1
                self._done.append(time.monotonic())
                self._changed.notify_all()


class FloodLimiter(BaseRateLimiter[int]):
    """python-telegram-bot rate limiter with a window per chat and one for the bot.

    Positive numeric chat ids are private chats; negative ids and ``@names`` are groups
    or channels.  Requests without a ``chat_id`` (getMe, getUpdates) are not throttled.
    One instance may be shared by several bots of one process (sender and commands), in
    one event loop.
    """

    def __init__(self, limits: TelegramLimits | None = None) -> None:
        self.limits = limits or TelegramLimits()
        self._overall = _Window(*self.limits.overall)
        self._chats: dict[str, _Window] = {}

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    def _window(self, chat: object) -> _Window:
        key = str(chat)
        if key not in self._chats:
            if len(self._chats) > 1024:
                self._chats = {k: w for k, w in self._chats.items() if not w.idle()}
            private = key.isdigit()
            self._chats[key] = _Window(*(self.limits.private if private else self.limits.group))
        return self._chats[key]

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, _JSONResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> _JSONResult:
        """Wait for a free slot in the chat's window and the bot's, then call."""
        chat = data.get("chat_id")
        if chat is None:
            return await callback(*args, **kwargs)
        async with self._window(chat).slot(), self._overall.slot():
            return await callback(*args, **kwargs)


class RedactToken(logging.Filter):
    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token in message:
            record.msg = message.replace(self.token, "***")
            record.args = None
        return True


def chat_id(address: str) -> int | str:
    """A destination's ``telegram:`` value as the Bot API wants it: ``@name`` or an int
    (a subscribed forum topic's ``chat/topic`` address gives its chat)."""
    text = split_topic(address)[0]
    try:
        return int(text)
    except ValueError:
        return text


class TelegramSender:
    """Sends rendered messages with a python-telegram-bot ``ExtBot`` (HTML parse mode,
    link previews off), throttled by a :class:`FloodLimiter`.

    ``api_url`` follows ``TELEGRAM_API_URL``: ``https://api.telegram.org`` by default, a
    local Bot API server as ``http://127.0.0.1:PORT``.  The token is never logged: it is
    redacted from the records of the loggers that print request URLs.  Use one sender
    per event loop, and close it (``aclose`` or ``async with``).
    """

    channel: Channel = "telegram"

    def __init__(
        self,
        token: str,
        *,
        api_url: str | None = None,
        limiter: FloodLimiter | None = None,
        timeout: float = 20.0,
    ) -> None:
        if not token.strip():
            raise ValueError("telegram: the bot token is empty")
        self._token = token
        self._filter = RedactToken(token)
        for name in URL_LOGGERS:
            logging.getLogger(name).addFilter(self._filter)
        api = (api_url or DEFAULT_API_URL).rstrip("/")
        self._request = HTTPXRequest(
            connection_pool_size=16,
            connect_timeout=timeout,
            read_timeout=timeout,
            write_timeout=timeout,
            pool_timeout=timeout,
        )
        self.limiter = limiter or FloodLimiter()
        self.bot: ExtBot[int] = ExtBot(
            token,
            base_url=f"{api}/bot",
            base_file_url=f"{api}/file/bot",
            request=self._request,
            get_updates_request=self._request,
            rate_limiter=self.limiter,
        )

    async def send(self, message: OutgoingMessage) -> SendReceipt:
        """Send ``message`` (or edit ``message.edit_of``); returns the Telegram message id.

        Raises:
            TransientDeliveryError: 429 (``retry_after`` as Telegram said), 5xx, network
                errors and timeouts, a rejected token.
            PermanentDeliveryError: 400 (chat not found, message too long, ...) and 403
                (bot kicked from the channel, blocked by the user).
        """
        chat = chat_id(message.target.address)
        if message.thread is None and split_topic(message.target.address)[1] is not None:
            message = dataclasses.replace(message, thread=split_topic(message.target.address)[1])
        try:
            return await self._post(chat, message, html=True)
        except BadRequest as exc:
            if "can't parse entities" not in exc.message.lower() or not message.plain.strip():
                raise self._error(exc, message.target, message.thread) from exc
            # The renderer escapes everything, so this is a bug; the reader still
            # gets the alert, without formatting, rather than nothing.
            log.warning(
                "telegram: %s: html rejected (%s); sending it as plain text",
                message.target.destination,
                exc.message,
            )
        except TelegramError as exc:
            raise self._error(exc, message.target, message.thread) from exc
        try:
            return await self._post(chat, message, html=False)
        except TelegramError as exc:
            raise self._error(exc, message.target, message.thread) from exc

    async def _post(self, chat: int | str, message: OutgoingMessage, *, html: bool) -> SendReceipt:
        text = message.text if html else message.plain
        mode = ParseMode.HTML if html else None
        preview = _PREVIEWS[message.link_preview]
        markup = _keyboard(message)
        if message.edit_of is None:
            sent = await self.bot.send_message(
                chat,
                text,
                parse_mode=mode,
                link_preview_options=preview,
                message_thread_id=message.thread,
                disable_notification=True if message.silent else None,
                reply_markup=markup,
            )
            return SendReceipt(remote_id=str(sent.message_id))
        try:
            message_id = int(message.edit_of)
        except ValueError:
            raise PermanentDeliveryError(
                f"telegram: cannot edit {message.edit_of!r}: not a message id",
                destination=message.target.destination,
            ) from None
        try:
            edited = await self.bot.edit_message_text(
                text,
                chat_id=chat,
                message_id=message_id,
                parse_mode=mode,
                link_preview_options=preview,
                reply_markup=markup,
            )
        except BadRequest as exc:
            # Sending the same edit twice (a retry after a lost answer) is success.
            if "message is not modified" in exc.message.lower():
                return SendReceipt(remote_id=message.edit_of)
            raise
        remote = edited.message_id if isinstance(edited, Message) else message_id
        return SendReceipt(remote_id=str(remote))

    def _error(
        self, exc: TelegramError, target: Target, thread: int | None = None
    ) -> DeliveryError:
        text = self._redact(exc.message)
        text = f"telegram: {text[:1].lower()}{text[1:]}"
        destination = target.destination
        if thread is not None and any(t in text.lower() for t in TOPIC_GONE):
            # Not permanent: the rows wait (and the destination shows unhealthy) until
            # an admin reopens the topic or points topic: at another one.
            return HeldDeliveryError(
                f"telegram: forum topic {thread} of {target.address} is deleted or closed "
                f"({text.removeprefix('telegram: ')}); alerts wait until it is reopened "
                "or topic: names another one",
                destination=destination,
            )
        if isinstance(exc, RetryAfter):
            return TransientDeliveryError(
                text, destination=destination, retry_after=retry_after_seconds(exc)
            )
        if isinstance(exc, ChatMigrated):
            return PermanentDeliveryError(
                f"telegram: the group became supergroup {exc.new_chat_id}; "
                f"use that chat id instead of {target.address}",
                destination=destination,
            )
        if isinstance(exc, Forbidden | BadRequest):
            return PermanentDeliveryError(text, destination=destination)
        if isinstance(exc, InvalidToken):
            # Not permanent: every queued message would fail for a configuration error
            # that the operator fixes by setting TELEGRAM_BOT_TOKEN; they wait instead.
            return TransportSettingsError(
                "telegram: the bot token was rejected (check TELEGRAM_BOT_TOKEN)",
                destination=destination,
            )
        # NetworkError covers 5xx, timeouts and dropped connections; anything unknown is
        # retried too rather than lost.
        return TransientDeliveryError(text, destination=destination)

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "***")

    async def send_test(
        self, chat: str, *, destination: str = "send-test", now: datetime | None = None
    ) -> SendReceipt:
        """Send the ``monitor send-test`` message to ``chat`` (``@name`` or a chat id).

        Raises:
            TransientDeliveryError, PermanentDeliveryError: as :meth:`send`.
        """
        target = Target(destination=destination, channel="telegram", address=chat)
        return await self.send(render_test_message(target, now=now or datetime.now(UTC)))

    async def aclose(self) -> None:
        """Close the HTTP connections; the token filter leaves the loggers."""
        await self._request.shutdown()
        for name in URL_LOGGERS:
            logging.getLogger(name).removeFilter(self._filter)

    async def __aenter__(self) -> TelegramSender:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


def _keyboard(message: OutgoingMessage) -> InlineKeyboardMarkup | None:
    if not message.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.text, callback_data=b.data)] for b in message.buttons]
    )


def retry_after_seconds(exc: RetryAfter) -> float:
    """Telegram's ``retry_after`` in seconds, exactly as it was sent."""
    # python-telegram-bot 22 warns that the int form becomes a timedelta; accept both.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
