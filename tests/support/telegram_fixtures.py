"""Pytest fixtures over the local Telegram Bot API server.

``tests/conftest.py`` imports them:
``from tests.support.telegram_fixtures import telegram_server``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.telegram_server import TelegramServer


@pytest.fixture
def telegram_server() -> Iterator[TelegramServer]:
    """A started :class:`TelegramServer` on 127.0.0.1 (no flood simulation), stopped after."""
    with TelegramServer() as server:
        yield server
