"""Short extracts around a hit, cut on word boundaries, with every hit in them marked."""

from __future__ import annotations

import re
from collections.abc import Collection
from types import ModuleType
from typing import cast

from monitor.models import Snippet

ELLIPSIS = "…"
DEFAULT_CONTEXT = 80
# Line breaks and tabs become spaces one for one, so that marks keep their offsets.
_FLATTEN = {code: " " for code in (*range(0, 32), 0x7F, 0x2028, 0x2029)}
_CONTROL = re.compile("[\x00-\x1f\x7f\u2028\u2029]")


def compiled_snippet(
    fast: ModuleType | None,
    text: str,
    start: int,
    end: int,
    marks: Collection[tuple[int, int]] = (),
) -> Snippet:
    """:func:`make_snippet` by the compiled module ``fast`` (``monitor.speedups``) when
    given, else (or for a span it does not take) in Python: the same result."""
    if fast is not None:
        made = fast.snippet(text, start, end, marks, DEFAULT_CONTEXT, Snippet, ELLIPSIS, _FLATTEN)
        if made is not NotImplemented:
            return cast(Snippet, made)
    return make_snippet(text, start, end, marks)


def make_snippet(
    text: str,
    start: int,
    end: int,
    marks: Collection[tuple[int, int]] = (),
    context: int = DEFAULT_CONTEXT,
) -> Snippet:
    """About ``context`` characters either side of ``text[start:end]``.

    ``marks`` are other spans of ``text`` to mark if they fall inside the extract; the
    span ``(start, end)`` itself is always marked.
    """
    size = len(text)
    lo = start - context
    if size <= 2 * context + (end - start):
        # A text this short is its own snippet: every hit in it then shares one extract,
        # so an alert shows the summary once, all hits marked, not once per hit.
        lo, hi = 0, size
    elif lo > 0:
        space = text.find(" ", lo, start)
        if space != -1:
            lo = space + 1
    else:
        lo = 0
    if size > 2 * context + (end - start):
        hi = end + context
        if hi < size:
            space = text.rfind(" ", end, hi)
            if space != -1:
                hi = space
        else:
            hi = size
    while lo < start and text[lo].isspace():
        lo += 1
    while hi > end and text[hi - 1].isspace():
        hi -= 1
    body = text[lo:hi]
    if not body.isprintable() and _CONTROL.search(body):
        body = body.translate(_FLATTEN)
    shift = -lo
    if lo:
        shift += len(ELLIPSIS)
        body = ELLIPSIS + body + ELLIPSIS if hi < size else ELLIPSIS + body
    elif hi < size:
        body += ELLIPSIS
    # The hit itself always lies within [lo, hi].
    if not marks:
        return Snippet(body, ((start + shift, end + shift),) if start < end else ())
    kept = [(start + shift, end + shift)] if start < end else []
    for s, e in set(marks):
        if lo <= s and e <= hi and s < e and (s != start or e != end):
            kept.append((s + shift, e + shift))
    kept.sort()
    return Snippet(body, tuple(kept))
