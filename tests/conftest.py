"""Shared fixtures. Tests never touch the internet: every server is on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

from tests.support.fixtures import feed_server  # noqa: F401
from tests.support.postgres import postgres_server, postgres_url  # noqa: F401
from tests.support.telegram_fixtures import telegram_server  # noqa: F401

pytest_plugins = ["tests.support.smtp_server", "tests.support.engines"]

DATA = Path(__file__).parent / "data"

# Speed is measured in bench/, never asserted in a test: hypothesis's per-example deadline
# (200 ms) is a timed assertion that fails on a loaded machine, so it is off everywhere.
settings.register_profile("monitor", deadline=None)
settings.load_profile("monitor")


@pytest.fixture
def data_dir() -> Path:
    return DATA
