"""The append-only list of schema migrations.

Each migration has a name and runs in its own transaction; ``PRAGMA user_version``
records how many have been applied.  Never edit or reorder a migration that has
landed: add a new one at the end.  SQL is kept portable (no SQLite-only types) so a
PostgreSQL backend can replay the same list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import sqlite3

Step = str | Callable[[sqlite3.Connection], None]


@dataclass(frozen=True)
class Migration:
    name: str
    step: Step


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "feeds and articles",
        """
        CREATE TABLE feeds (
            id TEXT PRIMARY KEY,
            configured_url TEXT NOT NULL,
            url TEXT NOT NULL,
            etag TEXT,
            last_modified TEXT,
            body_hash TEXT,
            last_attempt TEXT,
            last_success TEXT,
            last_status INTEGER,
            last_error TEXT,
            consecutive_failures INTEGER NOT NULL DEFAULT 0,
            next_poll TEXT,
            articles_seen INTEGER NOT NULL DEFAULT 0,
            last_new TEXT,
            created TEXT NOT NULL
        );
        CREATE TABLE articles (
            id INTEGER PRIMARY KEY,
            feed_id TEXT NOT NULL,
            key TEXT NOT NULL,
            url TEXT,
            canonical_url TEXT,
            url_key TEXT,
            content_hash TEXT,
            title TEXT NOT NULL,
            summary TEXT,
            content TEXT,
            published TEXT NOT NULL,
            date_from_feed INTEGER NOT NULL DEFAULT 1,
            language TEXT,
            authors TEXT,
            tags TEXT,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            pruned INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX articles_url_key ON articles (url_key);
        CREATE INDEX articles_feed_hash ON articles (feed_id, content_hash);
        CREATE INDEX articles_first_seen ON articles (first_seen);
        CREATE TABLE seen_keys (
            feed_id TEXT NOT NULL,
            key TEXT NOT NULL,
            article_id INTEGER NOT NULL,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            PRIMARY KEY (feed_id, key)
        );
        CREATE INDEX seen_keys_last_seen ON seen_keys (last_seen);
        """,
    ),
)
