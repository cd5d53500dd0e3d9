"""``monitor db copy``: move the whole state between engines (issue 11).

Every table the migrations made is copied row for row with its ids (articles, identity
keys, stories, matches, the outbox with its sent and pending rows, destinations,
subscribers, flags, unsubscribes), so the target knows every article the source knew and a
poll after the move finds nothing new and sends nothing again.  The search indexes are not
copied: each engine's triggers fill its own as the rows arrive.  The target must be empty
(freshly migrated); on PostgreSQL the identity sequences are then moved past the copied ids.
"""

from __future__ import annotations

from collections.abc import Callable

from monitor.errors import StorageError
from monitor.store import Store, tallies
from monitor.store.engine import Connection

TABLES = (
    "feeds",
    "articles",
    "seen_keys",
    "matches",
    "outbox",
    "destinations",
    "subscriptions",
    "subscribers",
    "service_flags",
    "stories",
    "story_articles",
    "unsubscribed",
)
"""Every table of state, parents first (``articles_search`` refers to ``articles``).
``meta`` is not copied: both sides must already agree on it (``db.check_identity``);
nor are ``tallies`` and ``article_days``: they are counted again from the copied rows."""

IDENTITY_TABLES = ("articles", "outbox", "stories")
"""Tables whose ``id`` the engine numbers (an identity column on PostgreSQL)."""

BATCH = 2000


def _columns(conn: Connection, table: str) -> list[str]:
    rows = conn.execute(f"SELECT * FROM {table} WHERE 1 = 0")
    description = getattr(rows, "description", None) or ()
    return [str(d[0]) for d in description]


def _count(conn: Connection, table: str) -> int:
    return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def copy_state(
    source: Store, target: Store, progress: Callable[[str, int], None] | None = None
) -> dict[str, int]:
    """Copy every table of ``source`` into the empty ``target``, in one transaction of
    the target.  Returns the rows copied per table.

    Raises:
        StorageError: the target already holds state, or a database error.
    """
    if source.where == target.where:
        raise StorageError(f"storage: db copy: the source and the target are both {source.where}")
    busy = [t for t in TABLES if _count(target.conn, t)]
    if busy:
        raise StorageError(
            f"storage: db copy: the target {target.where} is not empty ({', '.join(busy)} "
            "hold rows); copy into a new, empty database"
        )
    copied: dict[str, int] = {}
    with target.transaction() as out:
        for table in TABLES:
            columns = _columns(source.conn, table)
            wanted = set(_columns(out, table))
            missing = wanted.difference(columns)
            if missing:
                raise StorageError(
                    f"storage: db copy: {table} lacks {', '.join(sorted(missing))} in "
                    f"{source.where}"
                )
            names = ", ".join(columns)
            marks = ", ".join("?" * len(columns))
            insert = f"INSERT INTO {table} ({names}) VALUES ({marks})"
            order = "id" if "id" in columns else "1"
            rows = source.conn.execute(f"SELECT {names} FROM {table} ORDER BY {order}")
            n = 0
            batch: list[tuple[object, ...]] = []
            for row in rows:
                batch.append(tuple(row))
                if len(batch) >= BATCH:
                    out.executemany(insert, batch)
                    n += len(batch)
                    batch = []
            if batch:
                out.executemany(insert, batch)
                n += len(batch)
            copied[table] = n
            if progress is not None:
                progress(table, n)
        # the dashboard's counts are kept by the store's writers, not by these INSERTs
        tallies.rebuild(out)
        if target.engine == "postgresql":
            for table in IDENTITY_TABLES:
                # Inserting explicit ids does not move an identity's sequence.
                out.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                    f" COALESCE(MAX(id), 0) + 1, false) FROM {table}"
                )
    return copied
