"""LaneTransport against real sockets on 127.0.0.1: each test scripts the server's bytes.

The servers are ``asyncio.start_server`` handlers that read the request head and write raw
HTTP, so every test controls the wire exactly and counts the TCP connections it accepted
(``Wire.connections``).  Every wait is bounded so that a regression fails, never hangs.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import ssl
import struct
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType

import httpx
import pytest
import trustme

from monitor.config.feeds import FetchSettings
from monitor.fetch import Fetcher
from monitor.fetch.connection import LaneTransport
from monitor.models import FeedSpec, FeedState

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
WAIT = 2.0
"""Upper bound of any single wait: a broken transport fails the test instead of hanging."""


# -- the scripted server ---------------------------------------------------------------
@dataclass(frozen=True)
class Received:
    """One request head as it arrived on the wire."""

    connection: int
    head: bytes

    @property
    def request_line(self) -> str:
        return self.head.split(b"\r\n", 1)[0].decode("latin-1")

    @property
    def target(self) -> str:
        return self.request_line.split(" ")[1]

    @property
    def headers(self) -> list[tuple[str, str]]:
        lines = self.head.decode("latin-1").split("\r\n")[1:]
        pairs = [line.split(":", 1) for line in lines if line]
        return [(name, value.strip()) for name, value in pairs]

    def header(self, name: str) -> str | None:
        values = [v for n, v in self.headers if n.lower() == name.lower()]
        return values[0] if values else None


@dataclass
class Peer:
    """The server's side of one accepted connection (``index`` counts from 1)."""

    index: int
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    wire: Wire

    async def request(self) -> Received | None:
        """The next request head, or ``None`` when the client closed the connection."""
        try:
            async with asyncio.timeout(WAIT):
                head = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                raise AssertionError(f"half a request: {exc.partial!r}") from exc
            return None
        received = Received(self.index, head)
        self.wire.requests.append(received)
        return received

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def until_client_closes(self, closed: asyncio.Event) -> None:
        """Wait (bounded) for the client to close this connection, then set ``closed``.

        A request arriving instead is a failure: the client reused the connection."""
        with contextlib.suppress(ConnectionResetError):  # closed with unread data: RST
            request = await self.request()
            assert request is None, f"connection reused for {request.target}"
        closed.set()

    def reset(self) -> None:
        """Close with a TCP RST (``SO_LINGER`` 0) instead of a FIN."""
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()


Handler = Callable[[Peer], Awaitable[None]]


