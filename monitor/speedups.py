"""The compiled hot path of the matcher (``_speedups.pyx``), when it was built.

``pip install`` builds it with Cython as an optional extension; where it is missing (no
compiler, a build that failed, a stale build) or ``MONITOR_MATCH_PURE=1`` is set,
``html_to_text`` and the scanner take their pure-Python paths, which give the same text,
hits and offsets.
"""

from __future__ import annotations

import logging
from array import array
from functools import cache
from types import ModuleType
from typing import Any

from monitor.settings import PURE_MATCH_ENV, pure_match

log = logging.getLogger(__name__)

PURE_ENV = PURE_MATCH_ENV

VERSION = 6
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
        # Built from another version of the source (an update without a reinstall): the
        # Python paths give the same results, 1.5-2x slower; say so once.
        log.warning(
            "monitor's compiled matcher (%s) was built from another version of its source "
            "(%s, this code wants %s): matching runs the slower Python path; rebuild it with "
            "`pip install -e .` or `python3 setup.py build_ext --inplace`",
            _speedups.__file__,
            getattr(_speedups, "VERSION", None),
            VERSION,
        )
        return None
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


_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_MASK64 = (1 << 64) - 1
_FILTER_BITS = 20  # _speedups.pyx: FILTER_BITS
_PREFIX_FILTER_BITS = 12  # _speedups.pyx: PREFIX_FILTER_BITS
_MAX_PREFIX = 64


def _fnv(data: bytes) -> int:
    # FNV-1a, 64 bits: the hash _speedups.pyx computes for every word of the folded text.
    h = _FNV_OFFSET
    for byte in data:
        h = ((h ^ byte) * _FNV_PRIME) & _MASK64
    return h


def word_index(fast: ModuleType, keys: list[bytes]) -> Any:
    """The compiled ``Words`` index of the automaton keys ``keys`` (see _speedups.pyx).

    Whole-word keys (``b" ai act "``) and keys open at their end (``b" biometr"``) are
    indexed by the hash of their first word, one-word prefixes by their own hash (with
    the set of their lengths); keys open at their start stay with the automaton
    (``Words.residual``, pattern ids in order).
    """
    first: list[tuple[int, int, int]] = []  # (hash, pattern id, candidate)
    prefix: list[tuple[int, int, int]] = []
    residual: list[int] = []
    prefix_lengths = 0
    blob = bytearray()
    offsets = array("I")
    lengths = array("I")
    opens = bytearray()
    for pid, key in enumerate(keys):
        if not key.startswith(b" "):
            residual.append(pid)  # open at its start: the automaton's
            continue
        open_end = not key.endswith(b" ")
        body = key[1:] if open_end else key[1:-1]
        single_prefix = open_end and b" " not in body
        if single_prefix and len(body) >= _MAX_PREFIX:
            residual.append(pid)
            continue
        candidate = len(offsets)
        offsets.append(len(blob))
        lengths.append(len(body))
        opens.append(open_end)
        blob += body
        if single_prefix:
            prefix.append((_fnv(body), pid, candidate))
            prefix_lengths |= 1 << len(body)
        else:
            first.append((_fnv(body.split(b" ")[0]), pid, candidate))
    count = len(offsets)
    pids = array("i", [0] * count)
    chain = array("i", [-1] * count)
    for _, pid, candidate in first + prefix:
        pids[candidate] = pid
    a_hash, a_head = _hash_table(first, chain)
    b_hash, b_head = _hash_table(prefix, chain)
    bits = bytearray(1 << (_FILTER_BITS - 3))
    for h, _, _ in first + prefix:
        top = h >> (64 - _FILTER_BITS)
        bits[top >> 3] |= 1 << (top & 7)
    prefix_bits = bytearray(1 << (_PREFIX_FILTER_BITS - 3))
    for h, _, _ in prefix:
        top = h >> (64 - _PREFIX_FILTER_BITS)
        prefix_bits[top >> 3] |= 1 << (top & 7)
    tables = [a_hash, a_head, b_hash, b_head, bits, pids, chain, offsets, lengths, opens, blob]
    tables.append(prefix_bits)
    return fast.Words(residual, prefix_lengths, [bytes(t) for t in tables])


def _hash_table(entries: list[tuple[int, int, int]], chain: array[int]) -> tuple[bytes, bytes]:
    """Open addressing by hash, at most half full: per slot the hash and the first
    candidate; ``chain`` links the candidates that share a hash."""
    size = 4
    while size < 2 * len(entries):
        size *= 2
    hashes = array("Q", [0] * size)
    heads = array("i", [-1] * size)
    mask = size - 1
    for h, _, candidate in entries:
        slot = h & mask
        while heads[slot] != -1 and hashes[slot] != h:
            slot = (slot + 1) & mask
        if heads[slot] != -1:
            chain[candidate] = heads[slot]
        hashes[slot] = h
        heads[slot] = candidate
    return hashes.tobytes(), heads.tobytes()


@cache
def results(fast: ModuleType) -> Any:
    """The compiled builder of the matcher's ``Hit``, ``Snippet`` and ``Match`` objects
    (``_speedups.Results``): the same objects as their constructors make, faster."""
    import dataclasses

    from monitor.match.snippets import _FLATTEN, DEFAULT_CONTEXT, ELLIPSIS
    from monitor.models import Hit, Match, Snippet

    def names(cls: type, expected: tuple[str, ...]) -> tuple[str, ...]:
        # ``Results`` passes the values in this order: a model that changed must fail
        # here, not fill the wrong fields.
        found = tuple(f.name for f in dataclasses.fields(cls))
        if found != expected:
            raise RuntimeError(f"{cls.__name__} has fields {found}, _speedups expects {expected}")
        return found

    hit = names(Hit, ("term", "text", "field", "start", "end", "snippet", "actor", "form"))
    snippet = names(Snippet, ("text", "marks"))
    match = names(Match, ("watchlist", "score", "hits", "hit_count", "prominence"))
    return fast.Results(
        Hit, hit, Snippet, snippet, Match, match, DEFAULT_CONTEXT, ELLIPSIS, _FLATTEN
    )
