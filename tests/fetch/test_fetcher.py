"""The fetcher against a real HTTP server on 127.0.0.1: conditional GET, faults, bounds."""

from __future__ import annotations

import asyncio
import gzip
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest

from monitor.config.feeds import FetchSettings
from monitor.fetch import DEFAULT_USER_AGENT, ERROR_KINDS, Fetcher
from monitor.models import FeedSpec, FeedState, FetchResult
from tests.support.feedserver import MIB, FeedServer, rss_feed

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
RSS_TYPE = "application/rss+xml"
BODY = rss_feed("EU policy", [("a1", "Council adopts AI Act", "https://example.eu/a1")])
NEWER = rss_feed(
    "EU policy",
    [
        ("a2", "Parliament votes on chat control", "https://example.eu/a2"),
        ("a1", "Council adopts AI Act", "https://example.eu/a1"),
    ],
)


def spec_for(
    url: str, *, timeout: float = 2.0, max_size: int = MIB, feed_id: str = "f"
) -> FeedSpec:
    return FeedSpec(id=feed_id, url=url, timeout=timedelta(seconds=timeout), max_size=max_size)


def state_for(url: str, *, etag: str | None = None, last_modified: str | None = None) -> FeedState:
    return FeedState(
        feed_id="f", url=url, configured_url=url, etag=etag, last_modified=last_modified
    )


async def fetch(
    server: FeedServer,
    path: str,
    *,
    settings: FetchSettings | None = None,
    state: FeedState | None = None,
    deadline: float = 2.0,
    max_size: int = MIB,
) -> FetchResult:
    url = server.url(path)
    async with Fetcher(settings or FetchSettings()) as fetcher:
        spec = spec_for(url, timeout=deadline, max_size=max_size)
        return await fetcher.fetch(spec, state or state_for(url), NOW)


def assert_error(result: FetchResult, kind: str, *fragments: str) -> None:
    assert result.outcome == "error", result
    assert result.error_kind == kind, result.error
    assert kind in ERROR_KINDS
    assert result.error is not None
    assert result.error.startswith(f"fetcher: {result.url}: "), result.error
    for fragment in fragments:
        assert fragment in result.error, result.error
    assert result.body is None


# -- conditional GET -------------------------------------------------------------------
async def test_conditional_get_sends_validators_and_gets_304(feed_server: FeedServer) -> None:
    feed_server.feed("/eu.xml", BODY)
    url = feed_server.url("/eu.xml")

    first = await fetch(feed_server, "/eu.xml")
    assert first.outcome == "ok"
    assert first.status == 200
    assert first.body == BODY
    assert first.etag
    assert first.last_modified

    state = state_for(url, etag=first.etag, last_modified=first.last_modified)
    second = await fetch(feed_server, "/eu.xml", state=state)

    sent = feed_server.requests_for("/eu.xml")
    assert sent[0].header("If-None-Match") is None
    assert sent[1].header("If-None-Match") == first.etag
    assert sent[1].header("If-Modified-Since") == first.last_modified
    assert second.outcome == "not_modified"
    assert second.status == 304
    assert second.body is None
    assert (second.etag, second.last_modified) == (first.etag, first.last_modified)
    assert second.error is None


async def test_new_item_changes_validators_and_returns_new_body(feed_server: FeedServer) -> None:
    feed_server.feed("/eu.xml", BODY)
    first = await fetch(feed_server, "/eu.xml")
    feed_server.publish("/eu.xml", NEWER)

    state = state_for(first.url, etag=first.etag, last_modified=first.last_modified)
    second = await fetch(feed_server, "/eu.xml", state=state)

    assert second.outcome == "ok"
    assert second.body == NEWER
    assert second.etag != first.etag
    assert second.last_modified != first.last_modified


