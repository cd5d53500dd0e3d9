"""The fallback engine: feedparser, for everything the fast engine does not take.

feedparser reads broken XML with its loose parser ("bozo" feeds), CDF and the items the
fast engine cannot read.  It gets the same normalised UTF-8 bytes as the fast engine, as a stream so
that a body is never mistaken for a file name or a URL, and with sanitising and
relative-URI rewriting off: the builder wants the publisher's markup, not a
re-serialised copy, and resolves links itself.
"""

from __future__ import annotations

import io
import re
import xml.sax
from typing import Any

import feedparser

from monitor.errors import ParseError
from monitor.parse.compat import base64_text, content_type, printable, text_kind
from monitor.parse.raw import RawEntry, RawFeed, RawText
from monitor.parse.urls import is_web, resolve

_BASE64 = re.compile(r"[A-Za-z0-9+/\s]+={0,2}")
_HEADERS = {"content-type": "application/xml; charset=utf-8"}


def read(data: bytes, base_url: str) -> RawFeed:
    """Read a UTF-8 feed body with feedparser.

    Raises:
        ParseError: feedparser itself failed (a bug in it, not a broken feed).
    """
    try:
        parsed = feedparser.parse(
            io.BytesIO(data),
            response_headers=_HEADERS,
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except Exception as exc:  # feedparser is the library boundary of this stage
        raise ParseError(f"feedparser failed: {type(exc).__name__}: {exc}", url=base_url) from exc
    info = dict.get(parsed, "feed", {}) or {}
    link = _str(dict.get(info, "link"))
    if link and dict.get(info, "guidislink") and link == _str(dict.get(info, "id")):
        # An Atom feed without an alternate link gets its id as link: only a URL id is one.
        link = link if is_web(link) else None
    feed = RawFeed(
        format=str(dict.get(parsed, "version", "") or ""),
        entries=[_entry(e, base_url) for e in dict.get(parsed, "entries", [])],
        title=_text(info, "title"),
        link=link,
        language=_str(dict.get(info, "language")),
        ttl=_str(dict.get(info, "ttl")),
        authors=_people(info),
    )
    if dict.get(parsed, "bozo"):
        # feedparser puts a declaration and a newline before a document that has none,
        # so its line numbers are one too high for such a document.
        shift = 0 if data.startswith(b"<?xml") else 1
        feed.malformed = _describe(dict.get(parsed, "bozo_exception"), shift)
    feed.not_a_feed = not feed.format and not feed.entries
    return feed


def _describe(exc: Any, shift: int) -> str | None:
    if isinstance(exc, xml.sax.SAXParseException):
        line = exc.getLineNumber()
        where = f" at line {max(1, line - shift)}" if line is not None else ""
        return f"malformed XML{where}: {exc.getMessage()}"
    if isinstance(exc, feedparser.ThingsNobodyCaresAboutButMe):
        return None  # charset problems are found and reported before parsing
    if exc is None:
        return "malformed feed"
    return f"malformed feed: {type(exc).__name__}: {exc}"


def _str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _text(d: dict[str, Any], key: str) -> RawText | None:
    value = dict.get(d, key)
    if value is None:
        return None
    detail = dict.get(d, key + "_detail")
    if detail is None and key == "summary":
        # feedparser copies a text or HTML content into a missing summary without its
        # type: the content's type holds (a literal "<blink>" in plain text stays).
        for item in dict.get(d, "content", None) or []:
            if item.get("value") == value:
                detail = item
                break
    return _typed(str(value), str((detail or {}).get("type", "text/html")))


def _typed(value: str, mime: str) -> RawText | None:
    html = text_kind(content_type(mime, "text/plain"))
    if html is None:
        # A non-text Atom type: feedparser decoded the base64 when it was UTF-8 text, and
        # left it as it was when not (binary); keep only text, as the fast engine does.
        text = base64_text(value) if _BASE64.fullmatch(value.strip()) else printable(value)
        return None if text is None else RawText(text, False)
    return RawText(value, html)


def _content(d: dict[str, Any]) -> RawText | None:
    for item in dict.get(d, "content", None) or []:
        text = _typed(str(item.get("value", "")), str(item.get("type", "text/html")))
        if text is not None:
            return text
    return None


def _people(d: dict[str, Any]) -> list[str]:
    names = []
    for person in dict.get(d, "authors", None) or []:
        name = _str(person.get("name")) or _str(person.get("email"))
        if name:
            names.append(name)
    return names


def _entry(e: dict[str, Any], base_url: str) -> RawEntry:
    guid = _str(dict.get(e, "id"))
    link = _str(dict.get(e, "link"))
    if link and dict.get(e, "guidislink") and link == guid and not is_web(link):
        # feedparser copies any guid into the link; only a URL guid is a permalink.
        link = None
    if link and not is_web(link):
        link = resolve(base_url, link)
    detail = dict.get(e, "title_detail") or dict.get(e, "summary_detail") or {}
    tags = [_str(t.get("term")) or _str(t.get("label")) for t in dict.get(e, "tags", None) or []]
    return RawEntry(
        guid=guid,
        link=link,
        orig_link=_str(dict.get(e, "feedburner_origlink")),
        title=_text(e, "title"),
        summary=_text(e, "summary"),
        content=_content(e),
        published=_str(dict.get(e, "published")),
        updated=_str(dict.get(e, "updated")),
        language=_str(dict.get(e, "language")) or _str(detail.get("language")),
        authors=_people(e),
        tags=[t for t in tags if t],
    )
