"""What the store's modules need from a connection, on either engine.

The functions in ``articles``, ``feeds``, ``outbox``... take a connection and speak the
SQL both engines understand (``?`` placeholders, ``ON CONFLICT``, ``RETURNING``, text
timestamps).  SQLite's ``sqlite3.Connection`` is that connection as it is; on PostgreSQL
``monitor.store.pg.PgConnection`` adapts psycopg to the same few members (issue 11).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any, Literal, Protocol

Dialect = Literal["sqlite", "postgresql"]


class Cursor(Protocol):
    """The result of one statement: rows that index by position and by column name."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """The members of ``sqlite3.Connection`` the store uses (``PgConnection`` has them too)."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Cursor: ...

    @property
    def total_changes(self) -> int: ...

    @property
    def in_transaction(self) -> bool: ...

    def close(self) -> None: ...


def dialect(conn: object) -> Dialect:
    """Which engine ``conn`` talks to (migrations that differ between engines ask)."""
    return "postgresql" if getattr(conn, "dialect", None) == "postgresql" else "sqlite"


def pipelined(conn: object) -> contextlib.AbstractContextManager[None]:
    """A block whose statements go to the server without waiting for each answer
    (``PgConnection.pipeline``: one round trip for a poll's writes, issue 11); on SQLite,
    which answers in-process, the statements run one by one as always."""
    pipeline = getattr(conn, "pipeline", None)
    return pipeline() if pipeline is not None else contextlib.nullcontext()


Row = Any
"""A result row: ``sqlite3.Row`` or ``pg.Row`` (``row[0]``, ``row["name"]``, ``dict(row)``)."""
