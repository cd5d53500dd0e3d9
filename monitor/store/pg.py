"""The PostgreSQL engine (issue 11): psycopg 3 behind the connection the store's modules use.

``PgConnection`` gives psycopg the few members of ``sqlite3.Connection`` the store calls
(``execute``, ``executemany``, ``total_changes``, ``in_transaction``), so every module
runs unchanged on both engines: ``?`` placeholders become ``%s`` (a literal ``%`` becomes
``%%``), rows index by position and by column name like ``sqlite3.Row``, and every driver
error becomes a ``StorageError`` that names the server and says what to do, never the
password of the URL.

psycopg is imported only here, and this module only when a ``postgresql://`` URL is given,
so the SQLite default neither needs nor loads it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import pq

from monitor.errors import StorageError
from monitor.store.migrations import MIGRATIONS, Migration

log = logging.getLogger(__name__)

HINT = "check MONITOR_DATABASE_URL / --database"

SCHEMA_LOCK = 0x6D6F6E69746F72  # "monitor": the advisory lock held while migrating
"""Two instances starting together against a new database: one migrates, the other waits."""

CONNECT_TIMEOUT = 10

SESSION_SETTINGS = (
    "SELECT set_config('plan_cache_mode', 'force_custom_plan', false),"
    " CASE WHEN source IN ('default', 'configuration file')"
    " THEN set_config('synchronous_commit', 'off', false) ELSE setting END"
    " FROM pg_settings WHERE name = 'synchronous_commit'"
)
"""Set on every connection monitor opens (issue 11, docs/deploy.md):

* ``plan_cache_mode = force_custom_plan``: psycopg prepares a statement on the server
  after its fifth run, and PostgreSQL then keeps a generic plan made when the table was
  small.  The identity lookups of a first cycle were planned on an empty ``articles``
  table, kept a sequential scan, and each poll scanned every article stored before it
  (56 s of server CPU in a cold cycle of 1,000 feeds, until autovacuum's ANALYZE).
  Planning each run with its values costs tens of microseconds a statement.
* ``synchronous_commit = off``, SQLite's ``synchronous=NORMAL`` guarantee: a commit
  returns before its WAL record is flushed; a crash of the server (not of monitor) loses
  at most the last few hundred milliseconds of commits and never corrupts anything.
  Only when nobody chose otherwise: a ``synchronous_commit`` in the URL
  (``?options=-c%20synchronous_commit%3Don``), or set for the role or the database
  (``ALTER ROLE ... SET``), is kept."""


def mask_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (for messages and logs)."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.rsplit("@", 1)
        user = netloc[0].split(":", 1)[0]
        return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))
    except ValueError:
        return "<unparsable database URL>"


def server_of(url: str) -> str:
    """``host:port`` of a ``postgresql://`` URL (what an admin checks first)."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return mask_url(url)
    host = str(info.get("host") or info.get("hostaddr") or "localhost")
    return f"{host}:{info.get('port') or 5432}"


class Row:
    """A result row: ``row[0]``, ``row["name"]``, unpacking and ``dict(row)``, as
    ``sqlite3.Row`` allows."""

    __slots__ = ("_index", "_values")

    def __init__(self, values: Sequence[Any], index: dict[str, int]) -> None:
        self._values = values
        self._index = index

    def __getitem__(self, key: int | str) -> Any:
        if isinstance(key, str):
            return self._values[self._index[key]]
        return self._values[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def keys(self) -> list[str]:
        return list(self._index)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Row):
            return tuple(self._values) == tuple(other._values)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self._values))

    def __repr__(self) -> str:
        return f"Row({dict(zip(self._index, self._values, strict=True))!r})"


def _row_factory(cursor: psycopg.Cursor[Any]) -> Any:
    names = [c.name for c in cursor.description or ()]
    index = {name: i for i, name in enumerate(names)}

    def make(values: Sequence[Any]) -> Row:
        return Row(values, index)

    return make


