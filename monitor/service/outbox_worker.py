"""The outbox worker: sends due alerts as soon as a poll queues them, otherwise when their
retries fall due; digests and ``monitor deliver`` go through the same locks.

The rows a round sends are claimed from the store (``Store.claim_outbox``, called by the
pipeline's :class:`~monitor.pipeline.deliver.Deliverer`): on SQLite every due row (the
state lock makes this the only instance); on PostgreSQL a lease, so that each alert is
sent by one instance.  ``/pause`` stops sending here (polling goes on).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
from collections.abc import Sequence
from datetime import datetime

from monitor.errors import DeliveryError, ServiceError, StorageError
from monitor.models import OutgoingMessage, Target
from monitor.pipeline.deliver import Deliverer, DeliveryReport
from monitor.service.bot_commands import unsubscribe_if_gone
from monitor.service.bot_flags import is_paused
from monitor.service.metrics import Metrics
from monitor.service.tasks import Clock, Tasks
from monitor.store import Store

log = logging.getLogger("monitor.service.runner")  # these lines kept their logger name


class OutboxWorker:
    """Owns the current :class:`Deliverer` (replaced on reload) and sends with it."""

    def __init__(
        self,
        store: Store,
        tasks: Tasks,
        metrics: Metrics,
        *,
        clock: Clock,
        admin_chats: Sequence[str] = (),
        idle: float = 30.0,
    ) -> None:
        self.store = store
        self.tasks = tasks
        self.metrics = metrics
        self.clock = clock
        self.admin_chats = list(admin_chats)
        """``TELEGRAM_ADMIN_CHAT`` / ``TELEGRAM_ADMIN_IDS``: where notices go."""
        self.idle = idle
        """The longest sleep between rounds (seconds), when nothing falls due sooner."""
        self.deliverer: Deliverer | None = None
        self.wake = asyncio.Event()
        self._alerts_lock = asyncio.Lock()
        self._digests_lock = asyncio.Lock()
        """One sender at a time per kind, whether the loop, a digest job or a request runs
        it: two would send a row twice."""

    def use(self, deliverer: Deliverer) -> None:
        """Send with ``deliverer`` from now on (at start and on reload)."""
        old, self.deliverer = self.deliverer, deliverer
        # New settings may fix what made a destination unhealthy: its rows are due now,
        # and the loop (which may be sleeping until their old retry) runs at once.
        deliverer.release_waiting()
        self.wake.set()
        if old is not None:
            self.tasks.spawn(old.aclose(), "close-old-senders")

    async def aclose(self) -> None:
        if self.deliverer is not None:
            await self.deliverer.aclose()

    def paused(self) -> bool:
        return is_paused(self.store)

    async def run(self) -> None:
        """Deliver due alerts as soon as a poll queues them; otherwise when retries fall due."""
        while not self.tasks.stopping.is_set():
            try:
                idle = self._idle()
            except StorageError as exc:  # PostgreSQL restarting: the loop must live on
                log.warning("outbox: %s", exc)
                idle = 1.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=idle)
            self.wake.clear()
            deliverer = self.deliverer
            if self.tasks.stopping.is_set() or deliverer is None:
                continue
            try:
                if self.paused():
                    continue
                async with self._alerts_lock:
                    await deliverer.deliver_alerts()
            except StorageError as exc:
                log.warning("outbox round failed: %s", exc)
                await asyncio.sleep(1)
            except Exception:
                log.exception("outbox round failed")
                await asyncio.sleep(1)

    def _idle(self) -> float:
        due = self.store.next_due(("alert", "update"))
        if due is None:
            return self.idle
        return min(self.idle, max(0.05, (due - self.clock()).total_seconds()))

    async def deliver_digests(self) -> None:
        if self.deliverer is not None:
            async with self._digests_lock:
                await self.deliverer.deliver_digests()

    async def deliver_now(self, digests: bool = True) -> DeliveryReport:
        """Send the due alerts (and digests) now, as ``monitor deliver`` does.

        Raises:
            ServiceError: deliveries are paused (``/pause``).
        """
        if self.paused():
            raise ServiceError("deliveries are paused (/resume in the bot lifts it)")
        deliverer = self.deliverer
        report = DeliveryReport()
        if deliverer is None:
            return report
        async with self._alerts_lock:
            report.add(await deliverer.deliver_alerts())
        if digests:
            async with self._digests_lock:
                report.add(await deliverer.deliver_digests())
        return report

    # -- the Deliverer's hooks -----------------------------------------------------------

    def sent(self, target: Target, created: Sequence[datetime], now: datetime) -> None:
        self.metrics.delivered.labels(target.channel).inc(len(created))
        for when in created:
            self.metrics.latency.observe(max(0.0, (now - when).total_seconds()))

    def failed(self, target: Target, count: int, error: str) -> None:
        self.metrics.delivery_failed.labels(target.channel).inc(count)
        # A subscriber who blocked the bot (or is gone) is unsubscribed.
        unsubscribe_if_gone(self.store, target, error, self.clock())

    def unhealthy(self, target: Target, error: str) -> None:
        # Told once: the outbox calls this when the destination turns unhealthy, not at
        # every retry (issue 10 item 5).
        self.tasks.spawn(
            self.notify_admins(
                f"⚠️ monitor: cannot deliver to {target.destination} ({target.channel} "
                f"{target.address}): {error}\nIts messages wait and go out once this is fixed "
                f"(restart monitor after changing the environment)."
            ),
            "notify",
        )

    def held(self, target: Target, count: int, error: str) -> None:
        # A deleted or closed forum topic: the rows wait for an admin's fix, so tell them.
        waiting = "1 alert is" if count == 1 else f"{count} alerts are"
        text = f"⚠️ monitor: {waiting} waiting for {target.destination}: {error}"
        self.tasks.spawn(self.notify_admins(text), "notify")

    async def notify_admins(self, text: str) -> None:
        """Send ``text`` to the admin chats through the Telegram sender, if there is one."""
        deliverer = self.deliverer
        if not self.admin_chats or deliverer is None:
            return
        sender = deliverer.senders.get("telegram")
        if sender is None:
            return
        for chat in self.admin_chats:
            message = OutgoingMessage(
                target=Target("admin", "telegram", chat),
                text=html.escape(text[:4000], quote=False),
                plain=text[:4000],
                outbox_ids=(),
            )
            try:
                await sender.send(message)
            except DeliveryError as exc:
                log.warning("could not notify admin %s: %s", chat, exc)
