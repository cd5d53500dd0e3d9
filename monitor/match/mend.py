"""What feeds do to words, undone before the fold without moving a single offset.

Issue 18: aggregators escape twice, so one decode leaves ``facial&nbsp;recognition`` or
``Europe&#8217;s`` in the text; plain text breaks words at line ends (``recog-\\nnition``).
The fold works character by character and offsets map back one character to one, so
each repair here keeps the text's length: a character reference left in the text
becomes what it stands for followed by characters the fold deletes (soft hyphens), or
spaces when it stands for a word break; a line-end hyphen between two lower-case
letters becomes two soft hyphens.  The places repaired are returned, so that a hit
that begins or ends inside one covers all of it (``caf&eacute;``, never ``caf&``).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from html import unescape
from html.entities import html5

SOFT_HYPHEN = "\u00ad"
# A character reference as text: the named ones that HTML 5 knows (with their ";"),
# decimal or hexadecimal numbers; escaped once more or several times (``&amp;amp;nbsp;``).
_REFERENCE = re.compile(r"&(?:amp;)*(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,31});")
# A word broken at a line end with a hyphen; only between lower-case letters, so that
# "EU-\nwide" and "2024-\n2025" keep their break.
_LINE_HYPHEN = re.compile(r"(?<=[^\W\d_])-[ \t]*\r?\n[ \t]*(?=[^\W\d_])")

Regions = tuple[tuple[int, ...], tuple[int, ...]]
"""Starts and ends of the repaired places, in order."""

NO_REGIONS: Regions = ((), ())


def mend(text: str) -> tuple[str, Regions]:
    """``text`` with left-over character references and line-end hyphens repaired.

    Same length as ``text``; cheap when there is nothing to repair (two C-level tests).
    """
    if "&" not in text and "\n" not in text:
        return text, NO_REGIONS
    repairs: list[tuple[int, int, str]] = []
    if "&" in text:
        for m in _REFERENCE.finditer(text):
            found = m.group()
            name = m.group(1)
            if not name.startswith("#") and name + ";" not in html5:
                continue  # "&copy2024;" and the like: no reference, leave it
            decoded = unescape(f"&{name};")
            if decoded == found or len(decoded) > len(found):
                continue
            if not decoded.isalnum():
                # A break (NBSP, quote, dash) or a deleted character (soft hyphen, zero
                # width): spaces keep it a break, soft hyphens keep it deleted.
                filler = SOFT_HYPHEN if _deleted(decoded) else " "
                repairs.append((m.start(), m.end(), filler * len(found)))
            else:
                repairs.append(
                    (m.start(), m.end(), decoded + SOFT_HYPHEN * (len(found) - len(decoded)))
                )
    if "\n" in text:
        for m in _LINE_HYPHEN.finditer(text):
            if text[m.start() - 1].islower() and text[m.end()].islower():
                repairs.append((m.start(), m.end(), SOFT_HYPHEN * (m.end() - m.start())))
    if not repairs:
        return text, NO_REGIONS
    repairs.sort()
    parts = []
    pos = 0
    starts = []
    ends = []
    for start, end, replacement in repairs:
        if start < pos:
            continue
        parts.append(text[pos:start])
        parts.append(replacement)
        starts.append(start)
        ends.append(end)
        pos = end
    parts.append(text[pos:])
    return "".join(parts), (tuple(starts), tuple(ends))


def widen(start: int, end: int, regions: Regions) -> tuple[int, int]:
    """``(start, end)`` grown to cover every repaired place it begins or ends inside."""
    starts, ends = regions
    if not starts:
        return start, end
    k = bisect_right(starts, start) - 1
    if k >= 0 and start < ends[k]:
        start = starts[k]
    k = bisect_right(starts, end - 1) - 1
    if k >= 0 and end < ends[k]:
        end = ends[k]
    return start, end


def _deleted(char: str) -> bool:
    from monitor.match.normalize import tables_for

    return all(tables_for(c).fold.get(ord(c), " ") == "" for c in char)