@functools.lru_cache(maxsize=1024)
def _sql(sql: str) -> str:
    """``?`` placeholders as psycopg's ``%s``, a literal ``%`` as ``%%`` (quoted text kept)."""
    out = []
    for i, part in enumerate(re.split(r"('(?:[^']|'')*')", sql)):
        if i % 2:  # a string literal: only its % needs escaping
            out.append(part.replace("%", "%%"))
        else:
            out.append(part.replace("%", "%%").replace("?", "%s"))
    return "".join(out)


@functools.lru_cache(maxsize=1024)
def _writes(sql: str) -> bool:
    return sql.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE")


def _params(params: Any) -> Any:
    # SQLite stores a bool as 0/1; PostgreSQL would refuse a boolean in a BIGINT column.
    if isinstance(params, dict):
        return params
    return [int(p) if p is True or p is False else p for p in params]


class PgConnection:
    """A psycopg connection speaking the store's SQL (see the module docstring).

    Autocommit: a statement outside ``BEGIN`` ... ``COMMIT`` is its own transaction, as
    with ``sqlite3`` and ``isolation_level=None``.
    """

    dialect = "postgresql"

    def __init__(self, raw: psycopg.Connection[Any], url: str, name: str = "monitor") -> None:
        self.raw = raw
        self.url = url
        self.name = name
        """Its ``application_name`` (``pg_stat_activity``), kept when it reconnects."""
        self.server = server_of(url)
        self._changes = 0
        self.reconnects = 0
        """How many times the connection was lost and opened again (``/healthz``)."""
        self._pipeline: psycopg.Pipeline | None = None
        self._unanswered: list[psycopg.Cursor[Any]] = []
        """Writes sent in the pipeline whose row counts have not been added yet."""

    @contextlib.contextmanager
    def pipeline(self) -> Iterator[None]:
        """Send the statements of the block without waiting for each one's answer
        (psycopg's pipeline mode): a poll's writes cost one round trip to the server, not
        one per statement.  A statement whose rows are read (``fetchall``) waits for its
        answer then, so reads in the block still work; ``total_changes`` waits for every
        write sent.  An error of any statement is raised, as a ``StorageError``, by the
        first read after it or at the end of the block.  Nested blocks join the outer one.

        Raises:
            StorageError: a statement of the block failed.
        """
        if self._pipeline is not None:
            yield
            return
        try:
            with self._live().pipeline() as pipeline:
                self._pipeline = pipeline
                try:
                    yield
                finally:
                    self._pipeline = None
        except psycopg.Error as exc:
            self._end_failed_transaction()
            raise storage_error(exc, self.url) from exc
        except BaseException:
            self._end_failed_transaction()
            raise
        finally:
            self._count_answered()

    def _end_failed_transaction(self) -> None:
        # A statement of the block failed after a BEGIN sent in it: the server skipped
        # the rest of the block, its COMMIT too, and the transaction waits for a ROLLBACK.
        raw = self.raw
        if not raw.closed and raw.info.transaction_status == pq.TransactionStatus.INERROR:
            with contextlib.suppress(psycopg.Error):
                raw.execute("ROLLBACK")

    def _count_answered(self) -> None:
        for cur in self._unanswered:
            if cur.rowcount > 0:
                self._changes += cur.rowcount
        self._unanswered.clear()

    def _count(self, sql: str, cur: psycopg.Cursor[Any]) -> None:
        if not _writes(sql):
            return
        if self._pipeline is not None:
            self._unanswered.append(cur)  # its row count arrives with the answer
        elif cur.rowcount > 0:
            self._changes += cur.rowcount

    def _live(self) -> psycopg.Connection[Any]:
        """The connection, opened again when the last one was lost (a server restart, a
        failover): the statement that met the loss failed with a ``StorageError``, and
        its transaction with it; the next one runs on a new connection."""
        if self.raw.closed and self._pipeline is None:
            self.raw = _open(self.url, self.name)
            self.reconnects += 1
            log.warning("storage: reconnected to PostgreSQL at %s", self.server)
        return self.raw

    def execute(self, sql: str, parameters: Any = None, /) -> psycopg.Cursor[Any]:
        try:
            raw = self._live()
            if parameters is None:
                cur = raw.execute(sql.encode())  # DDL and literals: no placeholders
            else:
                cur = raw.execute(_sql(sql), _params(parameters))
        except psycopg.Error as exc:
            raise storage_error(exc, self.url) from exc
        self._count(sql, cur)
        return cur

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> psycopg.Cursor[Any]:
        try:
            cur = self._live().cursor()
            cur.executemany(_sql(sql), [_params(p) for p in parameters])
        except psycopg.Error as exc:
            raise storage_error(exc, self.url) from exc
        self._count(sql, cur)
        return cur

    @property
    def total_changes(self) -> int:
        """Rows inserted, updated or deleted through this connection (as SQLite counts);
        in a pipeline, once the writes sent so far are answered."""
        if self._pipeline is not None and self._unanswered:
            try:
                self._pipeline.sync()
            except psycopg.Error as exc:
                raise storage_error(exc, self.url) from exc
            self._count_answered()
        return self._changes

    @property
    def in_transaction(self) -> bool:
        # A lost connection has no transaction left to roll back.
        if self.raw.closed:
            return False
        return self.raw.info.transaction_status != pq.TransactionStatus.IDLE

    def close(self) -> None:
        self.raw.close()


