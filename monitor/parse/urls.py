"""Canonical article URLs: one spelling per article, whatever tracking the feed added.

courlan does the heavy lifting (lower-cased host, default port dropped, path quoting,
sorted query, most tracking parameters such as ``utm_*``, ``fbclid``, ``gclid``,
``mc_*``); this module adds the feed-specific trackers it keeps (``src=rss`` on
engadget, ``at_medium=RSS`` on the BBC, ``wt_mc`` on German outlets, ...), always drops
the fragment and gives an empty path its ``/``.

``unwrap_link`` comes first: it turns a Google redirect link (Google Alerts'
``www.google.com/url?url=...``, Google News' ``news.google.com/rss/articles/<id>``) into
the publisher's URL, offline, so that the article has the URL its publisher's own feed
gives it.  FeedBurner's ``feedburner:origLink`` is read by the engines (``RawEntry``).
"""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import SplitResult, unquote, urljoin, urlsplit

from courlan import normalize_url
from courlan.clean import TRACKERS_RE

# Attribution parameters that courlan's tracker list does not cover.  Each one says where
# the click came from, never which article it is, so dropping it cannot merge two articles.
_EXTRA_NAMES = frozenset(
    {
        "src",
        "ref",
        "ref_src",
        "ref_url",
        "ncid",
        "cmpid",
        "cmp",
        "ocid",
        "icid",
        "smid",
        "sr_share",
        "guccounter",
        "guce_referrer",
        "guce_referrer_sig",
        "_hsenc",
        "_hsmi",
        "spm",
        "rss",
        "dicbo",
        "taid",
        "ito",
        "s_cid",
    }
)
_EXTRA_PREFIXES = ("at_", "ns_", "wt_", "hsa_", "piwik_", "matomo_")
# A parameter whose value names the feed itself (``?from=rss``, ``?f=atom``) is attribution.
_FEED_VALUES = frozenset({"rss", "rss2", "atom", "feed", "feeds", "rssfeed", "rss_feed"})

# Already canonical by construction: lower-case ASCII host without port or punycode, a
# path of characters that courlan's quoting keeps as they are, no empty or dot segment,
# no query, no fragment.  Such a URL, bare or followed by tracking parameters only,
# skips courlan (12-25 us per call); the tests check that both routes always agree.
_PLAIN = re.compile(
    r"https?://(?!xn--)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.(?!xn--)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*"
    r"(?:/[A-Za-z0-9_~!=:,%-][A-Za-z0-9_.~!=:,%-]*)*/?\Z"
)


def canonical_url(url: str) -> str:
    """Return the canonical form of ``url``, the key that identifies an article link.

    Tracking parameters are removed, scheme and host lower-cased, the default port and
    the fragment dropped, the query sorted.  Anything that is not an absolute http(s)
    URL comes back stripped but otherwise unchanged.  Never raises.
    """
    url = url.strip()
    base, _, query = url.partition("?")
    if _PLAIN.match(base) and (not query or _only_trackers(query)):
        return base if base.count("/") > 2 else base + "/"
    return normalize(url)


def normalize(url: str) -> str:
    """``canonical_url`` without the shortcut for URLs that are already canonical."""
    url = url.strip()
    if "&amp;" in url:
        # An escaped ampersand left in a link by double escaping (feedparser fixes it
        # the same way for links); html.unescape would also eat "&copy=1".
        url = url.replace("&amp;", "&")
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return url
    query = _drop_attribution(parts.query) if parts.query else ""
    try:
        result = normalize_url(
            SplitResult(parts.scheme, parts.netloc, parts.path, query, ""), trailing_slash=True
        )
        out = urlsplit(result)
    except (ValueError, UnicodeError):
        return url.split("#", 1)[0]
    if not out.path:
        result = SplitResult(out.scheme, out.netloc, "/", out.query, "").geturl()
    return str(result)


_SIMPLE_QUERY = re.compile(r"[A-Za-z0-9_.=&-]*\Z")


def _only_trackers(query: str) -> bool:
    """True when ``normalize`` would drop every parameter of this (simple) query."""
    if not _SIMPLE_QUERY.match(query):
        return False
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        lname = name.lower()
        if not value or not (_is_attribution(lname, value) or TRACKERS_RE.search(lname)):
            return False
    return True


def _is_attribution(lname: str, value: str) -> bool:
    return (
        lname in _EXTRA_NAMES or lname.startswith(_EXTRA_PREFIXES) or value.lower() in _FEED_VALUES
    )


def _drop_attribution(query: str) -> str:
    kept = []
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        if not _is_attribution(name.lower(), value):
            kept.append(pair)
    return "&".join(kept)


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
