"""Ask the running service to work now: ``monitor poll`` and ``monitor deliver`` beside
``monitor run`` (issue 10 item 8).

The service holds the state directory's lock, and two writers would disagree (its story
index lives in memory, and two outbox senders could send a row twice).  So a command that
finds the lock taken leaves a request file in ``<state>/requests/``; the service claims it
by renaming it (within a second), does the work on its own loop, and writes the answer
beside it.  Files rather than a socket: nothing to listen on or guard, and it works the
same through ``docker compose exec``.  Anyone who may write the state directory may
already do anything to it.

The JSON helpers turn the reports into plain data and back, so the command prints the
service's answer exactly as it prints its own.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from monitor.errors import ServiceError, StateLockedError
from monitor.models import CycleReport, PollReport
from monitor.pipeline.deliver import DeliveryReport
from monitor.store.lock import StateLock

DIR = "requests"
TAKEN_WITHIN = 5.0
"""Seconds for the service to claim a request (it looks every second)."""


@dataclass(frozen=True)
class Request:
    """``poll`` (``feeds``; every enabled feed with ``everything``; then deliver unless
    ``deliver`` is False) or ``deliver`` (alerts, and digests unless ``digests`` is False)."""

    action: str
    feeds: tuple[str, ...] = ()
    everything: bool = False
    deliver: bool = True
    digests: bool = True


def submit(state_dir: Path, request: Request) -> str:
    """Leave ``request`` for the service; returns its id."""
    folder = state_dir / DIR
    folder.mkdir(exist_ok=True)
    rid = f"{time.time_ns()}-{os.getpid()}"
    _write(folder / f"{rid}.json", asdict(request))
    return rid


def claim(state_dir: Path) -> list[tuple[str, Request | None]]:
    """The service's side: take every waiting request (None when a file is unreadable)."""
    folder = state_dir / DIR
    try:
        names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".json"))
    except FileNotFoundError:
        return []
    out: list[tuple[str, Request | None]] = []
    for name in names:
        if name.endswith(".answer.json") or name.startswith("."):
            continue
        rid = name.removesuffix(".json")
        taken = folder / f"{rid}.taken"
        try:
            os.rename(folder / name, taken)
        except FileNotFoundError:
            continue  # withdrawn by its sender a moment ago
        try:
            data = json.loads(taken.read_text(encoding="utf-8"))
            request: Request | None = Request(
                action=str(data["action"]),
                feeds=tuple(str(f) for f in data.get("feeds", ())),
                everything=bool(data.get("everything", False)),
                deliver=bool(data.get("deliver", True)),
                digests=bool(data.get("digests", True)),
            )
        except (OSError, ValueError, TypeError, KeyError):
            request = None
        out.append((rid, request))
    return out


def answer(state_dir: Path, rid: str, result: Mapping[str, Any]) -> None:
    folder = state_dir / DIR
    _write(folder / f"{rid}.answer.json", dict(result))
    (folder / f"{rid}.taken").unlink(missing_ok=True)


def forget_unanswered(state_dir: Path) -> None:
    """At start: requests a previous run claimed and never answered are dropped."""
    folder = state_dir / DIR
    if folder.is_dir():
        for path in folder.glob("*.taken"):
            path.unlink(missing_ok=True)


def ask(
    state_dir: Path,
    request: Request,
    busy: StateLockedError,
    *,
    timeout: float = 600.0,
    taken_within: float = TAKEN_WITHIN,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Have the service that holds ``state_dir`` do ``request``; returns its answer.

    Raises:
        StateLockedError: ``busy`` again when the holder takes no requests (it is not
            ``monitor run``, or an older one).
        ServiceError: the service took the request but did not answer within ``timeout``,
            or answered that it failed.
    """
    rid = submit(state_dir, request)
    folder = state_dir / DIR
    pending, reply = folder / f"{rid}.json", folder / f"{rid}.answer.json"
    start = clock()
    while pending.exists():
        if clock() - start > taken_within:
            try:
                pending.unlink()
            except FileNotFoundError:
                break  # claimed at this very moment
            raise StateLockedError(
                f"{busy}; it takes no requests (only a running `monitor run` does)"
            ) from busy
        sleep(0.05)
    checked = clock()
    while not reply.exists():
        if clock() - start > timeout:
            raise ServiceError(
                f"requests: the running service took the {request.action} request "
                f"{folder / rid} but did not answer within {timeout:g}s; see its log"
            )
        if clock() - checked >= 1.0:
            checked = clock()
            if not reply.exists() and not _held(state_dir):
                raise ServiceError(
                    f"requests: the service stopped before it answered the {request.action} "
                    "request; run the command again"
                )
        sleep(0.05)
    result: dict[str, Any] = json.loads(reply.read_text(encoding="utf-8"))
    reply.unlink(missing_ok=True)
    if result.get("error"):
        raise ServiceError(f"requests: the running service says: {result['error']}")
    return result


def _held(state_dir: Path) -> bool:
    """Whether a process still holds the state directory's lock."""
    lock = StateLock(state_dir)
    try:
        lock.acquire()
    except StateLockedError:
        return True
    lock.release()
    return False


def _write(path: Path, data: Mapping[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)  # readers never see half a file


# -- reports as plain data ------------------------------------------------------------------
def cycle_to_json(report: CycleReport) -> dict[str, Any]:
    feeds = []
    for r in report.feeds:
        item = {f.name: getattr(r, f.name) for f in fields(PollReport)}
        item["problems"] = list(r.problems)
        item["next_poll"] = r.next_poll.isoformat() if r.next_poll else None
        feeds.append(item)
    return {
        "feeds": feeds,
        "started": report.started.isoformat(),
        "finished": report.finished.isoformat(),
    }


def cycle_from_json(data: Mapping[str, Any]) -> CycleReport:
    feeds = []
    for item in data["feeds"]:
        values = dict(item)
        values["problems"] = tuple(values.get("problems") or ())
        nxt = values.get("next_poll")
        values["next_poll"] = datetime.fromisoformat(nxt) if nxt else None
        feeds.append(PollReport(**values))
    return CycleReport(
        feeds=tuple(feeds),
        started=datetime.fromisoformat(data["started"]),
        finished=datetime.fromisoformat(data["finished"]),
    )


def delivery_to_json(report: DeliveryReport | None) -> dict[str, Any] | None:
    return None if report is None else asdict(report)


def delivery_from_json(data: Mapping[str, Any] | None) -> DeliveryReport | None:
    return None if data is None else DeliveryReport(**data)
