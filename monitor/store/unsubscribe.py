"""Unsubscribe overrides: a recipient who unsubscribed from a destination's digests by the
link in one (issue 12).  The YAML is never edited; the override wins over it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from monitor.models import Target
from monitor.store.db import from_db, to_db
from monitor.store.engine import Connection


@dataclass(frozen=True, slots=True)
class Override:
    destination: str
    address: str
    unsubscribed: datetime


def set_unsubscribed(conn: Connection, target: Target, on: bool, now: datetime) -> None:
    """Record (``on``) or remove an unsubscribe.  Must run inside a transaction."""
    if on:
        conn.execute(
            "INSERT INTO unsubscribed (destination, address, at) VALUES (?,?,?)"
            " ON CONFLICT (destination, address) DO NOTHING",
            (target.destination, target.address, to_db(now)),
        )
    else:
        conn.execute(
            "DELETE FROM unsubscribed WHERE destination = ? AND address = ?",
            (target.destination, target.address),
        )


def is_unsubscribed(conn: Connection, target: Target) -> bool:
    row = conn.execute(
        "SELECT 1 FROM unsubscribed WHERE destination = ? AND address = ?",
        (target.destination, target.address),
    ).fetchone()
    return row is not None


def overrides(conn: Connection) -> list[Override]:
    out = []
    for destination, address, at in conn.execute(
        "SELECT destination, address, at FROM unsubscribed ORDER BY at DESC"
    ):
        when = from_db(at)
        assert when is not None
        out.append(Override(destination, address, when))
    return out
