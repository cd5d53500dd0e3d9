"""Hot reload: notice edits to the configuration files (by content, once they settle)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


def fingerprint(path: str) -> str | None:
    """The file's content hash; "" when it is gone; None when it cannot be read right now.

    None is "no news", not an edit: out of file descriptors (``EMFILE``) every file is
    unreadable for a moment, and reporting that as an edit sent the admins a false
    "configuration edit rejected ... cannot read" notice (issue 10 item 4).
    """
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
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
