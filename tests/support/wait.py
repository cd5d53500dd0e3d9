"""Waiting for something a server or a service does in the background (with a deadline)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


def wait_until(check: Callable[[], bool], seconds: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return check()


async def until(check: Callable[[], bool], seconds: float, step: float = 0.05) -> bool:
    """``wait_until`` for code running on an event loop (the loop keeps running)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(step)
    return check()
