"""Short extracts around a hit, cut on word boundaries, with every hit in them marked."""

from __future__ import annotations

import re
from collections.abc import Iterable

from monitor.models import Snippet

ELLIPSIS = "…"
DEFAULT_CONTEXT = 80
# Line breaks and tabs become spaces one for one, so that marks keep their offsets.
_FLATTEN = {code: " " for code in (*range(0, 32), 0x7F, 0x2028, 0x2029)}
_CONTROL = re.compile("[\x00-\x1f\x7f\u2028\u2029]")


def make_snippet(
    text: str,
    start: int,
    end: int,
    marks: Iterable[tuple[int, int]] = (),
    context: int = DEFAULT_CONTEXT,
) -> Snippet:
    """About ``context`` characters either side of ``text[start:end]``.

    ``marks`` are other spans of ``text`` to mark if they fall inside the extract; the
    span ``(start, end)`` itself is always marked.
    """
    lo = max(0, start - context)
    hi = min(len(text), end + context)
    if lo > 0:
        space = text.find(" ", lo, start)
        lo = space + 1 if space != -1 else lo
    if hi < len(text):
        space = text.rfind(" ", end, hi)
        hi = space if space != -1 else hi
    while lo < start and text[lo].isspace():
        lo += 1
    while hi > end and text[hi - 1].isspace():
        hi -= 1
    prefix = ELLIPSIS if lo > 0 else ""
    suffix = ELLIPSIS if hi < len(text) else ""
    shift = len(prefix) - lo
    spans = {(start, end), *marks}
    kept = sorted((s + shift, e + shift) for s, e in spans if lo <= s and e <= hi and s < e)
    body = text[lo:hi]
    if _CONTROL.search(body):
        body = body.translate(_FLATTEN)
    return Snippet(prefix + body + suffix, tuple(kept))
