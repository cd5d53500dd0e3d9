"""Jobs that one instance runs at a time: digests, the daily health report, retention and
the daily integrity check.

Each run first asks ``Store.singleton(name, instance)`` whether this instance leads for
that job.  On SQLite the answer is always yes (the state lock already makes this the only
instance); on PostgreSQL it is an advisory lock held by the leader's session, taken over
when that session ends (docs/design.md, "Parts").
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from monitor.config.feeds import FeedsConfig
from monitor.service.health import health_report
from monitor.service.outbox_worker import OutboxWorker
from monitor.service.tasks import Clock, Tasks
from monitor.store import Store
from monitor.store.db import RESTORE_HINT, check_file

log = logging.getLogger("monitor.service.runner")  # these lines kept their logger name

JOBS = ("digests", "health", "retention", "quick-check")


class Singletons:
    """The singleton jobs of one service, added to its scheduler by :meth:`add_jobs`."""

    def __init__(
        self,
        store: Store,
        tasks: Tasks,
        outbox: OutboxWorker,
        *,
        feeds: Callable[[], FeedsConfig],
        clock: Clock,
        instance: str,
        on_corrupt: Callable[[str], None],
    ) -> None:
        self.store = store
        self.tasks = tasks
        self.outbox = outbox
        self.feeds = feeds
        """The current feeds configuration (retention settings, the health report)."""
        self.clock = clock
        self.instance = instance
        self.on_corrupt = on_corrupt
        """Called with the message when the state database is corrupt: stop the service."""

    def leads(self, job: str) -> bool:
        """Whether this instance runs ``job`` now (the store's election)."""
        return self.store.singleton(job, self.instance)

    def add_jobs(
        self,
        scheduler: AsyncIOScheduler,
        *,
        digest_every: float,
        health_time: str,
        health_timezone: str,
    ) -> None:
        """Digests every ``digest_every`` seconds (and at once), retention daily (first in
        five minutes), the health report daily at ``health_time`` in ``health_timezone``,
        the integrity check daily (first in a day)."""
        now = self.clock()
        scheduler.add_job(
            self._spawn,
            "interval",
            ["digests"],
            seconds=digest_every,
            id="digests",
            next_run_time=now,
        )
        scheduler.add_job(
            self._spawn,
            "interval",
            ["retention"],
            hours=24,
            id="retention",
            next_run_time=now + timedelta(minutes=5),
        )
        hour, minute = (int(x) for x in health_time.split(":"))
        scheduler.add_job(
            self._spawn,
            CronTrigger(hour=hour, minute=minute, timezone=health_timezone),
            ["health"],
            id="health",
        )
        scheduler.add_job(
            self._spawn,
            "interval",
            ["quick-check"],
            hours=24,
            id="quick-check",
            next_run_time=now + timedelta(hours=24),
        )

    async def _spawn(self, job: str) -> None:
        if not self.leads(job):
            return
        if job == "digests":
            if not self.outbox.paused():
                self.tasks.spawn(self.outbox.deliver_digests(), "digests")
        elif job == "retention":
            self.tasks.spawn(self.retention(), "retention")
        elif job == "health":
            self.tasks.spawn(self.send_health_report(), "health")
        elif job == "quick-check":
            await self.check_database()

    async def retention(self) -> None:
        s = self.feeds().settings
        now = self.clock()
        texts, gone = self.store.prune(now, now - s.keep_text, now - s.keep_keys)
        if texts or gone:
            log.warning(
                "retention: pruned the text of %d articles, forgot %d identities", texts, gone
            )

    async def check_database(self) -> None:
        """The daily ``PRAGMA quick_check`` (in a thread, on a read-only connection of its
        own); a corrupt database stops the service, so nothing more is written into it.
        SQLite's file only: PostgreSQL checks its own pages."""
        if self.store.engine != "sqlite":
            return
        problems = await asyncio.to_thread(check_file, self.store.path)
        if not problems:
            return
        text = (
            f"monitor stopped: storage: {self.store.path}: the state database is corrupt "
            f"(quick_check: {'; '.join(problems[:3])}); {RESTORE_HINT}"
        )
        log.error("%s", text)
        await self.outbox.notify_admins(text)
        self.on_corrupt(text)

    def health_text(self) -> str:
        report = health_report(
            self.feeds().feeds,
            self.store.feed_states(),
            self.store.destination_rows(),
            self.clock(),
            created=self.store.feeds_created(),
        )
        return report.text()

    async def send_health_report(self) -> None:
        text = self.health_text()
        log.warning("%s", text)
        await self.outbox.notify_admins(text)
