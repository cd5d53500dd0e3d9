"""Faults injected at the transport seam: what a real server cannot easily produce."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import httpx

from monitor.config.feeds import FetchSettings
from monitor.fetch import Fetcher
from monitor.models import FeedSpec, FeedState

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
URL = "http://feeds.example.eu/rss"


class Raising(httpx.AsyncBaseTransport):
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise self.exc


async def fetch_with(transport: httpx.AsyncBaseTransport) -> tuple[str | None, str | None]:
    spec = FeedSpec(id="f", url=URL)
    state = FeedState(feed_id="f", url=URL, configured_url=URL)
    async with Fetcher(FetchSettings(), transport=transport) as fetcher:
        result = await fetcher.fetch(spec, state, NOW)
    assert result.outcome == "error"
    return result.error_kind, result.error


async def test_dns_failure_is_a_network_error() -> None:
    try:
        raise socket.gaierror(-2, "Name or service not known")
    except OSError as exc:
        error = httpx.ConnectError(str(exc))
        error.__cause__ = exc
    kind, message = await fetch_with(Raising(error))
    assert kind == "network"
    assert message == f"fetcher: {URL}: cannot connect: name or service not known"


async def test_a_bug_below_the_fetcher_becomes_an_internal_error_not_a_crash() -> None:
    kind, error = await fetch_with(Raising(RuntimeError("boom")))
    assert kind == "internal"
    assert error == f"fetcher: {URL}: unexpected error: RuntimeError('boom')"


async def test_unfetchable_urls_are_named_without_any_network_access() -> None:
    results = {}
    async with Fetcher(FetchSettings(), transport=Raising(AssertionError("no request"))) as f:
        for url in ("not a url", "http://", "http://[::1"):
            state = FeedState(feed_id="f", url=url, configured_url=url)
            result = await f.fetch(FeedSpec(id="f", url=url), state, NOW)
            results[url] = (result.error_kind, result.error)
    assert results["http://"] == ("url", "fetcher: http://: not a fetchable URL: no host name")
    assert results["not a url"][0] == "url"
    assert results["http://[::1"][0] == "url"
