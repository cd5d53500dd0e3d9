"""The claim and election calls on SQLite: the state lock makes one instance, so every
due feed and row is granted and every job is led (docs/design.md, "Parts")."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.models import Article, Match, Target
from monitor.route import Route
from monitor.store import Store
from monitor.store import articles as arts
from monitor.store import outbox as ob
from tests.support.app import KEYWORDS, make_app
from tests.support.engines import engine_url

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
LEASE = NOW + timedelta(minutes=5)


@pytest.mark.sqlite_only  # PostgreSQL leases: a claimed feed is not granted again, nor
# one not due (tests/multi/test_leases.py)
def test_claim_feeds_gives_the_due_feeds_never_polled_first(tmp_path: Path) -> None:
    feeds = {f: f"http://127.0.0.1:9/{f}.xml" for f in ("a", "b", "c", "d")}
    app = make_app(tmp_path, feeds, keywords=KEYWORDS)
    with Store(app.state, database_url=engine_url()) as store:
        store.sync_feeds(app.configs().feeds.feeds, NOW)
        for feed_id, due in (
            ("a", NOW - timedelta(minutes=1)),
            ("b", NOW + timedelta(minutes=1)),
            ("c", NOW - timedelta(hours=1)),
        ):
            state = store.feed_state(feed_id)
            assert state is not None
            store.save_feed_state(dataclasses.replace(state, next_poll=due))
        assert store.claim_feeds("me", NOW, LEASE, 10) == ["d", "c", "a"]
        assert store.claim_feeds("me", NOW, LEASE, 2) == ["d", "c"]
        # The ids the scheduler found due are granted as asked.
        assert store.claim_feeds("me", NOW, LEASE, 10, feed_ids=["b"]) == ["b"]
        assert store.singleton("digests", "me")


def test_claim_outbox_gives_the_due_rows_oldest_first(tmp_path: Path) -> None:
    target = Target("eu-channel", "telegram", "@eu_ai_watch")
    with Store(tmp_path, database_url=engine_url()) as store:
        for key, when in (("x", NOW - timedelta(minutes=2)), ("y", NOW + timedelta(minutes=2))):
            with store.transaction() as conn:
                [new] = arts.add_articles(conn, "eu", [Article("eu", key, key)], when)
                ob.record_matches(conn, new.id, [Match("ai-act", 1.0, ())], when)
                ob.enqueue(conn, [Route("alert", target, new.id, ("ai-act",), when)], when)
        claimed = store.claim_outbox("alert", "me", NOW, timedelta(minutes=5), limit=10)
        assert [e.created for e in claimed] == [NOW - timedelta(minutes=2)]
        assert store.claim_outbox("update", "me", NOW, timedelta(minutes=5)) == []
