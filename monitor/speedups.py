"""The compiled hot path of the matcher (``_speedups.pyx``), when it was built.

``pip install`` builds it with Cython as an optional extension; where it is missing (no
compiler, a build that failed, a stale build) or ``MONITOR_MATCH_PURE=1`` is set,
``html_to_text`` and the scanner take their pure-Python paths, which give the same text,
hits and offsets.
"""

from __future__ import annotations

from array import array
from functools import cache
from types import ModuleType

from monitor.settings import PURE_MATCH_ENV, pure_match

PURE_ENV = PURE_MATCH_ENV

VERSION = 3
"""The interface of ``_speedups.pyx`` that this code expects (its ``VERSION``)."""
_UNSAFE = 255


def module() -> ModuleType | None:
    """The compiled module, or None for the Python paths (also when ``MONITOR_MATCH_PURE``
    is set to anything but ``0``)."""
    if pure_match():
        return None
    return built()


@cache
def built() -> ModuleType | None:
    """The compiled module whatever the environment says, or None if it is not built."""
    try:
        from monitor import _speedups
    except ImportError:
        return None
    if getattr(_speedups, "VERSION", None) != VERSION:
        return None  # built from another version of the source: rebuild it
    return _speedups


def for_matching(*, force: bool = False) -> ModuleType | None:
    """The compiled module with its fold table installed, or None for the Python path.

    ``force``: even when ``MONITOR_MATCH_PURE`` is set (to compare both paths).
    """
    fast = built() if force else module()
    if fast is not None and not fast.installed():
        fast.install(*fold_table())
    return fast


def fold_table() -> tuple[bytes, bytes, bytes]:
    """Per BMP character, where its UTF-8 fold (``TABLES.scan``) starts and how long it is.

    A character whose fold holds white space other than " " (which ``str.split`` would
    break on, where the compiled fold does not) or cannot be encoded is marked for the
    Python path; none is today, the mark keeps the two paths equal if the table changes.
    """
    from monitor.match.normalize import TABLES, table_text

    if not TABLES.ready:
        TABLES.build()
    scan = TABLES.scan
    offsets = array("I")
    lengths = bytearray(0x10000)
    blob = bytearray()
    index: dict[str, int] = {}
    for code in range(0x10000):
        out = table_text(scan[code])
        start = index.get(out)
        try:
            encoded = out.encode("utf-8")
        except UnicodeEncodeError:
            encoded = None
        if encoded is None or len(encoded) >= _UNSAFE or any(c.isspace() and c != " " for c in out):
            offsets.append(0)
            lengths[code] = _UNSAFE
            continue
        if start is None:
            start = index[out] = len(blob)
            blob += encoded
        offsets.append(start)
        lengths[code] = len(encoded)
    return offsets.tobytes(), bytes(lengths), bytes(blob)
