"""One process per state directory: two services sharing it would alert twice."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from monitor.errors import StateLockedError, StorageError


class StateLock:
    """An exclusive ``flock`` on ``<state>/monitor.lock``, released on exit or crash."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "monitor.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        """Raises:
        StateLockedError: another process holds the lock (its pid is in the message).
        StorageError: the state directory is not writable.
        """
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StorageError(
                f"storage: cannot write in the state directory {self.path.parent}: "
                f"{exc.strerror}; make it writable or set --state / MONITOR_STATE_DIR"
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StateLockedError(
                f"storage: {self.path.parent}: another monitor process (pid {holder}) "
                "is using this state directory"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> StateLock:
        self.acquire()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
