"""The /healthz endpoint under held connections (issue 10 item 4): an overall request
deadline, a connection cap, and a log that says a repeated error once a minute."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import pytest

from monitor.logs import Throttle
from monitor.service.metrics import HttpEndpoint, HttpLimits, Metrics
from monitor.service.runner import Service, ServiceOptions
from tests.support.engines import engine_url
from tests.support.wait import until

CAP = 8


def endpoint(deadline: float = 30.0, throttle: Throttle | None = None) -> HttpEndpoint:
    return HttpEndpoint(
        Metrics(),
        lambda: {"ok": True},
        lambda: None,
        limits=HttpLimits(request_deadline=deadline, max_connections=CAP),
        throttle=throttle,
    )


async def get(address: str, path: str = "/healthz") -> bytes:
    host, _, port = address.rpartition(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return answer


class Idle:
    """A held connection that never sends a byte (a slowloris client)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.closed = False
        self._task = asyncio.ensure_future(self._watch())

    async def _watch(self) -> None:
        with contextlib.suppress(ConnectionError):
            await self.reader.read()
        self.closed = True

    def close(self) -> None:
        self._task.cancel()
        self.writer.close()


async def hold(address: str, count: int) -> list[Idle]:
    host, _, port = address.rpartition(":")
    out = []
    for _ in range(count):
        out.append(Idle(*await asyncio.open_connection(host, int(port))))
    return out


def test_idle_connections_over_the_cap_are_closed_at_once_and_healthz_answers(
    caplog: pytest.LogCaptureFixture,
):
    caplog.set_level(logging.INFO, logger="monitor.service.metrics")

    async def scenario() -> None:
        ep = endpoint()
        address = await ep.start("127.0.0.1:0")
        idle = await hold(address, 5 * CAP)
        try:
            # The excess is closed at once, long before the (30 s) deadline.
            assert await until(lambda: sum(i.closed for i in idle) == 4 * CAP, 10)
            assert ep.open_connections == CAP
            answer = await get(address)
            assert answer.startswith(b"HTTP/1.1 200 OK")
            assert b'{"ok": true}' in answer
            assert ep.open_connections <= CAP
            assert (await get(address, "/metrics")).startswith(b"HTTP/1.1 200 OK")
        finally:
            for i in idle:
                i.close()
            await ep.stop()

    asyncio.run(scenario())
    cap_lines = [r for r in caplog.records if "the cap" in r.getMessage()]
    assert len(cap_lines) == 1  # 33 evictions, one line: the rest within the minute


def test_idle_connections_are_closed_after_the_deadline():
    async def scenario() -> None:
        ep = endpoint(deadline=0.3)
        address = await ep.start("127.0.0.1:0")
        idle = await hold(address, CAP // 2)
        try:
            assert await until(lambda: all(i.closed for i in idle), 10)
            assert ep.open_connections == 0
            assert (await get(address)).startswith(b"HTTP/1.1 200 OK")
        finally:
            for i in idle:
                i.close()
            await ep.stop()

    asyncio.run(scenario())


def test_a_request_dripped_line_by_line_is_cut_at_the_overall_deadline():
    # A per-line timeout never fires for a client that sends a header line now and then.
    async def scenario() -> None:
        ep = endpoint(deadline=0.5)
        address = await ep.start("127.0.0.1:0")
        host, _, port = address.rpartition(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"GET /healthz HTTP/1.1\r\n")
        cut = False
        try:
            for n in range(100):  # up to 10 s of drip
                await asyncio.sleep(0.1)
                writer.write(f"X-Drip-{n}: y\r\n".encode())
                await writer.drain()
                if reader.at_eof() or writer.is_closing():
                    cut = True
                    break
                try:
                    data = await asyncio.wait_for(reader.read(1), 0.01)
                except TimeoutError:
                    continue
                if data == b"":
                    cut = True
                    break
        except ConnectionError:
            cut = True
        finally:
            writer.close()
            await ep.stop()
        assert cut

    asyncio.run(scenario())


def test_oversized_request_headers_get_431():
    async def scenario() -> None:
        ep = endpoint()
        address = await ep.start("127.0.0.1:0")
        host, _, port = address.rpartition(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"GET /healthz HTTP/1.1\r\n" + b"X-Big: " + b"a" * 20_000 + b"\r\n\r\n")
        try:
            answer = await asyncio.wait_for(reader.read(), 10)
        finally:
            writer.close()
            await ep.stop()
        assert answer.startswith(b"HTTP/1.1 431")

    asyncio.run(scenario())


# -- the rate-limited log helper ------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_repeated_error_is_logged_once_per_minute_with_a_count(
    caplog: pytest.LogCaptureFixture,
):
    clock = Clock()
    throttle = Throttle(every=60, clock=clock)
    logger = logging.getLogger("tests.throttle")
    with caplog.at_level(logging.ERROR, logger="tests.throttle"):
        for second in range(180):  # three minutes of the same error, 100 times a second
            clock.now = 1000.0 + second
            for _ in range(100):
                throttle.log(logger, logging.ERROR, "emfile", "accept failed: %s", "EMFILE")
        throttle.log(logger, logging.ERROR, "other", "another error")
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "accept failed: EMFILE",
        "accept failed: EMFILE (and 5999 more like it in the last 1 min)",
        "accept failed: EMFILE (and 5999 more like it in the last 1 min)",
        "another error",
    ]


