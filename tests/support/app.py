"""Build a real monitor (configs on disk, SQLite in tmp_path) around local servers."""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.config.keywords import KeywordsConfig
from monitor.fetch import Fetcher
from monitor.match import Matcher
from monitor.models import CycleReport
from monitor.pipeline.build import Configs, load_configs, matcher, routing
from monitor.pipeline.poll import Poller
from monitor.store import Store
from tests.support.engines import engine_url

KEYWORDS = """\
destinations:
  eu-channel:
    telegram: "@eu_ai_watch"
  policy-team:
    email: [policy@example.org]
watchlists:
  ai-act:
    title: EU AI Act
    any: ["AI Act", "Artificial Intelligence Act"]
    alert: [eu-channel]
    digest: [policy-team]
  facial-recognition:
    title: Facial recognition
    any: ["facial recognition", "face recognition"]
    alert: [eu-channel]
    digest: [policy-team]
"""


def write_feeds(path: Path, feeds: dict[str, str], extra: str = "", defaults: str = "") -> Path:
    lines = ["settings:", "  per_host: 8", "  concurrency: 32", "  min_backoff: 1m"]
    if extra:
        lines.append(textwrap.indent(textwrap.dedent(extra).strip("\n"), "  "))
    # fulltext: never unless a test asks: the tests' article links are not served, and
    # tests never touch the internet.
    base = {"interval": "15m", "timeout": "2s", "max_size": "1MB", "fulltext": "never"}
    given = textwrap.dedent(defaults).strip("\n").splitlines() if defaults else []
    for line in given:
        base.pop(line.split(":")[0].strip(), None)
    lines.append("defaults:")
    lines += [f"  {k}: {v}" for k, v in base.items()]
    lines += [f"  {line}" for line in given]
    lines.append("feeds:")
    for feed_id, url in feeds.items():
        lines.append(f"  - id: {feed_id}\n    url: {url}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass
class App:
    tmp: Path
    feeds_path: Path
    keywords_path: Path

    @property
    def state(self) -> Path:
        return self.tmp / "state"

    def configs(self) -> Configs:
        return load_configs(str(self.feeds_path), str(self.keywords_path))

    def poll(self, **kwargs: Any) -> CycleReport:
        return asyncio.run(self.apoll(**kwargs))

    async def apoll(self, everything: bool = True, only: tuple[str, ...] = ()) -> CycleReport:
        cfg = self.configs()
        with Store(self.state, database_url=engine_url()) as store:
            async with Fetcher(cfg.feeds.settings) as fetcher:
                poller = Poller(
                    feeds=cfg.feeds,
                    store=store,
                    fetcher=fetcher,
                    matcher=matcher(cfg.keywords),
                    routing=routing(cfg.keywords),
                )
                now = poller.clock()
                store.sync_feeds(cfg.feeds.feeds, now)
                specs = poller.due(now, everything=everything, only=only)
                return await poller.cycle(specs)

    async def acycle(
        self,
        *,
        make_matcher: Callable[[KeywordsConfig], Matcher] | None = matcher,
        hang_guard: float | None = None,
        **options: Any,
    ) -> tuple[CycleReport, Poller]:
        """One cycle over every feed with a Poller built with `options` (parse_workers,
        max_backlog, ...). `make_matcher=None` leaves the matcher to the poller (pass
        `build_matcher`). `hang_guard` (seconds) guards against a hang, it is not a timing.
        Returns the report and the poller, for its counters."""
        cfg = self.configs()
        if make_matcher is not None:
            options["matcher"] = make_matcher(cfg.keywords)
        with Store(self.state, database_url=engine_url()) as store:
            async with Fetcher(cfg.feeds.settings) as fetcher:
                poller = Poller(
                    feeds=cfg.feeds,
                    store=store,
                    fetcher=fetcher,
                    routing=routing(cfg.keywords),
                    **options,
                )
                async with asyncio.timeout(hang_guard):
                    report = await poller.cycle(everything=True)
                return report, poller

    def cycle(self, **kwargs: Any) -> CycleReport:
        return asyncio.run(self.acycle(**kwargs))[0]

    def store(self) -> Store:
        return Store(self.state, database_url=engine_url())


def make_app(tmp: Path, feeds: dict[str, str], keywords: str = KEYWORDS, **kw: str) -> App:
    fp = write_feeds(tmp / "feeds.yaml", feeds, **kw)
    kp = tmp / "keywords.yaml"
    kp.write_text(keywords, encoding="utf-8")
    return App(tmp=tmp, feeds_path=fp, keywords_path=kp)
