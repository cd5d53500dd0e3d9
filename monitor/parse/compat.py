"""feedparser's reading rules, shared so that the lxml engine reads what feedparser reads.

Each helper reproduces one documented feedparser behaviour (feedparser 6,
``feedparser/mixin.py``); the golden tests run both engines on every fixture and
fail on the first difference.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
from html.entities import entitydefs

from feedparser.html import _cp1252
from feedparser.sanitizer import _HTMLSanitizer

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# Atom's short names, and Media RSS's "plain" (feedparser's map_content_type).
_SHORT_TYPES = {
    "text": "text/plain",
    "plain": "text/plain",
    "html": "text/html",
    "xhtml": "application/xhtml+xml",
}
_ACCEPTABLE = frozenset(_HTMLSanitizer.acceptable_elements)
_C1 = re.compile("[\x80-\x9f]")
_CLOSE_TAG = re.compile(r"</(\w+)>")
_ENTITY = re.compile(r"&#?\w+;")
_TAG_NAME = re.compile(r"</?(\w+)")
_ENTITY_NAME = re.compile(r"&(\w+);")
# Control characters other than white space: a decoded value holding one is binary.
_BINARY = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# feedparser's own pattern for an e-mail address inside an RSS <author> string.
_EMAIL = re.compile(
    r"(([a-zA-Z0-9\_\-\.\+]+)@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.)|"
    r"(([a-zA-Z0-9\-]+\.)+))([a-zA-Z]{2,4}|[0-9]{1,3})(\]?))(\?subject=\S+)?"
)


def content_type(attr: str | None, default: str) -> str:
    """Map an Atom ``type`` attribute (``text``, ``html``, ``xhtml`` or a MIME type)."""
    value = (attr or default).strip().lower()
    return _SHORT_TYPES.get(value, value)


def text_kind(mime: str) -> bool | None:
    """True for markup, False for plain text, None for anything else (base64, XML)."""
    if mime in HTML_TYPES:
        return True
    if mime.startswith("text/"):
        return False
    return None


def base64_text(value: str) -> str | None:
    """The text inside a base64 field (an Atom text construct of a non-text type).

    feedparser decodes such a field and shows it; it is kept here only when it decodes
    to UTF-8 text, so an image or other binary payload never becomes "words".
    """
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=False)
        text = raw.decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        return None
    return printable(text)


def base64_or_same(value: str) -> str:
    """A base64 value decoded to UTF-8 text, or the value itself when it is not one."""
    try:
        return base64.decodebytes(value.encode("utf-8")).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        return value


def printable(text: str) -> str | None:
    """``text`` when it holds no control characters but white space, else None."""
    text = text.strip()
    return text if text and not _BINARY.search(text) else None


def looks_like_html(text: str) -> bool:
    """RSS gives no type for titles: markup is assumed only on strong evidence.

    A close tag or an entity reference is needed, and every tag and entity must be
    known HTML, so "3 < 5 & co" or "<Title> of a book" stay plain text.
    """
    if not (_CLOSE_TAG.search(text) or _ENTITY.search(text)):
        return False
    if any(t.lower() not in _ACCEPTABLE for t in _TAG_NAME.findall(text)):
        return False
    return all(e in entitydefs for e in _ENTITY_NAME.findall(text))


def fix_text(text: str) -> str:
    """Undo UTF-8 read as Latin-1 ("CafÃ©") and map C1 controls to windows-1252.

    feedparser applies both to every value of a UTF-8 document.
    """
    if text.isascii():
        return text
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        text = text.encode("iso-8859-1").decode("utf-8")
    # translate() with a dict costs ~20 us on a summary; C1 controls are rare.
    return text.translate(_cp1252) if _C1.search(text) else text


def author_name(value: str) -> str | None:
    """The name in an RSS ``<author>`` string such as ``jane@example.com (Jane Doe)``.

    The e-mail address is returned when there is no name; None when there is neither.
    """
    author = value.strip()
    email = None
    match = _EMAIL.search(author)
    if match:
        email = match.group(0)
        author = author.replace(email, "").replace("()", "").replace("<>", "")
        author = author.replace("&lt;&gt;", "").strip()
        if author and author[0] == "(":
            author = author[1:]
        if author and author[-1] == ")":
            author = author[:-1]
        author = author.strip()
    return author or email or None
