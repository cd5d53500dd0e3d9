"""What a test does when a part it needs (PostgreSQL, chromium, ``chattr``) is missing:
skipped on a developer's machine, failed under ``CI``, where ``.ci/run`` installs it all."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def under_ci() -> bool:
    return bool(os.environ.get("CI"))


def missing(message: str) -> NoReturn:
    """Fail under CI, else skip, with ``message`` (what is missing and how to get it)."""
    if under_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)
