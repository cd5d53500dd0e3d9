"""``monitor db copy``: move the state between SQLite and PostgreSQL (issue 11)."""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import ExitStack
from typing import Any

from monitor.errors import StorageError


def register(sub: Any) -> None:
    p = sub.add_parser(
        "db",
        help="state database tools",
        description="State database tools: 'db copy' moves the whole state to another engine.",
    )
    db = p.add_subparsers(dest="db_command", metavar="SUBCOMMAND", required=True)
    c = db.add_parser(
        "copy",
        help="copy the whole state into an empty database",
        description="Copy every table (articles and their identity keys, stories, matches, "
        "the outbox, destinations, subscribers, flags) with its ids into an empty database, "
        "so the target alerts nothing again. A SOURCE or TARGET is a postgresql:// URL or a "
        "state directory (SQLite). Stop the service first.",
    )
    c.add_argument(
        "--to", required=True, metavar="TARGET", help="postgresql:// URL or state directory"
    )
    c.add_argument(
        "--from",
        dest="source",
        default=None,
        metavar="SOURCE",
        help="postgresql:// URL or state directory (default: MONITOR_DATABASE_URL, else "
        "SQLite under MONITOR_STATE_DIR or ./state)",
    )
    c.set_defaults(func=cmd_copy)


def _open(where: str, stack: ExitStack) -> Any:
    """A Store for a URL or a state directory; a SQLite state directory is locked."""
    from monitor.store import StateLock, Store, ensure_state_dir

    if "://" in where:
        return stack.enter_context(Store(".", database_url=where))
    path = ensure_state_dir(where)
    stack.enter_context(StateLock(path))
    return stack.enter_context(Store(path, database_url=""))


def _same(a: str, b: str) -> bool:
    if "://" in a or "://" in b:
        return a == b
    return os.path.realpath(a) == os.path.realpath(b)


def cmd_copy(args: argparse.Namespace) -> int:
    """Raises:
    StorageError: the source and target are the same, the target is not empty, either
        cannot be opened, or a database error.
    StateLockedError: a service uses a SQLite state directory named.
    """
    from monitor.store.copy import copy_state

    settings = args.settings
    env_url = settings.database_url.reveal() if settings.database_url else None
    source = args.source or env_url or str(settings.state_dir)
    if _same(source, args.to):
        raise StorageError(f"storage: db copy: the source and the target are both {args.to}")
    with ExitStack() as stack:
        src = _open(source, stack)
        dst = _open(args.to, stack)

        def progress(table: str, rows: int) -> None:
            print(f"  {table}: {rows} rows", file=sys.stderr)

        print(f"copying {src.where} -> {dst.where}", file=sys.stderr)
        copied = copy_state(src, dst, progress)
    print(f"copied {sum(copied.values())} rows in {len(copied)} tables to {dst.where}")
    return 0
