"""Storage: the only package that speaks SQL.

``Store`` wraps one connection: SQLite (WAL) under the state directory by default, or
PostgreSQL when a ``postgresql://`` URL is given (``--database`` or
``MONITOR_DATABASE_URL``, which ``monitor.settings`` reads and the caller passes;
``monitor.store.pg``).  The functions in ``feeds`` and
``articles`` take a connection so that several can share one transaction (an article,
its matches and its outbox rows commit together).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from monitor.errors import StorageError
from monitor.models import FeedSpec, FeedState, Match, NewArticle, OutboxEntry, Target
from monitor.route import Subscription
from monitor.store import articles as _articles
from monitor.store import claims as _claims
from monitor.store import feeds as _feeds
from monitor.store import leases as _leases
from monitor.store import outbox as _outbox
from monitor.store import stories as _stories
from monitor.store import subscribers as _subscribers
from monitor.store import unsubscribe as _unsubscribe
from monitor.store.articles import StoredArticle
from monitor.store.db import (
    BUSY_TIMEOUT,
    CACHE_MIB,
    DB_NAME,
    cache_for,
    check_identity,
    connect,
    storage_error,
    transaction,
)
from monitor.store.engine import Connection, Dialect, pipelined
from monitor.store.lock import StateLock
from monitor.store.outbox import DestinationRow, FailedRow, OutboxStats
from monitor.store.stories import StoryRow, StoryRows
from monitor.update import EntryIdentity, FeedIntent, FeedSnapshot

__all__ = [
    "DestinationRow",
    "FailedRow",
    "OutboxStats",
    "StateLock",
    "Store",
    "StoredArticle",
    "cache_for",
    "describe_database",
    "ensure_state_dir",
]


class _Batch:
    """What an open ``Store.batch`` knows of its transaction."""

    def __init__(self) -> None:
        self.broken: StorageError | None = None
        """Set when SQLite rolled the whole transaction back under a savepoint (a full
        disk): the batch can no longer commit anything."""


@contextmanager
def savepoint(conn: Connection, batch: _Batch, path: Path) -> Iterator[Connection]:
    """One ``transaction`` inside a ``Store.batch``: its writes, or none of them."""
    try:
        conn.execute("SAVEPOINT apply")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK TO apply")
                conn.execute("RELEASE apply")
            raise
        conn.execute("RELEASE apply")
    except sqlite3.Error as exc:
        error = storage_error(exc, path)
        if not conn.in_transaction:  # SQLite rolled back the batch itself (SQLITE_FULL)
            batch.broken = error
        raise error from exc
    finally:
        if batch.broken is None and not conn.in_transaction:
            batch.broken = StorageError("storage: the batch's transaction was rolled back")


def describe_database(url: str) -> str:
    """``monitor check``'s line on a PostgreSQL database (nothing is migrated).

    Raises:
        StorageError: it cannot be reached or used (see ``Store``).
    """
    _check_url(url)
    from monitor.store import pg

    return pg.probe(url)


def _check_url(url: str) -> None:
    if not url.startswith(("postgresql://", "postgres://")):
        raise StorageError(
            "storage: the database URL must start with postgresql:// (got "
            f"{url.split(':', 1)[0]}:...); leave MONITOR_DATABASE_URL / --database unset "
            "for SQLite in the state directory"
        )


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
    """The state database.  Not thread-safe: one per thread or task group.

    ``database_url``, a ``postgresql://`` URL, opens PostgreSQL, with one connection;
    None or ``""``: SQLite in ``<state_dir>/monitor.sqlite3``.  The store never reads
    the environment: the caller passes ``Settings.database_url`` (``monitor.settings``).
    """

    def __init__(
        self,
        state_dir: str | os.PathLike[str],
        *,
        database_url: str | None = None,
        busy_timeout: float = BUSY_TIMEOUT,
        cache_mib: int = CACHE_MIB,
    ) -> None:
        self.state_dir = ensure_state_dir(state_dir)
        self.path = self.state_dir / DB_NAME
        url = database_url or None
        self.engine: Dialect = "sqlite"
        self.url: str | None = url
        """The PostgreSQL URL (None: SQLite), for the dashboard's reader of the same data."""
        self.conn: Connection
        if url is None:
            self.conn = connect(self.path, busy_timeout=busy_timeout, cache_mib=cache_mib)
            self.where = str(self.path)
            return
        _check_url(url)
        try:
            from monitor.store import pg
        except ImportError as exc:
            raise StorageError(
                "storage: PostgreSQL needs psycopg: pip install 'monitor[postgres]'"
            ) from exc
        self.engine = "postgresql"
        self.where = f"PostgreSQL at {pg.server_of(url)}"
        self.conn = pg.connect(url)
        check_identity(self.conn, self.where)

    _elections: _leases.Elections | None = None
    """PostgreSQL's singleton elections, opened at the first ``singleton`` call."""

    def close(self) -> None:
        if self._elections is not None:
            self._elections.close()
        self.conn.close()

    def release_memory(self) -> None:
        """Give back the connection's page cache (SQLite's ``PRAGMA shrink_memory``; nothing
        on PostgreSQL), before a fork."""
        if self.engine == "sqlite":
            with self._reading() as conn:
                conn.execute("PRAGMA shrink_memory")

    @property
    def reconnects(self) -> int:
        """How many times the connection to PostgreSQL was lost and reopened (0 on SQLite)."""
        return int(getattr(self.conn, "reconnects", 0))

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    _batch: _Batch | None = None
    """The open ``batch``, if any."""

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One write transaction (``BEGIN IMMEDIATE``), rolled back on any exception;
        inside ``batch``, a savepoint of the batch's transaction.

        Raises:
            StorageError: a database error, said in words an admin can act on.
        """
        batch = self._batch
        if batch is not None and self.engine == "postgresql":
            # Part of the batch's one transaction, in its pipeline: a failure here ends
            # the batch (the server skips the rest of a pipeline after an error), which
            # then cannot commit; the caller writes its parts again one by one.
            try:
                yield self.conn
            except BaseException as exc:
                if batch.broken is None:
                    batch.broken = (
                        exc
                        if isinstance(exc, StorageError)
                        else StorageError(f"storage: a write of the batch failed: {exc!r}")
                    )
                raise
            return
        if batch is not None:
            with savepoint(self.conn, batch, self.path) as conn:
                yield conn
            return
        with transaction(self.conn) as conn:
            yield conn

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group commit: every ``transaction`` in the block is a savepoint of one
        transaction, committed when the block ends.  A failed ``transaction`` rolls back
        its own writes only; a failed commit, nothing of the block is written.

        Issue 15: a cold cycle committed once per feed, and each commit flushed a segment
        of the full-text index and wrote its dirty pages to the WAL again (6.4 GB written
        for a 0.63 GB file at 10,000 feeds).

        On PostgreSQL the block is one transaction sent in one pipeline (issue 11: a
        commit, and a wait for the server, per poll).  A ``transaction`` in it is no
        savepoint: after a failed statement the server skips the rest of the pipeline,
        so a failed ``transaction`` fails the whole block, which raises when it ends and
        writes nothing (``Poller`` then writes each poll alone).

        Raises:
            StorageError: the commit failed, or (PostgreSQL) a ``transaction`` of the
                block failed; what the block's transactions wrote is gone (the caller
                forgets the stories it filed meanwhile).
        """
        if self._batch is not None:
            yield
            return
        batch = self._batch = _Batch()
        try:
            with pipelined(self.conn), transaction(self.conn):
                yield
                if batch.broken is not None:
                    raise batch.broken
        finally:
            self._batch = None

    @contextmanager
    def story_rows(self) -> Iterator[StoryRows]:
        """The story tables in one write transaction (``monitor.dedupe`` outside a poll).

        Raises:
            StorageError: a database error, said in words an admin can act on.
        """
        with self.transaction() as conn:
            yield StoryRows(conn)

    @contextmanager
    def story_reader(self) -> Iterator[StoryRows]:
        """The story tables to read, outside a transaction (``StoryIndex.plan`` before
        ``apply``); nothing is written through them.

        Raises:
            StorageError: a database error, said in words an admin can act on.
        """
        with self._reading() as conn:
            yield StoryRows(conn)

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        # A read outside a transaction: the driver's errors become StorageError too
        # (PostgreSQL's already are: ``pg.PgConnection``).
        try:
            yield self.conn
        except sqlite3.Error as exc:
            raise storage_error(exc, self.path) from exc

    # feeds
    def sync_feeds(self, specs: Sequence[FeedSpec], now: datetime) -> None:
        with self.transaction() as conn:
            _feeds.sync_feeds(conn, specs, now)

    def feed_states(self) -> dict[str, FeedState]:
        with self._reading() as conn:
            return _feeds.feed_states(conn)

    def feed_state(self, feed_id: str) -> FeedState | None:
        with self._reading() as conn:
            return _feeds.feed_state(conn, feed_id)

    def save_feed_state(self, state: FeedState) -> None:
        if self.engine == "postgresql":
            # One UPDATE is its own transaction in autocommit: no BEGIN and COMMIT to
            # send (a cycle of 304s is this statement a feed, issue 11).
            _feeds.save_feed_state(self.conn, state)
            return
        with self.transaction() as conn:
            _feeds.save_feed_state(conn, state)

    # articles
    def known_keys(self, feed_id: str, keys: Sequence[str]) -> frozenset[str]:
        """Which of these entry keys were seen in this feed before."""
        with self._reading() as conn:
            return _articles.known_keys(conn, feed_id, keys)

    def snapshot(self, feed_id: str, identities: Sequence[EntryIdentity]) -> FeedSnapshot:
        """What the database knows about one poll's entries (``monitor.update``)."""
        with self._reading() as conn:
            return _articles.snapshot(conn, feed_id, identities)

    def apply(self, intent: FeedIntent) -> tuple[NewArticle, ...]:
        """Write what ``monitor.update.decide`` decided, in one transaction: articles and
        keys, each new article's story as ``intent.stories`` chose it (``StoryIndex.plan``;
        merges, its row, edits of the story's alerts), its matches and outbox rows (with
        the new article and story ids), the feed's state.  Decides nothing.  Returns the
        new articles with their ids.

        Raises:
            StorageError: a database error (disk full, unreadable, locked); nothing is
                written.
        """
        now = intent.now
        plan = intent.stories
        # On PostgreSQL the writes go out in one pipeline, BEGIN and COMMIT with them
        # (issue 11: a round trip per statement made a cold cycle twice as slow as on
        # SQLite); a read inside waits for its answer.
        with pipelined(self.conn), self.transaction() as conn:
            new = _articles.write_articles(conn, intent)
            ids = [item.id for item in new]
            if plan is not None and plan.unindex_before is not None:
                _stories.unindex(conn, plan.unindex_before)
            for i, (entry, item) in enumerate(zip(intent.new, new, strict=True)):
                story_id = None
                choice = plan.choices[i] if plan is not None else None
                if choice is not None:
                    story_id, merged = _stories.record(
                        conn,
                        item.id,
                        choice,
                        ids,
                        feed_id=item.article.feed_id,
                        title=item.article.title,
                        seen=now,
                    )
                    if merged:
                        _outbox.merge_story_rows(conn, story_id, merged)
                    if choice.relation != "first":
                        # A later source of a story already alerted: edit those alerts.
                        _outbox.enqueue_story_updates(conn, story_id, item.id, now)
                if not entry.matches:
                    continue
                _outbox.record_matches(conn, item.id, entry.matches, now)
                routes = [replace(r, article_id=item.id, story_id=story_id) for r in entry.routes]
                _outbox.enqueue(conn, routes, now)
            if intent.state is not None:
                _feeds.save_feed_state(conn, intent.state)
        return tuple(new)

    def iter_articles(
        self, since: datetime | None = None, feed_id: str | None = None
    ) -> Iterator[StoredArticle]:
        with self._reading() as conn:
            yield from _articles.iter_articles(conn, since, feed_id)

    def get_articles(self, ids: Sequence[int]) -> dict[int, StoredArticle]:
        with self._reading() as conn:
            return _articles.get_articles(conn, ids)

    def count_articles(self) -> int:
        with self._reading() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0])

    # stories
    def stories_since(self, since: datetime) -> list[StoryRow]:
        """Stories with an article seen at or after ``since``, newest first."""
        with self._reading() as conn:
            return _stories.stories_since(conn, since)

    # outbox and destinations
    def outbox_stats(self) -> OutboxStats:
        """Outbox rows per "kind:status" and the oldest pending alert's creation time."""
        with self._reading() as conn:
            return _outbox.outbox_stats(conn)

    def destination_rows(self) -> list[DestinationRow]:
        with self._reading() as conn:
            return _outbox.destination_rows(conn)

    def recent_failures(self, limit: int = 10) -> list[FailedRow]:
        with self._reading() as conn:
            return _outbox.recent_failures(conn, limit)

    # claims and elections (several instances; trivial on SQLite: see store/claims.py)
    def claim_feeds(
        self,
        instance: str,
        now: datetime,
        lease_until: datetime,
        limit: int,
        feed_ids: Sequence[str] | None = None,
        per_host: int | None = None,
        host_until: datetime | None = None,
    ) -> list[str]:
        """The feeds ``instance`` polls now, at most ``limit``: of ``feed_ids`` (the feeds
        its schedule found due), or else of the feeds due at ``now``, those that no other
        instance holds, leased to ``instance`` until ``lease_until``; with ``per_host``,
        only while fewer than ``per_host`` feeds of the same host are leased (politeness
        across instances, ``monitor.store.leases``), the host's slot leased until
        ``host_until`` (default ``lease_until``).  ``release_feed`` after the poll.

        Raises:
            StorageError: a database error.
        """
        if self.engine == "postgresql":
            return _leases.claim_feeds(
                self.conn, instance, now, lease_until, limit, feed_ids, per_host, host_until
            )
        with self._reading() as conn:
            return _claims.claim_feeds(conn, now, limit, feed_ids)

    def release_feed(self, feed_id: str, instance: str) -> None:
        """End ``instance``'s lease of a feed (its poll is written).  Nothing on SQLite.

        Raises:
            StorageError: a database error.
        """
        if self.engine == "postgresql":
            _leases.release_feed(self.conn, feed_id, instance)

    def claim_retry_at(self, feed_id: str, now: datetime, host_wait: timedelta) -> datetime:
        """When to ask again for a feed ``claim_feeds`` did not give (``leases.retry_at``).

        Raises:
            StorageError: a database error.
        """
        return _leases.retry_at(self.conn, feed_id, now, host_wait)

    def claim_outbox(
        self, kind: str, instance: str, now: datetime, lease: timedelta, limit: int = 1000
    ) -> list[OutboxEntry]:
        """The pending outbox rows of ``kind`` due at ``now`` that ``instance`` sends now,
        oldest first, at most ``limit``; another instance does not get them for ``lease``
        (or until they are marked sent or rescheduled).

        Raises:
            StorageError: a database error.
        """
        if self.engine == "postgresql":
            return _leases.claim_outbox(self.conn, kind, instance, now, lease, limit)
        with self._reading() as conn:
            return _claims.claim_outbox(conn, kind, now, limit)

    def renew_outbox(self, ids: Sequence[int], instance: str, lease_until: datetime) -> set[int]:
        """Of ``ids`` (rows ``claim_outbox`` gave ``instance``), those it still holds and
        has not sent, their lease extended to ``lease_until``; on SQLite, where this
        process is the only instance, all of them.

        Raises:
            StorageError: a database error.
        """
        if self.engine == "postgresql":
            return _leases.renew_outbox(self.conn, ids, instance, lease_until)
        return set(ids)

    def singleton(self, name: str, instance: str) -> bool:
        """Whether ``instance`` leads for the singleton job ``name`` (digests, health,
        retention, quick-check, bot): elected at the first call, held until the instance
        ends.  On SQLite always true: the state lock already makes this the only instance.
        On PostgreSQL a session advisory lock on a connection of its own
        (``leases.Elections``); a database error answers False.
        """
        if self.url is None:
            return True
        if self._elections is None:
            self._elections = _leases.Elections(self.url, instance)
        return self._elections.leads(name)

    def next_due(self, kinds: Sequence[str]) -> datetime | None:
        """When the earliest pending outbox row of these kinds falls due (None: none); on
        PostgreSQL a row a live instance holds falls due when its lease ends."""
        live = _leases.LIVE if self.engine == "postgresql" else None
        with self._reading() as conn:
            return _outbox.next_due(conn, kinds, live)

    def feeds_created(self) -> dict[str, datetime]:
        """When each feed was first configured."""
        with self._reading() as conn:
            return _feeds.created_times(conn)

    def subscriptions(
        self, chat_id: str | None = None, topic: int | Literal["all"] | None = "all"
    ) -> list[Subscription]:
        """Telegram subscriptions (of one chat, in one ``topic`` or in all; or everyone's)."""
        with self._reading() as conn:
            return _subscribers.subscriptions(conn, chat_id, topic)

    def flag(self, name: str) -> str | None:
        """A ``service_flags`` value (None: never set)."""
        with self._reading() as conn:
            return _subscribers.get_flag(conn, name)

    def is_unsubscribed(self, target: Target) -> bool:
        """True when this e-mail destination's address followed its unsubscribe link."""
        with self._reading() as conn:
            return _unsubscribe.is_unsubscribed(conn, target)

    # outbox reads for delivery and the bot (``monitor.store.outbox``)
    def outbox_entry(self, outbox_id: int) -> OutboxEntry | None:
        with self._reading() as conn:
            return _outbox.entry(conn, outbox_id)

    def due_entries(self, kind: str, now: datetime, limit: int = 1000) -> list[OutboxEntry]:
        """Pending rows of ``kind`` whose next attempt is due, oldest first."""
        with self._reading() as conn:
            return _outbox.due_entries(conn, kind, now, limit)

    def pending_for_target(
        self, kind: str, target: Target, now: datetime | None = None
    ) -> list[OutboxEntry]:
        with self._reading() as conn:
            return _outbox.pending_for_target(conn, kind, target, now)

    def pending_targets(self, kind: str) -> list[Target]:
        with self._reading() as conn:
            return _outbox.pending_targets(conn, kind)

    def sent_with(self, target: Target, remote_id: str) -> list[OutboxEntry]:
        """The alert rows delivered in one Telegram message (to re-render it for an edit)."""
        with self._reading() as conn:
            return _outbox.sent_with(conn, target, remote_id)

    def destination_row(self, target: Target) -> DestinationRow | None:
        with self._reading() as conn:
            return _outbox.destination_row(conn, target)

    def matches_for(self, article_ids: Sequence[int]) -> dict[int, list[Match]]:
        with self._reading() as conn:
            return _outbox.matches_for(conn, article_ids)

    def stories_of(self, article_ids: Sequence[int]) -> dict[int, int]:
        """article id -> story id, for the articles that belong to a story."""
        with self._reading() as conn:
            return _outbox.stories_of(conn, article_ids)

    def story_members(self, story_id: int) -> list[tuple[int, str, str]]:
        """``(article_id, feed_id, relation)`` of a story's articles, in the order they came."""
        with self._reading() as conn:
            return _stories.members(conn, story_id)

    def recent_matched_articles(
        self,
        watchlists: Sequence[str],
        *,
        matched_since: datetime,
        published_since: datetime | None = None,
        limit: int = 10,
    ) -> tuple[list[int], int]:
        """See ``monitor.store.outbox.recent_matched_articles``."""
        with self._reading() as conn:
            return _outbox.recent_matched_articles(
                conn,
                watchlists,
                matched_since=matched_since,
                published_since=published_since,
                limit=limit,
            )

    def prune(
        self, now: datetime, keep_text_before: datetime, keep_keys_before: datetime
    ) -> tuple[int, int]:
        """Retention: article text, then identities (see ``articles.prune``); delivered or
        failed outbox rows, and matches of forgotten articles, go with the text."""
        with self.transaction() as conn:
            result = _articles.prune(conn, now, keep_text_before, keep_keys_before)
            _outbox.prune(conn, keep_text_before)
            return result
