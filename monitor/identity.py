"""Article identity: the one URL normaliser and the one text hash, versioned (issue 11).

Every key that says "this article was seen before" is computed here, and nowhere else:

* ``canonical_url``: one spelling per article link.  courlan does the heavy lifting
  (lower-cased host, default port dropped, path quoting, sorted query, most tracking
  parameters such as ``utm_*``, ``fbclid``, ``gclid``, ``mc_*``); this module adds the
  feed-specific trackers it keeps (``src=rss`` on engadget, ``at_medium=RSS`` on the
  BBC, ``wt_mc`` on German outlets, ...), always drops the fragment and gives an empty
  path its ``/``.  Stored in ``articles.canonical_url`` and inside the ``link:`` and
  ``guid+link:`` entry keys (``monitor.parse.identity``).
* ``url_key``: the canonical URL loosened to "the same page": no scheme, no ``www.``,
  ``m.`` or ``amp.`` mirror, no ``/amp`` or ``/index.html`` ending, none of the extra
  share parameters below.  Stored in ``articles.url_key`` (the same article in any
  feed) and, hashed to 32 bits, in the near-duplicate fingerprints (``monitor.dedupe``).
  A home page has no key: every item of a feed may link to it.
* ``text_hash``: title and summary, insensitive to case, Unicode form and spacing.
  Stored inside ``hash:`` entry keys and in ``articles.content_hash`` (a publisher that
  regenerated both guid and URL).

Each of these is persisted, so changing what one computes would make known articles
look new.  ``VERSION`` is stored in the database (``meta.identity_version``); a change
here must bump it and add a migration that re-keys stored rows
(``monitor.store.migrations``), and the golden values in tests/test_identity.py fail
until both are done.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import SplitResult, urlsplit

VERSION = 2
"""Version 1: three URL keys and three text hashes (before issue 11); version 2: this module."""

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
    # Imported here: courlan (with urllib3, tld and babel) costs a cron `monitor poll`
    # with nothing due a quarter of its start-up, and that run keys no URL (issue 15).
    from courlan import normalize_url

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
    from courlan.clean import TRACKERS_RE  # imported here: see normalize

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


_MIRRORS = frozenset({"www", "www1", "www2", "m", "mobile", "amp"})
_URL_SUFFIXES = re.compile(r"(?:/amp|/index\.html?|/)+$")
# Parameters that say where a click came from, or which rendering of the page it is,
# not which page it is (beyond the attribution ``canonical_url`` already dropped).
_SHARE_PARAMS = re.compile(
    r"(?:utm_[a-z]*|src|ref|ref_src|source|fbclid|gclid|dclid|mc_cid|mc_eid|cmpid|ocid"
    r"|at_medium|at_campaign|taid|ito|xtor|smid|s_cid|feature|share|amp|output)(?:=|$)"
)


def url_key(canonical: str | None) -> str | None:
    """The key of the page a canonical URL (``canonical_url``'s output) names, or None.

    No scheme, no mirror label (``www.``, ``m.``, ``amp.``) in front of a host of three
    labels or more, no fragment, no port, no share parameters, no ``/amp``,
    ``/index.html`` or ``/`` ending: equal keys are the same article.  Other parameters
    stay (``news.ycombinator.com/item?id=1`` and ``?id=2`` are two pages).  None for a
    missing URL, one without a host, and a home page (not an article).  Never raises.
    """
    if not canonical:
        return None
    parts = _split(canonical)
    if parts is None:
        return None
    hostname, path, query = parts
    labels = hostname.lower().split(".")
    while len(labels) > 2 and labels[0] in _MIRRORS:
        labels.pop(0)
    host = ".".join(labels)
    path = _URL_SUFFIXES.sub("", path)
    if query:
        query = "&".join(
            sorted(p for p in query.split("&") if p and not _SHARE_PARAMS.match(p.lower()))
        )
    if not host or not (path or query):
        return None
    return host + path + ("?" + query if query else "")


# What canonical_url makes of a web URL: lower-case host, maybe a port, no white space,
# no fragment.  Such a URL is split here (urlsplit costs about 5 us a URL, and every new
# entry's URL is keyed); anything else goes through urlsplit.  The tests check that both
# agree.
_CANONICAL_PARTS = re.compile(r"https?://([a-z0-9.-]+)(?::[0-9]+)?(/[^?#\s]*)?(?:\?([^#\s]*))?\Z")


def _split(url: str) -> tuple[str, str, str] | None:
    """``(hostname, path, query)`` of a URL as ``urlsplit`` gives them; None if unreadable."""
    match = _CANONICAL_PARTS.match(url)
    if match is not None:
        return match.group(1), match.group(2) or "", match.group(3) or ""
    return _split_slowly(url)


def _split_slowly(url: str) -> tuple[str, str, str] | None:
    try:
        parts = urlsplit(url.strip())
        return parts.hostname or "", parts.path, parts.query
    except ValueError:
        return None


def text_hash(title: str, summary: str) -> str:
    """A stable hash of title and summary, insensitive to case, Unicode form and spacing.

    32 hex digits (BLAKE2b, 16 bytes) of the NFKC-normalised, casefolded text with every
    run of white space collapsed.
    """
    # Imported here: the state package imports this module, and a ``monitor poll`` with
    # nothing due needs no HTML entities nor the plain-text patterns (issue 15).
    from monitor.plaintext import collapse_space

    norm = unicodedata.normalize("NFKC", f"{collapse_space(title)}\n{collapse_space(summary)}")
    return hashlib.blake2b(norm.casefold().encode("utf-8"), digest_size=16).hexdigest()
