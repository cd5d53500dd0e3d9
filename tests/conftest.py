"""Shared fixtures. Tests never touch the internet: every server is on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.fixtures import feed_server  # noqa: F401
from tests.support.postgres import postgres_server, postgres_url  # noqa: F401
from tests.support.telegram_fixtures import telegram_server  # noqa: F401

pytest_plugins = ["tests.support.smtp_server"]

DATA = Path(__file__).parent / "data"


@pytest.fixture
def data_dir() -> Path:
    return DATA
