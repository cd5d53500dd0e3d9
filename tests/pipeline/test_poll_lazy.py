"""The matcher and the parser process are built only when a feed sends a new body
(issue 15): a warm cycle of 304s, or of bodies identical to the last ones, builds
neither.  Real feed server, real SQLite, the real compiler behind ``build_matcher``."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from monitor.fetch import Fetcher
from monitor.models import CycleReport
from monitor.pipeline.build import matcher, routing
from monitor.pipeline.poll import Poller
from monitor.store import Store
from tests.support.app import App, make_app
from tests.support.engines import engine_url
from tests.support.feedserver import FeedServer, rss_feed

ROOT = Path(__file__).resolve().parents[2]
FEEDS = 4


def items(feed: int, count: int = 2) -> list[tuple[str, str, str]]:
    return [
        (f"g{feed}-{j}", f"AI Act story {feed}.{j}", f"https://n{feed}.example/{j}")
        for j in range(count)
    ]


def farm(server: FeedServer, tmp_path: Path, **feed_options: object) -> App:
    for i in range(FEEDS):
        server.feed(f"/f{i}.xml", rss_feed(f"F{i}", items(i)), **feed_options)  # type: ignore[arg-type]
    return make_app(tmp_path, {f"f{i}": server.url(f"/f{i}.xml") for i in range(FEEDS)})


def cycle(app: App) -> tuple[CycleReport, Poller]:
    """One cycle over every feed by a new poller, as a new ``monitor poll`` process makes:
    the matcher is left to ``build_matcher``, and a parser process is wanted."""
    return asyncio.run(acycle(app))


async def acycle(app: App, **options: Any) -> tuple[CycleReport, Poller]:
    """``cycle`` on the running loop; ``options`` replace the poller's settings."""
    keywords = app.configs().keywords
    settings: dict[str, Any] = {
        "build_matcher": lambda: matcher(keywords),
        "parse_workers": 1,
        "parse_pool_min": 1,
        **options,
    }
    return await app.acycle(make_matcher=None, **settings)


def test_a_cycle_of_304s_compiles_no_matcher_and_starts_no_parser(
    feed_server: FeedServer, tmp_path: Path
):
    app = farm(feed_server, tmp_path)
    cold, poller = cycle(app)
    assert [(r.status, r.new, r.matches) for r in cold.feeds] == [("ok", 2, 2)] * FEEDS
    assert (poller.matchers_built, poller.pools_started) == (1, 1)

    warm, poller = cycle(app)

    assert [r.status for r in warm.feeds] == ["not_modified"] * FEEDS
    assert (poller.matchers_built, poller.pools_started) == (0, 0)
    assert poller.matcher is None

    feed_server.publish(
        "/f2.xml", rss_feed("F2", [*items(2), ("new", "AI Act vote", "https://x/1")])
    )
    changed, poller = cycle(app)

    assert sorted((r.feed_id, r.status, r.new, r.matches) for r in changed.feeds) == [
        ("f0", "not_modified", 0, 0),
        ("f1", "not_modified", 0, 0),
        ("f2", "ok", 1, 1),
        ("f3", "not_modified", 0, 0),
    ]
    assert (poller.matchers_built, poller.pools_started) == (1, 1)


def test_the_same_bytes_again_compile_no_matcher(feed_server: FeedServer, tmp_path: Path):
    # A server that ignores validators sends the whole body every time (no ETag, no
    # Last-Modified): unchanged bytes are not parsed, so nothing is built for them.
    app = farm(feed_server, tmp_path, etag=False, last_modified=False)
    assert cycle(app)[1].matchers_built == 1

    warm, poller = cycle(app)

    assert [(r.status, r.http_status) for r in warm.feeds] == [("not_modified", 200)] * FEEDS
    assert (poller.matchers_built, poller.pools_started) == (0, 0)


def test_a_given_matcher_is_used_as_it_is(feed_server: FeedServer, tmp_path: Path):
    # `monitor run` compiles its matcher at start and on reload, and passes it in.
    app = farm(feed_server, tmp_path)
    cfg = app.configs()
    compiled = matcher(cfg.keywords)

    async def go() -> Poller:
        with Store(app.state, database_url=engine_url()) as store:
            async with Fetcher(cfg.feeds.settings) as fetcher:
                poller = Poller(
                    feeds=cfg.feeds,
                    store=store,
                    fetcher=fetcher,
                    matcher=compiled,
                    build_matcher=lambda: 1 / 0,  # never called
                    routing=routing(cfg.keywords),
                    parse_workers=0,
                )
                assert sum(r.matches for r in (await poller.cycle(everything=True)).feeds) == 8
                return poller

    poller = asyncio.run(go())
    assert poller.matcher is compiled
    assert poller.matchers_built == 0


_WRAPPER = """\
import json, sys
from monitor.cli import main
code = main(sys.argv[2:])
with open(sys.argv[1], "w") as out:
    json.dump(sorted(sys.modules), out)
sys.exit(code)
"""


