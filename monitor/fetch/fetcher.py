"""The asyncio fetcher: one polite, bounded HTTP GET per feed on httpx.

Politeness and safety, each with its reason:

* concurrency is bounded overall and per ``host:port``; a request waits for its host's
  slot before it takes a global one, so many feeds on one slow host cannot hold every
  global slot while they queue (head-of-line blocking);
* one deadline (``FeedSpec.timeout``) covers the whole request from the moment it gets
  its slots: connecting, every redirect hop and the whole body.  httpx's own timeouts are
  per operation, so a server that sends one byte a second would never trip them;
* the body is read raw and decoded by :class:`~monitor.fetch.decode.BoundedDecoder`, so
  both the transferred and the decoded size are capped while streaming (gzip bomb);
* redirects are followed by hand to detect loops and to learn whether every hop was
  permanent (RFC 9110 §15.4), which moves the feed.

Requests go straight to httpx transports (one
:class:`~monitor.fetch.connection.LaneTransport` per lane, see :mod:`monitor.fetch.lanes`)
rather than through ``httpx.AsyncClient``: the client adds cookie handling, auth and
redirect machinery this fetcher does not want, and measured ~0.3 ms of CPU per request
on top of the transport.  Consequences: no cookies are kept between polls, and proxy
environment variables (``HTTPS_PROXY``) are not read.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import TracebackType

import httpx

from monitor import __version__
from monitor.config.specs import FetchSettings
from monitor.errors import FetchError
from monitor.fetch.connection import LaneTransport
from monitor.fetch.decode import ACCEPT_ENCODING, BoundedDecoder, DecodingError, TooLargeError
from monitor.fetch.lanes import Lanes
from monitor.fetch.response import (
    PERMANENT,
    REDIRECTS,
    conditional_headers,
    not_before,
    redirect_target,
    size_text,
    status_message,
)
from monitor.models import FeedSpec, FeedState, FetchResult

log = logging.getLogger(__name__)

PROJECT_URL = "https://github.com/eu-monitor/monitor"
DEFAULT_USER_AGENT = f"monitor/{__version__} (+{PROJECT_URL}; EU news watch bot)"
DRAIN_LIMIT = 64 * 1024
"""Bodies of 304, redirect and error responses up to this size are read and dropped so
that keep-alive survives (httpcore closes a connection whose response was not read)."""
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8"
)


ERROR_KINDS = {
    "http": "an unusable status (4xx, 5xx, unexpected 3xx); FetchResult.status has it",
    "timeout": "no complete response within FeedSpec.timeout (hang, trickle, slow server)",
    "too_large": "the body, raw or decoded, exceeds FeedSpec.max_size",
    "redirect_loop": "a redirect leads back to a URL already visited",
    "too_many_redirects": "more than FetchSettings.max_redirects redirects",
    "redirect": "a redirect without a usable Location",
    "network": "DNS, refused or reset connections",
    "tls": "the TLS handshake or certificate check failed",
    "protocol": "the server's answer is not valid HTTP/1.1",
    "decoding": "corrupt gzip/deflate data or an encoding that was not offered",
    "url": "the feed URL cannot be fetched at all",
    "internal": "a bug in monitor or a library (logged with its traceback)",
}
"""``FetchResult.error_kind`` values and what each means."""


@dataclass
class _Attempt:
    """What is known about one fetch so far, so that a failure can say where it failed."""

    url: str
    started: float
    phase: str = "while waiting for a connection slot"
    final_url: str | None = None
    status: int | None = None
    headers: tuple[tuple[str, str], ...] = ()
    not_before: datetime | None = None
    hops: list[str] = field(default_factory=list)


@dataclass
class _Gate:
    """The caller's back-pressure before a body is read; waiting there pauses ``deadline``."""

    wait_for: Callable[[], Awaitable[object]] | None
    deadline: asyncio.Timeout

    async def wait(self) -> None:
        if self.wait_for is None:
            return
        loop = asyncio.get_running_loop()
        started = loop.time()
        when = self.deadline.when()
        self.deadline.reschedule(None)
        try:
            await self.wait_for()
        finally:
            if when is not None:
                self.deadline.reschedule(when + loop.time() - started)


