"""The Telegram bot commands: a python-telegram-bot ``Application`` on long polling.

Commands (``bot_text.COMMANDS``): ``/start``, ``/help``, ``/watchlists``,
``/subscribe WATCHLIST``, ``/unsubscribe WATCHLIST|all``, ``/mysubs``,
``/latest [WATCHLIST]``, ``/digest``; for the user ids in ``TELEGRAM_ADMIN_IDS``:
``/status``, ``/pause``, ``/resume``.  Subscribers get their alerts through the outbox
(routing adds a ``sub:<chat id>`` target per subscription); the bot only answers.

Running it inside ``monitor run`` (one event loop, the service's ``Store``)::

    app = build_bot(
        token=token,                            # TELEGRAM_BOT_TOKEN
        api_url=api_url,                        # TELEGRAM_API_URL, None: api.telegram.org
        context=BotContext(
            store=store,
            keywords=lambda: current.keywords,  # called per command: hot reload applies
            feeds=lambda: current.feeds,
            admin_ids=settings.admin_ids(),     # TELEGRAM_ADMIN_IDS
            status=[lambda: ["scheduler: ..."]],  # extra /status lines
        ),
        limiter=sender.limiter,                 # optional: share the outbox's FloodLimiter
    )
    await start_bot(app)   # initialize (getMe), setMyCommands, start, updater.start_polling
    ...
    await stop_bot(app)    # updater.stop, stop, shutdown -- before the Store is closed

or, for :class:`monitor.service.runner.Service`, ``handle = await
start_for_service(service, settings)`` and ``await stop_for_service(handle)``, which also keep
retrying in the background while Telegram cannot be reached.  The outbox worker and
the digest job honour ``/pause`` through :func:`is_paused` (polling goes on); the
outbox worker's failure hook should call :func:`unsubscribe_if_gone`, so that a 403
"bot was blocked by the user" unsubscribes like the ``my_chat_member`` update does.

Design: handlers (:mod:`bot_handlers`) are thin adapters from updates to
:class:`Commands` (plain methods, no Telegram types), whose texts are pure functions
(:mod:`bot_text`).  Updates of different users are handled concurrently, those of one
user in order, all on the caller's event loop, so the SQLite connection never meets
another thread, and no handler awaits inside a transaction.  A token bucket per user
answers a flood with one "slow down".  The token is redacted from the loggers that
print request URLs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

from telegram import BotCommand, BotCommandScopeChat, Update
from telegram.error import Conflict, InvalidToken, TelegramError
from telegram.ext import ApplicationBuilder
from telegram.request import HTTPXRequest

from monitor.config.feeds import FeedsConfig
from monitor.config.keywords import KeywordsConfig
from monitor.deliver.telegram import DEFAULT_API_URL, URL_LOGGERS, FloodLimiter, RedactToken
from monitor.errors import ConfigError, PermanentDeliveryError, TransientDeliveryError
from monitor.service.bot_commands import (
    BotContext,
    Commands,
    PollNow,
    StatusProvider,
    unsubscribe_if_gone,
    utcnow,
)
from monitor.service.bot_flags import is_paused, pause_state, set_paused
from monitor.service.bot_handlers import BotApp, Handlers, PerUserUpdates
from monitor.service.bot_limits import CommandLimiter, CommandRate
from monitor.service.bot_text import COMMANDS
from monitor.settings import Settings
from monitor.store import Store

__all__ = [
    "BotApp",
    "BotContext",
    "BotHandle",
    "CommandRate",
    "Commands",
    "StatusProvider",
    "admin_ids_from_env",
    "build_bot",
    "is_paused",
    "pause_state",
    "set_paused",
    "start_bot",
    "start_for_service",
    "stop_bot",
    "stop_for_service",
    "unsubscribe_if_gone",
]

log = logging.getLogger(__name__)
ALLOWED_UPDATES = (Update.MESSAGE, Update.MY_CHAT_MEMBER, Update.CALLBACK_QUERY)
POLL_TIMEOUT = 10.0
"""Long-polling timeout in seconds (stopping cancels the poll in flight at once)."""
RETRY_FIRST = 5.0
RETRY_MAX = 300.0
_LOGGERS = (*URL_LOGGERS, "telegram.ext.Updater", "telegram.ext.Application")
_FILTER_KEY = "monitor.redact"
_ADMINS_KEY = "monitor.admins"


def admin_ids_from_env(environ: Mapping[str, str]) -> frozenset[int]:
    """The numeric user ids in ``TELEGRAM_ADMIN_IDS`` (comma or space separated).

    Raises:
        ConfigError: an entry is not a numeric Telegram user id.
    """
    raw = environ.get("TELEGRAM_ADMIN_IDS", "")
    ids = set()
    for part in raw.replace(",", " ").split():
        if not part.isdigit():
            raise ConfigError(
                f"{part!r} is not a numeric Telegram user id (a comma-separated list of them)",
                path="TELEGRAM_ADMIN_IDS",
            )
        ids.add(int(part))
    return frozenset(ids)


def build_bot(
    *,
    token: str,
    api_url: str | None,
    context: BotContext,
    limiter: FloodLimiter | None = None,
    timeout: float = 20.0,
) -> BotApp:
    """The command bot, built but not started (see :func:`start_bot`).

    ``api_url`` follows ``TELEGRAM_API_URL`` (default ``https://api.telegram.org``);
    ``limiter`` throttles replies to Telegram's limits and is best shared with the
    outbox's :class:`~monitor.deliver.telegram.TelegramSender` (one bot, one budget).

    Raises:
        ValueError: the token is empty.
    """
    if not token.strip():
        raise ValueError("telegram: the bot token is empty")
    api = (api_url or DEFAULT_API_URL).rstrip("/")

    def request() -> HTTPXRequest:
        return HTTPXRequest(
            connection_pool_size=8,
            connect_timeout=timeout,
            read_timeout=timeout,
            write_timeout=timeout,
            pool_timeout=timeout,
        )

    app: BotApp = (
        ApplicationBuilder()
        .token(token)
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .request(request())
        .get_updates_request(request())
        .rate_limiter(limiter or FloodLimiter())
        .concurrent_updates(PerUserUpdates())
        .job_queue(None)
        .build()
    )
    redact = RedactToken(token)
    for name in _LOGGERS:
        logging.getLogger(name).addFilter(redact)
    app.bot_data[_FILTER_KEY] = redact
    app.bot_data[_ADMINS_KEY] = context.admin_ids
    Handlers(Commands(context), CommandLimiter(context.rate)).install(app)
    return app


# --- lifecycle ----------------------------------------------------------------------


async def start_bot(
    app: BotApp, *, poll_timeout: float = POLL_TIMEOUT, drop_pending_updates: bool = False
) -> None:
    """Connect (getMe), publish the command menu, start answering, start long polling.

    Commands sent while the service was down are answered (Telegram keeps them a day)
    unless ``drop_pending_updates``.

    Raises:
        PermanentDeliveryError: Telegram rejected the token.
        TransientDeliveryError: Telegram could not be reached (try again later).
    """
    try:
        await app.initialize()
        await _publish_commands(app)
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(
            poll_interval=0.0,
            timeout=timedelta(seconds=poll_timeout),
            allowed_updates=list(ALLOWED_UPDATES),
            drop_pending_updates=drop_pending_updates,
            error_callback=_polling_error,
        )
    except BaseException as exc:
        with contextlib.suppress(Exception):
            await stop_bot(app)
        if not isinstance(exc, TelegramError):
            raise
        text = str(exc).replace(app.bot.token, "***")
        if isinstance(exc, InvalidToken):
            raise PermanentDeliveryError(
                "telegram: the bot token was rejected (check TELEGRAM_BOT_TOKEN)"
            ) from None
        raise TransientDeliveryError(f"telegram: cannot start the bot: {text}") from exc
    log.info("bot: answering commands as @%s", app.bot.username)


async def stop_bot(app: BotApp) -> None:
    """Stop polling, finish the updates in hand, close connections (safe to call twice,
    and after a failed :func:`start_bot`)."""
    if app.updater is not None and app.updater.running:
        await app.updater.stop()
    if app.running:
        await app.stop()
    await app.shutdown()
    redact = app.bot_data.pop(_FILTER_KEY, None)
    if redact is not None:
        for name in _LOGGERS:
            logging.getLogger(name).removeFilter(redact)


async def _publish_commands(app: BotApp) -> None:
    """The command menu: everyone's commands, plus the admin ones in admins' chats."""
    public = [BotCommand(c.name, c.summary) for c in COMMANDS if not c.admin]
    admin = [BotCommand(c.name, c.summary) for c in COMMANDS]
    try:
        await app.bot.set_my_commands(public)
    except TelegramError as exc:
        log.warning("bot: could not publish the command menu: %s", exc)
        return
    for user_id in sorted(app.bot_data.get(_ADMINS_KEY, ())):
        try:  # "chat not found" until that admin has written to the bot once
            await app.bot.set_my_commands(admin, scope=BotCommandScopeChat(user_id))
        except TelegramError as exc:
            log.info("bot: no admin menu for %s yet: %s", user_id, exc)


def _polling_error(exc: TelegramError) -> None:
    if isinstance(exc, Conflict):
        log.error(
            "bot: another process is polling this bot token (%s); two services "
            "must not share one bot",
            exc.message,
        )
    else:
        log.warning("bot: getUpdates failed, retrying: %s", exc)


# --- monitor run --------------------------------------------------------------------


class _Configs(Protocol):
    @property
    def keywords(self) -> KeywordsConfig: ...
    @property
    def feeds(self) -> FeedsConfig: ...


class ServiceLike(Protocol):
    """What :func:`start_for_service` needs of ``monitor.service.runner.Service``."""

    @property
    def store(self) -> Store: ...
    @property
    def config(self) -> _Configs: ...


@dataclass
class BotHandle:
    """The bot of a running service: ``app`` once Telegram could be reached."""

    app: BotApp | None = None
    connecting: asyncio.Task[None] | None = None


async def start_for_service(
    service: ServiceLike,
    settings: Settings,
    status: Sequence[StatusProvider] = (),
    *,
    clock: Callable[[], datetime] = utcnow,
    limiter: FloodLimiter | None = None,
    retry_first: float = RETRY_FIRST,
    retry_max: float = RETRY_MAX,
    poll: PollNow | None = None,
    rejected: Literal["raise", "log"] = "raise",
) -> BotHandle:
    """Start the bot for ``monitor run`` from ``TELEGRAM_BOT_TOKEN``, ``TELEGRAM_API_URL``
    and ``TELEGRAM_ADMIN_IDS``.  While Telegram cannot be reached it keeps trying in the
    background (doubling the wait up to ``retry_max`` seconds): the service runs on.
    ``limiter``: the outbox sender's :class:`FloodLimiter`, so both share one budget.
    ``poll``: the service's ``poll_now``, for the admins' ``/poll FEED``.
    ``rejected="log"``: a rejected token is logged (the service runs on, its alerts
    waiting in the outbox) rather than raised.

    Raises:
        ConfigError: ``TELEGRAM_ADMIN_IDS`` is malformed.
        PermanentDeliveryError: Telegram rejected the token.
    """
    context = BotContext(
        store=service.store,
        keywords=lambda: service.config.keywords,
        feeds=lambda: service.config.feeds,
        admin_ids=settings.admin_ids(),
        clock=clock,
        status=status,
        poll=poll,
    )

    def build() -> BotApp:
        return build_bot(
            token=settings.telegram_token.reveal() if settings.telegram_token else "",
            api_url=settings.telegram_api_url,
            context=context,
            limiter=limiter,
        )

    handle = BotHandle()
    try:
        handle.app = await _started(build)
    except PermanentDeliveryError as exc:
        if rejected == "raise":
            raise
        log.error("bot: commands are off: %s", exc)
    except TransientDeliveryError as exc:
        log.warning("bot: commands are off (%s); retrying in %g s", exc, retry_first)
        handle.connecting = asyncio.get_running_loop().create_task(
            _keep_trying(handle, build, retry_first, retry_max), name="bot-connect"
        )
    return handle


async def stop_for_service(handle: BotHandle) -> None:
    """Stop trying to connect, and stop the bot if it runs."""
    if handle.connecting is not None:
        handle.connecting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await handle.connecting
        handle.connecting = None
    if handle.app is not None:
        await stop_bot(handle.app)
        handle.app = None


async def _started(build: Callable[[], BotApp]) -> BotApp:
    app = build()
    await start_bot(app)
    return app


async def _keep_trying(
    handle: BotHandle, build: Callable[[], BotApp], wait: float, most: float
) -> None:
    while True:
        await asyncio.sleep(wait)
        try:
            handle.app = await _started(build)
        except TransientDeliveryError as exc:
            wait = min(wait * 2, most)
            log.warning("bot: commands are still off (%s); retrying in %g s", exc, wait)
            continue
        except PermanentDeliveryError as exc:
            log.error("bot: commands stay off until a restart: %s", exc)
            return
        log.warning("bot: connected; answering commands")
        return
