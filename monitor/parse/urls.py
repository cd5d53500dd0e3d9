"""Canonical article URLs: one spelling per article, whatever tracking the feed added.

courlan does the heavy lifting (lower-cased host, default port dropped, path quoting,
sorted query, most tracking parameters such as ``utm_*``, ``fbclid``, ``gclid``,
``mc_*``); this module adds the feed-specific trackers it keeps (``src=rss`` on
engadget, ``at_medium=RSS`` on the BBC, ``wt_mc`` on German outlets, ...), always drops
the fragment and gives an empty path its ``/``.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urljoin, urlsplit

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
