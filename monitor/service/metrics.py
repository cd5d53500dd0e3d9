"""Prometheus metrics and the ``/healthz`` + ``/metrics`` HTTP endpoint (``MONITOR_HTTP``)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from monitor.errors import ServiceError
from monitor.models import PollReport

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

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))


class HttpEndpoint:
    """A tiny HTTP/1.1 server: ``GET /healthz`` (JSON) and ``GET /metrics`` (Prometheus)."""

    def __init__(
        self, metrics: Metrics, health: Callable[[], dict[str, Any]], refresh: Callable[[], None]
    ) -> None:
        self.metrics = metrics
        self.health = health
        self.refresh = refresh
        self._server: asyncio.Server | None = None

    async def start(self, address: str) -> str:
        """Listen on ``host:port``; returns the bound address (port 0 picks a free one).

        Raises:
            ServiceError: the address is taken or invalid.
        """
        host, _, port = address.rpartition(":")
        try:
            self._server = await asyncio.start_server(self._handle, host or "127.0.0.1", int(port))
        except (OSError, ValueError) as exc:
            # asyncio's bind error wraps the errno in a long sentence: say only the cause.
            errno = exc.errno if isinstance(exc, OSError) else None
            reason = os.strerror(errno) if errno else str(exc)
            raise ServiceError(
                f"http: cannot listen on {address}: {reason}; another process may use the "
                "port: set --http / MONITOR_HTTP to another host:port, or to an empty value "
                "to turn the endpoint off"
            ) from exc
        sock = self._server.sockets[0].getsockname()
        return f"{sock[0]}:{sock[1]}"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5)
            while await asyncio.wait_for(reader.readline(), 5) not in (b"\r\n", b"\n", b""):
                pass  # headers: nothing here needs them
            parts = request.decode("latin-1").split()
            path = parts[1] if len(parts) >= 2 else "/"
            if parts and parts[0] not in ("GET", "HEAD"):
                status, ctype, body = "405 Method Not Allowed", "text/plain", b"GET only\n"
            elif path.startswith("/metrics"):
                self.refresh()
                status, ctype, body = "200 OK", CONTENT_TYPE_LATEST, self.metrics.render()
            elif path.startswith("/healthz"):
                health = self.health()
                status = "200 OK" if health.get("ok") else "503 Service Unavailable"
                ctype, body = "application/json", json.dumps(health).encode()
            else:
                status, ctype, body = "404 Not Found", "text/plain", b"try /healthz or /metrics\n"
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + (body if parts and parts[0] != "HEAD" else b""))
            await writer.drain()
        except (TimeoutError, ConnectionError, OSError):
            pass
        except Exception:  # a scrape must never take the service down
            log.exception("http endpoint failed")
        finally:
            writer.close()
