"""Hot reload: notice edits to the configuration files (by content, once they settle),
and load them away from the event loop."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import logging
import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from monitor.config.bounded import MAX_BYTES
from monitor.config.feeds import FeedsConfig, load_feeds
from monitor.config.keywords import KeywordsConfig, load_keywords
from monitor.errors import ConfigError
from monitor.pipeline.build import Configs, matcher
from monitor.service.metrics import Metrics
from monitor.service.tasks import Clock

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger("monitor.service.runner")  # these lines kept their logger name


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


@dataclass(frozen=True)
class Loaded:
    """The configuration after an edit: an invalid file keeps its last good version."""

    feeds: FeedsConfig
    keywords: KeywordsConfig
    compiled: object | None
    """The matcher of ``keywords`` when they changed (built in the worker thread)."""
    errors: list[str]


COLLECT_AFTER_LOAD = 150_000
"""Objects a load may leave in the young generation and still be collected before it is
frozen: about 50 ms of collection on a loaded 2-core machine (``load_edited``)."""


def load_edited(edited: Sequence[str], old: Configs, feeds_path: str) -> Loaded:
    """Load the edited files (in a worker thread: no loop state is touched).

    The thread holds the GIL only in turns, but a garbage collection holds it
    throughout, and parsing 1 MiB of YAML builds millions of objects: the collections
    they trigger stalled the loop for up to 0.7 s.  So no collection runs meanwhile,
    and what the load built is frozen (like the configuration at start, see the
    service's ``_apply``) rather than left for a collection to walk afterwards.

    One young collection runs first: the load leaves reference cycles behind (ruamel's
    loader, its reader and constructor; recursive closures), and a frozen cycle is never
    collected, so each reload kept ~850 dead objects for good.  That collection walks
    only what the load allocated, holding the GIL throughout: 17 ms for the shipped
    files (53,000 objects), but 0.6 s for a file near the 1 MiB limit.  So a load larger
    than ``COLLECT_AFTER_LOAD`` objects is frozen uncollected, as before, and keeps its
    few hundred dead objects rather than stall the loop.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _load_files(edited, old, feeds_path)
    finally:
        if gc.get_count()[0] <= COLLECT_AFTER_LOAD:
            gc.collect(0)
        gc.freeze()
        if collecting:
            gc.enable()


def _load_files(edited: Sequence[str], old: Configs, feeds_path: str) -> Loaded:
    feeds, keywords = old.feeds, old.keywords
    errors = []
    for path in edited:
        try:
            if path == feeds_path:
                feeds = load_feeds(path)
            else:
                keywords = load_keywords(path)
        except ConfigError as exc:
            errors.append(str(exc))
    compiled = matcher(keywords) if keywords is not old.keywords else None
    return Loaded(feeds, keywords, compiled, errors)


class Reloader:
    """Applies edited files (a job every ``reload_every`` seconds); an invalid file keeps
    its last good version (per file), and the admins are told.

    Reading, parsing, validating and compiling run in a worker thread: they take hundreds
    of milliseconds for a real ``keywords.yaml``, and the loop must keep answering
    /healthz and Telegram meanwhile (issue 10 item 1).
    """

    def __init__(
        self,
        feeds_path: str,
        keywords_path: str,
        metrics: Metrics,
        *,
        clock: Clock,
        current: Callable[[], Configs],
        apply: Callable[[Configs, object | None, Configs], None],
        notify: Callable[[str], None],
    ) -> None:
        self.feeds_path = feeds_path
        self.watch = FileWatch([feeds_path, keywords_path])
        self.metrics = metrics
        self.clock = clock
        self.current = current
        self.apply = apply
        """Called with the new configuration, its matcher (None: unchanged) and the old."""
        self.notify = notify
        self.last: dict[str, str | None] | None = None
        """The last edit: when, and the error when it was rejected (for the dashboard)."""

    def add_job(self, scheduler: AsyncIOScheduler, every: float) -> None:
        scheduler.add_job(self.reload, "interval", seconds=every, id="reload")

    async def reload(self) -> None:
        edited = await asyncio.to_thread(self.watch.changed)
        if not edited:
            return
        old = self.current()
        new = await asyncio.to_thread(load_edited, edited, old, self.feeds_path)
        if new.errors:
            self.metrics.config_reloads.labels("rejected").inc()
            text = "\n".join(new.errors)
            self.last = {"at": self.clock().isoformat(timespec="seconds"), "error": text}
            log.error(
                "configuration edit rejected; still running on the last good configuration:\n%s",
                text,
            )
            self.notify(
                "⚠️ monitor: configuration edit rejected, still running on the last good "
                f"configuration.\n{text}"
            )
        if new.feeds is old.feeds and new.keywords is old.keywords:
            return
        cfg = Configs(feeds=new.feeds, keywords=new.keywords)
        self.apply(cfg, new.compiled, old)
        self.metrics.config_reloads.labels("applied").inc()
        if not new.errors:
            self.last = {"at": self.clock().isoformat(timespec="seconds"), "error": None}
        log.warning(
            "configuration reloaded: %d feeds, %d watchlists",
            len(cfg.feeds.enabled()),
            len(cfg.keywords.watchlists),
        )
