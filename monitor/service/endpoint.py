"""The service's HTTP part: ``/healthz``, ``/metrics`` and the dashboard on ``MONITOR_HTTP``.

The status it serves is computed here from the store and the other parts; the server
itself is :class:`~monitor.service.metrics.HttpEndpoint` (uvicorn on the service's loop).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from monitor.config.feeds import FeedsConfig
from monitor.errors import StorageError
from monitor.logs import Throttle
from monitor.models import Target
from monitor.service.metrics import HttpEndpoint, HttpLimits, Metrics
from monitor.service.outbox_worker import OutboxWorker
from monitor.service.tasks import Clock, Tasks
from monitor.settings import Settings
from monitor.store import Store, unsubscribe
from monitor.web.app import Site

if TYPE_CHECKING:
    from monitor.match import Matcher

log = logging.getLogger("monitor.service.runner")  # these lines kept their logger name

STUCK_AFTER = timedelta(minutes=30)
"""An alert pending longer than this makes /healthz say not ok."""


class Status:
    """Health, gauges and the dashboard of one running service."""

    def __init__(
        self,
        store: Store,
        tasks: Tasks,
        metrics: Metrics,
        outbox: OutboxWorker,
        *,
        feeds: Callable[[], FeedsConfig],
        clock: Clock,
        started: datetime,
        last_reload: Callable[[], dict[str, Any] | None] = lambda: None,
        matcher: Callable[[], object | None] = lambda: None,
    ) -> None:
        self.store = store
        self.tasks = tasks
        self.metrics = metrics
        self.outbox = outbox
        self.feeds = feeds
        self.clock = clock
        self.started = started
        self.last_reload = last_reload
        self.matcher = matcher
        """The matcher in force (None: not compiled yet), for the lab (``Site.matcher``)."""
        self.endpoint: HttpEndpoint | None = None

    async def start(
        self,
        address: str,
        settings: Settings,
        keywords_path: str,
        limits: HttpLimits,
        throttle: Throttle,
    ) -> str:
        """Serve on ``address`` (``host:port``); returns the bound address.

        Raises:
            ServiceError: the address is taken or invalid, or not loopback without a
                ``MONITOR_WEB_TOKEN``.
        """
        endpoint = HttpEndpoint(
            self.metrics,
            self.health,
            self.refresh_gauges,
            limits=limits,
            throttle=throttle,
            site=self.site(settings, keywords_path),
        )
        bound = await endpoint.start(address)
        self.endpoint = endpoint
        return bound

    async def stop(self) -> None:
        if self.endpoint is not None:
            await self.endpoint.stop()
            self.endpoint = None

    def health(self) -> dict[str, Any]:
        """``/healthz``: not ok while stopping, with an alert stuck, or the database out of
        reach; ``database`` names the engine and, on PostgreSQL, how many times the
        connection was lost and reopened (``reconnects``) or why it is down (``error``)."""
        database: dict[str, Any] = {
            "engine": self.store.engine,
            "where": self.store.where,
            "reconnects": self.store.reconnects,
        }
        try:
            return {**self._health(), "database": database}
        except StorageError as exc:
            return {
                "ok": False,
                "started": self.started.isoformat(),
                "database": {**database, "error": str(exc)},
            }

    def _health(self) -> dict[str, Any]:
        states = self.store.feed_states()
        enabled = self.feeds().enabled()
        failing = sum(1 for f in enabled if (st := states.get(f.id)) and st.consecutive_failures)
        last_ok = max((st.last_success for st in states.values() if st.last_success), default=None)
        stats = self.store.outbox_stats()
        oldest = stats.oldest_pending_alert
        stuck = oldest is not None and self.clock() - oldest > STUCK_AFTER
        return {
            "ok": not self.tasks.stopping.is_set() and not stuck,
            "started": self.started.isoformat(),
            "feeds": len(enabled),
            "feeds_failing": failing,
            "last_successful_poll": last_ok.isoformat() if last_ok else None,
            "outbox": stats.counts,
            "oldest_pending_alert": oldest.isoformat() if oldest else None,
            "paused": self.outbox.paused(),
            "destinations_unhealthy": [
                f"{d.destination} ({d.channel} {d.address}): {d.last_error}"
                for d in self.store.destination_rows()
                if not d.healthy
            ],
        }

    def site(self, settings: Settings, keywords_path: str) -> Site:
        """The dashboard of this service (``monitor.web``)."""

        def digests() -> list[Any]:
            deliverer = self.outbox.deliverer
            return deliverer.preview_digests() if deliverer is not None else []

        return Site(
            database=self.store.path,
            database_url=self.store.url,
            token=settings.web_token.reveal() if settings.web_token else None,
            status=lambda: {"health": self.health(), "reload": self.last_reload()},
            now=self.clock,
            secure_cookie=(settings.public_url or "").startswith("https://"),
            keywords=Path(keywords_path),
            digests=digests,
            secret=settings.secret.reveal() if settings.secret else None,
            set_unsubscribed=self.set_unsubscribed,
            matcher=self.matcher_in_force,
        )

    def matcher_in_force(self) -> Matcher | None:
        # The poller's is typed ``object`` so that it need not import the matcher.
        return cast("Matcher | None", self.matcher())

    def set_unsubscribed(self, target: Target, on: bool) -> None:
        with self.store.transaction() as conn:
            unsubscribe.set_unsubscribed(conn, target, on, self.clock())
        log.warning(
            "%s %s from the digests of %s (their link)",
            target.address,
            "unsubscribed" if on else "resubscribed",
            target.destination,
        )

    def refresh_gauges(self) -> None:
        stats = self.store.outbox_stats()
        for kind in ("alert", "digest"):
            self.metrics.outbox_depth.labels(kind).set(stats.counts.get(f"{kind}:pending", 0))
        oldest = stats.oldest_pending_alert
        self.metrics.outbox_oldest.set((self.clock() - oldest).total_seconds() if oldest else 0)
        states = self.store.feed_states()
        self.metrics.feeds_failing.set(
            sum(
                1
                for f in self.feeds().enabled()
                if (st := states.get(f.id)) and st.consecutive_failures
            )
        )
