"""Adapters from python-telegram-bot updates to :class:`Commands`, and replies back.

Each handler turns an update into a :class:`Caller`, calls one :class:`Commands` method
and sends what it returns; the per-user rate limit runs first (handler group -1).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from telegram import LinkPreviewOptions, ReplyParameters, Update
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    ExtBot,
    MessageHandler,
    TypeHandler,
    filters,
)

from monitor.render.telegram_explain import outbox_id_of
from monitor.service.bot_commands import GROUP_ADMIN_COMMANDS, Caller, Commands, user_gone
from monitor.service.bot_limits import CommandLimiter
from monitor.service.bot_text import COMMANDS, Reply, explanation_gone, replies, slow_down

log = logging.getLogger("monitor.service.bot")
BotApp = Application[Any, Any, Any, Any, Any, Any]
Context = ContextTypes.DEFAULT_TYPE
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


class PerUserUpdates(BaseUpdateProcessor):
    """Concurrent across users, in order for each user: one user's flood or long
    ``/digest`` never delays another user's answer."""

    def __init__(self, max_concurrent_updates: int = 64) -> None:
        super().__init__(max_concurrent_updates)
        self._turns: dict[int, _Turn] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = _user_key(update)
        if key is None:
            await coroutine
            return
        turn = self._turns.setdefault(key, _Turn())
        turn.holders += 1
        try:
            async with turn.lock:  # asyncio.Lock wakes its waiters first come, first served
                await coroutine
        finally:
            turn.holders -= 1
            if not turn.holders:
                del self._turns[key]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""


@dataclass(slots=True)
class _Turn:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    holders: int = 0
    """Updates of this user in hand (running or waiting): the entry goes at zero."""


def _user_key(update: object) -> int | None:
    if not isinstance(update, Update):
        return None
    if update.effective_user is not None:
        return update.effective_user.id
    return update.effective_chat.id if update.effective_chat is not None else None


