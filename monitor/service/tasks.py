"""What every part of the service shares: the clock and the set of tasks under way.

Jobs only *spawn* tasks, which are tracked here so that SIGTERM can let in-flight work
finish (``drain``); once ``stopping`` is set nothing new starts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("monitor.service.runner")  # these lines kept their logger name

Clock = Callable[[], datetime]
"""The time, aware, in UTC.  Every part takes one: tests drive a part with a fixed clock."""


def utcnow() -> datetime:
    return datetime.now(UTC)


class Tasks:
    """The service's tasks: spawned by jobs, awaited (or cancelled) at shutdown."""

    def __init__(self) -> None:
        self.stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any] | None:
        """Run ``coro`` as a tracked task; None (and ``coro`` closed) when stopping."""
        if self.stopping.is_set():
            coro.close()
            return None
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("task %s failed", task.get_name(), exc_info=task.exception())

    async def drain(self, grace: float) -> None:
        """Wait up to ``grace`` seconds for the tasks under way; cancel the late ones."""
        pending = [t for t in self._tasks if not t.done()]
        if not pending:
            return
        _, late = await asyncio.wait(pending, timeout=grace)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late, timeout=1.0)
