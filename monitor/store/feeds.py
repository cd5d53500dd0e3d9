"""Per-feed state: validators, schedule and health."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

from monitor.models import FeedSpec, FeedState
from monitor.store.db import from_db, to_db
from monitor.store.engine import Connection, Row

_TIME_FIELDS = {"last_attempt", "last_success", "next_poll", "last_new"}
_COLUMNS = [f.name for f in fields(FeedState) if f.name not in {"feed_id", "configured_url"}]


def sync_feeds(conn: Connection, specs: Sequence[FeedSpec], now: datetime) -> None:
    """Create state rows for new feeds; reset a feed whose configured URL changed.

    A URL the publisher moved us to (301/308) is kept while the configured URL stays
    the same; editing the URL in feeds.yaml starts over from the new one.
    """
    rows = {
        r["id"]: r["configured_url"] for r in conn.execute("SELECT id, configured_url FROM feeds")
    }
    for spec in specs:
        if spec.id not in rows:
            conn.execute(
                # ON CONFLICT: instances that start together both find the feed new.
                "INSERT INTO feeds (id, configured_url, url, created) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (id) DO NOTHING",
                (spec.id, spec.url, spec.url, to_db(now)),
            )
        elif rows[spec.id] != spec.url:
            conn.execute(
                "UPDATE feeds SET configured_url = ?, url = ?, etag = NULL, last_modified = NULL,"
                " body_hash = NULL, next_poll = NULL, consecutive_failures = 0 WHERE id = ?",
                (spec.url, spec.url, spec.id),
            )


def _state(row: Row) -> FeedState:
    values: dict[str, Any] = {}
    for name in _COLUMNS:
        value = row[name]
        values[name] = from_db(value) if name in _TIME_FIELDS else value
    return FeedState(feed_id=row["id"], configured_url=row["configured_url"], **values)


def feed_states(conn: Connection) -> dict[str, FeedState]:
    return {row["id"]: _state(row) for row in conn.execute("SELECT * FROM feeds ORDER BY id")}


def feed_state(conn: Connection, feed_id: str) -> FeedState | None:
    row = conn.execute("SELECT * FROM feeds WHERE id = ?", (feed_id,)).fetchone()
    return _state(row) if row else None


def save_feed_state(conn: Connection, state: FeedState) -> None:
    assignments = ", ".join(f"{name} = ?" for name in _COLUMNS)
    values = [
        to_db(getattr(state, name)) if name in _TIME_FIELDS else getattr(state, name)
        for name in _COLUMNS
    ]
    conn.execute(f"UPDATE feeds SET {assignments} WHERE id = ?", (*values, state.feed_id))


def created_times(conn: Connection) -> dict[str, datetime]:
    """When each feed was first configured (for the health report's "usual" rates)."""
    out = {}
    for feed_id, created in conn.execute("SELECT id, created FROM feeds"):
        when = from_db(created)
        if when is not None:
            out[feed_id] = when
    return out
