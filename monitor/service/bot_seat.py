"""The service's seat for the Telegram command bot: started when this instance leads.

Telegram allows one ``getUpdates`` reader per token, so the bot is a singleton job: on
PostgreSQL it runs on the instance that holds the ``bot`` election
(:class:`~monitor.service.singletons.Singletons`), and :meth:`BotSeat.elect` (run every
``ServiceOptions.elect_every`` seconds on the others) takes over when that instance dies.
On SQLite the state lock makes this the only instance and the election always says yes.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitor.service.runner import Service

__all__ = ["BotSeat"]

log = logging.getLogger(__name__)


class BotSeat:
    """Starts and stops the command bot of one :class:`~monitor.service.runner.Service`."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.bot: Any = None

    @property
    def wanted(self) -> bool:
        """The bot is asked for (``--no-bot`` not given) and a token is set."""
        opt = self.service.opt
        return bool(opt.bot and opt.settings.telegram_token)

    async def elect(self) -> None:
        """Start the bot when this instance leads; stop it when it no longer does."""
        service = self.service
        if service.tasks.stopping.is_set():
            return
        if self.bot is not None:
            # Still elected?  A lost election connection (PostgreSQL restarted) frees the
            # lock, and another instance may read getUpdates by now: one reader per token.
            if service.store.url is not None and not service.singletons.leads("bot"):
                log.warning("bot: this instance no longer runs it (election lost); stopped")
                await self.stop()
            return
        if self.wanted and service.singletons.leads("bot"):
            from monitor.service.bot import start_for_service

            self.bot = await start_for_service(
                service,
                service.opt.settings,
                clock=service.clock,
                limiter=service.flood,
                poll=service.polls.poll_now,
                rejected="log",
            )

    async def stop(self) -> None:
        if self.bot is not None:
            from monitor.service.bot import stop_for_service

            await stop_for_service(self.bot)
            self.bot = None
