"""Hot reload: notice edits to the configuration files (by content, once they settle)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field


def fingerprint(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    except OSError:
        return ""


@dataclass
class FileWatch:
    """Remembers each file's content; ``changed()`` lists the files edited since last time.

    An edit is reported once its content has been the same on two consecutive checks, so
    a file caught half-written by an editor is not loaded.  Restoring the previous
    content is no change.
    """

    paths: Sequence[str]
    _applied: dict[str, str] = field(default_factory=dict)
    _candidate: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for path in self.paths:
            self._applied[path] = fingerprint(path)

    def changed(self) -> list[str]:
        out = []
        for path in self.paths:
            now = fingerprint(path)
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
