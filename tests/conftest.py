"""Shared fixtures. Tests never touch the internet: every server is on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture
def data_dir() -> Path:
    return DATA
