"""A programmable feed server on 127.0.0.1 for tests and benchmarks.

The server runs in a background thread (one thread per connection), so synchronous tests,
asyncio tests and subprocesses can all reach it through ``server.url(path)``.  It speaks
HTTP/1.1 with keep-alive and never touches the internet.

Usage::

    with FeedServer() as server:                    # or the ``feed_server`` fixture
        route = server.feed("/eu.xml", rss_feed("EU", [("1", "First", "https://x/1")]))
        url = server.url("/eu.xml")                  # http://127.0.0.1:<port>/eu.xml
        ...                                          # poll it
        server.publish("/eu.xml", new_body)          # new item: new ETag and Last-Modified
        server.requests_for("/eu.xml")[-1].header("If-None-Match")

Routes (each call replaces whatever was at ``path`` and returns the :class:`Route`, whose
fields may be changed later; ``route.hits`` counts requests):

``feed(path, body, *, content_type=RSS, etag=True, last_modified=True, max_age=None,
headers=(), latency=0.0)``
    200 with the body, an ``ETag`` (derived from the body) and a ``Last-Modified``; a
    request whose ``If-None-Match`` matches (RFC 9110 §13.1.2, weak comparison, ``*``) or,
    without ``If-None-Match``, whose ``If-Modified-Since`` is not older (§13.1.3) gets 304.
    ``etag=False`` / ``last_modified=False`` omit that validator; a string sets it verbatim.
    ``max_age`` adds ``Cache-Control: max-age=N``.
``publish(path, body)``
    Change a feed's body: new ETag and a Last-Modified one minute later than before.
``status(path, code, *, body=b"", headers=(), content_type="text/plain")``
    Any status with any headers: 500, 503, 404, ``429`` with ``("Retry-After", "120")``.
``redirect(path, to, code=301)``
    ``Location: to`` (a path or an absolute URL). Chains and loops are several redirects.
``html(path, body=None)`` / ``empty(path)`` / ``raw(path, body, content_type)``
    An HTML page instead of a feed, a 200 with no body, any bytes with any Content-Type.
``hang(path)``
    Reads the request and never answers (until the server stops).
``trickle(path, *, interval=0.1, chunk=b" ")``
    Sends the status and headers at once, then ``chunk`` every ``interval`` seconds forever:
    each read succeeds, so only an overall deadline stops it.
``reset(path, *, partial=b"")``
    Sends ``partial`` (may be empty) then closes with ``SO_LINGER`` 0: the client sees a
    TCP RST (connection reset by peer).
``article(path, title, paragraphs)`` / ``robots(text)``
    A news article page (the paragraphs inside navigation, related links and a footer),
    and ``/robots.txt``: for full text (``fulltext:``).
``huge(path, size, *, content_length=True)``
    ``size`` bytes of XML-ish filler, generated while sending; without a length the body is
    sent chunked.
``gzip_bomb(path, inflated=256 MiB)``
    A small ``Content-Encoding: gzip`` body (about 0.1 % of ``inflated``) that inflates to
    ``inflated`` bytes of zeros.

Every helper but ``hang`` accepts ``latency=`` (seconds to wait before answering; also a
field of the returned :class:`Route`).  Unknown paths get 404.

Observation:

``server.requests`` / ``server.requests_for(path)``
    Every request received (:class:`Request`: method, path with query, headers, time).
``server.max_active`` / ``server.max_connections``
    The largest number of requests being answered at once, and of TCP connections open
    at once, since start or since ``server.reset_stats()``; ``server.connections`` counts
    connections accepted, ``server.open_connections`` those open now.

``server.stop()`` (or leaving the ``with`` block) wakes hanging and trickling handlers,
closes every connection and joins the threads.
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
import struct
import threading
import time
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from functools import lru_cache
from types import TracebackType
from typing import Literal
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from tests.support.httpbase import OwnedServer, TrackedHandler

RSS = "application/rss+xml; charset=utf-8"
Kind = Literal["static", "hang", "trickle", "reset", "huge", "gzip_bomb"]
Headers = Sequence[tuple[str, str]]
_EPOCH = 1_700_000_000  # 2023-11-14: a fixed base so Last-Modified values are stable
MIB = 1024 * 1024


@dataclass(frozen=True)
class Request:
    """One request as the server received it."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    at: float

    def header(self, name: str) -> str | None:
        lname = name.lower()
        return next((v for k, v in self.headers if k.lower() == lname), None)