async def test_last_modified_alone_is_enough_for_304(feed_server: FeedServer) -> None:
    feed_server.feed("/lm.xml", BODY, etag=False)
    first = await fetch(feed_server, "/lm.xml")
    assert first.etag is None

    state = state_for(first.url, last_modified=first.last_modified)
    second = await fetch(feed_server, "/lm.xml", state=state)

    assert feed_server.requests_for("/lm.xml")[1].header("If-None-Match") is None
    assert second.outcome == "not_modified"


async def test_unsendable_stored_validator_is_skipped_not_fatal(feed_server: FeedServer) -> None:
    feed_server.feed("/eu.xml", BODY)
    state = state_for(feed_server.url("/eu.xml"), etag='"caf\u00e9\u20ac"', last_modified="x\r\ny")

    result = await fetch(feed_server, "/eu.xml", state=state)

    assert result.outcome == "ok"
    request = feed_server.requests_for("/eu.xml")[0]
    assert request.header("If-None-Match") is None
    assert request.header("If-Modified-Since") is None


async def test_identifies_itself_and_advertises_only_bounded_encodings(
    feed_server: FeedServer,
) -> None:
    feed_server.feed("/eu.xml", BODY)
    await fetch(feed_server, "/eu.xml")
    await fetch(feed_server, "/eu.xml", settings=FetchSettings(user_agent="custom/1.0"))

    first, second = feed_server.requests_for("/eu.xml")
    assert first.header("User-Agent") == DEFAULT_USER_AGENT
    assert DEFAULT_USER_AGENT.startswith("monitor/")
    assert second.header("User-Agent") == "custom/1.0"
    assert first.header("Accept-Encoding") == "gzip, deflate"


async def test_gzip_encoded_feed_is_decoded(feed_server: FeedServer) -> None:
    feed_server.raw(
        "/gz.xml",
        gzip.compress(BODY),
        "application/rss+xml",
        headers=[("Content-Encoding", "gzip")],
    )
    result = await fetch(feed_server, "/gz.xml")
    assert result.outcome == "ok"
    assert result.body == BODY


# -- server hints ------------------------------------------------------------------------
async def test_cache_control_max_age_sets_not_before(feed_server: FeedServer) -> None:
    feed_server.feed("/eu.xml", BODY, max_age=600)
    result = await fetch(feed_server, "/eu.xml")
    assert result.outcome == "ok"
    assert result.not_before == NOW + timedelta(seconds=600)


async def test_429_with_retry_after_is_an_error_with_not_before(feed_server: FeedServer) -> None:
    feed_server.status("/busy.xml", 429, headers=[("Retry-After", "120")])
    result = await fetch(feed_server, "/busy.xml")
    assert_error(result, "http", "HTTP 429 Too Many Requests (Retry-After: 120)")
    assert result.status == 429
    assert result.not_before == NOW + timedelta(seconds=120)


async def test_503_with_retry_after_date(feed_server: FeedServer) -> None:
    feed_server.status("/down.xml", 503, headers=[("Retry-After", "Mon, 02 Mar 2026 11:00:00 GMT")])
    result = await fetch(feed_server, "/down.xml")
    assert_error(result, "http", "HTTP 503 Service Unavailable")
    assert result.not_before == datetime(2026, 3, 2, 11, 0, tzinfo=UTC)


# -- faults -------------------------------------------------------------------------------
async def test_500_is_a_precise_error(feed_server: FeedServer) -> None:
    feed_server.status("/broken.xml", 500, body=b"Traceback ...")
    result = await fetch(feed_server, "/broken.xml")
    assert (
        result.error == f"fetcher: {feed_server.url('/broken.xml')}: HTTP 500 Internal Server Error"
    )
    assert_error(result, "http")
    assert result.status == 500
    assert result.not_before is None


async def test_404_is_a_precise_error(feed_server: FeedServer) -> None:
    feed_server.status("/gone.xml", 404)
    result = await fetch(feed_server, "/gone.xml")
    assert_error(result, "http", "HTTP 404 Not Found")


