"""Database errors reach users as StorageError with a message they can act on."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.errors import StorageError
from monitor.fetch import Fetcher
from monitor.pipeline.build import matcher, routing
from monitor.pipeline.poll import Poller
from monitor.store import Store
from monitor.store.db import DB_NAME
from tests.support.app import make_app
from tests.support.engines import MISSING, engine_url
from tests.support.feedserver import FeedServer, rss_feed


@contextmanager
def write_locked(state: Path) -> Iterator[None]:
    """Another connection holds the database's write lock."""
    other = sqlite3.connect(state / DB_NAME, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


@pytest.mark.sqlite_only  # SQLite's write lock
def test_a_locked_database_says_who_holds_it_and_what_to_do(tmp_path: Path):
    with Store(tmp_path, busy_timeout=0.05, database_url=engine_url()) as store:
        (tmp_path / "monitor.lock").write_text(str(os.getpid()))
        with (
            write_locked(tmp_path),
            pytest.raises(StorageError) as err,
            store.transaction() as conn,
        ):
            conn.execute("UPDATE feeds SET url = url")
    message = str(err.value)
    assert message.startswith(f"storage: {tmp_path / DB_NAME}: the state database stayed locked")
    assert f"monitor.lock names pid {os.getpid()}" in message
    assert "stop the other monitor process" in message
    assert isinstance(err.value.__cause__, sqlite3.OperationalError)


def test_a_read_error_is_a_storage_error(tmp_path: Path):
    with Store(tmp_path, database_url=engine_url()) as store:
        store.conn.execute("ALTER TABLE articles RENAME TO gone")
        with pytest.raises(StorageError, match=MISSING.format(table="articles")):
            store.count_articles()


@pytest.mark.sqlite_only  # SQLite's write lock
def test_a_poll_reports_the_storage_error_not_an_internal_error(
    feed_server: FeedServer, tmp_path: Path
):
    feed_server.feed("/eu.xml", rss_feed("EU", [("g1", "AI Act deal", "https://n.eu/1")]))
    app = make_app(tmp_path, {"eu": feed_server.url("/eu.xml")})
    cfg = app.configs()

    async def poll() -> str | None:
        with Store(app.state, busy_timeout=0.05, database_url=engine_url()) as store:
            async with Fetcher(cfg.feeds.settings) as fetcher:
                poller = Poller(
                    feeds=cfg.feeds,
                    store=store,
                    fetcher=fetcher,
                    matcher=matcher(cfg.keywords),
                    routing=routing(cfg.keywords),
                )
                [spec] = cfg.feeds.feeds
                state = store.feed_state(spec.id)
                with write_locked(app.state):
                    report = await poller.poll_safely(spec, state)
                return report.error

    with app.store() as store:
        store.sync_feeds(cfg.feeds.feeds, datetime.now(UTC))
    error = asyncio.run(poll())
    assert error is not None
    assert "the state database stayed locked" in error
    assert "internal error" not in error
