"""Durations written the way maintainers write them: ``30s``, ``15m``, ``1h``, ``1h30m``, ``7d``."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_WHOLE = re.compile(r"^(?:\d+(?:\.\d+)?\s*[smhdw]\s*)+$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: object) -> timedelta:
    """Parse ``15m``-style text (or a number of seconds).

    Raises:
        ValueError: with the message used in configuration errors.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration like 15m")
    if isinstance(value, int | float):
        if value <= 0:
            raise ValueError(f"{value!r} is not a positive duration")
        return timedelta(seconds=float(value))
    if isinstance(value, timedelta):
        return value
    text = str(value).strip().lower()
    if not _WHOLE.match(text):
        raise ValueError(f"{value!r} is not a duration like 15m")
    seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(text))
    if seconds <= 0:
        raise ValueError(f"{value!r} is not a positive duration")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """``timedelta(minutes=90)`` -> ``1h30m``."""
    seconds = round(delta.total_seconds())
    if seconds <= 0:
        return "0s"
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out += f"{seconds // size}{unit}"
            seconds %= size
    return out
