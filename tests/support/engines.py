"""Both storage engines for the same tests (issue 11): one parametrised fixture.

``store_engine`` is ``"sqlite"`` or ``"postgresql"``.  For PostgreSQL it points
``MONITOR_DATABASE_URL`` at a fresh database of the test's own (``postgres_url``), which
the CLI and ``monitor run`` read through ``Settings``; a ``Store`` the test opens itself
gets it from ``engine_url()`` (the store never reads the environment).  For SQLite it
removes the variable.  A package's ``conftest.py`` makes it autouse
(``tests/store``, ``tests/pipeline``); a test about SQLite's file itself (corruption,
``PRAGMA user_version``, the state lock) is marked ``sqlite_only`` and runs once; one
about PostgreSQL's (``schema_version``, its error messages) ``postgresql_only``.
"""

from __future__ import annotations

import os

import pytest

ENGINES = ("sqlite", "postgresql")

MISSING = 'no such table: {table}|relation "{table}" does not exist'
"""A dropped table, as SQLite and PostgreSQL say it (a ``pytest.raises`` pattern)."""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "store_engine" in metafunc.fixturenames:
        engines: tuple[str, ...] = ENGINES
        if metafunc.definition.get_closest_marker("sqlite_only"):
            engines = ("sqlite",)
        elif metafunc.definition.get_closest_marker("postgresql_only"):
            engines = ("postgresql",)
        metafunc.parametrize("store_engine", engines, indirect=True)


@pytest.fixture
def store_engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    engine: str = request.param
    if engine == "postgresql":
        monkeypatch.setenv("MONITOR_DATABASE_URL", request.getfixturevalue("postgres_url"))
    else:
        monkeypatch.delenv("MONITOR_DATABASE_URL", raising=False)
    return engine


def engine_url() -> str | None:
    """The running test's database for a ``Store`` it opens itself: the ``postgres_url``
    that ``store_engine`` put in ``MONITOR_DATABASE_URL``, None for SQLite.  The store
    never reads the environment (``monitor.settings`` does, for the CLI and the service,
    which see this variable too); tests pass what they mean."""
    return os.environ.get("MONITOR_DATABASE_URL") or None
