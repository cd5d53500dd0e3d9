"""HTML entities in XML: ``&nbsp;`` and ``&eacute;`` where only five entities exist.

Many CMSs write HTML named entities straight into their feeds' XML.  A strict parser
stops at the first one and feedparser's loose parser takes over (slowly); both engines
instead get the document with those references spelled as character references, which
is what the publisher meant, and the feed's health says so.  References inside CDATA
sections are text, not entities, and stay as they are; a document that declares its
own entities in an internal DTD subset is left alone.
"""

from __future__ import annotations

import re
from html.entities import name2codepoint

_NAMED = re.compile(rb"&(?!(?:amp|lt|gt|quot|apos);)([A-Za-z][A-Za-z0-9]{1,31});")
_CDATA = re.compile(rb"(<!\[CDATA\[.*?\]\]>)", re.DOTALL)


def replace_html_entities(data: bytes) -> tuple[bytes, str | None]:
    """Return the document with HTML named entities as character references, and a note.

    The note is None when nothing was replaced.
    """
    if not _NAMED.search(data) or b"<!ENTITY" in data:
        return data, None
    found: dict[str, None] = {}

    def sub(match: re.Match[bytes]) -> bytes:
        name = match.group(1).decode("ascii")
        code = name2codepoint.get(name)
        if code is None:
            return match.group(0)
        found.setdefault(name, None)
        return b"&#%d;" % code

    parts = _CDATA.split(data)
    for i in range(0, len(parts), 2):  # even parts are outside CDATA sections
        parts[i] = _NAMED.sub(sub, parts[i])
    if not found:
        return data, None
    names = ", ".join(f"&{n};" for n in list(found)[:5]) + (", ..." if len(found) > 5 else "")
    return b"".join(parts), f"HTML entities that XML does not define ({names}); read as HTML"
