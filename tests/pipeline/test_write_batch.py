"""Issue 15: a cycle's polls write in batches (``Poller.write_batch``, ``Store.batch``);
one poll's failed write is that poll's alone."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import pytest

from monitor.dedupe import Fingerprint, StoryIndex
from monitor.models import Article
from monitor.store.stories import StoryRows
from monitor.update import PENDING, StoryPlan
from tests.support.app import make_app
from tests.support.feedserver import FeedServer, rss_feed

FEEDS = ("a", "b", "c", "d", "e")


class FailsForFeed(StoryIndex):
    """The story index, planning a story that cannot be written for one feed's second
    article (the fault seam): that poll's write fails half way through."""

    def __init__(self, feed_id: str) -> None:
        super().__init__()
        self.feed_id = feed_id

    def plan(
        self,
        rows: StoryRows,
        entries: Sequence[tuple[Article, Fingerprint | None] | None],
        now: datetime,
    ) -> StoryPlan:
        plan = super().plan(rows, entries, now)
        first = next((e for e in entries if e is not None), None)
        if first is None or first[0].feed_id != self.feed_id:
            return plan
        second = plan.choices[1]
        assert second is not None
        broken = dataclasses.replace(second, story_id=PENDING + 7)
        choices = (plan.choices[0], broken, *plan.choices[2:])
        return dataclasses.replace(plan, choices=choices)


@pytest.mark.parametrize("write_batch", [1, 64])
def test_a_failed_write_in_a_batch_is_that_feeds_alone(
    feed_server: FeedServer, tmp_path: Path, write_batch: int
) -> None:
    for name in FEEDS:
        items = [
            (f"{name}{i}", f"AI Act news {name} {i}", f"https://{name}.eu/{i}") for i in range(3)
        ]
        feed_server.feed(f"/{name}.xml", rss_feed(name, items))
    app = make_app(tmp_path, {name: feed_server.url(f"/{name}.xml") for name in FEEDS})
    stories = FailsForFeed("c")

    report = app.cycle(stories=stories, write_batch=write_batch, hang_guard=60)

    outcome = {r.feed_id: (r.status, r.new) for r in report.feeds}
    assert outcome == {
        "a": ("ok", 3),
        "b": ("ok", 3),
        "c": ("error", 0),
        "d": ("ok", 3),
        "e": ("ok", 3),
    }
    with app.store() as store:
        assert store.count_articles() == 12
        state = store.feed_state("c")
        assert state is not None
        assert state.last_success is None  # c's state rolled back with its articles
        other = store.feed_state("a")
        assert other is not None
        assert other.last_success is not None
    # the next cycle, without the fault, finds c's articles new and the others' known
    again = app.cycle(write_batch=write_batch, hang_guard=60)
    assert {r.feed_id: r.new for r in again.feeds if r.new} == {"c": 3}


def test_a_cycle_writes_its_polls_in_fewer_transactions_than_feeds(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    """Issues 15 and 11: on both engines a cycle's polls write in batches (on PostgreSQL
    on the cycle's store thread), not a transaction each."""
    names = [f"f{i}" for i in range(24)]
    for name in names:
        items = [
            (f"{name}{i}", f"AI Act news {name} {i}", f"https://{name}.eu/{i}") for i in range(2)
        ]
        feed_server.feed(f"/{name}.xml", rss_feed(name, items))
    app = make_app(tmp_path, {name: feed_server.url(f"/{name}.xml") for name in names})

    report, poller = asyncio.run(app.acycle(write_batch=64, hang_guard=60))

    assert [r.status for r in report.feeds] == ["ok"] * len(names)
    assert sum(r.new for r in report.feeds) == 2 * len(names)
    assert 1 <= poller.batches < len(names) // 2
    with app.store() as store:
        assert store.count_articles() == 2 * len(names)
