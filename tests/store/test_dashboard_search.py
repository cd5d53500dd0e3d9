"""The full-text index of the archive (issue 12): filled from an older database, kept in
step with inserts, pruning and deletes."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.models import Article, Match
from monitor.store import Store
from monitor.store import articles as arts
from monitor.store import dashboard as dash
from monitor.store import outbox as ob
from monitor.store.db import DB_NAME, migrate
from monitor.store.engine import Connection
from monitor.store.migrations import MIGRATIONS
from tests.support.engines import engine_url

# the FTS5 index; the dashboard's search on PostgreSQL is ported separately (issue 11)
pytestmark = pytest.mark.sqlite_only

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def found(store: Store, q: str) -> list[str]:
    page = dash.articles(store.conn, dash.ArticleQuery(q=q))
    return [a.title for a in page.items]


def test_an_older_database_gets_its_articles_indexed(data_dir: Path, tmp_path: Path):
    shutil.copy(data_dir / "store" / "state-v1.sqlite3", tmp_path / DB_NAME)
    with Store(tmp_path, database_url=engine_url()) as store:
        titles = [r[0] for r in store.conn.execute("SELECT title FROM articles")]
        assert titles
        for (article_id,) in store.conn.execute("SELECT id FROM articles").fetchall():
            with store.transaction() as conn:
                ob.record_matches(conn, article_id, [Match("ai-act", 1.0, ())], NOW)
        assert found(store, "negotiators") == ["EU negotiators strike political deal on AI Act"]


def test_the_index_follows_inserts_pruning_and_deletes(tmp_path: Path):
    with Store(tmp_path, database_url=engine_url()) as store:
        with store.transaction() as conn:
            (new,) = arts.add_articles(
                conn,
                "f",
                [Article("f", "guid:1", "Cloud sovereignty", summary="Gaia-X règlement")],
                NOW,
            )
            ob.record_matches(conn, new.id, [Match("cloud", 1.0, ())], NOW)
        assert found(store, "reglement") == ["Cloud sovereignty"]
        assert found(store, "sovereignty") == ["Cloud sovereignty"]
        later = NOW + timedelta(days=400)
        store.prune(later, keep_text_before=later, keep_keys_before=NOW)  # text goes
        assert found(store, "reglement") == []
        assert found(store, "sovereignty") == ["Cloud sovereignty"]
        store.prune(later, keep_text_before=later, keep_keys_before=later)  # the row goes
        assert found(store, "sovereignty") == []
        integrity = "INSERT INTO articles_fts(articles_fts, rank) VALUES ('integrity-check', 1)"
        store.conn.execute(integrity)  # raises when the index and the table disagree


def test_search_words_are_quoted_for_fts5():
    assert dash.fts_query('AI AND "digital services" x*') == '"AI" "AND" "digital services" "x"'
    assert dash.fts_query("  ") is None
    assert dash.fts_query('"') is None


def _archive(store: Store, count: int) -> None:
    with store.transaction() as conn:
        for n in range(count):
            seen = NOW - timedelta(hours=(n * 7) % count)  # first-seen order is not id order
            (new,) = arts.add_articles(
                conn,
                "f",
                [Article("f", f"guid:{n}", f"Cloud item {n}", language="en" if n % 3 else "fr")],
                seen,
            )
            conn.execute(
                "UPDATE articles SET first_seen = ? WHERE id = ?",
                (seen.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), new.id),
            )
            ob.record_matches(conn, new.id, [Match("cloud" if n % 2 else "other", 1.0, ())], seen)


def sorted_page(conn: Connection, query: dash.ArticleQuery) -> list[int]:
    """The page as sorting the matched articles themselves gives it."""
    inner, params = (" WHERE watchlist = ?", [query.watchlist]) if query.watchlist else ("", [])
    language = ""
    if query.language:
        language = " AND a.language = ?"
        params.append(query.language)
    rows = conn.execute(
        f"SELECT a.id FROM articles a WHERE a.id IN (SELECT article_id FROM matches{inner})"
        f"{language} ORDER BY a.first_seen DESC, a.id DESC LIMIT ? OFFSET ?",
        [*params, query.per_page, (query.page - 1) * query.per_page],
    ).fetchall()
    return [r[0] for r in rows]


def test_walking_the_index_gives_the_pages_sorting_gives(tmp_path: Path):
    with Store(tmp_path, database_url=engine_url()) as store:
        _archive(store, 60)
        queries = [dash.ArticleQuery(page=p, per_page=7) for p in (1, 2, 9)]
        queries += [dash.ArticleQuery(watchlist="cloud", page=2, per_page=7)]
        queries += [dash.ArticleQuery(language="fr", per_page=50)]
        walked = [dash.articles(store.conn, q) for q in queries]
        assert [[a.id for a in p.items] for p in walked] == [
            sorted_page(store.conn, q) for q in queries
        ]
        assert [len(p.items) for p in walked] == [7, 7, 4, 7, 20]
        assert [p.total for p in walked] == [60, 60, 60, 30, 20]
        first = [a.first_seen for a in walked[0].items]
        assert first == sorted(first, reverse=True)


def test_counts_stop_at_the_cap(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(dash, "COUNT_CAP", 10)
    with Store(tmp_path, database_url=engine_url()) as store:
        _archive(store, 30)
        found = dash.articles(store.conn, dash.ArticleQuery(q="cloud"))
        assert (found.total, found.capped) == (11, True)
        assert [a.title for a in found.items[:2]] == ["Cloud item 29", "Cloud item 28"]
        filtered = dash.articles(store.conn, dash.ArticleQuery(language="en"))
        assert (filtered.total, filtered.capped) == (11, True)
        plain = dash.articles(store.conn, dash.ArticleQuery())
        assert (plain.total, plain.capped) == (30, False)
        assert dash.facets(store.conn).languages == ("en", "fr")


def test_a_word_only_in_the_body_is_found_and_pruning_takes_it_out(tmp_path: Path):
    with Store(tmp_path, database_url=engine_url()) as store:
        with store.transaction() as conn:
            (new,) = arts.add_articles(
                conn,
                "f",
                [
                    Article(
                        "f",
                        "guid:1",
                        "Council meeting",
                        summary="Ministers met.",
                        body="The page says the interoperability règlement was agreed.",
                    )
                ],
                NOW,
            )
            ob.record_matches(conn, new.id, [Match("cloud", 1.0, ())], NOW)
        page = dash.articles(store.conn, dash.ArticleQuery(q="reglement"))
        assert [a.title for a in page.items] == ["Council meeting"]
        extract = page.items[0].highlight or ""
        assert f"{dash.MARK_START}règlement{dash.MARK_END}" in extract
        later = NOW + timedelta(days=400)
        store.prune(later, keep_text_before=later, keep_keys_before=NOW)  # the body goes
        assert found(store, "interoperability") == []
        assert found(store, "council") == ["Council meeting"]
        integrity = "INSERT INTO articles_fts(articles_fts, rank) VALUES ('integrity-check', 1)"
        store.conn.execute(integrity)


def test_bodies_stored_before_the_index_covered_them_become_searchable(tmp_path: Path):
    names = [m.name for m in MIGRATIONS]
    version = names.index("full-text search also covers the article body")
    raw = sqlite3.connect(tmp_path / DB_NAME, isolation_level=None)
    migrate(raw, target=version)
    raw.execute(
        "INSERT INTO articles (feed_id, key, title, summary, body, published, first_seen,"
        " last_seen) VALUES ('f', 'guid:1', 'Old', 'A teaser', 'Full page on gatekeepers',"
        " '2026-01-01', '2026-01-01', '2026-01-01')"
    )
    raw.execute(
        "INSERT INTO matches (article_id, watchlist, score, hits, matched_at)"
        " VALUES (1, 'dma', 1, '[]', '2026-01-01')"
    )
    raw.close()
    with Store(tmp_path, database_url=engine_url()) as store:
        assert found(store, "gatekeepers") == ["Old"]
        assert found(store, "teaser") == ["Old"]
        with store.transaction() as conn:
            conn.execute("UPDATE articles SET body = 'Rewritten page' WHERE id = 1")
        assert found(store, "gatekeepers") == []
        assert found(store, "rewritten") == ["Old"]
        integrity = "INSERT INTO articles_fts(articles_fts, rank) VALUES ('integrity-check', 1)"
        store.conn.execute(integrity)
