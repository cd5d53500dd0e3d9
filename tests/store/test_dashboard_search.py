"""The full-text index of the archive (issue 12): filled from an older database, kept in
step with inserts, pruning and deletes."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.models import Article, Match
from monitor.store import Store
from monitor.store import articles as arts
from monitor.store import dashboard as dash
from monitor.store import outbox as ob
from monitor.store.db import DB_NAME

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def found(store: Store, q: str) -> list[str]:
    page = dash.articles(store.conn, dash.ArticleQuery(q=q))
    return [a.title for a in page.items]


def test_an_older_database_gets_its_articles_indexed(data_dir: Path, tmp_path: Path):
    shutil.copy(data_dir / "store" / "state-v1.sqlite3", tmp_path / DB_NAME)
    with Store(tmp_path) as store:
        titles = [r[0] for r in store.conn.execute("SELECT title FROM articles")]
        assert titles
        for (article_id,) in store.conn.execute("SELECT id FROM articles").fetchall():
            with store.transaction() as conn:
                ob.record_matches(conn, article_id, [Match("ai-act", 1.0, ())], NOW)
        assert found(store, "negotiators") == ["EU negotiators strike political deal on AI Act"]


def test_the_index_follows_inserts_pruning_and_deletes(tmp_path: Path):
    with Store(tmp_path) as store:
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
