"""Storage: the only package that speaks SQL.

``Store`` wraps one SQLite connection (WAL) under the state directory; the functions
in ``feeds`` and ``articles`` take a connection so that several can share one
transaction (an article, its matches and its outbox rows commit together).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from monitor.errors import StorageError
from monitor.models import Article, FeedSpec, FeedState
from monitor.store import articles as _articles
from monitor.store import feeds as _feeds
from monitor.store import outbox as _outbox
from monitor.store.articles import StoredArticle
from monitor.store.db import DB_NAME, connect, transaction
from monitor.store.lock import StateLock

__all__ = ["StateLock", "Store", "StoredArticle", "ensure_state_dir", "state_dir_from_env"]


def state_dir_from_env(value: str | None = None) -> Path:
    return Path(value or os.environ.get("MONITOR_STATE_DIR") or "state")


def ensure_state_dir(path: str | os.PathLike[str]) -> Path:
    """Create the state directory if needed and make sure monitor can write in it.

    Raises:
        StorageError: it cannot be created or is not writable (one line, no traceback).
    """
    state = Path(path)
    try:
        state.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(
            f"storage: cannot create the state directory {state}: {exc.strerror}; "
            "set --state / MONITOR_STATE_DIR to a writable directory"
        ) from exc
    if not os.access(state, os.W_OK | os.X_OK):
        raise StorageError(
            f"storage: the state directory {state} is not writable; make it writable or "
            "set --state / MONITOR_STATE_DIR"
        )
    return state


class Store:
    """The state database.  Not thread-safe: one per thread or task group."""

    def __init__(self, state_dir: str | os.PathLike[str]) -> None:
        self.state_dir = ensure_state_dir(state_dir)
        self.path = self.state_dir / DB_NAME
        self.conn: sqlite3.Connection = connect(self.path)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with transaction(self.conn) as conn:
            yield conn

    # feeds
    def sync_feeds(self, specs: Sequence[FeedSpec], now: datetime) -> None:
        with self.transaction() as conn:
            _feeds.sync_feeds(conn, specs, now)

    def feed_states(self) -> dict[str, FeedState]:
        return _feeds.feed_states(self.conn)

    def feed_state(self, feed_id: str) -> FeedState | None:
        return _feeds.feed_state(self.conn, feed_id)

    def save_feed_state(self, state: FeedState) -> None:
        with self.transaction() as conn:
            _feeds.save_feed_state(conn, state)

    # articles
    def iter_articles(
        self, since: datetime | None = None, feed_id: str | None = None
    ) -> Iterator[StoredArticle]:
        return _articles.iter_articles(self.conn, since, feed_id)

    def get_articles(self, ids: Sequence[int]) -> dict[int, StoredArticle]:
        return _articles.get_articles(self.conn, ids)

    def known_keys(self, feed_id: str, articles: Sequence[Article]) -> set[str]:
        """Keys of ``articles`` that are not new: seen in this feed, or their URL stored."""
        return _articles.known_keys(self.conn, feed_id, articles)

    def count_articles(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0])

    def prune(
        self, now: datetime, keep_text_before: datetime, keep_keys_before: datetime
    ) -> tuple[int, int]:
        """Retention: article text, then identities (see ``articles.prune``); delivered or
        failed outbox rows, and matches of forgotten articles, go with the text."""
        with self.transaction() as conn:
            result = _articles.prune(conn, now, keep_text_before, keep_keys_before)
            _outbox.prune(conn, keep_text_before)
            return result
