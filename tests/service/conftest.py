"""Every service test runs on SQLite and on PostgreSQL (``tests/support/engines.py``)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _both_engines(store_engine: str) -> str:
    return store_engine
