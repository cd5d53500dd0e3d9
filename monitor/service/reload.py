"""Hot reload: notice edits to the configuration files (by content, once they settle)."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from monitor.config.bounded import MAX_BYTES


def fingerprint(path: str) -> str | None:
    """The file's content hash; "" when it is gone; None when it cannot be read right now.

    None is "no news", not an edit: out of file descriptors (``EMFILE``) every file is
    unreadable for a moment, and reporting that as an edit sent the admins a false
    "configuration edit rejected ... cannot read" notice (issue 10 item 4).

    A file too large to load, or not a regular file, is not read at all: its size and
    modification time stand for its content (then loading it is refused at once).
    """
    try:
        info = os.stat(path)
        special = not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode))
        if special or info.st_size > MAX_BYTES:  # a FIFO would block the open
            return f"unreadable:{info.st_mode}:{info.st_size}:{info.st_mtime_ns}"
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read(MAX_BYTES + 1)).hexdigest()
    except FileNotFoundError:
        return ""
    except OSError:
        return None


@dataclass
class FileWatch:
    """Remembers each file's content; ``changed()`` lists the files edited since last time.

    An edit is reported once its content has been the same on two consecutive checks, so
    a file caught half-written by an editor is not loaded.  Restoring the previous
    content is no change.
    """

    paths: Sequence[str]
    read: Callable[[str], str | None] = fingerprint
    _applied: dict[str, str | None] = field(default_factory=dict)
    _candidate: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for path in self.paths:
            self._applied[path] = self.read(path)

    def changed(self) -> list[str]:
        out = []
        for path in self.paths:
            now = self.read(path)
            if now is None:
                continue  # unreadable for now: look again next time
            if now == self._applied[path]:
                self._candidate.pop(path, None)
                continue
            if self._candidate.get(path) == now:
                self._applied[path] = now
                self._candidate.pop(path, None)
                out.append(path)
            else:
                self._candidate[path] = now
        return out