@dataclass
class Wire:
    """``async with Wire(handler) as wire``: a server on 127.0.0.1 running ``handler`` per
    connection.  A handler's ``OSError`` (the client went away) is expected; any other
    exception, a timed-out wait included, fails the test when the server stops."""

    handler: Handler
    tls: ssl.SSLContext | None = None
    connections: int = 0
    requests: list[Received] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def __aenter__(self) -> Wire:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        async with asyncio.timeout(WAIT):
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()
        if et is None:
            assert self.errors == [], f"server handler failed: {self.errors!r}"

    def url(self, path: str = "/", scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def on(self, connection: int) -> list[str]:
        """Targets of the requests that arrived on connection number ``connection``."""
        return [r.target for r in self.requests if r.connection == connection]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self.handler(Peer(self.connections, reader, writer, self))
        except TimeoutError as exc:  # an OSError since 3.3, but the handler's own wait
            self.errors.append(exc)
        except (OSError, asyncio.CancelledError):
            pass
        except Exception as exc:
            self.errors.append(exc)
        finally:
            writer.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                async with asyncio.timeout(WAIT):
                    await writer.wait_closed()
            self._tasks.discard(task)


def ok(body: bytes, *headers: str, status: str = "200 OK") -> bytes:
    """A raw HTTP/1.1 response with a Content-Length."""
    lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def answer(request: Received) -> bytes:
    """The body a test expects: which request was answered, on which connection."""
    return f"{request.target} on #{request.connection}".encode()


async def answer_all(peer: Peer) -> None:
    """Keep-alive: answer every request on this connection until the client closes it."""
    while (request := await peer.request()) is not None:
        await peer.send(ok(answer(request)))


async def get(
    transport: httpx.AsyncBaseTransport, url: str, headers: Sequence[tuple[str, str]] = ()
) -> tuple[int, bytes]:
    """One GET, its body read to the end with ``aiter_raw``; ``(status, body)``."""
    async with asyncio.timeout(WAIT):
        response = await transport.handle_async_request(
            httpx.Request("GET", url, headers=list(headers))
        )
        try:
            body = b"".join([chunk async for chunk in response.aiter_raw()])
        finally:
            await response.aclose()
    return response.status_code, body


async def read_into(parts: list[bytes], response: httpx.Response, *, within: float) -> None:
    async with asyncio.timeout(within):
        async for chunk in response.aiter_raw():
            parts.append(chunk)


async def until(event: asyncio.Event) -> None:
    async with asyncio.timeout(WAIT):
        await event.wait()


async def no_more_connections(wire: Wire, expected: int) -> None:
    """Give a stray retry the time to connect, then check how many connections there were."""
    await asyncio.sleep(0.05)
    assert wire.connections == expected


@pytest.fixture
async def transport() -> AsyncIterator[LaneTransport]:
    lane = LaneTransport()
    yield lane
    await lane.aclose()


# -- 1. keep-alive ---------------------------------------------------------------------
async def test_sequential_requests_share_one_connection_and_arrive_as_sent(
    transport: LaneTransport,
) -> None:
    async def handler(peer: Peer) -> None:
        while (request := await peer.request()) is not None:
            if request.header("If-None-Match") == '"v1"':
                await peer.send(ok(b"", 'ETag: "v1"', status="304 Not Modified"))
            else:
                await peer.send(ok(answer(request), 'ETag: "v1"'))

    path = "/feeds/eu%20news.xml?lang=en&q=a%2Fb"
    sent = [("User-Agent", "monitor-test/1"), ("Accept", "application/rss+xml")]
    async with Wire(handler) as wire:
        first = await get(transport, wire.url(path), sent)
        second = await get(transport, wire.url(path), [*sent, ("If-None-Match", '"v1"')])
        third = await get(transport, wire.url("/other.xml"), sent)

    assert first == (200, f"{path} on #1".encode())
    assert second == (304, b"")
    assert third == (200, b"/other.xml on #1")
    assert wire.connections == 1
    assert [r.request_line for r in wire.requests] == [
        f"GET {path} HTTP/1.1",
        f"GET {path} HTTP/1.1",
        "GET /other.xml HTTP/1.1",
    ]
    host = ("Host", f"127.0.0.1:{wire.port}")
    assert wire.requests[0].headers == [host, *sent]
    assert wire.requests[1].headers == [host, *sent, ("If-None-Match", '"v1"')]
    assert wire.requests[2].headers == [host, *sent]


async def test_a_304_with_a_content_length_has_no_body_and_keeps_the_connection(
    transport: LaneTransport,
) -> None:
    async def handler(peer: Peer) -> None:
        while (request := await peer.request()) is not None:
            if request.target == "/cached":
                await peer.send(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5000\r\n\r\n")
            else:
                await peer.send(ok(answer(request)))

    async with Wire(handler) as wire:
        assert await get(transport, wire.url("/cached")) == (304, b"")
        assert await get(transport, wire.url("/next")) == (200, b"/next on #1")
    assert wire.connections == 1


async def test_another_origin_gets_its_own_connection(transport: LaneTransport) -> None:
    async with Wire(answer_all) as one, Wire(answer_all) as two:
        assert await get(transport, one.url("/a")) == (200, b"/a on #1")
        assert await get(transport, two.url("/b")) == (200, b"/b on #1")
        assert await get(transport, one.url("/c")) == (200, b"/c on #2")
    assert (one.connections, two.connections) == (2, 1)


# -- 2. stale and idle-closed keep-alive connections -------------------------------------
@pytest.mark.parametrize("close", ["fin", "rst"])
async def test_stale_connection_is_retried_once_on_a_new_one(
    transport: LaneTransport, close: str
) -> None:
    async def handler(peer: Peer) -> None:
        if peer.index == 1:
            first = await peer.request()
            assert first is not None
            await peer.send(ok(answer(first)))
            assert await peer.request() is not None  # read the second GET, never answer it
            if close == "rst":
                peer.reset()
            return
        await answer_all(peer)

    async with Wire(handler) as wire:
        assert await get(transport, wire.url("/one")) == (200, b"/one on #1")
        assert await get(transport, wire.url("/two")) == (200, b"/two on #2")
        await no_more_connections(wire, 2)
    assert wire.on(1) == ["/one", "/two"]  # the stale connection really got the request
    assert wire.on(2) == ["/two"]


@pytest.mark.parametrize("how", ["close", "half-close", "408-then-close"])
async def test_connection_closed_by_the_server_while_idle_is_replaced(
    transport: LaneTransport, how: str
) -> None:
    closed = asyncio.Event()

    async def handler(peer: Peer) -> None:
        if peer.index == 1:
            first = await peer.request()
            assert first is not None
            await peer.send(ok(answer(first)))
            if how == "408-then-close":
                # An idle timeout announced the way some servers do (RFC 9110 §15.5.9): an
                # unsolicited 408 that answers no request of ours, then the FIN.
                await asyncio.sleep(0.02)  # idle: the client is done with the first answer
                await peer.send(ok(b"", "Connection: close", status="408 Request Timeout"))
            if how in ("close", "408-then-close"):
                peer.writer.close()
                await peer.writer.wait_closed()
                closed.set()
                return
            peer.writer.write_eof()  # FIN, but keep reading: a reuse would show up here
            closed.set()
            assert await peer.request() is None
            return
        await answer_all(peer)

    async with Wire(handler) as wire:
        assert await get(transport, wire.url("/one")) == (200, b"/one on #1")
        await until(closed)
        await asyncio.sleep(0.05)  # let the client's event loop see the FIN (and the 408)
        assert await get(transport, wire.url("/two")) == (200, b"/two on #2")
    assert wire.connections == 2
    assert wire.on(1) == ["/one"]


async def test_reused_connection_is_not_retried_once_part_of_the_answer_arrived(
    transport: LaneTransport,
) -> None:
    async def handler(peer: Peer) -> None:
        first = await peer.request()
        assert first is not None
        await peer.send(ok(answer(first)))
        assert await peer.request() is not None
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Le")  # then close mid-head

    async with Wire(handler) as wire:
        assert await get(transport, wire.url("/one")) == (200, b"/one on #1")
        with pytest.raises(httpx.RemoteProtocolError):
            await get(transport, wire.url("/two"))
        await no_more_connections(wire, 1)


# -- 3. a failure on a new connection is final --------------------------------------------
async def test_new_connection_closed_without_an_answer_is_not_retried(
    transport: LaneTransport,
) -> None:
    async def handler(peer: Peer) -> None:
        return  # accept, then close at once

    async with Wire(handler) as wire:
        with pytest.raises(httpx.TransportError) as raised:
            await get(transport, wire.url("/feed.xml"))
        await no_more_connections(wire, 1)
    assert isinstance(raised.value, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError)


# -- 4. a body left unread -------------------------------------------------------------
@pytest.mark.parametrize("read_first_chunk", [False, True])
async def test_connection_with_an_unread_body_is_discarded(
    transport: LaneTransport, read_first_chunk: bool
) -> None:
    client_closed = asyncio.Event()

    async def handler(peer: Peer) -> None:
        if peer.index > 1:
            await answer_all(peer)
            return
        assert await peer.request() is not None
        # 64 KiB of a 16 MiB body: the rest would follow if the client read on.
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 16777216\r\n\r\n" + b"x" * 65536)
        await peer.until_client_closes(client_closed)

    async with Wire(handler) as wire:
        async with asyncio.timeout(WAIT):
            response = await transport.handle_async_request(
                httpx.Request("GET", wire.url("/large"))
            )
            assert response.status_code == 200
            # Kept referenced: its finalizer must not be what closes the connection.
            chunks = response.aiter_raw()
            if read_first_chunk:
                assert (await anext(chunks)).startswith(b"x")
            await response.aclose()
        await until(client_closed)  # aclose() itself closed it
        assert await get(transport, wire.url("/small")) == (200, b"/small on #2")
    assert wire.connections == 2
    assert wire.on(1) == ["/large"]


async def test_bytes_beyond_the_content_length_are_never_taken_for_the_next_answer(
    transport: LaneTransport,
) -> None:
    async def handler(peer: Peer) -> None:
        if peer.index > 1:
            await answer_all(peer)
            return
        first = await peer.request()
        assert first is not None
        # A broken server (or one whose Content-Length is wrong) sends more than it declared;
        # the excess here even looks like a response.
        await peer.send(ok(answer(first)) + ok(b"stale"))
        await peer.until_client_closes(asyncio.Event())

    async with Wire(handler) as wire:
        assert await get(transport, wire.url("/one")) == (200, b"/one on #1")
        await asyncio.sleep(0.05)
        assert await get(transport, wire.url("/two")) == (200, b"/two on #2")
    assert wire.connections == 2
    assert wire.on(1) == ["/one"]


# -- 5. Connection: close ----------------------------------------------------------------
async def test_connection_close_from_the_server_is_honoured(transport: LaneTransport) -> None:
    async def handler(peer: Peer) -> None:
        # Says "close" but would go on answering: only the client's choice is tested.
        while (request := await peer.request()) is not None:
            await peer.send(ok(answer(request), "Connection: close"))

    async with Wire(handler) as wire:
        assert await get(transport, wire.url("/one")) == (200, b"/one on #1")
        assert await get(transport, wire.url("/two")) == (200, b"/two on #2")
    assert wire.connections == 2
    assert wire.on(1) == ["/one"]


# -- 6. bodies framed by chunks and by the end of the connection ------------------------------
async def test_chunked_body_is_read_completely_and_the_connection_kept(
    transport: LaneTransport,
) -> None:
    parts = [b"<rss>", b"x" * 70_000, b"</rss>"]

    async def handler(peer: Peer) -> None:
        while (request := await peer.request()) is not None:
            if request.target != "/chunked":
                await peer.send(ok(answer(request)))
                continue
            await peer.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for part in parts:
                await peer.send(b"%x;ext=1\r\n%s\r\n" % (len(part), part))
                await asyncio.sleep(0.01)
            await peer.send(b"0\r\nX-Trailer: yes\r\n\r\n")

    async with Wire(handler) as wire:
        assert await get(transport, wire.url("/chunked")) == (200, b"".join(parts))
        assert await get(transport, wire.url("/next")) == (200, b"/next on #1")
    assert wire.connections == 1


async def test_body_delimited_by_connection_close_is_read_completely(
    transport: LaneTransport,
) -> None:
    parts = [b"<rss>", b"y" * 100_000, b"</rss>"]

    async def handler(peer: Peer) -> None:
        request = await peer.request()
        assert request is not None
        if request.target != "/until-close":
            await peer.send(ok(answer(request)))
            return
        await peer.send(b"HTTP/1.0 200 OK\r\nContent-Type: application/rss+xml\r\n\r\n")
        for part in parts:
            await peer.send(part)
            await asyncio.sleep(0.01)
        # returning closes the connection: the end of the body

    async with Wire(handler) as wire:
        assert await get(transport, wire.url("/until-close")) == (200, b"".join(parts))
        assert await get(transport, wire.url("/next")) == (200, b"/next on #2")
    assert wire.connections == 2


async def test_body_cut_short_of_its_content_length_is_a_protocol_error(
    transport: LaneTransport,
) -> None:
    async def handler(peer: Peer) -> None:
        if peer.index > 1:
            await answer_all(peer)
            return
        assert await peer.request() is not None
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"z" * 60)
        # returning closes the connection 40 bytes early

    async with Wire(handler) as wire:
        with pytest.raises(httpx.RemoteProtocolError):
            await get(transport, wire.url("/truncated"))
        assert await get(transport, wire.url("/next")) == (200, b"/next on #2")


# -- 7. informational responses ------------------------------------------------------------
async def test_informational_responses_before_the_answer_are_skipped(
    transport: LaneTransport,
) -> None:
    async def handler(peer: Peer) -> None:
        while (request := await peer.request()) is not None:
            await peer.send(b"HTTP/1.1 100 Continue\r\n\r\n")
            await peer.send(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n")
            await peer.send(ok(answer(request)))

    async with Wire(handler) as wire:
        assert await get(transport, wire.url("/one")) == (200, b"/one on #1")
        assert await get(transport, wire.url("/two")) == (200, b"/two on #1")
    assert wire.connections == 1


# -- 8. not HTTP at all ------------------------------------------------------------------
async def garbage(peer: Peer) -> None:
    assert await peer.request() is not None
    await peer.send(b"SSH-2.0-OpenSSH_9.6 this is not HTTP\r\n\r\n")
    assert await peer.request() is None  # until the client gives up


async def test_garbage_instead_of_a_status_line_is_a_protocol_error(
    transport: LaneTransport,
) -> None:
    async with Wire(garbage) as wire:
        with pytest.raises(httpx.RemoteProtocolError):
            await get(transport, wire.url("/feed.xml"))
        await no_more_connections(wire, 1)


async def test_garbage_through_the_fetcher_is_error_kind_protocol() -> None:
    async with Wire(garbage) as wire:
        url = wire.url("/feed.xml")
        spec = FeedSpec(id="f", url=url, timeout=timedelta(seconds=WAIT))
        state = FeedState(feed_id="f", url=url, configured_url=url)
        async with Fetcher(FetchSettings()) as fetcher:
            result = await fetcher.fetch(spec, state, NOW)
    assert result.outcome == "error"
    assert result.error_kind == "protocol", result.error
    assert result.error is not None
    assert result.error.startswith(f"fetcher: {url}: invalid HTTP response"), result.error
    assert wire.connections == 1


# -- 9. refused ---------------------------------------------------------------------------
async def test_refused_connection_is_a_connect_error_with_the_errno(
    transport: LaneTransport,
) -> None:
    with socket.socket() as bound:  # bound, never listening: connecting is refused
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        with pytest.raises(httpx.ConnectError) as raised:
            await get(transport, f"http://127.0.0.1:{port}/feed.xml")
    cause = raised.value.__cause__
    assert isinstance(cause, OSError), repr(cause)
    assert cause.errno == errno.ECONNREFUSED


# -- 10. HTTPS ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    return context


async def test_https_with_a_trusted_ca_keeps_one_connection(ca: trustme.CA) -> None:
    client = ssl.create_default_context()
    ca.configure_trust(client)
    async with Wire(answer_all, tls=server_tls(ca)) as wire, LaneTransport(client) as lane:
        assert await get(lane, wire.url("/one", "https")) == (200, b"/one on #1")
        assert await get(lane, wire.url("/two", "https")) == (200, b"/two on #1")
    assert wire.connections == 1


@pytest.mark.parametrize("client", ["transport's default", "ssl default context"])
async def test_https_with_an_untrusted_certificate_is_a_connect_error(
    ca: trustme.CA, client: str
) -> None:
    tls = ssl.create_default_context() if client == "ssl default context" else None
    async with Wire(answer_all, tls=server_tls(ca)) as wire, LaneTransport(tls) as lane:
        with pytest.raises(httpx.ConnectError) as raised:
            await get(lane, wire.url("/feed.xml", "https"))
    assert isinstance(raised.value.__cause__, ssl.SSLCertVerificationError)
    assert wire.requests == []


# -- 11. cancellation ---------------------------------------------------------------------
async def test_cancellation_mid_body_closes_the_connection(transport: LaneTransport) -> None:
    client_closed = asyncio.Event()

    async def handler(peer: Peer) -> None:
        if peer.index > 1:
            await answer_all(peer)
            return
        assert await peer.request() is not None
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")

        async def trickle() -> None:
            while True:
                await peer.send(b"x")
                await asyncio.sleep(0.02)

        trickling = asyncio.create_task(trickle())
        try:
            await peer.until_client_closes(client_closed)
        finally:
            trickling.cancel()
            await asyncio.gather(trickling, return_exceptions=True)

    async with Wire(handler) as wire:
        async with asyncio.timeout(WAIT):
            response = await transport.handle_async_request(
                httpx.Request("GET", wire.url("/trickle"))
            )
        received: list[bytes] = []
        with pytest.raises(TimeoutError):
            await read_into(received, response, within=0.2)
        assert 0 < len(b"".join(received)) < 1000000
        await until(client_closed)  # the cancellation itself closed it, not aclose()
        await response.aclose()
        assert await get(transport, wire.url("/next")) == (200, b"/next on #2")
    assert wire.connections == 2


async def test_cancellation_while_waiting_for_the_response_closes_the_connection(
    transport: LaneTransport,
) -> None:
    async def handler(peer: Peer) -> None:
        if peer.index > 1:
            await answer_all(peer)
            return
        assert await peer.request() is not None
        await peer.until_client_closes(client_closed)  # never answers

    client_closed = asyncio.Event()
    async with Wire(handler) as wire:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await transport.handle_async_request(httpx.Request("GET", wire.url("/hang")))
        await until(client_closed)  # closed by the cancellation, not by the next request
        assert await get(transport, wire.url("/next")) == (200, b"/next on #2")
    assert wire.on(1) == ["/hang"]


# -- 12. not HTTP(S) ----------------------------------------------------------------------
async def test_unsupported_scheme_is_refused_without_connecting(transport: LaneTransport) -> None:
    async with Wire(answer_all) as wire:
        with pytest.raises(httpx.UnsupportedProtocol):
            await get(transport, wire.url("/feed.xml", "ftp"))
        await no_more_connections(wire, 0)
