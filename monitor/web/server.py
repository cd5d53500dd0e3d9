"""The HTTP server of ``monitor run``: uvicorn on the service's own event loop.

uvicorn's own limits do not cover a held-open connection: ``limit_concurrency`` answers
503 to every request once held connections fill it (so a slowloris client would stop
``/healthz``), and ``timeout_keep_alive`` starts only after a first answer.  The protocol
below adds the three limits of issue 10 item 4 to uvicorn's h11 protocol: an overall
deadline per request, a connection cap that closes the oldest connection still sending its
request, and a bound on the request line plus headers (431).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from monitor.errors import ServiceError
from monitor.logs import Throttle

log = logging.getLogger("monitor.service.metrics")  # the endpoint's log lines keep their name


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``.

    The socket is made with the protocol getaddrinfo gives (IPPROTO_TCP), not 0: asyncio
    sets TCP_NODELAY only on accepted sockets whose ``proto`` is IPPROTO_TCP, and without
    it every response on a kept-alive connection waited about 40 ms for the client's
    delayed ACK (Nagle): small pages took 48 ms instead of 5.
    """
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


@dataclass(frozen=True)
class HttpLimits:
    """Limits of the HTTP endpoint (issue 10 item 4).

    Held connections must never exhaust the process's file descriptors (the feed fetches
    need them) nor keep ``/healthz`` from answering.
    """

    request_deadline: float = 10.0
    """Seconds for a whole request: reading it and answering it."""
    slow_deadline: float = 60.0
    """Seconds for a request to one of ``slow_paths`` once its head has arrived: the lab's
    backtest compiles a candidate keywords.yaml and replays up to 20,000 articles (about
    4 s of CPU, past 10 s on a loaded machine).  A held-open request never gets it: it
    starts only when the whole request line and headers are in."""
    slow_paths: tuple[str, ...] = ("/lab", "/api/lab")
    max_connections: int = 32
    """Open connections at most; beyond, the oldest one still sending its request is closed."""
    max_request_bytes: int = 8192
    """The request line and headers together; more is answered 431 and closed."""


_TOO_LARGE_BODY = b"request header fields too large\n"
_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain\r\n"
    b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(_TOO_LARGE_BODY), _TOO_LARGE_BODY)
)
_HEAD_END = b"\r\n\r\n"


class _Guard:
    """The connections of one server, oldest first, and its limits."""

    def __init__(self, limits: HttpLimits, throttle: Throttle) -> None:
        self.limits = limits
        self.throttle = throttle
        self.open: dict[_LimitedH11, None] = {}  # an ordered set

    def admit(self, conn: _LimitedH11) -> None:
        self.open[conn] = None
        if len(self.open) <= self.limits.max_connections:
            return
        victim = next((c for c in self.open if c.reading), None)
        if victim is None:
            return
        self.open.pop(victim, None)
        victim.transport.abort()
        self.throttle.log(
            log,
            logging.WARNING,
            "http:cap",
            "http: %d connections open, the cap; closed the oldest idle one",
            self.limits.max_connections,
        )


class _LimitedH11(H11Protocol):
    """uvicorn's h11 protocol with a request deadline, a connection cap and a header cap."""

    guard: _Guard  # set on the subclass made for each server

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.reading = True
        """No complete request yet on this connection (or between two requests)."""
        self._head = 0
        self._tail = b""  # the last bytes of the head so far: its end may span two reads
        self._deadline: asyncio.TimerHandle | None = None
        self._arm()
        self.guard.admit(self)

    def _arm(self, seconds: float | None = None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._armed = self.guard.limits.request_deadline if seconds is None else seconds
        self._deadline = self.loop.call_later(self._armed, self._expire)

    def _expire(self) -> None:
        self.guard.throttle.log(
            log,
            logging.INFO,
            "http:deadline",
            "http: closed a connection that took over %gs",
            self._armed,
        )
        self.transport.abort()  # the file descriptor is free at once

    def data_received(self, data: bytes) -> None:
        if self.reading:
            # Only the request line and headers count: a POST's body (the lab's
            # keywords.yaml) often comes in the same read as its head.
            end = (self._tail + data).find(_HEAD_END)
            head = len(data) if end < 0 else end + len(_HEAD_END) - len(self._tail)
            self._head += head
            self._tail = (self._tail + data)[-3:] if end < 0 else b""
            if self._head > self.guard.limits.max_request_bytes:
                self.reading = False
                self.transport.write(_TOO_LARGE)
                self.transport.close()
                return
        super().data_received(data)
        if self.reading and self.cycle is not None and not self.cycle.response_complete:
            self.reading = False
            limits = self.guard.limits
            if self.cycle.scope["path"] in limits.slow_paths:
                self._arm(limits.slow_deadline)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self.reading = True
        self._head = 0
        self._tail = b""  # the last bytes of the head so far: its end may span two reads
        self._arm()  # the next request on a kept-alive connection has a deadline of its own

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self.guard.open.pop(self, None)
        super().connection_lost(exc)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The service owns SIGTERM/SIGINT (loop.add_signal_handler) and stops the server.
        yield


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or ``localhost``: only this machine can connect."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:port`` for IPv6).

    Raises:
        ServiceError: not host:port.
    """
    host, _, port = address.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        number = -1
    if not host or not 0 <= number <= 65535:
        raise ServiceError(
            f"http: {address!r} is not host:port; set --http / MONITOR_HTTP to e.g. "
            "127.0.0.1:9108, or to an empty value to turn the endpoint off"
        )
    return host.strip("[]"), number


class WebServer:
    """uvicorn serving one ASGI app as a task of the running event loop."""

    def __init__(
        self, app: Any, limits: HttpLimits | None = None, throttle: Throttle | None = None
    ) -> None:
        self.app = app
        self.limits = limits or HttpLimits()
        self.guard = _Guard(self.limits, throttle or Throttle())
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def open_connections(self) -> int:
        return len(self.guard.open)

    async def start(self, address: str) -> str:
        """Listen on ``host:port``; returns the bound address (port 0 picks a free one).

        Raises:
            ServiceError: the address is taken or invalid.
        """
        host, port = split_address(address)
        try:
            sock = listen(host, port)
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise ServiceError(
                f"http: cannot listen on {address}: {reason}; another process may use the "
                "port: set --http / MONITOR_HTTP to another host:port, or to an empty value "
                "to turn the endpoint off"
            ) from exc
        sock.setblocking(False)
        protocol = type("LimitedH11", (_LimitedH11,), {"guard": self.guard})
        config = uvicorn.Config(
            self.app,
            http=protocol,
            ws="none",
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,
            # The cap above keeps connections at max_connections; this only bounds tasks.
            limit_concurrency=self.limits.max_connections + 1,
            timeout_keep_alive=max(1, int(self.limits.request_deadline)),
            h11_max_incomplete_event_size=self.limits.max_request_bytes,
            timeout_graceful_shutdown=3,
        )
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="http")
        while not self._server.started:
            if self._task.done():
                sock.close()
                self._task.result()  # raises what stopped it
                raise ServiceError(f"http: the server on {address} stopped at start")
            await asyncio.sleep(0.01)
        bound = sock.getsockname()
        host_out = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        return f"{host_out}:{bound[1]}"

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        for conn in list(self.guard.open):
            conn.transport.abort()  # held connections must not hold up the shutdown
        with contextlib.suppress(asyncio.CancelledError, SystemExit):
            await self._task