def test_throttle_keys_are_bounded():
    throttle = Throttle(every=60, clock=Clock())
    for n in range(Throttle.MAX_KEYS * 3):
        assert throttle.check(f"key-{n}") == 0
    assert len(throttle._said) <= Throttle.MAX_KEYS


def test_asyncio_accept_errors_are_said_once_a_minute(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    # Out of file descriptors, asyncio's accept loop reported "socket.accept() out of
    # system resource" thousands of times a second (383,000 records in a minute).
    service = Service(
        ServiceOptions(
            feeds_path="f", keywords_path="k", state_dir=tmp_path, database_url=engine_url()
        )
    )
    context = {
        "message": "socket.accept() out of system resource",
        "exception": OSError(24, "Too many open files"),
    }
    loop = asyncio.new_event_loop()
    try:
        with caplog.at_level(logging.ERROR, logger="asyncio"):
            for _ in range(1000):
                service._loop_exception(loop, dict(context))
    finally:
        loop.close()
    records = [r for r in caplog.records if r.name == "asyncio"]
    assert len(records) == 1
    assert "socket.accept() out of system resource" in records[0].getMessage()


def test_accepted_connections_send_without_waiting_for_acks():
    """TCP_NODELAY on every accepted socket: without it each response on a kept-alive
    connection waited about 40 ms for the client's delayed ACK (issue 12's page times)."""
    import socket

    async def go() -> list[int]:
        server = endpoint()
        address = await server.start("127.0.0.1:0")
        try:
            host, _, port = address.rpartition(":")
            _, writer = await asyncio.open_connection(host, int(port))
            writer.write(b"GET /healthz HTTP/1.1\r\n")  # held open: the request is not over
            await writer.drain()
            for _ in range(1000):
                if server.guard.open:
                    break
                await asyncio.sleep(0.01)
            flags = [
                conn.transport.get_extra_info("socket").getsockopt(
                    socket.IPPROTO_TCP, socket.TCP_NODELAY
                )
                for conn in server.guard.open
            ]
            writer.close()
            return flags
        finally:
            await server.stop()

    flags = asyncio.run(go())
    assert flags
    assert all(flags), flags


def test_the_lab_answers_past_the_request_deadline_and_other_paths_do_not():
    """A backtest may take longer than a page (issue 12: the lab hit the 10 s deadline on
    a loaded machine): /lab and /api/lab get ``slow_deadline`` once their head is in;
    every other path is still cut off at ``request_deadline``."""
    from monitor.web.server import WebServer

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            return
        await asyncio.sleep(0.6)  # "work" longer than the request deadline
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})

    async def go() -> dict[str, bytes]:
        server = WebServer(app, HttpLimits(request_deadline=0.3, slow_deadline=5))
        address = await server.start("127.0.0.1:0")
        try:
            return {path: await get(address, path) for path in ("/lab", "/api/lab", "/articles")}
        finally:
            await server.stop()

    answers = asyncio.run(go())
    assert b"200 OK" in answers["/lab"]
    assert b"\r\ndone\r\n" in answers["/lab"]
    assert b"\r\ndone\r\n" in answers["/api/lab"]
    assert answers["/articles"] == b""  # closed at the deadline, nothing answered


def test_a_large_body_is_not_counted_as_headers_and_large_headers_get_a_whole_431():
    """The header cap counts the request line and headers only: the lab's POST of a
    whole keywords.yaml (100 KB and more) arrives in the same reads as its head and was
    closed with a 431 whose Content-Length (33) overstated its body (32 bytes)."""
    import httpx

    from monitor.web.server import WebServer

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            return
        size, more = 0, True
        while more:
            message = await receive()
            size += len(message.get("body", b""))
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(size).encode()})

    async def go() -> tuple[httpx.Response, httpx.Response, bytes]:
        server = WebServer(app, HttpLimits(max_request_bytes=8192))
        address = await server.start("127.0.0.1:0")
        try:
            async with httpx.AsyncClient(base_url=f"http://{address}") as client:
                big_body = await client.post("/api/lab", content=b"x" * 200_000)
                big_head = await client.get("/", headers={"X-Big": "y" * 9000})
            # The head's end split across two writes, the body in the second.
            host, _, port = address.rpartition(":")
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(b"POST /lab HTTP/1.1\r\nHost: x\r\nContent-Length: 9000\r\n\r")
            await writer.drain()
            await asyncio.sleep(0.05)
            writer.write(b"\n" + b"z" * 9000)
            await writer.drain()
            split = await asyncio.wait_for(reader.readuntil(b"0\r\n\r\n"), 10)
            writer.close()
            return big_body, big_head, split
        finally:
            await server.stop()

    big_body, big_head, split = asyncio.run(go())
    assert (big_body.status_code, big_body.text) == (200, "200000")
    assert big_head.status_code == 431
    assert big_head.text == "request header fields too large\n"
    assert split.startswith(b"HTTP/1.1 200")
    assert split.endswith(b"\r\n\r\n4\r\n9000\r\n0\r\n\r\n")  # chunked: "9000"
