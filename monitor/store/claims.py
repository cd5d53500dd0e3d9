"""Claims and elections for several instances, as SQLite implements them: trivially.

The service asks the store before it works on shared state (docs/design.md, "Parts"):

- ``claim_feeds(instance, now, lease_until, limit, feed_ids)``: the feeds this instance
  polls now;
- ``claim_outbox(kind, instance, now, lease, limit)``: the outbox rows it sends now;
- ``renew_outbox(ids, instance, lease_until)``: which of its rows it still holds (before
  each message of a send round): all of them;
- ``singleton(name, instance)``: whether it runs the singleton job ``name``.

On SQLite one process holds the state lock (``StateLock``), so it is the only instance:
every due feed and row is its own and it leads every job; no lease is written.  The
PostgreSQL engine implements the same three calls with ``FOR UPDATE SKIP LOCKED`` and
advisory locks.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from monitor.models import OutboxEntry
from monitor.store import outbox as _outbox
from monitor.store.db import to_db
from monitor.store.engine import Connection


def claim_feeds(
    conn: Connection,
    now: datetime,
    limit: int,
    feed_ids: Sequence[str] | None = None,
) -> list[str]:
    """``feed_ids`` as given (the scheduler found them due; the state lock makes them
    ours), else up to ``limit`` feeds due at ``now`` (never polled first, then by due
    time)."""
    if feed_ids is not None:
        return list(feed_ids)[:limit]
    rows = conn.execute(
        "SELECT id FROM feeds WHERE next_poll IS NULL OR next_poll <= ?"
        " ORDER BY next_poll IS NOT NULL, next_poll, id LIMIT ?",
        (to_db(now), limit),
    )
    return [r[0] for r in rows]


def claim_outbox(conn: Connection, kind: str, now: datetime, limit: int) -> list[OutboxEntry]:
    """The pending rows of ``kind`` due at ``now``, oldest first."""
    return _outbox.due_entries(conn, kind, now, limit)
