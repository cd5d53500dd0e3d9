"""Every migration runs on an older database file and keeps its data."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.errors import StorageError
from monitor.models import Article, Match, Route, Target
from monitor.store import Store
from monitor.store import articles as arts
from monitor.store import outbox as ob
from monitor.store.db import DB_NAME, connect, migrate
from monitor.store.migrations import MIGRATIONS
from tests.support.engines import engine_url
from tests.support.records import record

# SQLite's files and PRAGMA user_version; PostgreSQL's: test_postgres_engine.py
pytestmark = pytest.mark.sqlite_only

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def test_v1_file_from_the_field_upgrades_and_keeps_its_identities(data_dir: Path, tmp_path: Path):
    shutil.copy(data_dir / "store" / "state-v1.sqlite3", tmp_path / DB_NAME)
    with Store(tmp_path, database_url=engine_url()) as store:
        version = store.conn.execute("PRAGMA user_version").fetchone()[0]
        assert version == len(MIGRATIONS)
        state = store.feed_state("politico-eu")
        assert state is not None
        assert state.etag == '"abc"'
        # The old article is still known: the same entry is not new after the upgrade.
        again = Article(
            feed_id="politico-eu",
            key="guid:https://www.politico.eu/article/eu-ai-act-deal/",
            title="EU negotiators strike political deal on AI Act",
        )
        assert record(store, [again], NOW) == []
        with store.transaction() as conn:
            # New tables from later migrations work on the upgraded file.
            ob.record_matches(conn, 1, [Match("ai-act", 1.0, ())], NOW)
            added = ob.enqueue(
                conn, [Route("alert", Target("c", "telegram", "@c"), 1, ("ai-act",), NOW)], NOW
            )
        assert added == 1


@pytest.mark.parametrize("version", range(len(MIGRATIONS)))
def test_each_migration_from_the_previous_version(tmp_path: Path, version: int):
    path = tmp_path / "db.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn, target=version) == version
    assert conn.execute("PRAGMA user_version").fetchone()[0] == version
    assert migrate(conn) == len(MIGRATIONS)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"feeds", "articles", "seen_keys", "outbox", "matches", "destinations"} <= tables
    conn.close()


def test_failed_migration_rolls_back(tmp_path: Path):
    from monitor.store.migrations import Migration

    conn = sqlite3.connect(tmp_path / "x.sqlite3", isolation_level=None)
    broken = (*MIGRATIONS, Migration("broken", "CREATE TABLE t (a INT); SELECT nope FROM nowhere"))
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn, broken)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 't'").fetchone() is None


def test_database_from_a_newer_monitor_is_refused(tmp_path: Path):
    conn = sqlite3.connect(tmp_path / DB_NAME, isolation_level=None)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(StorageError, match="newer than this program"):
        connect(tmp_path / DB_NAME)


def test_not_a_database_is_a_storage_error(tmp_path: Path):
    (tmp_path / DB_NAME).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StorageError, match=DB_NAME):
        Store(tmp_path, database_url=engine_url())


def test_wal_mode(tmp_path: Path):
    with Store(tmp_path, database_url=engine_url()) as store:
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_subscriptions_keep_their_rows_when_topics_arrive(tmp_path: Path):
    """Issue 13: the subscriptions table gains a topic (part of its key)."""
    from monitor.store import subscribers as subs

    names = [m.name for m in MIGRATIONS]
    before = names.index("subscriptions of forum topics: a group's topic subscribes on its own")
    conn = sqlite3.connect(tmp_path / DB_NAME, isolation_level=None)
    migrate(conn, target=before)
    conn.execute(
        "INSERT INTO subscriptions (chat_id, watchlist, created) VALUES"
        " ('1001', 'ai-act', '2026-11-01T00:00:00+00:00'),"
        " ('-1009', 'dsa', '2026-11-02T00:00:00+00:00')"
    )
    conn.close()
    with Store(tmp_path, database_url=engine_url()) as store:
        old = subs.subscriptions(store.conn)
        assert [(s.chat_id, s.watchlist, s.topic) for s in old] == [
            ("-1009", "dsa", None),
            ("1001", "ai-act", None),
        ]
        with store.transaction() as c:
            # One group, the same watchlist in two topics and in the group itself.
            assert subs.subscribe(c, "-1009", "ai-act", NOW, topic=7)
            assert subs.subscribe(c, "-1009", "ai-act", NOW, topic=9)
            assert subs.subscribe(c, "-1009", "ai-act", NOW)
            assert not subs.subscribe(c, "-1009", "ai-act", NOW, topic=7)
        assert [s.address for s in subs.subscriptions(store.conn, "-1009", topic=7)] == ["-1009/7"]
        assert len(subs.subscriptions(store.conn, "-1009")) == 4
        with store.transaction() as c:
            assert subs.unsubscribe(c, "-1009", topic=9) == 1
            assert subs.unsubscribe(c, "-1009") == 3


def test_full_text_migration_keeps_articles_and_adds_empty_bodies(tmp_path: Path):
    names = [m.name for m in MIGRATIONS]
    version = next(i for i, n in enumerate(names) if n.startswith("full text"))
    raw = sqlite3.connect(tmp_path / DB_NAME, isolation_level=None)
    migrate(raw, target=version)
    raw.execute(
        "INSERT INTO articles (feed_id, key, title, summary, published, first_seen, last_seen)"
        " VALUES ('f', 'guid:1', 'Old', 'A teaser', '2026-01-01', '2026-01-01', '2026-01-01')"
    )
    raw.execute("INSERT INTO feeds (id, configured_url, url, created) VALUES ('f', 'u', 'u', 'x')")
    raw.close()
    with Store(tmp_path, database_url=engine_url()) as store:
        [old] = list(store.iter_articles())
        assert (old.article.summary, old.article.body) == ("A teaser", "")
        state = store.feed_state("f")
        assert state is not None
        assert (state.pages_fetched, state.page_failures) == (0, 0)
        with store.transaction() as conn:
            [new] = arts.add_articles(
                conn, "f", [Article("f", "guid:2", "New", summary="t", body="Page text")], NOW
            )
        assert store.get_articles([new.id])[new.id].article.body == "Page text"
        with store.transaction() as conn:
            arts.prune(conn, NOW, NOW.replace(year=2027), NOW.replace(year=2000))
        assert store.get_articles([new.id])[new.id].article.body == ""  # retention drops it