def test_a_warm_monitor_poll_all_loads_no_matcher_and_no_process_pool(
    feed_server: FeedServer, tmp_path: Path
):
    app = farm(feed_server, tmp_path)
    # The shipped watchlists (24 languages: the costly compile the warm run avoids).
    app.keywords_path.write_text((ROOT / "keywords.yaml").read_text(encoding="utf-8"))
    argv = ["-vv", "poll", "--all", "--no-deliver", "--json", "--feeds", str(app.feeds_path)]
    argv += ["--keywords", str(app.keywords_path), "--state", str(app.state)]

    def run() -> tuple[dict[str, object], set[str], str]:
        modules = tmp_path / "modules.json"
        proc = subprocess.run(
            [sys.executable, "-c", _WRAPPER, str(modules), *argv],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout), set(json.loads(modules.read_text())), proc.stderr

    cold, cold_modules, cold_log = run()
    assert cold["new"] == 2 * FEEDS, (cold, cold_log[-3000:])
    assert "compiled the matcher" in cold_log
    assert "monitor.match.automaton" in cold_modules

    warm, warm_modules, warm_log = run()

    assert warm["new"] == 0
    assert {f["status"] for f in warm["feeds"]} == {"not_modified"}  # type: ignore[union-attr,index]
    assert "compiled the matcher" not in warm_log
    assert "parser process" not in warm_log
    # Nothing parsed, matched or grouped into stories: none of their modules is loaded.
    unused = {"monitor.match.matcher", "monitor.match.automaton", "concurrent.futures.process"}
    unused |= {"monitor.parse", "monitor.dedupe", "monitor.pipeline.fulltext", "numpy", "lxml"}
    assert warm_modules.isdisjoint(unused)
    # The test can tell (the cold run has fulltext: never, and its pool is gone by exit).
    assert unused - {"monitor.pipeline.fulltext", "concurrent.futures.process"} <= cold_modules


def test_free_heap_pages_go_back_once_no_poll_runs_after_enough_polls(
    feed_server: FeedServer, tmp_path: Path
):
    # issue 12: the texts a big cycle freed stayed in the C heap of the idle service.
    app = farm(feed_server, tmp_path)
    cfg = app.configs()
    trimmed: list[int] = []

    async def go() -> Poller:
        with Store(app.state, database_url=engine_url()) as store:
            async with Fetcher(cfg.feeds.settings) as fetcher:
                poller = Poller(
                    feeds=cfg.feeds,
                    store=store,
                    fetcher=fetcher,
                    build_matcher=lambda: matcher(cfg.keywords),
                    routing=routing(cfg.keywords),
                    parse_workers=0,
                    trim_after=FEEDS + 1,
                )
                poller.trim = lambda: trimmed.append(poller._running)
                await poller.cycle(everything=True)  # FEEDS polls: not enough yet
                assert trimmed == []
                spec = cfg.feeds.feeds[0]
                await poller.poll_safely(spec)  # the one more, and nothing else runs
                return poller

    poller = asyncio.run(go())
    assert trimmed == [0]
    assert poller.trims == 1


def test_the_heap_trim_works_here():
    from monitor import heap

    assert heap.trim() is True  # glibc (Debian, the CI image)


def test_the_lazy_matcher_is_built_once_in_a_thread_while_fetches_go_on(
    feed_server: FeedServer, tmp_path: Path
):
    """Building the matcher mid-cycle ran on the event loop: the shipped watchlists take
    most of a second of CPU, more under load, and every fetch in flight (2 s timeouts
    here) could time out behind it.  The build runs in a thread, once for all feeds."""
    import threading

    app = farm(feed_server, tmp_path)
    cfg = app.configs()
    builds: list[tuple[bool, bool]] = []
    ticks: list[int] = []

    def build() -> object:
        on_loop_thread = threading.current_thread() is threading.main_thread()
        done = len(ticks)
        for _ in range(500):  # up to 5 s for the loop to tick three times meanwhile
            if len(ticks) >= done + 3:
                break
            threading.Event().wait(0.01)
        builds.append((on_loop_thread, len(ticks) >= done + 3))
        return matcher(cfg.keywords)

    async def go() -> tuple[CycleReport, Poller]:
        async def tick() -> None:
            while True:
                ticks.append(1)
                await asyncio.sleep(0.01)

        ticker = asyncio.ensure_future(tick())
        try:
            return await acycle(app, build_matcher=build, parse_workers=0)
        finally:
            ticker.cancel()

    report, poller = asyncio.run(asyncio.wait_for(go(), 60))
    assert builds == [(False, True)]  # one build, in a thread, the loop ran meanwhile
    assert poller.matchers_built == 1
    assert sum(f.new for f in report.feeds) == 2 * FEEDS


def test_the_heap_is_trimmed_before_the_parser_process_forks(
    feed_server: FeedServer, tmp_path: Path
):
    # issue 15: the forked child mapped the parent's free heap pages and SQLite's page
    # cache as well (summed RSS of a CHANGED cycle at 1,000 feeds 307 -> 215 MB without).
    app = farm(feed_server, tmp_path)
    cfg = app.configs()
    trimmed: list[int] = []

    async def go() -> Poller:
        with Store(app.state) as store:
            async with Fetcher(cfg.feeds.settings) as fetcher:
                poller = Poller(
                    feeds=cfg.feeds,
                    store=store,
                    fetcher=fetcher,
                    build_matcher=lambda: matcher(cfg.keywords),
                    routing=routing(cfg.keywords),
                    parse_workers=1,
                    parse_pool_min=1,
                    trim_after=10**6,
                )
                poller.trim = lambda: trimmed.append(poller.pools_started)
                await poller.cycle(everything=True)
                return poller

    poller = asyncio.run(go())
    assert poller.pools_started == 1
    assert trimmed == [1]  # once, when the pool was started