async def test_hang_times_out_at_the_deadline(feed_server: FeedServer) -> None:
    feed_server.hang("/hang.xml")
    result = await asyncio.wait_for(fetch(feed_server, "/hang.xml", deadline=0.5), 10)
    assert_error(
        result, "timeout", "no complete response within 0.5s", "while waiting for the response"
    )


async def test_trickle_cannot_outlive_the_deadline(feed_server: FeedServer) -> None:
    # One byte every 50 ms: each read succeeds, so only the overall deadline can stop it.
    feed_server.trickle("/slow.xml", interval=0.05)
    result = await asyncio.wait_for(fetch(feed_server, "/slow.xml", deadline=0.5), 10)
    assert_error(
        result, "timeout", "no complete response within 0.5s", "while reading the body after"
    )
    assert result.status == 200


async def test_connection_reset(feed_server: FeedServer) -> None:
    feed_server.reset("/reset.xml")
    result = await fetch(feed_server, "/reset.xml")
    assert_error(result, "network", "while waiting for the response", "reset")


async def test_connection_refused() -> None:
    with FeedServer() as server:
        url = server.url("/closed.xml")
    async with Fetcher(FetchSettings()) as fetcher:
        result = await fetcher.fetch(spec_for(url), state_for(url), NOW)
    assert_error(result, "network", "cannot connect", "refused")


async def test_tls_handshake_failure_is_named() -> None:
    with FeedServer() as server:  # plain HTTP: a TLS client gets no valid ServerHello
        url = server.url("/eu.xml").replace("http://", "https://")
        async with Fetcher(FetchSettings()) as fetcher:
            result = await fetcher.fetch(spec_for(url), state_for(url), NOW)
    assert_error(result, "tls", "cannot connect")


async def test_html_page_is_fetched_for_the_parser(feed_server: FeedServer) -> None:
    feed_server.html("/news")
    result = await fetch(feed_server, "/news")
    assert result.outcome == "ok"
    assert result.body is not None
    assert result.body.startswith(b"<!DOCTYPE html>")
    assert result.content_type == "text/html; charset=utf-8"


async def test_empty_body_is_fetched_for_the_parser(feed_server: FeedServer) -> None:
    feed_server.empty("/empty.xml")
    result = await fetch(feed_server, "/empty.xml")
    assert result.outcome == "ok"
    assert result.body == b""


async def test_huge_body_with_content_length_is_refused_before_reading(
    feed_server: FeedServer,
) -> None:
    feed_server.huge("/huge.xml", 50 * MIB)
    result = await fetch(feed_server, "/huge.xml", max_size=MIB)
    assert_error(result, "too_large", "body of 50 MiB (Content-Length) exceeds the 1 MiB cap")


async def test_huge_body_without_content_length_is_cut_at_the_cap(
    feed_server: FeedServer,
) -> None:
    feed_server.huge("/huge.xml", 50 * MIB, content_length=False)
    result = await fetch(feed_server, "/huge.xml", max_size=MIB)
    assert_error(result, "too_large", "body exceeds the 1 MiB cap")


async def test_body_exactly_at_the_cap_is_accepted(feed_server: FeedServer) -> None:
    feed_server.huge("/edge.xml", MIB, content_length=False)
    result = await fetch(feed_server, "/edge.xml", max_size=MIB)
    assert result.outcome == "ok"
    assert result.body is not None
    assert len(result.body) == MIB


