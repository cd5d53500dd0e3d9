"""Issue 15: lean article rows (hashed entry and URL keys, the URL stored once), on both
engines, and the migration that brings older rows to them."""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.models import Article
from monitor.store import Store
from monitor.store import articles as arts
from monitor.store.db import DB_NAME, migrate
from monitor.store.engine import Connection
from monitor.store.migrations import MIGRATIONS
from tests.support.engines import engine_url

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
LEAN = next(i for i, m in enumerate(MIGRATIONS) if m.name.startswith("lean article rows"))
"""The schema version before the lean rows."""

ENTRIES = [
    # key repeats the URL (packed to "guid:"), canonical = url (stored NULL)
    Article(
        "f", "guid:https://e.eu/1", "One", url="https://e.eu/1", canonical_url="https://e.eu/1"
    ),
    # key repeats the canonical URL (packed to "link:"), canonical differs from url
    Article(
        "f",
        "link:https://e.eu/2",
        "Two",
        url="https://e.eu/2?utm_source=rss",
        canonical_url="https://e.eu/2",
    ),
    # a guid that is not the URL, no canonical URL at all
    Article("f", "guid:tag:e.eu,2026:3", "Three", url="https://e.eu/3"),
    # no URL: known by its text
    Article("f", "hash:" + "0" * 32, "Four", summary="text only"),
]


def _old_state(store_engine: str, tmp_path: Path) -> Connection:
    """A database at the version before the lean rows, with ENTRIES written the old way."""
    if store_engine == "postgresql":
        from monitor.store import pg

        conn: Connection = pg.open_connection(os.environ["MONITOR_DATABASE_URL"])
    else:
        conn = sqlite3.connect(tmp_path / DB_NAME, isolation_level=None)
    migrate(conn, target=LEAN)
    stamp = "2026-12-01T00:00:00.000000Z"
    conn.execute(
        "INSERT INTO feeds (id, configured_url, url, created) VALUES ('f', 'u', 'u', ?)", (stamp,)
    )
    from monitor.identity import text_hash, url_key

    for number, a in enumerate(ENTRIES, start=1):
        conn.execute(
            "INSERT INTO articles (id, feed_id, key, url, canonical_url, url_key, content_hash,"
            " title, summary, published, first_seen, last_seen)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                number,
                a.feed_id,
                a.key,
                a.url,
                a.canonical_url,
                url_key(a.canonical_url),
                text_hash(a.title, a.summary),
                a.title,
                a.summary,
                stamp,
                stamp,
                stamp,
            ),
        )
        conn.execute(
            "INSERT INTO seen_keys (feed_id, key, article_id, first_seen, last_seen)"
            " VALUES (?,?,?,?,?)",
            (a.feed_id, a.key, number, stamp, stamp),
        )
    return conn


def test_old_rows_migrate_and_stay_known(store_engine: str, tmp_path: Path):
    _old_state(store_engine, tmp_path).close()
    with Store(tmp_path, database_url=engine_url()) as store:
        stored = {s.article.key: s.article for s in store.iter_articles()}
        assert set(stored) == {a.key for a in ENTRIES}
        for a in ENTRIES:  # what was stored reads back as it was written
            assert (stored[a.key].url, stored[a.key].canonical_url) == (a.url, a.canonical_url)
        with store.transaction() as conn:
            assert arts.add_articles(conn, "f", ENTRIES, NOW) == []
            # syndicated elsewhere under the same URL key: an alias, not a new article
            url = "http://www.e.eu/1/"
            other = Article("g", "guid:x", "One again", url=url, canonical_url=url)
            again = arts.add_articles(conn, "g", [other], NOW)
            # a regenerated guid and URL, the same text: its text hash knows it
            moved = Article("f", "guid:new-3", "Three", url="https://e.eu/3b", canonical_url=None)
            regenerated = arts.add_articles(conn, "f", [moved], NOW)
        assert again == regenerated == []
        assert store.count_articles() == len(ENTRIES)


def test_new_rows_read_back_as_written(store_engine: str, tmp_path: Path):
    with Store(tmp_path, database_url=engine_url()) as store:
        with store.transaction() as conn:
            new = arts.add_articles(conn, "f", ENTRIES, NOW)
            packed = conn.execute("SELECT key, canonical_url FROM articles ORDER BY id").fetchall()
            assert [tuple(r) for r in packed] == [
                ("guid:", None),
                ("link:", "https://e.eu/2"),
                ("guid:tag:e.eu,2026:3", ""),
                ("hash:" + "0" * 32, ""),
            ]
        assert len(new) == len(ENTRIES)
        back = store.get_articles([n.id for n in new])
        for n, a in zip(new, ENTRIES, strict=True):
            got = back[n.id].article
            assert (got.key, got.url, got.canonical_url) == (a.key, a.url, a.canonical_url)
        assert store.known_keys("f", [a.key for a in ENTRIES] + ["guid:nope"]) == {
            a.key for a in ENTRIES
        }


@pytest.mark.sqlite_only
def test_seen_keys_have_no_rowid_and_no_last_seen_index(tmp_path: Path):
    with Store(tmp_path, database_url=engine_url()) as store:
        sql = store.conn.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'seen_keys'"
        ).fetchone()[0]
        assert "WITHOUT ROWID" in sql
        indexes = {
            r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
        }
        assert "seen_keys_last_seen" not in indexes
        assert {"articles_url_hash"} <= indexes
        assert not {"articles_url_key", "articles_seen_feed"} & indexes
