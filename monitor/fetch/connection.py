"""One keep-alive HTTP/1.1 connection per lane: a lean httpx transport on h11 and asyncio.

Why not ``httpx.AsyncHTTPTransport``: a lane (:mod:`monitor.fetch.lanes`) already gives a
request exclusive use of one connection, so a connection pool has nothing left to do, yet
httpcore's pool, its anyio cancel scopes and locks cost about 0.4 ms of CPU per request
(measured on the 1,000-feed benchmark, where a warm cycle is 1,000 304 answers and the
event loop's CPU decides the wall time).  This transport keeps the parts that matter and
leaves the protocol to the same library httpcore uses (h11):

* one connection, opened on the first request and reused while h11 says the previous
  exchange ended cleanly (both sides ``DONE``) and the server has not closed it;
* a request on a reused connection that fails before any byte of the answer arrived is
  retried once on a new connection (the server may close an idle connection just as we
  send: RFC 9112 §9.3.1, GET is idempotent);
* any error, cancellation (the fetcher's deadline) or a body left unread closes the
  connection, so a half-read answer is never taken for the next one;
* failures are raised as httpx's exceptions (``ConnectError``, ``ReadError``,
  ``WriteError``, ``RemoteProtocolError``, ``UnsupportedProtocol``) with the OS or TLS
  error as their cause, which is what :mod:`monitor.fetch.fetcher` reports.

Deliberately absent, as in the fetcher: proxies, cookies, HTTP/2, request bodies.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass

import h11
import httpx

READ_SIZE = 64 * 1024
STREAM_LIMIT = 256 * 1024
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class _Origin:
    scheme: str
    host: str
    port: int


class _Connection:
    def __init__(
        self, origin: _Origin, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.origin = origin
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.CLIENT)
        self.received_any = False

    @classmethod
    async def open(cls, origin: _Origin, tls: ssl.SSLContext | None) -> _Connection:
        host = origin.host
        try:
            reader, writer = await asyncio.open_connection(
                host.strip("[]"),
                origin.port,
                ssl=tls if origin.scheme == "https" else None,
                server_hostname=host if origin.scheme == "https" else None,
                limit=STREAM_LIMIT,
                happy_eyeballs_delay=0.25,
            )
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        return cls(origin, reader, writer)

    def reusable(self, origin: _Origin) -> bool:
        """Whether the next request may go on this connection: same origin, the last
        exchange ended cleanly, and nothing arrived since, neither a close nor stray
        bytes (more than the last Content-Length, or an unsolicited ``408`` that servers
        send before closing an idle connection): those would be taken for the next
        answer.  httpcore applies the same rule (``has_expired``: readable while idle)."""
        return (
            origin == self.origin
            and self.h11.our_state is h11.IDLE
            and self.h11.their_state is h11.IDLE
            and not self.h11.trailing_data[0]
            and not _buffered(self.reader)
            and not self.reader.at_eof()
            and not self.writer.is_closing()
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()

    async def send(self, request: httpx.Request) -> None:
        target = request.url.raw_path
        event = h11.Request(method=request.method, target=target, headers=request.headers.raw)
        try:
            data = self.h11.send(event) + (self.h11.send(h11.EndOfMessage()) or b"")
        except h11.LocalProtocolError as exc:
            raise httpx.LocalProtocolError(str(exc)) from exc
        try:
            self.writer.write(data)
            await self.writer.drain()
        except OSError as exc:
            raise httpx.WriteError(str(exc) or type(exc).__name__) from exc

    async def next_event(self) -> h11.Event:
        while True:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc)) from exc
            if event is not h11.NEED_DATA:
                return event  # type: ignore[return-value]
            try:
                data = await self.reader.read(READ_SIZE)
            except OSError as exc:
                raise httpx.ReadError(str(exc) or type(exc).__name__) from exc
            if data:
                self.received_any = True
            try:
                self.h11.receive_data(data)
            except h11.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc)) from exc

    async def response(self) -> h11.Response:
        while True:
            event = await self.next_event()
            if isinstance(event, h11.Response):
                return event
            if isinstance(event, h11.InformationalResponse):
                continue
            if isinstance(event, h11.ConnectionClosed):
                raise httpx.RemoteProtocolError("server disconnected without sending a response")
            raise httpx.RemoteProtocolError(f"unexpected {type(event).__name__} before a response")


def _buffered(reader: asyncio.StreamReader) -> int:
    # StreamReader has no public "bytes waiting" query; its buffer is a bytearray.
    return len(getattr(reader, "_buffer", b""))


class _Body(httpx.AsyncByteStream):
    def __init__(self, transport: LaneTransport, conn: _Connection) -> None:
        self._transport = transport
        self._conn = conn
        self._done = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        try:
            while not self._done:
                event = await conn.next_event()
                if isinstance(event, h11.Data):
                    yield bytes(event.data)
                elif isinstance(event, h11.EndOfMessage):
                    self._done = True
                elif isinstance(event, h11.ConnectionClosed):
                    raise httpx.RemoteProtocolError("server disconnected in the middle of the body")
        except BaseException:
            self._transport.discard(conn)
            raise

    async def aclose(self) -> None:
        conn = self._conn
        if not self._done:
            self._transport.discard(conn)
            return
        if conn.h11.our_state is h11.DONE and conn.h11.their_state is h11.DONE:
            conn.h11.start_next_cycle()
        else:
            self._transport.discard(conn)


class LaneTransport(httpx.AsyncBaseTransport):
    """An httpx transport with a single keep-alive HTTP/1.1 connection; one request at a time."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self._tls = tls
        self._conn: _Connection | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in DEFAULT_PORTS:
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {url.scheme!r}")
        if not url.host:
            raise httpx.UnsupportedProtocol("URL has no host")
        origin = _Origin(url.scheme, url.host, url.port or DEFAULT_PORTS[url.scheme])
        for attempt in (1, 2):
            conn = self._conn
            reused = conn is not None and conn.reusable(origin)
            if conn is not None and not reused:
                self.discard(conn)
            if not reused:
                tls = self._tls
                if origin.scheme == "https" and tls is None:
                    tls = self._tls = httpx.create_ssl_context()
                conn = self._conn = await _Connection.open(origin, tls)
            assert conn is not None
            conn.received_any = False
            try:
                await conn.send(request)
                event = await conn.response()
            except httpx.TransportError:
                self.discard(conn)
                if reused and attempt == 1 and not conn.received_any:
                    continue  # a stale keep-alive connection: once more on a new one
                raise
            except BaseException:
                self.discard(conn)
                raise
            return httpx.Response(
                event.status_code,
                headers=event.headers,
                stream=_Body(self, conn),
                extensions={
                    "http_version": b"HTTP/" + event.http_version,
                    "reason_phrase": event.reason,
                },
            )
        raise AssertionError("unreachable")  # pragma: no cover

    def discard(self, conn: _Connection) -> None:
        conn.close()
        if self._conn is conn:
            self._conn = None

    async def aclose(self) -> None:
        if self._conn is not None:
            self.discard(self._conn)
