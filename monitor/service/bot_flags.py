"""The pause switch that ``/pause`` and ``/resume`` set and the service honours.

The flag lives in the state database (``service_flags``), so it survives a restart and
every part of the process reads the same value: the outbox worker and the digest job
call :func:`is_paused` before each round (polling goes on, so nothing is lost while
paused).  Imports nothing from python-telegram-bot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from monitor.store import Store
from monitor.store import subscribers as subs

PAUSED = "paused"
"""``"1"`` while paused, ``"0"`` (or absent) otherwise."""
PAUSED_SINCE = "paused_since"
PAUSED_BY = "paused_by"


@dataclass(frozen=True, slots=True)
class PauseState:
    paused: bool
    since: datetime | None = None
    by: str | None = None
    """Who paused, as ``"<user id> (@name)"``."""


def is_paused(store: Store) -> bool:
    """True while an admin has paused deliveries (``/pause``)."""
    return store.flag(PAUSED) == "1"


def pause_state(store: Store) -> PauseState:
    if not is_paused(store):
        return PauseState(False)
    since = store.flag(PAUSED_SINCE)
    try:
        when = datetime.fromisoformat(since) if since else None
    except ValueError:
        when = None
    return PauseState(True, when, store.flag(PAUSED_BY))


def set_paused(store: Store, paused: bool, *, now: datetime, by: str) -> bool:
    """Pause or resume; returns False when it already was so (nothing changed)."""
    if is_paused(store) == paused:
        return False
    with store.transaction() as conn:
        subs.set_flag(conn, PAUSED, "1" if paused else "0", now)
        if paused:
            subs.set_flag(conn, PAUSED_SINCE, now.isoformat(), now)
            subs.set_flag(conn, PAUSED_BY, by, now)
    return True
