"""Issue 11 item 2: ``Store`` is the only door to the database.

No module outside ``monitor/store/`` reaches for a connection (``.conn``); each query
is a named ``Store`` method, so every driver error leaving the package is a
``StorageError``.  Writes go through ``Store.transaction()``.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

import monitor
from monitor.errors import StorageError
from monitor.models import Target
from monitor.store import Store
from tests.support.engines import MISSING, engine_url

PACKAGE = Path(monitor.__file__).parent


def conn_uses(root: Path = PACKAGE) -> list[str]:
    """``file:line`` of every ``<expr>.conn`` outside ``monitor/store/``."""
    found = []
    for path in sorted(root.rglob("*.py")):
        if root / "store" in path.parents:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        found += [
            f"{path.relative_to(root.parent)}:{node.lineno}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr == "conn"
        ]
    return found


def test_no_module_outside_store_uses_a_connection() -> None:
    assert conn_uses() == []


def test_the_check_sees_a_connection_use(tmp_path: Path) -> None:
    pkg = tmp_path / "monitor"
    (pkg / "store").mkdir(parents=True)
    (pkg / "store" / "db.py").write_text("x = store.conn\n")
    (pkg / "deliver.py").write_text("def f(store):\n    return store.conn.execute('x')\n")
    assert conn_uses(pkg) == ["monitor/deliver.py:2"]


_T = Target("ops", "email", "ops@example.org")
_NOW = datetime(2026, 1, 1, tzinfo=UTC)
READS: dict[str, tuple[str, Callable[[Store], object]]] = {
    # method: (a table it reads, a call)
    "outbox_entry": ("outbox", lambda s: s.outbox_entry(1)),
    "due_entries": ("outbox", lambda s: s.due_entries("alert", _NOW)),
    "pending_for_target": ("outbox", lambda s: s.pending_for_target("digest", _T)),
    "pending_targets": ("outbox", lambda s: s.pending_targets("digest")),
    "sent_with": ("outbox", lambda s: s.sent_with(_T, "7")),
    "destination_row": ("destinations", lambda s: s.destination_row(_T)),
    "matches_for": ("matches", lambda s: s.matches_for([1])),
    "stories_of": ("story_articles", lambda s: s.stories_of([1])),
    "story_members": ("story_articles", lambda s: s.story_members(1)),
    "recent_matched_articles": (
        "matches",
        lambda s: s.recent_matched_articles(["ai"], matched_since=_NOW),
    ),
    "is_unsubscribed": ("unsubscribed", lambda s: s.is_unsubscribed(_T)),
    "flag": ("service_flags", lambda s: s.flag("paused")),
    "subscriptions": ("subscriptions", lambda s: s.subscriptions("1", topic=None)),
}


@pytest.mark.parametrize("name", sorted(READS))
def test_the_delivery_and_bot_reads_raise_storage_errors(tmp_path: Path, name: str) -> None:
    table, read = READS[name]
    with Store(tmp_path, database_url=engine_url()) as store:
        store.conn.execute(f"ALTER TABLE {table} RENAME TO gone")
        with pytest.raises(StorageError, match=MISSING.format(table=table)):
            read(store)
