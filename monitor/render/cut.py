"""Cutting text to a documented length: at a word boundary, with an ellipsis.

Shared by the Telegram and e-mail renderers so that both cut titles, names and snippets
the same way (issue 10 item 3: every rendered message is bounded).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

ELLIPSIS = "…"
_SPACE = re.compile(r"\s")


def _glued(char: str) -> bool:
    """Characters that belong to the one before them (accents, ZWJ, variation selectors)."""
    return bool(unicodedata.combining(char)) or unicodedata.category(char) in (
        "Mn",
        "Me",
        "Cf",
        "Sk",
    )


def _ideographic(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F") and char.isalpha()


def cut_point(text: str, limit: int) -> int:
    """Where to cut ``text`` to keep at most ``limit`` characters: at white space, else
    between two ideographs (scripts written without spaces), else at a character
    boundary that does not split an accent or an emoji sequence."""
    for i in range(limit, 0, -1):
        if _SPACE.match(text[i]) or _SPACE.match(text[i - 1]):
            if i >= limit // 2:
                return i
            break
    for i in range(limit, 0, -1):
        if _ideographic(text[i - 1]) and not _glued(text[i]):
            return i
    space = max((m.start() for m in _SPACE.finditer(text, 0, limit)), default=0)
    if space:
        return space
    i = limit
    while i > 1 and (_glued(text[i]) or text[i - 1] == "\u200d"):
        i -= 1
    return i


def shorten(
    text: str, spans: Sequence[tuple[int, int]], limit: int
) -> tuple[str, list[tuple[int, int]]]:
    """At most ``limit`` characters, ending in "…" when cut; marks clipped to what is left."""
    if len(text) <= limit:
        return text, list(spans)
    cut = len(text[: cut_point(text, max(limit - 1, 1))].rstrip())
    return text[:cut] + ELLIPSIS, [(s, min(e, cut)) for s, e in spans if s < cut]


def cut(text: str, limit: int) -> str:
    """``text`` (stripped) cut to at most ``limit`` characters with "…"."""
    return shorten(text.strip(), (), limit)[0]
