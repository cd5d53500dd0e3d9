"""Claims and elections for several instances on one PostgreSQL (issue 11 item 4).

Every ``monitor run`` against the same database is an *instance* (``host:pid:random``).
They share the work through the database only:

- **feeds** are leased: ``claim_feeds`` locks the due feeds nobody holds with
  ``SELECT ... FOR UPDATE SKIP LOCKED`` and writes ``lease_owner``/``lease_until`` in the
  same transaction, so two instances never claim one feed for one due time (the claim
  also requires ``next_poll <= now``: a feed polled a moment ago by another instance is
  not due any more).  ``release_feed`` ends the lease after the poll committed the
  feed's next poll time.  An instance that dies holding a lease loses it at once: its
  session is gone from ``pg_stat_activity`` (:data:`GONE`), and the next instance whose
  timer fires (a restart of the dead one, at its start) takes the feed over; an
  instance that is alive but silent (a partition, a hung process) loses it when
  ``lease_until`` passes.
- **per-host politeness** holds across instances: a host (``hostname:port``, the unit of
  ``monitor.fetch``'s lanes) has ``per_host`` rows in ``host_slots``, and a feed is
  claimed only with a free slot of its host, leased with it.  So at most ``per_host``
  requests go to one host at a time, however many instances run.
- **outbox rows** are leased the same way (``claim_outbox``); marking a row sent or
  rescheduling it ends its lease, so each alert is sent by one instance.
- **singleton jobs** (digests, the health report, retention, the bot's ``getUpdates``)
  are elected with session advisory locks (``pg_try_advisory_lock``) held on a dedicated
  connection (:class:`Elections`): when the leader's process dies its session ends, the
  lock is free, and the next instance that asks becomes the leader.

Timestamps are the store's fixed-width UTC text (``db.to_db``), compared as text.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from monitor.errors import StorageError
from monitor.models import OutboxEntry
from monitor.store import outbox as _outbox
from monitor.store.db import from_db, to_db, transaction
from monitor.store.engine import Connection

log = logging.getLogger(__name__)

_DUE = "(next_poll IS NULL OR next_poll <= ?)"

SESSION_NAME_MAX = 63
"""PostgreSQL keeps 63 bytes of an ``application_name`` (NAMEDATALEN - 1), and makes
every byte outside printable ASCII a ``?``: a longer or non-ASCII instance name could
never be found in ``pg_stat_activity``, so its claims are left to their lease."""

GONE = (
    f"(octet_length(lease_owner) <= {SESSION_NAME_MAX} AND lease_owner !~ '[^ -~]'"
    " AND lease_owner <> ALL (ARRAY(SELECT application_name FROM pg_stat_activity"
    " WHERE datname = current_database() AND application_name IS NOT NULL)))"
)
"""A lease whose owner has no session left (its process died, or lost its connection):
free before ``lease_until``.  Every instance names its session after itself
(``application_name``, :func:`own_session`), and a killed process's session ends as its
socket closes, so a restart takes over its predecessor's claims at once instead of one
lease later (issue 11).  The ``ARRAY(...)`` is an init plan: ``pg_stat_activity`` is
read once per statement, not once per row.  A live instance whose connection broke
(a server restart) loses its claims until it reconnects; what it had in flight may be
done twice, as after a kill, and no more: before each message the outbox worker renews
its rows' lease and sends only the rows it still holds (``renew_outbox``)."""
_FREE = f"(lease_until IS NULL OR lease_until <= ? OR {GONE})"
LIVE = f"NOT {GONE}"
"""A lease whose owner is alive (or whose name could not be looked for)."""


def own_session(conn: Connection, instance: str) -> None:
    """Name ``conn``'s session (``application_name``) after ``instance``, the owner its
    claims are written under, so that other instances see it alive (:data:`GONE`); kept
    when the connection is reopened.

    Raises:
        StorageError: a database error.
    """
    if getattr(conn, "name", instance) == instance:
        return
    conn.execute("SELECT set_config('application_name', ?, false)", (instance,))
    conn.name = instance  # type: ignore[attr-defined]  # PgConnection, reopened with it


