"""Issue 11 item 2: ``Store`` is the only door to the database.

No module outside ``monitor/store/`` reaches for a connection (``.conn``); each query
is a named ``Store`` method, so every driver error leaving the package is a
``StorageError``.  Writes go through ``Store.transaction()``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import monitor

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