@dataclass
class Route:
    """What the server answers at one path; mutable so a test can change it mid-run."""

    kind: Kind = "static"
    status: int = 200
    body: bytes = b""
    content_type: str | None = RSS
    headers: list[tuple[str, str]] = field(default_factory=list)
    etag: str | None = None
    last_modified: str | None = None
    max_age: int | None = None
    latency: float = 0.0
    size: int = 0
    content_length: bool = True
    interval: float = 0.1
    chunk: bytes = b" "
    hits: int = 0
    version: int = 0


def etag_for(body: bytes) -> str:
    return '"' + hashlib.sha1(body).hexdigest()[:16] + '"'


def rss_feed(
    title: str,
    items: Iterable[tuple[str, str, str]],
    *,
    ttl: int | None = None,
    link: str = "https://example.eu/",
    summaries: Mapping[str, str] | None = None,
) -> bytes:
    """A small RSS 2.0 document; ``items`` are ``(guid, title, link)``, newest first.

    Each item's description is its title, or ``summaries[guid]`` (a teaser feed)."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>',
        f"<title>{escape(title)}</title><link>{escape(link)}</link>",
        f"<description>{escape(title)}</description>",
    ]
    if ttl is not None:
        parts.append(f"<ttl>{ttl}</ttl>")
    for i, (guid, item_title, item_link) in enumerate(items):
        date = formatdate(_EPOCH - 3600 * i, usegmt=True)
        parts.append(
            f"<item><guid>{escape(guid)}</guid><title>{escape(item_title)}</title>"
            f"<link>{escape(item_link)}</link><pubDate>{date}</pubDate>"
            f"<description>{escape((summaries or {}).get(guid, item_title))}</description></item>"
        )
    parts.append("</channel></rss>\n")
    return "".join(parts).encode()


HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Page not found</title></head>"
    b"<body><h1>We moved our news</h1><p>Please visit our homepage.</p></body></html>\n"
)


def article_page(title: str, paragraphs: Iterable[str]) -> bytes:
    """An HTML news article page around ``paragraphs`` (see ``FeedServer.article``)."""
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)} | Brussels Wire</title></head><body>"
        "<header><nav><a href='/'>Home</a> <a href='/policy'>Policy</a> "
        "<a href='/tech'>Tech</a> <a href='/subscribe'>Subscribe</a></nav></header>"
        "<div class='cookie'>We use cookies to improve your experience. Accept all?</div>"
        f"<main><article><h1>{escape(title)}</h1>"
        "<p class='byline'>By Jane Doe, 7 December 2026</p>"
        f"<div class='article-body'>{body}</div></article>"
        "<aside class='related'><h2>Related stories</h2><ul>"
        "<li><a href='/a'>Farm ministers meet in Luxembourg</a></li>"
        "<li><a href='/b'>Eurozone inflation slows again</a></li></ul></aside></main>"
        "<form class='newsletter'><h2>Sign up to our newsletter</h2>"
        "<input name='email'></form>"
        "<footer><p>© 2026 Brussels Wire. All rights reserved.</p>"
        "<a href='/privacy'>Privacy</a> <a href='/terms'>Terms</a></footer>"
        "</body></html>\n"
    ).encode()


@lru_cache(maxsize=4)
def gzip_bomb_body(inflated: int) -> bytes:
    """A gzip member that inflates to ``inflated`` zero bytes (cached: ~0.3 s per 100 MiB)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(MIB)
    out = [comp.compress(block) for _ in range(inflated // MIB)]
    out.append(comp.compress(bytes(inflated % MIB)))
    out.append(comp.flush())
    return b"".join(out)


class _Stopped(Exception):
    """The server is stopping: abandon this response."""


class FeedServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 with programmable routes (see module doc)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._routes: dict[str, Route] = {}
        self._sockets: set[socket.socket] = set()
        self._threads: set[threading.Thread] = set()
        self.requests: list[Request] = []
        self.active = 0
        self.max_active = 0
        self.max_connections = 0
        self.connections = 0
        self._httpd = OwnedServer((host, port), _Handler, owner=self, backlog=1024)
        self.host = host
        self.port: int = self._httpd.server_address[1]
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------
    def start(self) -> FeedServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"feedserver:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Wake every handler, close every connection, join the threads."""
        self._stop.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(5)
            self._thread = None
        with self._lock:
            sockets = list(self._sockets)
            threads = list(self._threads)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(5)
        self._httpd.server_close()

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def hostport(self) -> str:
        return f"{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    # -- routes --------------------------------------------------------------------
    def route(self, path: str, route: Route) -> Route:
        with self._lock:
            self._routes[path] = route
        return route

    def feed(
        self,
        path: str,
        body: bytes,
        *,
        content_type: str | None = RSS,
        etag: bool | str = True,
        last_modified: bool | str = True,
        max_age: int | None = None,
        headers: Headers = (),
        latency: float = 0.0,
    ) -> Route:
        route = Route(
            body=body,
            content_type=content_type,
            headers=list(headers),
            max_age=max_age,
            latency=latency,
        )
        route.etag = etag if isinstance(etag, str) else (etag_for(body) if etag else None)
        if isinstance(last_modified, str):
            route.last_modified = last_modified
        elif last_modified:
            route.last_modified = formatdate(_EPOCH, usegmt=True)
        return self.route(path, route)

    def publish(self, path: str, body: bytes) -> Route:
        """Replace a feed's body; the validators change as a real publisher's would."""
        with self._lock:
            route = self._routes[path]
            route.body = body
            route.version += 1
            if route.etag is not None:
                route.etag = etag_for(body)
            if route.last_modified is not None:
                route.last_modified = formatdate(_EPOCH + 60 * route.version, usegmt=True)
        return route

    def status(
        self,
        path: str,
        code: int,
        *,
        body: bytes = b"",
        headers: Headers = (),
        content_type: str | None = "text/plain",
        latency: float = 0.0,
    ) -> Route:
        return self.route(
            path,
            Route(
                status=code,
                body=body,
                headers=list(headers),
                content_type=content_type,
                latency=latency,
            ),
        )

    def redirect(self, path: str, to: str, code: int = 301, *, latency: float = 0.0) -> Route:
        return self.status(path, code, headers=[("Location", to)], latency=latency)

    def html(self, path: str, body: bytes | None = None, *, latency: float = 0.0) -> Route:
        return self.raw(
            path, HTML_PAGE if body is None else body, "text/html; charset=utf-8", latency=latency
        )

    def article(
        self, path: str, title: str, paragraphs: Iterable[str], *, latency: float = 0.0
    ) -> Route:
        """A news article page: the paragraphs inside site navigation, a related-stories
        box, a newsletter form and a footer, as real pages have (for full text)."""
        return self.html(path, article_page(title, paragraphs), latency=latency)

    def robots(self, text: str, *, path: str = "/robots.txt") -> Route:
        """``/robots.txt`` with ``text`` (RFC 9309)."""
        return self.raw(path, text.encode(), "text/plain; charset=utf-8")

    def empty(self, path: str, *, latency: float = 0.0) -> Route:
        return self.raw(path, b"", RSS, latency=latency)

    def raw(
        self,
        path: str,
        body: bytes,
        content_type: str | None,
        *,
        latency: float = 0.0,
        headers: Headers = (),
    ) -> Route:
        return self.route(
            path,
            Route(body=body, content_type=content_type, headers=list(headers), latency=latency),
        )

    def hang(self, path: str) -> Route:
        return self.route(path, Route(kind="hang"))

    def trickle(
        self, path: str, *, interval: float = 0.1, chunk: bytes = b" ", latency: float = 0.0
    ) -> Route:
        route = Route(kind="trickle", interval=interval, chunk=chunk, latency=latency)
        return self.route(path, route)

    def reset(self, path: str, *, partial: bytes = b"", latency: float = 0.0) -> Route:
        return self.route(path, Route(kind="reset", body=partial, latency=latency))

    def huge(
        self, path: str, size: int, *, content_length: bool = True, latency: float = 0.0
    ) -> Route:
        route = Route(kind="huge", size=size, content_length=content_length, latency=latency)
        return self.route(path, route)

    def gzip_bomb(self, path: str, inflated: int = 256 * MIB, *, latency: float = 0.0) -> Route:
        gzip_bomb_body(inflated)  # build it now, not inside the client's deadline
        return self.route(path, Route(kind="gzip_bomb", size=inflated, latency=latency))

    # -- observation ---------------------------------------------------------------
    def requests_for(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if urlsplit(r.path).path == path]

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._sockets)

    def reset_stats(self) -> None:
        with self._lock:
            self.requests.clear()
            self.max_active = self.active
            self.max_connections = len(self._sockets)
            self.connections = 0

    # -- called from handler threads ---------------------------------------------
    def _opened(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)
            self._threads.add(threading.current_thread())
            self.connections += 1
            self.max_connections = max(self.max_connections, len(self._sockets))

    def _closed(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)
            self._threads.discard(threading.current_thread())

    def _wait(self, seconds: float) -> None:
        if seconds > 0 and self._stop.wait(seconds):
            raise _Stopped

    def _dispatch(self, h: _Handler) -> None:
        path = urlsplit(h.path).path
        with self._lock:
            self.requests.append(
                Request(h.command, h.path, tuple(h.headers.items()), time.monotonic())
            )
            route = self._routes.get(path)
            if route is not None:
                route.hits += 1
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        # A request stops being active when its answer starts: the client may send its next
        # request as soon as it has read this answer, sometimes before this thread runs
        # again, and that request must not count as overlapping this one.
        done = False

        def finish() -> None:
            nonlocal done
            if not done:
                done = True
                with self._lock:
                    self.active -= 1

        try:
            if route is None:
                finish()
                _Writer(h).simple(404, b"not found\n", "text/plain", [])
                return
            self._wait(route.latency)
            finish()
            _Writer(h).route(route, self)
        finally:
            finish()


class _Writer:
    """Writes one response for a route on a handler's socket."""

    def __init__(self, h: _Handler) -> None:
        self.h = h
        self.head = h.command == "HEAD"

    def start(self, status: int, headers: Headers) -> None:
        h = self.h
        h.send_response(status)
        for name, value in headers:
            h.send_header(name, value)
        h.end_headers()

    def simple(self, status: int, body: bytes, ctype: str | None, extra: Headers) -> None:
        headers = list(extra)
        if ctype is not None:
            headers.append(("Content-Type", ctype))
        headers.append(("Content-Length", str(len(body))))
        self.start(status, headers)
        if not self.head:
            self.h.wfile.write(body)

    def route(self, r: Route, server: FeedServer) -> None:
        h = self.h
        if r.kind == "hang":
            h.close_connection = True
            server._stop.wait()
            raise _Stopped
        if r.kind == "reset":
            h.close_connection = True
            if r.body:
                h.wfile.write(r.body)
            # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            h.connection.close()
            return
        if r.kind == "trickle":
            h.close_connection = True
            self.start(200, [("Content-Type", RSS), ("Connection", "close")])
            while True:
                h.wfile.write(r.chunk)
                server._wait(r.interval)
        if r.kind == "huge":
            self.huge(r)
            return
        if r.kind == "gzip_bomb":
            self.simple(200, gzip_bomb_body(r.size), RSS, [("Content-Encoding", "gzip")])
            return
        self.static(r)

    def static(self, r: Route) -> None:
        validators: list[tuple[str, str]] = []
        if r.etag is not None:
            validators.append(("ETag", r.etag))
        if r.last_modified is not None:
            validators.append(("Last-Modified", r.last_modified))
        if r.max_age is not None:
            validators.append(("Cache-Control", f"max-age={r.max_age}"))
        if r.status == 200 and _not_modified(self.h, r):
            self.start(304, validators + list(r.headers))
            return
        self.simple(r.status, r.body, r.content_type, validators + list(r.headers))

    def huge(self, r: Route) -> None:
        block = (b"<item><title>filler</title></item>\n" * 2000)[: 64 * 1024]
        headers = [("Content-Type", RSS)]
        headers.append(
            ("Content-Length", str(r.size))
            if r.content_length
            else ("Transfer-Encoding", "chunked")
        )
        self.start(200, headers)
        if self.head:
            return
        left = r.size
        write = self.h.wfile.write
        while left > 0:
            data = block[: min(left, len(block))]
            left -= len(data)
            write(data if r.content_length else b"%x\r\n%s\r\n" % (len(data), data))
        if not r.content_length:
            write(b"0\r\n\r\n")


def _not_modified(h: _Handler, r: Route) -> bool:
    inm = h.headers.get("If-None-Match")
    if inm is not None:
        # RFC 9110 §13.1.2: weak comparison; If-Modified-Since is ignored when INM is present.
        if r.etag is None:
            return False
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return "*" in tags or r.etag.removeprefix("W/") in tags
    ims = h.headers.get("If-Modified-Since")
    if ims is None or r.last_modified is None:
        return False
    try:
        return parsedate_to_datetime(ims) >= parsedate_to_datetime(r.last_modified)
    except (TypeError, ValueError):
        return False


class _Handler(TrackedHandler):
    server: OwnedServer  # whose owner is a FeedServer

    def handle(self) -> None:
        try:
            super().handle()
        except (_Stopped, OSError):
            self.close_connection = True

    def do_GET(self) -> None:
        self.server.owner._dispatch(self)

    do_HEAD = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass

    def version_string(self) -> str:
        return "feedserver/1"
