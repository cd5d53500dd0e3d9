"""Full text: which new articles need their page, and the page's text as ``body``.

The decision is pure (:func:`wanted`); :func:`enrich` is the small async edge that
fetches and extracts.  A page that cannot be had (robots.txt, 404, timeout, too large,
no text) never holds its article back: the article is matched on its feed text and
the failure is counted for the feed.
"""

from __future__ import annotations

import asyncio
import logging
import re
import statistics
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from monitor.errors import ParseError
from monitor.fetch.pages import PageFetcher
from monitor.models import Article, FeedSpec
from monitor.parse.extract import extract_body

log = logging.getLogger(__name__)

TEASER_CHARS = 300
"""A feed text shorter than this is a teaser (a headline-and-a-line summary)."""
MUCH_SHORTER = 0.25
"""A text shorter than this share of the feed's usual length is a teaser too."""
USUAL_MIN_ENTRIES = 4
"""The feed's usual length is the median of its entries, when it has this many."""
_CUT = re.compile(
    r"(?:\.\.\.|…|\[(?:…|\.\.\.)\]|\((?:…|\.\.\.)\)|read more|continue reading|"
    r"lire la suite|weiterlesen|mehr lesen|leer más|czytaj więcej)\W*$",
    re.IGNORECASE,
)


def feed_text(article: Article) -> str:
    """What the feed carries beyond the title: the longer of content and summary."""
    return article.content if len(article.content) >= len(article.summary) else article.summary


def usual_length(articles: Sequence[Article]) -> float | None:
    """The median feed text length of a feed's entries (None: too few to say)."""
    if len(articles) < USUAL_MIN_ENTRIES:
        return None
    return statistics.median(len(feed_text(a)) for a in articles)


def is_teaser(article: Article, usual: float | None) -> bool:
    """Short, cut with an ellipsis ("…", "[...]", "Read more"), or much shorter than
    the feed's usual length."""
    text = feed_text(article).strip()
    if len(text) < TEASER_CHARS or _CUT.search(text):
        return True
    return usual is not None and len(text) < usual * MUCH_SHORTER


def wanted(
    spec: FeedSpec,
    articles: Sequence[Article],
    known: Collection[str],
    *,
    since: datetime | None = None,
    keep_newest: int = 0,
) -> list[Article]:
    """The articles whose page to fetch: new (key not in ``known``), with a URL, and
    by ``spec.fulltext``: every one (``always``), the teasers (``auto``), none (``never``).
    Each URL once.

    ``since``: only articles published then or later, and the ``keep_newest`` newest.
    On a feed's first poll every entry is new, but only the newest few may alert
    (``backfill``) and only those of the last day enter digests (``monitor.route``):
    fetching the other pages would only cost the publisher.
    """
    if spec.fulltext == "never":
        return []
    usual = usual_length(articles) if spec.fulltext == "auto" else None
    out: list[Article] = []
    urls: set[str] = set()
    for article in articles:
        url = article.url or article.canonical_url
        if article.key in known or not url or url in urls:
            continue
        if spec.fulltext == "always" or is_teaser(article, usual):
            urls.add(url)
            out.append(article)
    if since is None:
        return out
    newest = sorted(out, key=lambda a: a.published or since, reverse=True)[:keep_newest]
    keep = {a.key for a in newest}
    return [a for a in out if a.key in keep or a.published is None or a.published >= since]


@dataclass(frozen=True, slots=True)
class Enriched:
    """The feed's articles with the bodies that could be had, and the page counts."""

    articles: tuple[Article, ...]
    changed: frozenset[str]
    """Keys of the articles that got a body."""
    fetched: int = 0
    failures: int = 0
    errors: tuple[str, ...] = ()


async def enrich(
    pages: PageFetcher,
    spec: FeedSpec,
    articles: Sequence[Article],
    known: Collection[str],
    now: datetime,
    *,
    since: datetime | None = None,
    keep_newest: int = 0,
    extract: Callable[[bytes, str], str] | None = None,
) -> Enriched:
    """Fetch the pages :func:`wanted` names (concurrently; the fetcher bounds them per
    host) and put each page's text in its article's ``body``.  Never raises for a page.
    """
    todo = wanted(spec, articles, known, since=since, keep_newest=keep_newest)
    if not todo:
        return Enriched(tuple(articles), frozenset())
    run = extract or _extract
    results = await asyncio.gather(*(_body(pages, spec, a, now, run) for a in todo))
    bodies: dict[str, str] = {}
    errors: list[str] = []
    for article, (body, error) in zip(todo, results, strict=True):
        if body is not None:
            bodies[article.key] = body
        else:
            errors.append(error or "unknown error")
            log.info("feed %s: full text of %s: %s", spec.id, article.url, error)
    out = tuple(replace(a, body=bodies[a.key]) if a.key in bodies else a for a in articles)
    return Enriched(
        out, frozenset(bodies), fetched=len(bodies), failures=len(errors), errors=tuple(errors)
    )


def _extract(page: bytes, url: str) -> str:
    return extract_body(page, url=url)


async def _body(
    pages: PageFetcher,
    spec: FeedSpec,
    article: Article,
    now: datetime,
    extract: Callable[[bytes, str], str],
) -> tuple[str | None, str | None]:
    url = article.url or article.canonical_url or ""
    try:
        page = await pages.fetch(spec.id, url, now)
        if page.body is None:
            return None, page.error
        # CPU-bound (~16 ms a page): in a thread, so other feeds' I/O goes on meanwhile.
        return await asyncio.to_thread(extract, page.body, url), None
    except ParseError as exc:
        return None, str(exc)
    except Exception as exc:  # a bug must not hold the article back; logged loudly
        log.exception("feed %s: full text of %s failed", spec.id, url)
        return None, f"internal error: {type(exc).__name__}: {exc}"