def _open(url: str, name: str = "monitor") -> psycopg.Connection[Any]:
    try:
        raw = psycopg.connect(
            url,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT,
            application_name=name,
            row_factory=_row_factory,
        )
    except psycopg.Error as exc:
        raise storage_error(exc, url) from exc
    try:
        raw.execute(SESSION_SETTINGS.encode())
    except psycopg.Error as exc:
        raw.close()
        raise storage_error(exc, url) from exc
    return raw


def open_connection(url: str, name: str = "monitor") -> PgConnection:
    """A connection to ``url`` without migrating (``connect`` migrates); ``name`` is its
    ``application_name`` in ``pg_stat_activity`` (the elections' is ``monitor-elections``).

    Raises:
        StorageError: the server cannot be reached, refuses the login, or the database
            does not exist.
    """
    return PgConnection(_open(url, name), url, name)


def connect(url: str, migrations: Sequence[Migration] = MIGRATIONS) -> PgConnection:
    """Open the database at ``url`` and apply pending migrations.

    Raises:
        StorageError: the server cannot be reached, refuses the login, the database does
            not exist, or its schema is newer than this program.
    """
    conn = PgConnection(_open(url), url)
    try:
        migrate(conn, migrations)
    except BaseException:
        conn.close()
        raise
    return conn


def connect_reader(url: str) -> PgConnection:
    """A read-only connection to ``url`` for the dashboard (its own, used from a worker
    thread); nothing is migrated: the service that writes has done that.

    Raises:
        StorageError: the server cannot be reached or refuses the login.
    """
    conn = PgConnection(_open(url), url)
    try:
        conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    except BaseException:
        conn.close()
        raise
    return conn


def probe(url: str, migrations: Sequence[Migration] = MIGRATIONS) -> str:
    """One line on the database at ``url`` for ``monitor check``: reachable, and its
    schema version against this program's; nothing is migrated.

    Raises:
        StorageError: unreachable, login refused, no such database, or a newer schema.
    """
    try:
        raw = psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
    except psycopg.Error as exc:
        raise storage_error(exc, url) from exc
    conn = PgConnection(raw, url)
    try:
        exists = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchall()
        version = schema_version(conn) if exists[0][0] else 0
    finally:
        conn.close()
    if version > len(migrations):
        raise StorageError(
            f"storage: PostgreSQL at {conn.server}: database schema version {version} "
            f"is newer than this program knows ({len(migrations)}); upgrade monitor"
        )
    pending = len(migrations) - version
    todo = f", {pending} migrations to apply at the next start" if pending else ""
    return f"database: PostgreSQL at {conn.server}, schema version {version}{todo}"


# -- schema -----------------------------------------------------------------------------

