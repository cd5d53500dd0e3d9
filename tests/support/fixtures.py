"""Pytest fixtures over the test-support servers.

``tests/conftest.py`` imports them: ``from tests.support.fixtures import feed_server``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.feedserver import FeedServer


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """A started :class:`FeedServer` on 127.0.0.1, stopped (all handlers woken) afterwards."""
    with FeedServer() as server:
        yield server