async def test_gzip_bomb_is_refused_without_inflating_it(feed_server: FeedServer) -> None:
    feed_server.gzip_bomb("/bomb.xml", inflated=128 * MIB)
    tracemalloc.start()
    try:
        result = await fetch(feed_server, "/bomb.xml", max_size=MIB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert_error(result, "too_large", "inflates beyond the 1 MiB cap", "Content-Encoding: gzip")
    # httpx's own decoder would hold ~64 MiB per network chunk of this body.
    assert peak < 16 * MIB


async def test_unadvertised_content_encoding_is_an_error(feed_server: FeedServer) -> None:
    feed_server.raw("/br.xml", b"\x0b\x02\x80", RSS_TYPE, headers=[("Content-Encoding", "br")])
    result = await fetch(feed_server, "/br.xml")
    assert_error(result, "decoding", "unsupported Content-Encoding 'br'")


# -- redirects ------------------------------------------------------------------------------
async def test_permanent_redirects_move_the_feed(feed_server: FeedServer) -> None:
    feed_server.redirect("/old.xml", "/older.xml", 301)
    feed_server.redirect("/older.xml", feed_server.url("/new.xml"), 308)
    feed_server.feed("/new.xml", BODY)

    result = await fetch(feed_server, "/old.xml")

    assert result.outcome == "ok"
    assert result.body == BODY
    assert result.url == feed_server.url("/old.xml")
    assert result.final_url == feed_server.url("/new.xml")
    assert result.permanent_url == feed_server.url("/new.xml")


@pytest.mark.parametrize("codes", [(302,), (307,), (301, 302), (302, 301)])
async def test_temporary_redirect_does_not_move_the_feed(
    feed_server: FeedServer, codes: tuple[int, ...]
) -> None:
    paths = [f"/hop{i}.xml" for i in range(len(codes))] + ["/target.xml"]
    for code, here, there in zip(codes, paths, paths[1:], strict=False):
        feed_server.redirect(here, there, code)
    feed_server.feed("/target.xml", BODY)

    result = await fetch(feed_server, "/hop0.xml")

    assert result.outcome == "ok"
    assert result.final_url == feed_server.url("/target.xml")
    assert result.permanent_url is None


async def test_permanent_redirect_to_a_broken_target_does_not_move_the_feed(
    feed_server: FeedServer,
) -> None:
    feed_server.redirect("/old.xml", "/new.xml", 301)
    feed_server.status("/new.xml", 500)
    result = await fetch(feed_server, "/old.xml")
    assert_error(result, "http", "HTTP 500")
    assert result.final_url == feed_server.url("/new.xml")


async def test_validators_follow_the_redirect(feed_server: FeedServer) -> None:
    feed_server.redirect("/old.xml", "/new.xml", 301)
    route = feed_server.feed("/new.xml", BODY)
    state = state_for(feed_server.url("/old.xml"), etag=route.etag)

    result = await fetch(feed_server, "/old.xml", state=state)

    assert result.outcome == "not_modified"
    assert result.permanent_url == feed_server.url("/new.xml")


async def test_redirect_loop_is_an_error(feed_server: FeedServer) -> None:
    feed_server.redirect("/a.xml", "/b.xml", 302)
    feed_server.redirect("/b.xml", "/a.xml", 301)
    result = await fetch(feed_server, "/a.xml")
    a, b = feed_server.url("/a.xml"), feed_server.url("/b.xml")
    assert_error(result, "redirect_loop", f"redirect loop: {a} -> {b} -> {a}")
    assert len(feed_server.requests) == 2


async def test_redirect_chain_longer_than_the_limit_is_an_error(feed_server: FeedServer) -> None:
    for i in range(6):
        feed_server.redirect(f"/r{i}", f"/r{i + 1}", 302)
    feed_server.feed("/r6", BODY)

    too_long = await fetch(feed_server, "/r0", settings=FetchSettings(max_redirects=5))
    just_enough = await fetch(feed_server, "/r1", settings=FetchSettings(max_redirects=5))

    assert_error(too_long, "too_many_redirects", "more than 5 redirects: ")
    assert just_enough.outcome == "ok"


async def test_redirect_without_location_is_an_error(feed_server: FeedServer) -> None:
    feed_server.status("/nowhere.xml", 302)
    result = await fetch(feed_server, "/nowhere.xml")
    assert_error(result, "redirect", "HTTP 302 redirect without a Location header")


# -- concurrency ------------------------------------------------------------------------------
async def test_hanging_feeds_do_not_stall_the_others() -> None:
    settings = FetchSettings(concurrency=8, per_host=4)
    servers = [FeedServer().start() for _ in range(4)]
    try:
        feeds: list[tuple[FeedSpec, FeedState, bool]] = []
        for n in range(20):
            server = servers[n % 4]
            path = f"/feed{n}.xml"
            good = n % 3 != 0
            if good:
                server.feed(path, rss_feed(f"feed {n}", [(f"{n}", "item", "https://x.eu/")]))
            elif n % 2:
                server.hang(path)
            else:
                server.trickle(path, interval=0.05)
            url = server.url(path)
            feeds.append((spec_for(url, timeout=1.0, feed_id=f"f{n}"), state_for(url), good))

        async with Fetcher(settings) as fetcher:
            results = await asyncio.wait_for(
                asyncio.gather(*(fetcher.fetch(s, st, NOW) for s, st, _ in feeds)), 20
            )
    finally:
        for server in servers:
            server.stop()

    for (spec, _, good), result in zip(feeds, results, strict=True):
        assert result.feed_id == spec.id
        if good:
            assert result.outcome == "ok", result.error
        else:
            assert result.error_kind == "timeout", result.error
    assert sum(1 for _, _, good in feeds if not good) == 7


async def test_a_lane_is_usable_after_a_request_on_it_timed_out(feed_server: FeedServer) -> None:
    feed_server.trickle("/slow.xml", interval=0.05)
    feed_server.feed("/eu.xml", BODY)
    slow, good = feed_server.url("/slow.xml"), feed_server.url("/eu.xml")
    async with Fetcher(FetchSettings(per_host=1)) as fetcher:
        first = await fetcher.fetch(spec_for(slow, timeout=0.3), state_for(slow), NOW)
        second = fetcher.fetch(spec_for(good), state_for(good), NOW)
        third = fetcher.fetch(spec_for(slow, timeout=0.3), state_for(slow), NOW)
        fourth = fetcher.fetch(spec_for(good), state_for(good), NOW)
        results = [first, *await asyncio.gather(second, third, fourth)]
    assert [r.outcome for r in results] == ["error", "ok", "error", "ok"]


async def test_per_host_bound_is_observed_by_the_server(feed_server: FeedServer) -> None:
    for n in range(12):
        feed_server.feed(f"/f{n}.xml", BODY, latency=0.05)
    other = FeedServer().start()
    try:
        for n in range(12):
            other.feed(f"/f{n}.xml", BODY, latency=0.05)
        settings = FetchSettings(concurrency=50, per_host=3)
        urls = [s.url(f"/f{n}.xml") for n in range(12) for s in (feed_server, other)]
        async with Fetcher(settings) as fetcher:
            results = await asyncio.gather(
                *(fetcher.fetch(spec_for(u), state_for(u), NOW) for u in urls)
            )
    finally:
        other.stop()
    assert all(r.outcome == "ok" for r in results)
    assert feed_server.max_active == 3
    assert other.max_active == 3


async def test_global_bound_is_observed_by_the_server(feed_server: FeedServer) -> None:
    for n in range(12):
        feed_server.feed(f"/f{n}.xml", BODY, latency=0.05)
    settings = FetchSettings(concurrency=2, per_host=10)
    urls = [feed_server.url(f"/f{n}.xml") for n in range(12)]
    async with Fetcher(settings) as fetcher:
        results = await asyncio.gather(
            *(fetcher.fetch(spec_for(u), state_for(u), NOW) for u in urls)
        )
    assert all(r.outcome == "ok" for r in results)
    assert feed_server.max_active == 2


async def test_one_connection_serves_a_host_when_bodies_are_drained(
    feed_server: FeedServer,
) -> None:
    # 304s, redirects and errors are read to their end, so keep-alive survives them.
    route = feed_server.feed("/a.xml", BODY)
    feed_server.feed("/b.xml", NEWER)
    feed_server.redirect("/old.xml", "/b.xml", 302)
    feed_server.status("/gone.xml", 404, body=b"not here")
    requests = [
        ("/a.xml", None),
        ("/a.xml", route.etag),
        ("/old.xml", None),
        ("/gone.xml", None),
        ("/b.xml", None),
    ]
    async with Fetcher(FetchSettings(per_host=1)) as fetcher:
        results = await asyncio.gather(
            *(
                fetcher.fetch(
                    spec_for(feed_server.url(p)), state_for(feed_server.url(p), etag=etag), NOW
                )
                for p, etag in requests
            )
        )
    assert [r.outcome for r in results] == ["ok", "not_modified", "ok", "error", "ok"]
    assert len(feed_server.requests) == 6
    assert feed_server.connections == 1


async def test_idle_hosts_release_their_connections(feed_server: FeedServer) -> None:
    for n in range(4):
        feed_server.feed(f"/f{n}.xml", BODY)
    urls = [feed_server.url(f"/f{n}.xml") for n in range(4)]
    async with Fetcher(FetchSettings(per_host=2)) as fetcher:
        await asyncio.gather(*(fetcher.fetch(spec_for(u), state_for(u), NOW) for u in urls))
        for _ in range(500):  # the server notices the close a moment later
            if not feed_server.open_connections:
                break
            await asyncio.sleep(0.01)
        assert feed_server.open_connections == 0
    assert feed_server.connections == 2


async def test_fetch_outside_context_manager_is_a_programming_error() -> None:
    fetcher = Fetcher(FetchSettings())
    with pytest.raises(RuntimeError, match="async with"):
        await fetcher.fetch(spec_for("http://127.0.0.1:9/"), state_for("http://127.0.0.1:9/"), NOW)


async def test_body_gate_is_awaited_only_before_a_body_and_pauses_the_deadline(
    feed_server: FeedServer,
) -> None:
    route = feed_server.feed("/a.xml", BODY)
    feed_server.status("/gone.xml", 404, body=b"not here")
    calls: list[str] = []

    async def slow_gate() -> None:
        calls.append("wait")
        await asyncio.sleep(0.8)  # longer than the 0.5 s deadline: must not count

    async with Fetcher(FetchSettings()) as fetcher:
        url = feed_server.url("/a.xml")
        spec = spec_for(url, timeout=0.5)
        ok = await fetcher.fetch(spec, state_for(url), NOW, body_gate=slow_gate)
        assert ok.outcome == "ok", ok.error
        assert ok.body == BODY
        assert calls == ["wait"]
        known = state_for(url, etag=route.etag)
        cached = await fetcher.fetch(spec, known, NOW, body_gate=slow_gate)
        assert cached.outcome == "not_modified"
        gone = feed_server.url("/gone.xml")
        missing = await fetcher.fetch(spec_for(gone), state_for(gone), NOW, body_gate=slow_gate)
        assert missing.outcome == "error"
        assert calls == ["wait"]  # neither a 304 nor an error status waits


async def test_deadline_still_covers_the_body_after_the_gate(feed_server: FeedServer) -> None:
    feed_server.trickle("/slow.xml", interval=0.05)

    async def gate() -> None:
        await asyncio.sleep(0.3)

    url = feed_server.url("/slow.xml")
    async with Fetcher(FetchSettings()) as fetcher:
        started = asyncio.get_running_loop().time()
        result = await asyncio.wait_for(
            fetcher.fetch(spec_for(url, timeout=0.5), state_for(url), NOW, body_gate=gate), 10
        )
        took = asyncio.get_running_loop().time() - started
    assert_error(result, "timeout", "no complete response within 0.5s", "while reading the body")
    assert 0.75 <= took < 5  # 0.5 s of deadline plus the 0.3 s spent at the gate
