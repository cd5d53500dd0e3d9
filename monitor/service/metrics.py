"""Prometheus metrics and the ``/healthz`` + ``/metrics`` HTTP endpoint (``MONITOR_HTTP``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from monitor.errors import ServiceError
from monitor.logs import Throttle
from monitor.models import PollReport
from monitor.web.app import Site, create_app
from monitor.web.server import HttpLimits, WebServer, is_loopback, split_address

__all__ = ["HttpEndpoint", "HttpLimits", "Metrics"]

log = logging.getLogger(__name__)


class Metrics:
    """The service's metrics in their own registry (no global state)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.polls = Counter("monitor_feed_polls", "Feed polls by outcome", ["status"], registry=r)
        self.fetch_errors = Counter(
            "monitor_fetch_errors", "Failed polls by feed", ["feed"], registry=r
        )
        self.articles = Counter("monitor_articles_new", "New articles recorded", registry=r)
        self.pages = Counter(
            "monitor_pages_fetched", "Article pages fetched for full text", ["feed"], registry=r
        )
        self.page_failures = Counter(
            "monitor_page_failures",
            "Article pages that could not be fetched or read (full text)",
            ["feed"],
            registry=r,
        )
        self.matches = Counter("monitor_articles_matched", "New articles that matched", registry=r)
        self.outbox_depth = Gauge(
            "monitor_outbox_pending", "Outbox rows waiting", ["kind"], registry=r
        )
        self.outbox_oldest = Gauge(
            "monitor_outbox_oldest_pending_alert_seconds",
            "Age of the oldest waiting alert",
            registry=r,
        )
        self.delivered = Counter("monitor_outbox_sent", "Outbox rows sent", ["channel"], registry=r)
        self.delivery_failed = Counter(
            "monitor_outbox_failed", "Outbox rows failed", ["channel"], registry=r
        )
        self.latency = Histogram(
            "monitor_delivery_latency_seconds",
            "From the poll that found an article to the send of its alert",
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600),
            registry=r,
        )
        self.last_poll = Gauge(
            "monitor_last_successful_poll_timestamp_seconds",
            "Unix time of the last successful poll",
            registry=r,
        )
        self.feeds_failing = Gauge(
            "monitor_feeds_failing", "Feeds whose last poll failed", registry=r
        )
        self.config_reloads = Counter(
            "monitor_config_reloads", "Configuration reloads", ["result"], registry=r
        )

    def observe_poll(self, report: PollReport, now_ts: float) -> None:
        self.polls.labels(report.status).inc()
        if report.status == "error":
            self.fetch_errors.labels(report.feed_id).inc()
        else:
            self.last_poll.set(now_ts)
        if report.new:
            self.articles.inc(report.new)
        if report.matches:
            self.matches.inc(report.matches)
        if report.pages_fetched:
            self.pages.labels(report.feed_id).inc(report.pages_fetched)
        if report.page_failures:
            self.page_failures.labels(report.feed_id).inc(report.page_failures)

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))


class HttpEndpoint(WebServer):
    """``GET /healthz`` (JSON), ``GET /metrics`` (Prometheus) and, with ``site``, the
    dashboard (``monitor.web``), served by uvicorn on the service's event loop."""

    def __init__(
        self,
        metrics: Metrics,
        health: Callable[[], dict[str, Any]],
        refresh: Callable[[], None],
        limits: HttpLimits | None = None,
        throttle: Throttle | None = None,
        site: Site | None = None,
    ) -> None:
        def render() -> bytes:
            refresh()
            return metrics.render()

        app, self._close = create_app(health, render, site)
        super().__init__(app, limits, throttle)
        self.site = site

    async def start(self, address: str) -> str:
        """Listen on ``host:port``; returns the bound address (port 0 picks a free one).

        Raises:
            ServiceError: the address is taken or invalid, or it is not a loopback address
                and the dashboard has no ``MONITOR_WEB_TOKEN``.
        """
        host, _ = split_address(address)
        if self.site is not None and not self.site.token and not is_loopback(host):
            raise ServiceError(
                f"http: {address} is not a loopback address and MONITOR_WEB_TOKEN is not set: "
                "the dashboard would be open to anyone who can reach it; set "
                "MONITOR_WEB_TOKEN to a long random secret, or bind --http / MONITOR_HTTP to "
                "127.0.0.1"
            )
        return await super().start(address)

    async def stop(self) -> None:
        await super().stop()
        self._close()
