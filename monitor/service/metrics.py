"""Prometheus metrics and the ``/healthz`` + ``/metrics`` HTTP endpoint (``MONITOR_HTTP``)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
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
from monitor.logs import Throttle
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


@dataclass(frozen=True)
class HttpLimits:
    """Limits of the ``/healthz`` + ``/metrics`` endpoint (issue 10 item 4).

    Held connections must never exhaust the process's file descriptors (the feed fetches
    need them) nor keep ``/healthz`` from answering.  The same three limits carry over to an
    ASGI server: ``max_connections`` is uvicorn's ``limit_concurrency``, the deadline its
    ``timeout_keep_alive`` plus a request timeout, ``max_request_bytes`` h11's
    ``max_incomplete_event_size``.
    """

    request_deadline: float = 10.0
    """Seconds for a whole request: reading it and answering it."""
    max_connections: int = 32
    """Open connections at most; beyond, the oldest one still sending its request is closed."""
    max_request_bytes: int = 8192
    """The request line and headers together; more is answered 431 and closed."""


class HttpEndpoint:
    """A tiny HTTP/1.1 server: ``GET /healthz`` (JSON) and ``GET /metrics`` (Prometheus)."""

    def __init__(
        self,
        metrics: Metrics,
        health: Callable[[], dict[str, Any]],
        refresh: Callable[[], None],
        limits: HttpLimits | None = None,
        throttle: Throttle | None = None,
    ) -> None:
        self.metrics = metrics
        self.health = health
        self.refresh = refresh
        self.limits = limits or HttpLimits()
        self.throttle = throttle or Throttle()
        self._server: asyncio.Server | None = None
        self._reading: dict[asyncio.StreamWriter, None] = {}
        """Connections still sending their request, oldest first (an ordered set)."""
        self._open: set[asyncio.StreamWriter] = set()

    @property
    def open_connections(self) -> int:
        return len(self._open)

    async def start(self, address: str) -> str:
        """Listen on ``host:port``; returns the bound address (port 0 picks a free one).

        Raises:
            ServiceError: the address is taken or invalid.
        """
        host, _, port = address.rpartition(":")
        try:
            self._server = await asyncio.start_server(
                self._handle, host or "127.0.0.1", int(port), limit=self.limits.max_request_bytes
            )
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

    def _admit(self, writer: asyncio.StreamWriter) -> None:
        """Count the connection in; over the cap, close the oldest one still sending its
        request at once (a scraper sends its request in one packet: the oldest idle one is
        a held connection)."""
        self._open.add(writer)
        self._reading[writer] = None
        if len(self._open) <= self.limits.max_connections:
            return
        victim = next(iter(self._reading))
        del self._reading[victim]
        self._open.discard(victim)
        victim.transport.abort()
        self.throttle.log(
            log,
            logging.WARNING,
            "http:cap",
            "http: %d connections open, the cap; closed the oldest idle one",
            self.limits.max_connections,
        )

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._admit(writer)
        done = False
        try:
            async with asyncio.timeout(self.limits.request_deadline):
                await self._serve(reader, writer)
                writer.close()  # inside the deadline: a client that stops reading is cut off
                await writer.wait_closed()
                done = True
        except TimeoutError:
            self.throttle.log(
                log,
                logging.INFO,
                "http:deadline",
                "http: closed a connection that took over %gs",
                self.limits.request_deadline,
            )
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            pass
        except Exception as exc:  # a scrape must never take the service down
            tail = self.throttle.suffix(f"http:failed:{type(exc).__name__}")
            if tail is not None:
                log.exception("http endpoint failed%s", tail)
        finally:
            self._open.discard(writer)
            self._reading.pop(writer, None)
            if not done:
                writer.transport.abort()  # the file descriptor is free at once

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await reader.readline()
            size = len(request)
            while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                size += len(line)  # headers: nothing here needs them, but they are bounded
                if size > self.limits.max_request_bytes:
                    raise ValueError("request headers too large")
        except ValueError:  # a line over the stream limit, or headers over the cap
            self._reading.pop(writer, None)
            body = b"request header fields too large\n"
            writer.write(_response("431 Request Header Fields Too Large", "text/plain", body))
            await writer.drain()
            return
        self._reading.pop(writer, None)
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
        writer.write(
            _response(status, ctype, body if parts and parts[0] != "HEAD" else b"", len(body))
        )
        await writer.drain()


def _response(status: str, ctype: str, body: bytes, length: int | None = None) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\n"
        f"Content-Length: {len(body) if length is None else length}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body
