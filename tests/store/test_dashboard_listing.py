"""The archive lists of ``/articles`` walk the match rows in their article's first-seen
order (issue 12): the migration that gives match rows that order fills it for the rows
already stored, and the lists, their counts and the watchlist menu are the ones the query
over the articles gave before, on both engines."""

from __future__ import annotations

import os
import sqlite3
from datetime import timedelta
from pathlib import Path

from monitor.models import Match
from monitor.store import Store, pg, tallies
from monitor.store import dashboard as dash
from monitor.store import outbox as ob
from monitor.store.db import DB_NAME, migrate, to_db
from monitor.store.engine import Connection
from monitor.store.migrations import MIGRATIONS
from tests.support.dashboard import NOW

BEFORE = next(i for i, m in enumerate(MIGRATIONS) if m.name.startswith("match rows know"))
"""The schema version just before the migration under test."""

ARTICLES = [
    # (id, feed, first seen: minutes before NOW, watchlists); ties in first_seen are
    # ordered by id, an article matched twice is listed once
    (1, "lemonde", 300, ["ai-act"]),
    (2, "lemonde", 200, ["ai-act", "dma"]),
    (3, "euractiv", 200, ["dma"]),
    (4, "euractiv", 200, []),
    (5, "euractiv", 100, ["gdpr", "ai-act", "dma"]),
    (6, "lemonde", 400, ["gdpr"]),
    (7, "lemonde", 50, []),
    (8, "euractiv", 10, ["ai-act"]),
    (9, "euractiv", 200, ["ai-act"]),
]
ORPHAN = 99
"""A match whose article is gone (pruning deletes such rows; until then no list shows it)."""


def older_database(state: Path) -> Connection:
    """A database of the schema before the migration, with articles and matches written
    as that version wrote them (the tallies kept as its writers keep them)."""
    url = os.environ.get("MONITOR_DATABASE_URL")
    conn: Connection
    if url:
        conn = pg.open_connection(url)
        pg.migrate(conn, MIGRATIONS, target=BEFORE)
    else:
        conn = sqlite3.connect(state / DB_NAME, isolation_level=None)
        migrate(conn, target=BEFORE)
    for article_id, feed, ago, lists in ARTICLES:
        seen = to_db(NOW - timedelta(minutes=ago))
        conn.execute(
            "INSERT INTO articles (id, feed_id, key, title, published, first_seen, last_seen,"
            " language) VALUES (?, ?, ?, ?, ?, ?, ?, 'en')",
            (article_id, feed, f"guid:{article_id}", f"T{article_id}", seen, seen, seen),
        )
        for watchlist in lists:
            conn.execute(
                "INSERT INTO matches (article_id, watchlist, score, hits, matched_at, feed_id,"
                " language) VALUES (?, ?, 1.0, '[]', ?, ?, 'en')",
                (article_id, watchlist, to_db(NOW), feed),
            )
    conn.execute(
        "INSERT INTO matches (article_id, watchlist, score, hits, matched_at) VALUES"
        " (?, 'dma', 1.0, '[]', ?)",
        (ORPHAN, to_db(NOW)),
    )
    tallies.rebuild(conn)
    return conn


def listed_before(conn: Connection, watchlist: str, per_page: int, page: int) -> list[int]:
    """The page as ``/articles`` listed it before the migration: the articles with a
    match, newest first (first_seen, then id)."""
    inner = " WHERE watchlist = ?" if watchlist else ""
    params: list[object] = [watchlist] if watchlist else []
    rows = conn.execute(
        f"SELECT a.id FROM articles a WHERE a.id IN (SELECT article_id FROM matches{inner})"
        " ORDER BY a.first_seen DESC, a.id DESC LIMIT ? OFFSET ?",
        [*params, per_page, (page - 1) * per_page],
    ).fetchall()
    return [int(r[0]) for r in rows]


def counted_before(conn: Connection, watchlist: str) -> int:
    inner = " WHERE watchlist = ?" if watchlist else ""
    params = [watchlist] if watchlist else []
    return int(
        conn.execute(f"SELECT COUNT(DISTINCT article_id) FROM matches{inner}", params).fetchone()[0]
    )


def test_the_migration_fills_the_order_and_the_lists_stay_the_same(tmp_path: Path):
    old = older_database(tmp_path)
    lists = ("", "ai-act", "dma", "gdpr", "none")
    expected = {
        (w, per, page): listed_before(old, w, per, page)
        for w in lists
        for per in (2, 3, 25)
        for page in (1, 2, 3, 4)
    }
    totals = {w: counted_before(old, w) for w in lists}
    menu = sorted({str(r[0]) for r in old.execute("SELECT DISTINCT watchlist FROM matches")})
    old.close()
    assert expected[("", 25, 1)] == [8, 5, 9, 3, 2, 1, 6]  # the reference is what it says
    assert expected[("dma", 2, 1)] == [5, 3]
    with Store(tmp_path) as store:
        conn = store.conn
        filled = conn.execute(
            "SELECT m.article_id, m.first_seen, a.first_seen FROM matches m"
            " LEFT JOIN articles a ON a.id = m.article_id"
        ).fetchall()
        assert len(filled) == sum(len(lists) for *_, lists in ARTICLES) + 1
        for article_id, kept, seen in filled:
            assert kept == seen, article_id  # the orphan's stays NULL, as its article's
        for (w, per, page), ids in expected.items():
            found = dash.articles(conn, dash.ArticleQuery(watchlist=w, page=page, per_page=per))
            assert [a.id for a in found.items] == ids, (w, per, page)
            assert found.total == totals[w], w
        assert list(dash.facets(conn).watchlists) == menu == ["ai-act", "dma", "gdpr"]


def test_matches_written_after_the_migration_carry_their_article_order(tmp_path: Path):
    older_database(tmp_path).close()
    with Store(tmp_path) as store:
        with store.transaction() as conn:
            ob.record_matches(conn, 4, [Match("dma", 1.0, ()), Match("nis2", 1.0, ())], NOW)
            ob.record_matches(conn, 7, [Match("nis2", 1.0, ())], NOW)
        conn = store.conn
        rows = conn.execute(
            "SELECT m.first_seen, a.first_seen FROM matches m JOIN articles a"
            " ON a.id = m.article_id WHERE m.article_id IN (4, 7)"
        ).fetchall()
        assert len(rows) == 3
        assert all(kept == seen for kept, seen in rows)
        assert [a.id for a in dash.articles(conn, dash.ArticleQuery(watchlist="nis2")).items] == [
            7,
            4,
        ]
        everything = dash.articles(conn, dash.ArticleQuery())
        assert [a.id for a in everything.items] == [8, 7, 5, 9, 4, 3, 2, 1, 6]
        assert everything.total == 10  # nine articles and the orphan's match, counted as before
        assert list(dash.facets(conn).watchlists) == ["ai-act", "dma", "gdpr", "nis2"]