_TYPES = (
    (re.compile(r"\bINTEGER PRIMARY KEY\b"), "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    (re.compile(r"\bINTEGER\b"), "BIGINT"),
    (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),
    (re.compile(r"\bBLOB\b"), "BYTEA"),
)


def ddl(statement: str) -> str:
    """A migration's portable DDL with PostgreSQL's types: SQLite's INTEGER is 64 bits
    (BIGINT), an ``INTEGER PRIMARY KEY`` numbers its rows (an identity column), REAL is a
    double and BLOB is BYTEA.  Timestamps stay TEXT (``db.to_db``'s fixed-width UTC form),
    so both engines order them alike and a copy is byte for byte."""
    for pattern, replacement in _TYPES:
        statement = pattern.sub(replacement, statement)
    return statement


def schema_version(conn: PgConnection) -> int:
    rows = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchall()
    return int(rows[0][0])


def migrate(
    conn: PgConnection, migrations: Sequence[Migration] = MIGRATIONS, target: int | None = None
) -> int:
    """Apply the migrations after the version in ``schema_version``, each in its own
    transaction under an advisory lock (``pg_advisory_xact_lock``), so instances that
    start together apply each migration once.  Returns the new version.

    Raises:
        StorageError: the database was written by a newer monitor, or a database error.
    """
    from monitor.store.db import statements, to_db

    stop = len(migrations) if target is None else target
    while True:
        conn.execute("BEGIN")
        try:
            conn.execute(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT PRIMARY KEY,"
                " name TEXT NOT NULL, applied TEXT NOT NULL)"
            )
            version = schema_version(conn)
            if version > len(migrations):
                raise StorageError(
                    f"storage: PostgreSQL at {conn.server}: database schema version {version} "
                    f"is newer than this program knows ({len(migrations)}); upgrade monitor"
                )
            if version >= stop:
                conn.execute("COMMIT")
                return max(version, stop)
            migration = migrations[version]
            if isinstance(migration.step, str):
                for statement in statements(migration.step):
                    conn.execute(ddl(statement))
            else:
                migration.step(conn)
            conn.execute(
                "INSERT INTO schema_version (version, name, applied) VALUES (?, ?, ?)",
                (version + 1, migration.name, to_db(datetime.now(UTC))),
            )
        except BaseException:
            if conn.in_transaction:
                conn.raw.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


# -- errors -----------------------------------------------------------------------------


def storage_error(exc: psycopg.Error, url: str) -> StorageError:
    """A ``StorageError`` in words an admin can act on, naming the server, never the
    password."""
    server = server_of(url)
    text = _first_line(str(exc))
    password = urlsplit(url).password if "://" in url else None
    state = exc.sqlstate or ""
    low = text.lower()
    if (
        state.startswith("28")
        or "password authentication failed" in low
        or ("role" in low and "does not exist" in low)
    ):
        message = (
            f"storage: PostgreSQL at {server} refused the login ({_reason(text)}); "
            f"check the user and password in MONITOR_DATABASE_URL / --database"
        )
    elif state == "3D000" or ("database" in low and "does not exist" in low):
        message = (
            f"storage: PostgreSQL at {server}: {_reason(text)}; create it (createdb) or {HINT}"
        )
    elif state == "53100":
        message = (
            f"storage: PostgreSQL at {server}: disk full ({_reason(text)}); free space on the "
            "database server's disk"
        )
    elif state in ("40001", "40P01"):
        message = (
            f"storage: PostgreSQL at {server}: the transaction conflicted with another "
            f"instance's ({_reason(text)}); it was rolled back, retry"
        )
    elif isinstance(exc, psycopg.OperationalError) and (
        "connection failed" in low or "could not" in low or "refused" in low or "timeout" in low
    ):
        message = f"storage: cannot reach PostgreSQL at {server}: {_reason(text)}; {HINT}"
    elif (
        state.startswith(("08", "57P"))
        or "server closed the connection" in low
        or (isinstance(exc, psycopg.OperationalError) and "closed" in low)
    ):
        message = (
            f"storage: lost the connection to PostgreSQL at {server}: {_reason(text)}; "
            "the next statement connects again"
        )
    else:
        message = f"storage: PostgreSQL at {server}: {text}"
    if password:
        message = message.replace(password, "***")
    return StorageError(message)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "unknown error"


def _reason(text: str) -> str:
    """libpq's message without its preamble: 'Connection refused' -> 'connection refused'."""
    text = re.sub(
        r'^connection failed: connection to server at "[^"]*"(, port \d+)? failed: ', "", text
    )
    text = re.sub(r"^(FATAL|ERROR):\s+", "", text)
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text
