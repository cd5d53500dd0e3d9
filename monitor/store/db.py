"""Connections, migrations and transactions (SQLite here; PostgreSQL in ``pg``)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from monitor import identity
from monitor.errors import StorageError
from monitor.store.engine import Connection, dialect
from monitor.store.migrations import MIGRATIONS, Migration

DB_NAME = "monitor.sqlite3"


def to_db(when: datetime | None) -> str | None:
    """UTC ISO-8601 text with a fixed width, so text order is time order."""
    if when is None:
        return None
    if when.tzinfo is None:
        raise ValueError("naive datetime passed to storage")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_db(text: str | None) -> datetime | None:
    if text is None:
        return None
    # fromisoformat reads the "Z" suffix (Python 3.11) and is ~40x faster than strptime.
    return datetime.fromisoformat(text)


RESTORE_HINT = (
    "stop monitor, then restore the file from a backup, or move it (with any -wal and -shm "
    "files beside it) out of the state directory to start afresh: every article then counts "
    "as new once (see README, state database)"
)


BUSY_TIMEOUT = 30.0
"""Seconds a statement waits for another connection's write lock before it fails."""


CACHE_MIB = 32
"""SQLite's page cache per connection, MiB (``PRAGMA cache_size``; SQLite's default is
2 MB).  Issue 15: at 10,000 feeds the indexes outgrew the default cache and every insert
read its pages back through the kernel: a cold cycle wrote 6.4 GB for a 0.63 GB file."""