def host_of(url: str) -> str:
    """``hostname:port`` of a feed URL: the same unit as ``monitor.fetch.host_key``."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return url
    return f"{(parts.hostname or '').lower()}:{port}"


def claim_feeds(
    conn: Connection,
    instance: str,
    now: datetime,
    lease_until: datetime,
    limit: int,
    feed_ids: Sequence[str] | None = None,
    per_host: int | None = None,
    host_until: datetime | None = None,
) -> list[str]:
    """Lease to ``instance`` until ``lease_until`` up to ``limit`` feeds due at ``now``
    (of ``feed_ids`` when given) that no other instance holds; with ``per_host``, only
    those whose host has a free slot, leased until ``host_until`` (default
    ``lease_until``: a slot guards a request, so it may be leased for less than the poll,
    and a dead instance's slots come free sooner).  Returns their ids, never polled first.

    Raises:
        StorageError: a database error (nothing is claimed).
    """
    t_now, t_until = to_db(now), to_db(lease_until)
    t_host = to_db(min(host_until, lease_until)) if host_until is not None else t_until
    where = f"{_DUE} AND {_FREE}"
    params: list[object] = [t_now, t_now]
    if feed_ids is not None:
        where += " AND id = ANY(?)"
        params.append(list(feed_ids))
    own_session(conn, instance)
    with transaction(conn):
        rows = conn.execute(
            f"SELECT id, url FROM feeds WHERE {where}"
            " ORDER BY next_poll IS NOT NULL, next_poll, id LIMIT ? FOR UPDATE SKIP LOCKED",
            (*params, limit),
        ).fetchall()
        claimed = []
        for feed_id, url in rows:
            if per_host is not None and not _take_slot(
                conn, host_of(url), per_host, feed_id, instance, t_now, t_host
            ):
                continue
            claimed.append(feed_id)
        if claimed:
            conn.execute(
                "UPDATE feeds SET lease_owner = ?, lease_until = ? WHERE id = ANY(?)",
                (instance, t_until, claimed),
            )
    return claimed


def _take_slot(
    conn: Connection,
    host: str,
    per_host: int,
    feed_id: str,
    instance: str,
    now: str | None,
    until: str | None,
) -> bool:
    row = conn.execute(
        "SELECT slot FROM host_slots WHERE host = ? AND slot < ?"
        f" AND (lease_until IS NULL OR lease_until <= ? OR feed_id = ? OR {GONE})"
        " ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED",
        (host, per_host, now, feed_id),
    ).fetchone()
    if row is None:
        # A host seen for the first time (or ``per_host`` raised): its slots are made
        # here; rows another instance is inserting right now are waited for, not doubled.
        row = conn.execute(
            "INSERT INTO host_slots (host, slot) SELECT ?, g FROM generate_series(0, ? - 1) g"
            " ON CONFLICT DO NOTHING RETURNING slot",
            (host, per_host),
        ).fetchone()
        if row is None:
            return False  # every slot is held: the host has ``per_host`` polls under way
    conn.execute(
        "UPDATE host_slots SET feed_id = ?, lease_owner = ?, lease_until = ?"
        " WHERE host = ? AND slot = ?",
        (feed_id, instance, until, host, row[0]),
    )
    return True


def release_feed(conn: Connection, feed_id: str, instance: str) -> None:
    """End ``instance``'s lease of the feed and of its host slot (after its poll)."""
    with transaction(conn):
        conn.execute(
            "UPDATE feeds SET lease_owner = NULL, lease_until = NULL"
            " WHERE id = ? AND lease_owner = ?",
            (feed_id, instance),
        )
        conn.execute(
            "UPDATE host_slots SET feed_id = NULL, lease_owner = NULL, lease_until = NULL"
            " WHERE feed_id = ? AND lease_owner = ?",
            (feed_id, instance),
        )


def retry_at(conn: Connection, feed_id: str, now: datetime, host_wait: timedelta) -> datetime:
    """When to try again for a feed ``claim_feeds`` did not give us: at its next poll time
    if another instance has just polled it; when the holder's lease ends if one polls it
    now (the holder, alive, claims it again itself at its next poll time; dead, it has
    left the feed to us by then); else (its host had no free slot) after ``host_wait``.

    Raises:
        StorageError: a database error.
    """
    row = conn.execute(
        "SELECT next_poll, lease_until FROM feeds WHERE id = ?", (feed_id,)
    ).fetchone()
    if row is not None:
        next_poll, lease_until = from_db(row[0]), from_db(row[1])
        if next_poll is not None and next_poll > now:
            return next_poll
        if lease_until is not None and lease_until > now:
            return lease_until
    return now + host_wait


def claim_outbox(
    conn: Connection, kind: str, instance: str, now: datetime, lease: timedelta, limit: int
) -> list[OutboxEntry]:
    """Lease to ``instance`` for ``lease`` the pending rows of ``kind`` due at ``now`` that
    no other instance holds, oldest first, at most ``limit``.  Rows ``instance`` holds
    already come again: a service sends one round at a time (the outbox worker's lock),
    so they are not in flight, and a one-shot ``monitor deliver`` (instance ``local``)
    takes back at once what a crashed one left.

    Raises:
        StorageError: a database error (nothing is claimed).
    """
    t_now = to_db(now)
    own_session(conn, instance)
    with transaction(conn):
        rows = conn.execute(
            "UPDATE outbox SET lease_owner = ?, lease_until = ? WHERE id IN ("
            " SELECT id FROM outbox WHERE status = ? AND kind = ? AND due <= ?"
            f" AND ({_FREE} OR lease_owner = ?)"
            " ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED) RETURNING *",
            (
                instance,
                to_db(now + lease),
                _outbox.PENDING,
                kind,
                t_now,
                t_now,
                instance,
                limit,
            ),
        ).fetchall()
    return sorted((_outbox._entry(r) for r in rows), key=lambda e: e.id)


def renew_outbox(
    conn: Connection, ids: Sequence[int], instance: str, lease_until: datetime
) -> set[int]:
    """Extend to ``lease_until`` ``instance``'s lease of those of ``ids`` it still holds
    and has not sent; returns them.  The outbox worker calls it before each message
    (issue 11): a send round longer than one lease (a backlog held back by Telegram's
    per-chat limits) keeps its rows, and a row another instance took over meanwhile (its
    lease had run out, or this instance's session was gone) is left to that one.

    Raises:
        StorageError: a database error.
    """
    if not ids:
        return set()
    own_session(conn, instance)
    rows = conn.execute(
        "UPDATE outbox SET lease_until = ? WHERE id = ANY(?) AND lease_owner = ?"
        " AND status = ? RETURNING id",
        (to_db(lease_until), list(ids), instance, _outbox.PENDING),
    ).fetchall()
    return {int(r[0]) for r in rows}


def lock_key(name: str) -> int:
    """The advisory lock key of a singleton job: 64 bits of SHA-256("monitor:" + name)."""
    digest = hashlib.sha256(f"monitor:singleton:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class Elections:
    """Singleton jobs held as session advisory locks on a connection of their own.

    A lock stays held while this connection lives, so the leader keeps its jobs without
    asking again; when its process dies (or the server restarts) the session ends and the
    lock is free for the next instance that asks.  A broken connection is reopened at the
    next question, and every job is asked for again from scratch.
    """

    def __init__(self, url: str, instance: str) -> None:
        self.url = url
        self.instance = instance
        self._conn: Connection | None = None
        self.held: set[str] = set()

    def leads(self, name: str) -> bool:
        """Whether this instance leads ``name`` (elected now if the lock is free).  A
        database error is "no" (the job waits for the next round), logged once."""
        try:
            conn = self._connection()
            if name in self.held:
                conn.execute("SELECT 1").fetchone()  # still our session: still ours
                return True
            row = conn.execute("SELECT pg_try_advisory_lock(?)", (lock_key(name),)).fetchone()
        except StorageError as exc:
            if self._conn is not None or self.held:
                log.warning("elections: %s; this instance leads nothing until it is back", exc)
            self._drop()
            return False
        if row[0]:
            self.held.add(name)
            log.warning("instance %s now runs the singleton job %s", self.instance, name)
            return True
        return False

    def _connection(self) -> Connection:
        conn = self._conn
        raw = getattr(conn, "raw", None)
        if conn is None or raw is None or raw.closed or raw.broken:
            self._drop()
            from monitor.store import pg

            conn = self._conn = pg.open_connection(self.url, "monitor-elections")
        return conn

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):  # a broken connection may not close cleanly
                self._conn.close()
        self._conn = None
        self.held.clear()

    def close(self) -> None:
        """Give up every job (the session ends: another instance may take them)."""
        self._drop()
