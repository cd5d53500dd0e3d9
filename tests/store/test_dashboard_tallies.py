"""The dashboard's counts kept on write (issue 12): ``tallies``, ``article_days`` and the
feed and language on each match always equal a recount of the rows, through inserts,
repeated matches, pruning, and the migration that creates them on an older database."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.models import Article, FeedSpec, Match
from monitor.store import Store, tallies
from monitor.store import articles as arts
from monitor.store import dashboard as dash
from monitor.store import outbox as ob
from monitor.store.db import DB_NAME, migrate
from monitor.store.migrations import MIGRATIONS
from tests.support.engines import engine_url

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def recounted(conn: sqlite3.Connection) -> tuple[dict[str, int], set[tuple[str, str, int]]]:
    """What the tallies must say, counted from the rows themselves."""
    articles = conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
    matched = conn.execute("SELECT COUNT(DISTINCT article_id) FROM matches").fetchone()[0]
    days = {
        (str(r[0]), str(r[1]), int(r[2]))
        for r in conn.execute(
            "SELECT substr(first_seen, 1, 10), feed_id, COUNT(*) FROM articles GROUP BY 1, 2"
        )
    }
    return {"articles": articles, "matched": matched}, days


def kept(conn: sqlite3.Connection) -> tuple[dict[str, int], set[tuple[str, str, int]]]:
    days = {(r[0], r[1], r[2]) for r in conn.execute("SELECT * FROM article_days")}
    return tallies.read(conn), days


def add(store: Store, feed: str, keys: list[str], when: datetime) -> list[int]:
    with store.transaction() as conn:
        new = arts.add_articles(
            conn, feed, [Article(feed, k, f"Title {k}", language="fr") for k in keys], when
        )
    return [n.id for n in new]


def test_tallies_follow_inserts_matches_and_pruning(tmp_path: Path):
    with Store(tmp_path, database_url=engine_url()) as store:
        conn = store.conn
        store.sync_feeds(
            [FeedSpec(f, f"https://{f}.example/") for f in ("euractiv", "lemonde")], NOW
        )
        assert kept(conn) == ({"articles": 0, "matched": 0}, set())
        yesterday = NOW - timedelta(days=1)
        old = add(store, "lemonde", ["guid:1", "guid:2"], yesterday)
        new = add(store, "lemonde", ["guid:3"], NOW) + add(store, "euractiv", ["guid:4"], NOW)
        assert add(store, "lemonde", ["guid:1"], NOW) == []  # seen again: not new, not counted
        with store.transaction() as c:
            ob.record_matches(c, old[0], [Match("ai-act", 1.0, ()), Match("dma", 1.0, ())], NOW)
            ob.record_matches(c, old[0], [Match("ai-act", 1.0, ())], NOW)  # again: no-op
            ob.record_matches(c, new[1], [Match("dma", 1.0, ())], NOW)
            ob.record_matches(c, new[0], [], NOW)
        assert kept(conn) == recounted(conn)
        assert tallies.read(conn) == {"articles": 4, "matched": 2}
        assert ("2026-12-06", "lemonde", 2) in kept(conn)[1]
        # the pages read them
        overview = dash.overview(conn, NOW)
        assert (overview.articles, overview.matched) == (4, 2)
        health = {f.feed_id: f.per_day for f in dash.feed_health(conn, NOW, days=3)}
        assert health["lemonde"] == (0, 2, 1)
        assert health["euractiv"] == (0, 0, 1)
        # retention forgets the articles of yesterday (guid:2 only: guid:1 was seen today
        # and keeps its key), and then their matches
        later = NOW + timedelta(days=30)
        store.prune(later, keep_text_before=later, keep_keys_before=NOW - timedelta(hours=1))
        assert kept(conn) == recounted(conn)
        store.prune(later, keep_text_before=later, keep_keys_before=later)
        assert kept(conn) == recounted(conn) == ({"articles": 0, "matched": 0}, set())


def test_trends_group_matches_by_their_article_feed_and_language(tmp_path: Path):
    with Store(tmp_path, database_url=engine_url()) as store:
        ids = add(store, "lemonde", ["guid:1", "guid:2"], NOW) + add(
            store, "euractiv", ["guid:3"], NOW
        )
        with store.transaction() as c:
            for article_id in ids:
                ob.record_matches(c, article_id, [Match("ai-act", 1.0, ())], NOW)
            c.execute("UPDATE matches SET language = NULL WHERE article_id = ?", (ids[2],))
        by_feed = dash.trends(store.conn, NOW, 7, "feed")
        assert [(s.name, s.counts[-1]) for s in by_feed.series] == [("lemonde", 2), ("euractiv", 1)]
        by_language = dash.trends(store.conn, NOW, 7, "language")
        assert [(s.name, s.total) for s in by_language.series] == [("fr", 2), ("?", 1)]


@pytest.mark.sqlite_only  # a SQLite file of the previous version, written by hand
def test_the_migration_counts_an_older_database(tmp_path: Path):
    raw = sqlite3.connect(tmp_path / DB_NAME, isolation_level=None)
    # the database as it was just before the migration that made the tallies
    before = next(i for i, m in enumerate(MIGRATIONS) if m.name.startswith("dashboard tallies"))
    migrate(raw, target=before)
    for n, (feed, seen, language) in enumerate(
        [
            ("lemonde", "2026-12-01T08:00:00.000000Z", "fr"),
            ("lemonde", "2026-12-01T23:59:59.000000Z", "fr"),
            ("lemonde", "2026-12-02T00:00:00.000000Z", None),
            ("euractiv", "2026-12-02T10:00:00.000000Z", "en"),
        ]
    ):
        raw.execute(
            "INSERT INTO articles (id, feed_id, key, title, published, first_seen, last_seen,"
            " language) VALUES (?, ?, ?, 'T', ?, ?, ?, ?)",
            (n + 1, feed, f"guid:{n}", seen, seen, seen, language),
        )
    for article_id, watchlist in [(1, "ai-act"), (1, "dma"), (3, "dma"), (4, "dma")]:
        raw.execute(
            "INSERT INTO matches (article_id, watchlist, score, hits, matched_at)"
            " VALUES (?, ?, 1.0, '[]', '2026-12-02T12:00:00.000000Z')",
            (article_id, watchlist),
        )
    raw.close()
    with Store(tmp_path, database_url=engine_url()) as store:
        conn = store.conn
        assert kept(conn) == recounted(conn)
        assert tallies.read(conn) == {"articles": 4, "matched": 3}
        assert kept(conn)[1] == {
            ("2026-12-01", "lemonde", 2),
            ("2026-12-02", "lemonde", 1),
            ("2026-12-02", "euractiv", 1),
        }
        copied = conn.execute(
            "SELECT article_id, watchlist, feed_id, language FROM matches ORDER BY 1, 2"
        ).fetchall()
        assert [tuple(r) for r in copied] == [
            (1, "ai-act", "lemonde", "fr"),
            (1, "dma", "lemonde", "fr"),
            (3, "dma", "lemonde", None),
            (4, "dma", "euractiv", "en"),
        ]
