"""Article links as feeds give them: absolute, and unwrapped from redirects.

The canonical form of a link (its identity) is ``monitor.identity.canonical_url``.
``unwrap_link`` comes first: it turns a Google redirect link (Google Alerts'
``www.google.com/url?url=...``, Google News' ``news.google.com/rss/articles/<id>``) into
the publisher's URL, offline, so that the article has the URL its publisher's own feed
gives it.  FeedBurner's ``feedburner:origLink`` is read by the engines (``RawEntry``).
"""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import unquote, urljoin, urlsplit


def resolve(base: str, link: str) -> str:
    """``link`` made absolute against ``base``; unchanged when either is not a valid URL."""
    try:
        return urljoin(base, link)
    except ValueError:  # "Invalid IPv6 URL" and the like, from a garbled href
        return link


def is_web(url: str) -> bool:
    """True for an absolute http(s) URL, whatever the case of its scheme."""
    return url[:8].lower().startswith(("http://", "https://"))


# --- Redirect wrappers -------------------------------------------------------------------

# google.com, google.de, google.co.uk, google.com.au, with or without "www."
_GOOGLE_HOST = re.compile(r"(?:www\.)?google\.(?:com?\.)?[a-z]{2,3}\Z")
# A Google News article link: /rss/articles/<id>, /articles/<id> or /read/<id>.
_NEWS_PATH = re.compile(r"/(?:rss/)?(?:articles|read)/([A-Za-z0-9_-]{8,4096})/?\Z")
# The old-format id is a base64url protobuf message: field 1 = 19 (08 13), then field 4,
# length-delimited (22), holding the article URL; an AMP URL may follow (field 26).
_NEWS_PREFIX = b"\x08\x13\x22"
_BAD_CHARS = re.compile(r"[\x00-\x20\x7f]")
_MAX_DEPTH = 3


def unwrap_link(url: str) -> str:
    """The publisher's URL behind a Google redirect link; any other URL as given.

    Unwrapped, offline (no request is ever made):

    * ``https://www.google.com/url?...&url=<target>&...`` (Google Alerts; ``q=`` too) on
      google.com or a country domain (google.de, google.co.uk);
    * ``https://news.google.com/rss/articles/<id>`` whose id is Google News' old format
      (base64url ``CBMi...`` with the URL inside).  The newer ids (the payload starts
      ``AU_yqL``) are opaque without asking Google: such links stay as they are.

    The target is taken only when it is an absolute http(s) URL without white space;
    anything else (``javascript:``, a relative path, a garbled id) leaves ``url``
    unchanged.  Never raises.
    """
    # Every wrapper is on a Google host ("google.", "Google.", "GOOGLE."): almost every
    # link stops at this scan, before any parsing.
    if "oogle." not in url and "OOGLE." not in url:
        return url
    result = url
    for _ in range(_MAX_DEPTH):  # a wrapper around a wrapper, but never a loop
        inner = _unwrap_once(result)
        if inner is None:
            break
        result = inner
    return result


def _unwrap_once(url: str) -> str | None:
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https"):
        return None
    if host == "news.google.com":
        return _google_news(parts.path)
    if parts.path == "/url" and _GOOGLE_HOST.match(host):
        return _google_redirect(parts.query)
    return None


def _google_redirect(query: str) -> str | None:
    """The ``url`` parameter of a Google redirect, else its ``q``; None if neither is web."""
    found: dict[str, str] = {}
    for pair in query.replace("&amp;", "&").split("&"):
        name, sep, value = pair.partition("=")
        if sep and name in ("url", "q"):
            found.setdefault(name, value)
    for name in ("url", "q"):
        if name in found:
            target = _web_target(unquote(found[name]).strip())
            if target is not None:
                return target
    return None


def _google_news(path: str) -> str | None:
    """The URL inside an old-format Google News article id; None for anything else."""
    match = _NEWS_PATH.match(path)
    if match is None:
        return None
    ident = match.group(1)
    try:
        data = base64.urlsafe_b64decode(ident + "=" * (-len(ident) % 4))
    except (binascii.Error, ValueError):
        return None
    if not data.startswith(_NEWS_PREFIX):
        return None
    size, start = _varint(data, len(_NEWS_PREFIX))
    if size < 0 or start + size > len(data):
        return None
    try:
        target = data[start : start + size].decode("utf-8")
    except UnicodeDecodeError:
        return None
    return _web_target(target)


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """A protobuf varint at ``pos`` (at most 4 bytes): (value, next position), or (-1, pos)."""
    value = shift = 0
    for index in range(pos, min(pos + 4, len(data))):
        byte = data[index]
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, index + 1
        shift += 7
    return -1, pos


def _web_target(target: str) -> str | None:
    """``target`` when it is an absolute http(s) URL with a host and no white space."""
    if not is_web(target) or _BAD_CHARS.search(target):
        return None
    try:
        if not urlsplit(target).hostname:
            return None
    except ValueError:
        return None
    return target