def cache_for(feeds: int) -> int:
    """The page cache, MiB, for a state of ``feeds`` feeds: one MiB per 256 feeds, 2 to
    ``CACHE_MIB``.  The cache fills up to its size during a cold cycle, and at 1,000 feeds
    (a 40 MB database) 32 MiB cost 31 MB of the process's memory and no time (peak PSS
    of a cold cycle 178 -> 151 MB with 2 MiB, CPU 8.4 -> 7.6 s); 10,000 feeds need it."""
    return max(2, min(CACHE_MIB, feeds // 256))


PAGE_SIZE = 8192
"""Bytes a page of a new database (SQLite's default is 4,096; an existing file keeps its
own).  An article row is 600-700 bytes: a 4 KiB page left about 10 % of it unused, and the
larger page also halves the interior pages of every index (issue 15: bytes an article)."""

WAL_CHECKPOINT_PAGES = 2000
"""Pages in the WAL before SQLite copies them back (``wal_autocheckpoint``; default 1,000):
about 16 MiB, so a page written by many transactions between two checkpoints is copied
back once."""


def connect(
    path: str | Path,
    *,
    check: bool = True,
    busy_timeout: float = BUSY_TIMEOUT,
    cache_mib: int = CACHE_MIB,
) -> sqlite3.Connection:
    """Open the database and apply pending migrations; create it when the file is missing.

    A new database is built under a temporary name and renamed into place, so a file of
    0 bytes is never a database monitor made: it is refused, never silently replaced by a
    fresh one (issue 10 item 6).  With ``check``, ``PRAGMA quick_check`` runs first.

    Raises:
        StorageError: the file is empty, not a database, corrupt, unreadable, or newer than
            this program.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        _create(path)
    except OSError as exc:
        raise StorageError(
            f"storage: {path}: cannot read the state database: {exc.strerror}"
        ) from exc
    else:
        if size == 0:
            raise StorageError(
                f"storage: {path}: the state database is empty (0 bytes), so it was truncated "
                f"or a copy failed; {RESTORE_HINT}"
            )
    try:
        conn = _open(path, busy_timeout, cache_mib)
        if check:
            problems = quick_check(conn)
            if problems:
                conn.close()
                raise StorageError(
                    f"storage: {path}: the state database is corrupt "
                    f"(quick_check: {'; '.join(problems[:3])}); {RESTORE_HINT}"
                )
        migrate(conn)
        check_identity(conn, path)
    except sqlite3.DatabaseError as exc:
        raise storage_error(exc, path) from exc
    return conn


def check_identity(conn: Connection, where: object) -> None:
    """Refuse a database whose article keys another identity version computed.

    Raises:
        StorageError: the stored version is not ``monitor.identity.VERSION`` (the
            connection is closed).
    """
    stored = identity_version(conn)
    if stored != identity.VERSION:
        conn.close()
        raise StorageError(
            f"storage: {where}: the articles were keyed by identity version {stored}, this "
            f"program computes version {identity.VERSION}; run the monitor that wrote the "
            "database, or one whose migrations re-key it"
        )


def identity_version(conn: Connection) -> int | None:
    """The ``monitor.identity`` version the stored keys were computed with (None: unknown)."""
    row = conn.execute("SELECT value FROM meta WHERE name = 'identity_version'").fetchone()
    return None if row is None else int(row[0])


def _open(
    path: Path, busy_timeout: float = BUSY_TIMEOUT, cache_mib: int = CACHE_MIB
) -> sqlite3.Connection:
    conn = sqlite3.connect(
        str(path), isolation_level=None, timeout=busy_timeout, check_same_thread=False
    )
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    # Negative: KiB, not pages.  Temporary b-trees (sorts, the IN lists of a snapshot)
    # stay in memory.
    conn.execute(f"PRAGMA cache_size=-{max(1, cache_mib) * 1024}")
    conn.execute("PRAGMA temp_store=MEMORY")
    conn.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
    return conn


def _create(path: Path) -> None:
    """A fresh database with every migration, put in place in one step.

    ``os.link`` never replaces a file: when two processes create the database at the same
    moment, the first one wins and the other one uses it.
    """
    new = path.with_name(f".{path.name}.new-{os.getpid()}")
    try:
        new.unlink(missing_ok=True)
        conn = sqlite3.connect(str(new), isolation_level=None)
        try:
            conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
            migrate(conn)
        finally:
            conn.close()
        try:
            os.link(new, path)
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links (some network mounts)
            if not path.exists():
                os.replace(new, path)
    except sqlite3.DatabaseError as exc:
        raise storage_error(exc, path) from exc
    except OSError as exc:
        raise StorageError(
            f"storage: cannot create the state database {path}: {exc.strerror}"
        ) from exc
    finally:
        with contextlib.suppress(OSError):
            new.unlink(missing_ok=True)


def quick_check(conn: sqlite3.Connection) -> list[str]:
    """The problems ``PRAGMA quick_check`` finds (empty when the database is sound).

    Raises:
        sqlite3.DatabaseError: the file is not a database at all.
    """
    rows = [str(r[0]) for r in conn.execute("PRAGMA quick_check")]
    return [] if rows == ["ok"] else rows


def check_file(path: str | Path) -> list[str]:
    """``quick_check`` on a connection of its own (for the service's daily check, run in a
    thread beside the main connection: WAL lets it read while the service writes)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30.0)
    try:
        return quick_check(conn)
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    finally:
        conn.close()


def storage_error(exc: sqlite3.Error, path: str | Path | None = None) -> StorageError:
    """A ``StorageError`` that says what happened in words an admin can act on."""
    where = f"storage: {path}: " if path else "storage: "
    code = _primary(exc)
    if code == sqlite3.SQLITE_FULL:
        return StorageError(
            f"{where}disk full: the state database cannot grow ({exc}); free space on the "
            "disk of the state directory"
        )
    if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return StorageError(f"{where}the state database is unreadable ({exc}); {RESTORE_HINT}")
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return StorageError(
            f"{where}the state database stayed locked by another connection ({exc}; "
            f"{_holder(path)}); stop the other monitor process or command using this state "
            "directory, or retry when it has finished"
        )
    if code in (sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM):
        return StorageError(
            f"{where}cannot write the state database ({exc}); check that the state directory "
            "and the files in it are writable"
        )
    return StorageError(f"{where}{exc}")


def _holder(path: str | Path | None) -> str:
    """Who holds the state directory's lock, as far as ``monitor.lock`` says."""
    if path is None:
        return "holder unknown"
    try:
        pid = (Path(path).parent / "monitor.lock").read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        pid = ""
    return f"monitor.lock names pid {pid}" if pid.isdigit() else "no monitor process holds the lock"


def migrate(
    conn: Connection,
    migrations: Sequence[Migration] = MIGRATIONS,
    target: int | None = None,
) -> int:
    """Apply the migrations after ``PRAGMA user_version``, each in its own transaction
    (on PostgreSQL: after the ``schema_version`` table's, see ``pg.migrate``).

    Returns the new version.

    Raises:
        StorageError: the database was written by a newer monitor.
    """
    if dialect(conn) == "postgresql":
        from monitor.store import pg

        assert isinstance(conn, pg.PgConnection)
        return pg.migrate(conn, migrations, target)
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > len(migrations):
        raise StorageError(
            f"storage: database schema version {version} is newer than this program "
            f"knows ({len(migrations)}); upgrade monitor"
        )
    stop = len(migrations) if target is None else target
    for number in range(version + 1, stop + 1):
        migration = migrations[number - 1]
        conn.execute("BEGIN IMMEDIATE")
        try:
            if isinstance(migration.step, str):
                for statement in statements(migration.step):
                    conn.execute(statement)
            else:
                migration.step(conn)
            conn.execute(f"PRAGMA user_version = {number}")
        except BaseException:
            _rollback(conn)
            raise
        conn.execute("COMMIT")
    return max(version, stop)


def statements(script: str) -> Iterator[str]:
    # executescript() would COMMIT our transaction; split on ';' instead (no
    # migration uses a ';' inside a literal or a trigger body).
    for part in script.split(";"):
        if part.strip():
            yield part


@contextmanager
def transaction(conn: Connection) -> Iterator[Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``; rolled back on any exception.  (On PostgreSQL a
    plain ``BEGIN``, read committed: ``pg.PgConnection`` raises ``StorageError`` itself.)

    Raises:
        StorageError: any database error, in words an admin can act on (``storage_error``):
            the disk is full (SQLITE_FULL), the database is unreadable or stayed locked; not
            the ``cannot rollback - no transaction is active`` that SQLite's own automatic
            rollback used to cause, nor a bare ``OperationalError``.
    """
    try:
        conn.execute("BEGIN" if dialect(conn) == "postgresql" else "BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            _rollback(conn)
            raise
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        with contextlib.suppress(sqlite3.Error):  # keep the cause, not the rollback's error
            _rollback(conn)
        raise storage_error(exc, _db_path(conn)) from exc


def _primary(exc: sqlite3.Error) -> int | None:
    """The primary result code (extended codes such as SQLITE_IOERR_WRITE keep it in the low
    byte)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else int(code) & 0xFF


def _rollback(conn: Connection) -> None:
    # On SQLITE_FULL (and some I/O errors) SQLite has already rolled the transaction
    # back; a second ROLLBACK would replace the real error by "no transaction is active".
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def _db_path(conn: Connection) -> str | None:
    try:
        for row in conn.execute("PRAGMA database_list"):
            if row[1] == "main":
                return str(row[2]) or None
    except sqlite3.Error:
        pass
    return None