class Handlers:
    """Adapters from updates to :class:`Commands`, and the replies back."""

    def __init__(self, commands: Commands, limiter: CommandLimiter) -> None:
        self.commands = commands
        self.limiter = limiter

    def install(self, app: BotApp) -> None:
        app.add_handler(TypeHandler(Update, self.gate), group=-1)
        for spec in COMMANDS:
            app.add_handler(CommandHandler(spec.name, self.command(spec.name)))
        app.add_handler(MessageHandler(filters.COMMAND & filters.ChatType.PRIVATE, self.unknown))
        app.add_handler(MessageHandler(filters.ChatType.PRIVATE & ~filters.COMMAND, self.chatter))
        app.add_handler(ChatMemberHandler(self.member, ChatMemberHandler.MY_CHAT_MEMBER))
        app.add_handler(CallbackQueryHandler(self.why))
        app.add_error_handler(self.error)

    async def gate(self, update: Update, context: Context) -> None:
        """Per-user rate limit, before any command runs (group -1)."""
        caller = caller_of(update)
        if caller is None or update.message is None:
            return
        if not caller.private and not (update.message.text or "").startswith("/"):
            return  # group chatter is not for us (privacy mode off)
        verdict = self.limiter.check(caller.user_id)
        if verdict == "answer":
            return
        if verdict == "warn":
            log.warning("bot: user %s is flooding; ignoring commands for a while", caller.label)
            await self.send(
                context.bot,
                caller.chat_id,
                replies(slow_down(self.limiter.wait(caller.user_id))),
                caller.thread,
            )
        raise ApplicationHandlerStop

    def command(self, name: str) -> Callable[[Update, Context], Coroutine[Any, Any, None]]:
        async def handle(update: Update, context: Context) -> None:
            caller = caller_of(update)
            if caller is not None:
                if name in GROUP_ADMIN_COMMANDS and not caller.private:
                    caller = dataclasses.replace(
                        caller, chat_admin=await _chat_admin(context.bot, caller)
                    )
                answer = await self.commands.arun(name, caller, context.args or ())
                await self.send(context.bot, caller.chat_id, answer, caller.thread)

        return handle

    async def unknown(self, update: Update, context: Context) -> None:
        caller = caller_of(update)
        if caller is not None and update.message is not None:
            answer = self.commands.unknown(caller, update.message.text or "")
            await self.send(context.bot, caller.chat_id, answer, caller.thread)

    async def chatter(self, update: Update, context: Context) -> None:
        caller = caller_of(update)
        if caller is not None:
            await self.send(context.bot, caller.chat_id, self.commands.chatter(caller))

    async def why(self, update: Update, context: Context) -> None:
        """A "Why?" button: the explanation in a popup, or in a reply when it is long."""
        query = update.callback_query
        if query is None:
            return
        outbox_id = outbox_id_of(query.data or "")
        message = query.message
        if outbox_id is None or message is None:
            # A malformed or foreign button (the data comes from the client): a polite no.
            await query.answer(explanation_gone())
            return
        if self.limiter.check(query.from_user.id) != "answer":
            # The same budget as commands: a long explanation is a message in the chat.
            await query.answer(slow_down(self.limiter.wait(query.from_user.id)))
            return
        chat = message.chat
        short, full = self.commands.why(outbox_id, chat.id, chat.username)
        await query.answer(short, show_alert=bool(not full))
        if full:
            thread = getattr(message, "message_thread_id", None)
            for part in replies(full):
                await context.bot.send_message(
                    chat.id,
                    part.text,
                    message_thread_id=thread,
                    reply_parameters=ReplyParameters(message.message_id),
                    link_preview_options=NO_PREVIEW,
                )

    async def member(self, update: Update, context: Context) -> None:
        change = update.my_chat_member
        if change is None or change.chat.type == ChatType.CHANNEL:
            return  # a configured channel: the outbox marks that destination unhealthy
        if change.new_chat_member.status in (ChatMemberStatus.BANNED, ChatMemberStatus.LEFT):
            # A user who blocked the bot, or a group that removed it: no more alerts.
            self.commands.blocked(change.chat.id)

    async def error(self, update: object, context: Context) -> None:
        exc = context.error
        chat = update.effective_chat if isinstance(update, Update) else None
        if isinstance(exc, Forbidden | BadRequest) and user_gone(exc.message):
            if chat is not None and chat.type == ChatType.PRIVATE:
                self.commands.blocked(chat.id)
            return
        if isinstance(exc, TelegramError):
            log.warning("bot: could not answer: %s", exc)
            return
        log.error("bot: a command failed", exc_info=exc)
        if chat is not None:
            sorry = "Sorry, something went wrong on my side. Please try again later."
            with contextlib.suppress(TelegramError):
                await self.send(context.bot, chat.id, replies(sorry))

    async def send(
        self,
        bot: ExtBot[Any],
        chat_id: int,
        answer: Sequence[Reply],
        thread: int | None = None,
    ) -> None:
        """Send the replies (in the forum topic ``thread`` the command came from)."""
        for reply in answer:
            if reply.html is not None:
                try:
                    await bot.send_message(
                        chat_id,
                        reply.html,
                        parse_mode=ParseMode.HTML,
                        link_preview_options=NO_PREVIEW,
                        message_thread_id=thread,
                    )
                    continue
                except BadRequest as exc:
                    if "can't parse entities" not in exc.message.lower():
                        raise
                    # The renderer escapes everything, so this is a bug; the user still
                    # gets the text, without formatting.
                    log.warning("bot: html rejected (%s); sending plain text", exc.message)
            await bot.send_message(
                chat_id, reply.text, link_preview_options=NO_PREVIEW, message_thread_id=thread
            )


def caller_of(update: Update) -> Caller | None:
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None or user.is_bot:
        return None
    message = update.effective_message
    topic = message is not None and bool(getattr(message, "is_topic_message", False))
    return Caller(
        user_id=user.id,
        chat_id=chat.id,
        private=chat.type == ChatType.PRIVATE,
        username=user.username,
        first_name=user.first_name,
        thread=message.message_thread_id if topic and message is not None else None,
    )


async def _chat_admin(bot: ExtBot[Any], caller: Caller) -> bool:
    """Whether the caller administers the group (a failed lookup counts as no)."""
    try:
        member = await bot.get_chat_member(caller.chat_id, caller.user_id)
    except TelegramError as exc:
        log.warning("bot: cannot check %s in chat %s: %s", caller.label, caller.chat_id, exc)
        return False
    return member.status in (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR)
