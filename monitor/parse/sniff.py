"""Recognise bodies that are not feeds at all, before any parser sees them.

A login wall, a Cloudflare challenge, a CMS error page or a JSON error: the server
answered 200 with something else.  The health report names what came instead.
"""

from __future__ import annotations

import re

from monitor.plaintext import html_to_text

_PROLOG = re.compile(rb"\s*(?:<\?xml[^>]*>\s*)?(?:(?:<!--.*?-->|<\?.*?\?>)\s*)*", re.DOTALL)
_DOCTYPE = re.compile(
    rb"<!doctype[^\[>]*(?:\[.*?\])?\s*>\s*(?:(?:<!--.*?-->|<\?.*?\?>)\s*)*",
    re.DOTALL | re.IGNORECASE,
)
_TAG = re.compile(rb"<([A-Za-z_][\w:.-]*)")
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.DOTALL | re.IGNORECASE)
_HTML_ROOTS = frozenset({"html", "head", "body"})
_FEED_ROOTS = frozenset({"rss", "feed", "rdf:rdf", "channel"})


def first_tag(data: bytes) -> str | None:
    """The name of the first element of a document, after prolog and doctype."""
    pos = _PROLOG.match(data)
    start = pos.end() if pos else 0
    doctype = _DOCTYPE.match(data, start)
    if doctype:
        start = doctype.end()
    tag = _TAG.match(data, start)
    return tag.group(1).decode("ascii", "replace") if tag else None


def not_a_feed(data: bytes) -> str | None:
    """Say what the body is when it clearly is not a feed; None when it may be one."""
    pos = _PROLOG.match(data)
    start = pos.end() if pos else 0
    head = data[start : start + 80]
    if not head.startswith(b"<"):
        if head[:1] in (b"{", b"["):
            return "not a feed: the body is JSON, not RSS or Atom"
        text = head.decode("utf-8", "replace")
        return f"not a feed: the body is not XML (it starts with {' '.join(text.split())[:40]!r})"
    name = first_tag(data)
    if name is not None and name.lower() in _HTML_ROOTS:
        return html_page(data)
    if head[:14].lower() == b"<!doctype html" and (name or "").lower() not in _FEED_ROOTS:
        # An XHTML doctype in front of an <rss> is a feed all the same (feedparser
        # strips it); the root element decides.
        return html_page(data)
    return None


def html_page(data: bytes) -> str:
    match = _TITLE.search(data, 0, 65536)
    title = html_to_text(match.group(1).decode("utf-8", "replace")) if match else ""
    if not title:
        return "not a feed: the server sent an HTML page (no title)"
    if len(title) > 80:
        title = title[:79] + "…"
    return f"not a feed: the server sent an HTML page (title {title!r})"