class Fetcher:
    """Fetch feeds over HTTP with bounded concurrency; use as ``async with Fetcher(...)``.

    ``transport`` replaces httpx's network transport for every request (tests inject a
    fault at that seam); the caller keeps ownership of it.
    """

    def __init__(
        self, settings: FetchSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        self.user_agent = settings.user_agent or DEFAULT_USER_AGENT
        self._headers = [
            (b"User-Agent", self.user_agent.encode("latin-1", "replace")),
            (b"Accept", ACCEPT.encode()),
            (b"Accept-Encoding", ACCEPT_ENCODING.encode()),
        ]
        self._transport = transport
        self._lanes: Lanes | None = None
        self._global = asyncio.Semaphore(settings.concurrency)

    async def __aenter__(self) -> Fetcher:
        injected = self._transport
        if injected is not None:
            self._lanes = Lanes(self.settings.per_host, lambda: injected, owned=False)
        else:
            # One TLS context for every lane: loading the CA bundle costs ~20 ms each time.
            tls = httpx.create_ssl_context()
            self._lanes = Lanes(self.settings.per_host, lambda: _lane_transport(tls))
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._lanes is not None:
            await self._lanes.aclose()
            self._lanes = None

    async def fetch(
        self,
        spec: FeedSpec,
        state: FeedState,
        now: datetime,
        *,
        body_gate: Callable[[], Awaitable[object]] | None = None,
    ) -> FetchResult:
        """Fetch ``state.url`` (conditionally, with ``state``'s validators).

        ``body_gate``, when given, is awaited once before a 2xx body is read: the caller's
        back-pressure (the poller bounds how many bodies wait to be parsed and stored).
        The time spent waiting there does not count against the request's deadline.

        Never raises for a feed problem: HTTP errors, timeouts, oversized bodies, redirect
        loops and network failures come back as ``outcome="error"`` with ``error`` (a
        message naming the URL) and ``error_kind``, one of :data:`ERROR_KINDS`.

        Raises:
            RuntimeError: the fetcher is used outside ``async with``.
        """
        if self._lanes is None:
            raise RuntimeError("Fetcher used outside 'async with'")
        loop = asyncio.get_running_loop()
        attempt = _Attempt(url=state.url, started=loop.time())
        try:
            return await self._fetch(self._lanes, spec, state, now, attempt, body_gate)
        except FetchError as exc:
            return self._failed(spec, now, attempt, exc)
        except Exception as exc:  # a bug must not stop the cycle; it is logged loudly
            log.exception("fetcher: %s: unexpected error", state.url)
            error = FetchError(f"unexpected error: {exc!r}", url=state.url, kind="internal")
            return self._failed(spec, now, attempt, error)

    # -- the request ---------------------------------------------------------------
    async def _fetch(
        self,
        lanes: Lanes,
        spec: FeedSpec,
        state: FeedState,
        now: datetime,
        attempt: _Attempt,
        body_gate: Callable[[], Awaitable[object]] | None,
    ) -> FetchResult:
        timeout = spec.timeout.total_seconds()
        loop = asyncio.get_running_loop()
        headers = self._headers + conditional_headers(state.etag, state.last_modified)
        url = state.url
        permanent = True
        try:
            async with asyncio.timeout(None) as deadline:
                for hop in range(self.settings.max_redirects + 1):
                    # Host lane first, then a global slot: see the module docstring.
                    target_url = httpx.URL(url)
                    if not target_url.host:
                        raise FetchError(
                            "not a fetchable URL: no host name", url=state.url, kind="url"
                        )
                    async with lanes.lane(_host_key(target_url)) as transport, self._global:
                        if hop == 0:
                            attempt.started = loop.time()
                            deadline.reschedule(attempt.started + timeout)
                        attempt.phase = "while waiting for the response"
                        request = httpx.Request("GET", target_url, headers=headers)
                        response = await transport.handle_async_request(request)
                        try:
                            self._observe(attempt, response, now)
                            if response.status_code not in REDIRECTS:
                                return await self._final(
                                    spec,
                                    state,
                                    now,
                                    attempt,
                                    response,
                                    permanent and hop > 0,
                                    _Gate(body_gate, deadline),
                                )
                            target = redirect_target(
                                url, response.status_code, response.headers.get("location")
                            )
                            await _drain(response)
                        finally:
                            await response.aclose()
                    permanent = permanent and response.status_code in PERMANENT
                    attempt.hops.append(url)
                    if target in attempt.hops:
                        raise FetchError(
                            f"redirect loop: {' -> '.join([*attempt.hops, target])}",
                            url=state.url,
                            kind="redirect_loop",
                            status=response.status_code,
                        )
                    url = attempt.final_url = target
                    attempt.phase = "while waiting for a connection slot"
                raise FetchError(
                    f"more than {self.settings.max_redirects} redirects: "
                    f"{' -> '.join([*attempt.hops, url])}",
                    url=state.url,
                    kind="too_many_redirects",
                )
        except TimeoutError as exc:
            raise FetchError(
                f"no complete response within {timeout:g}s (timed out {attempt.phase})",
                url=state.url,
                kind="timeout",
                status=attempt.status,
            ) from exc
        except httpx.HTTPError as exc:
            raise _wrap(exc, state.url, attempt) from exc
        except httpx.InvalidURL as exc:
            raise FetchError(f"not a fetchable URL: {exc}", url=state.url, kind="url") from exc
        except OSError as exc:
            raise FetchError(
                f"network error {attempt.phase}: {_detail(exc)}", url=state.url, kind="network"
            ) from exc

    async def _final(
        self,
        spec: FeedSpec,
        state: FeedState,
        now: datetime,
        attempt: _Attempt,
        response: httpx.Response,
        moved: bool,
        gate: _Gate,
    ) -> FetchResult:
        status = response.status_code
        h = response.headers
        result = FetchResult(
            feed_id=spec.id,
            url=state.url,
            outcome="ok",
            fetched_at=now,
            status=status,
            final_url=attempt.final_url,
            permanent_url=attempt.final_url if moved else None,
            headers=attempt.headers,
            not_before=attempt.not_before,
        )
        if status == 304:
            await _drain(response)
            # RFC 9111 §4.3.4: a 304 may refresh the validators; otherwise keep ours.
            return replace(
                result,
                outcome="not_modified",
                etag=h.get("etag") or state.etag,
                last_modified=h.get("last-modified") or state.last_modified,
                elapsed=self._elapsed(attempt),
            )
        if not 200 <= status < 300:
            await _drain(response)
            raise FetchError(
                status_message(status, response.reason_phrase, h),
                url=state.url,
                kind="http",
                status=status,
            )
        attempt.phase = "while waiting to read the body (back-pressure)"
        await gate.wait()
        body = await self._read(spec, state, attempt, response)
        return replace(
            result,
            body=body,
            content_type=h.get("content-type"),
            etag=h.get("etag"),
            last_modified=h.get("last-modified"),
            elapsed=self._elapsed(attempt),
        )

    async def _read(
        self, spec: FeedSpec, state: FeedState, attempt: _Attempt, response: httpx.Response
    ) -> bytes:
        cap = spec.max_size
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise FetchError(
                f"body of {size_text(int(declared))} (Content-Length) exceeds the "
                f"{size_text(cap)} cap",
                url=state.url,
                kind="too_large",
                status=response.status_code,
            )
        encoding = response.headers.get("content-encoding")
        try:
            decoder = BoundedDecoder(encoding, cap)
            parts: list[bytes] = []
            attempt.phase = "while reading the body"
            async for chunk in response.aiter_raw():
                parts.append(decoder.feed(chunk))
                attempt.phase = f"while reading the body after {decoder.raw_size} bytes"
            parts.append(decoder.flush())
        except TooLargeError:
            if decoder.encoding == "identity":
                message = f"body exceeds the {size_text(cap)} cap"
            else:
                message = (
                    f"body inflates beyond the {size_text(cap)} cap after "
                    f"{size_text(decoder.raw_size)} received "
                    f"(Content-Encoding: {decoder.encoding})"
                )
            raise FetchError(
                message, url=state.url, kind="too_large", status=response.status_code
            ) from None
        except DecodingError as exc:
            raise FetchError(
                str(exc), url=state.url, kind="decoding", status=response.status_code
            ) from exc
        return b"".join(parts)

    # -- helpers -----------------------------------------------------------------------
    @staticmethod
    def _observe(attempt: _Attempt, response: httpx.Response, now: datetime) -> None:
        attempt.status = response.status_code
        attempt.headers = tuple(response.headers.multi_items())
        attempt.not_before = not_before(response.status_code, response.headers, now)

    @staticmethod
    def _elapsed(attempt: _Attempt) -> float:
        return asyncio.get_running_loop().time() - attempt.started

    def _failed(
        self, spec: FeedSpec, now: datetime, attempt: _Attempt, error: FetchError
    ) -> FetchResult:
        return FetchResult(
            feed_id=spec.id,
            url=attempt.url,
            outcome="error",
            fetched_at=now,
            status=error.status if error.status is not None else attempt.status,
            final_url=attempt.final_url,
            headers=attempt.headers,
            not_before=attempt.not_before,
            error=str(error),
            error_kind=error.kind,
            elapsed=self._elapsed(attempt),
        )


def _lane_transport(tls: ssl.SSLContext) -> httpx.AsyncBaseTransport:
    return LaneTransport(tls)


async def _drain(response: httpx.Response, limit: int = DRAIN_LIMIT) -> None:
    """Read a short body we do not need, so the connection can serve the next request."""
    received = 0
    async for chunk in response.aiter_raw():
        received += len(chunk)
        if received > limit:
            return


def host_key(url: str) -> str:
    """``hostname:port`` of a URL, the unit of per-host politeness.

    Raises:
        httpx.InvalidURL: not a URL.
    """
    return _host_key(httpx.URL(url))


def _host_key(url: httpx.URL) -> str:
    port = url.port or (443 if url.scheme == "https" else 80)
    return f"{url.host.lower()}:{port}"


def _wrap(exc: httpx.HTTPError, url: str, attempt: _Attempt) -> FetchError:
    detail = _detail(exc)
    if isinstance(exc, httpx.TimeoutException):
        return FetchError(f"timed out {attempt.phase}: {detail}", url=url, kind="timeout")
    if isinstance(exc, httpx.ConnectError):
        kind = "tls" if _caused_by(exc, ssl.SSLError) else "network"
        return FetchError(f"cannot connect: {detail}", url=url, kind=kind)
    if isinstance(exc, httpx.RemoteProtocolError):
        return FetchError(
            f"invalid HTTP response {attempt.phase}: {detail}",
            url=url,
            kind="protocol",
            status=attempt.status,
        )
    if isinstance(exc, httpx.UnsupportedProtocol):
        return FetchError(f"not a fetchable URL: {detail}", url=url, kind="url")
    if isinstance(exc, httpx.TransportError):
        return FetchError(
            f"connection failed {attempt.phase}: {detail}",
            url=url,
            kind="network",
            status=attempt.status,
        )
    return FetchError(f"HTTP error {attempt.phase}: {detail}", url=url, kind="network")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: BaseException | None = exc
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    return any(isinstance(e, kind) for e in _chain(exc))


def _detail(exc: BaseException) -> str:
    # anyio reports a refused connection as "All connection attempts failed"; the errno
    # underneath ("connection refused", "name or service not known") is what helps.
    for cause in _chain(exc):
        if isinstance(cause, OSError) and cause.errno and not isinstance(cause, ssl.SSLError):
            text = os.strerror(cause.errno) if cause.errno > 0 else str(cause.strerror)
            return text[:1].lower() + text[1:]
    return str(exc) or type(exc).__name__
