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
from tests.support.engines import engine_url

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


def lang(article_id: int) -> str:
    return "fr" if article_id % 3 == 0 else "en"


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
            " language) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                article_id,
                feed,
                f"guid:{article_id}",
                f"T{article_id}",
                seen,
                seen,
                seen,
                lang(article_id),
            ),
        )
        for watchlist in lists:
            conn.execute(
                "INSERT INTO matches (article_id, watchlist, score, hits, matched_at, feed_id,"
                " language) VALUES (?, ?, 1.0, '[]', ?, ?, ?)",
                (article_id, watchlist, to_db(NOW), feed, lang(article_id)),
            )
    conn.execute(
        "INSERT INTO matches (article_id, watchlist, score, hits, matched_at) VALUES"
        " (?, 'dma', 1.0, '[]', ?)",
        (ORPHAN, to_db(NOW)),
    )
    tallies.rebuild(conn)
    return conn


def listed_before(conn: Connection, query: dash.ArticleQuery) -> list[int]:
    """The page as ``/articles`` listed it before the migration: the articles with a
    match, filtered by the article's own columns, newest first (first_seen, then id)."""
    where, params = where_before(query)
    rows = conn.execute(
        f"SELECT a.id FROM articles a WHERE {where}"
        " ORDER BY a.first_seen DESC, a.id DESC LIMIT ? OFFSET ?",
        [*params, query.per_page, (query.page - 1) * query.per_page],
    ).fetchall()
    return [int(r[0]) for r in rows]


def where_before(query: dash.ArticleQuery) -> tuple[str, list[object]]:
    inner = " WHERE watchlist = ?" if query.watchlist else ""
    params: list[object] = [query.watchlist] if query.watchlist else []
    where = [f"a.id IN (SELECT article_id FROM matches{inner})"]
    if query.feed:
        where.append("a.feed_id = ?")
        params.append(query.feed)
    if query.language:
        where.append("a.language = ?")
        params.append(query.language)
    if query.since:
        where.append("a.first_seen >= ?")
        params.append(query.since.isoformat())
    if query.until:
        where.append("a.first_seen < ?")
        params.append((query.until + timedelta(days=1)).isoformat())
    return " AND ".join(where), params


def counted_before(conn: Connection, query: dash.ArticleQuery) -> int:
    """All matched articles or one watchlist's counted from ``matches`` (an orphan match
    too), filtered lists from the articles, as before."""
    if query.feed or query.language or query.since or query.until:
        where, params = where_before(query)
        return int(
            conn.execute(f"SELECT COUNT(*) FROM articles a WHERE {where}", params).fetchone()[0]
        )
    inner = " WHERE watchlist = ?" if query.watchlist else ""
    return int(
        conn.execute(
            f"SELECT COUNT(DISTINCT article_id) FROM matches{inner}",
            [query.watchlist] if query.watchlist else [],
        ).fetchone()[0]
    )


TODAY = NOW.date()
FILTERS = [
    {},
    {"feed": "euractiv"},
    {"language": "fr"},
    {"feed": "lemonde", "language": "en"},
    {"feed": "euractiv", "language": "fr"},
    {"since": TODAY},
    {"until": TODAY - timedelta(days=1)},
    {"since": TODAY, "until": TODAY, "feed": "euractiv"},
]
QUERIES = [
    dash.ArticleQuery(watchlist=w, page=page, per_page=per, **f)  # type: ignore[arg-type]
    for w in ("", "ai-act", "dma", "gdpr", "none")
    for f in FILTERS
    for per in (2, 3, 25)
    for page in (1, 2, 3, 4)
]


def test_the_migration_fills_the_order_and_the_lists_stay_the_same(tmp_path: Path):
    old = older_database(tmp_path)
    expected = {q: listed_before(old, q) for q in QUERIES}
    totals = {q: counted_before(old, q) for q in QUERIES}
    menu = sorted({str(r[0]) for r in old.execute("SELECT DISTINCT watchlist FROM matches")})
    old.close()
    assert expected[dash.ArticleQuery()] == [8, 5, 9, 3, 2, 1, 6]  # the reference is right
    assert expected[dash.ArticleQuery(watchlist="dma", per_page=2)] == [5, 3]
    assert expected[dash.ArticleQuery(feed="euractiv", language="fr")] == [9, 3]
    assert sum(1 for ids in expected.values() if ids) >= 100  # a hundred pages hold articles
    with Store(tmp_path, database_url=engine_url()) as store:
        conn = store.conn
        filled = conn.execute(
            "SELECT m.article_id, m.first_seen, a.first_seen FROM matches m"
            " LEFT JOIN articles a ON a.id = m.article_id"
        ).fetchall()
        assert len(filled) == sum(len(lists) for *_, lists in ARTICLES) + 1
        for article_id, kept, seen in filled:
            assert kept == seen, article_id  # the orphan's stays NULL, as its article's
        for query, ids in expected.items():
            found = dash.articles(conn, query)
            assert [a.id for a in found.items] == ids, query
            assert found.total == totals[query], query
        assert list(dash.facets(conn).watchlists) == menu == ["ai-act", "dma", "gdpr"]


def test_matches_written_after_the_migration_carry_their_article_order(tmp_path: Path):
    older_database(tmp_path).close()
    with Store(tmp_path, database_url=engine_url()) as store:
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
