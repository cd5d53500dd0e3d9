"""Engine output to ``Article`` values: plain text, UTC dates, languages, identity keys."""

from __future__ import annotations

import functools
import re
from datetime import datetime, timedelta

from monitor.identity import canonical_url
from monitor.models import Article, ParsedFeed
from monitor.parse.dates import entry_time
from monitor.parse.identity import IdentityParts, assign_keys
from monitor.parse.raw import RawEntry, RawFeed, RawText
from monitor.parse.urls import is_web, unwrap_link
from monitor.plaintext import collapse_space, html_to_text

MAX_ENTRIES = 10_000
"""Entries read from one body; a larger feed is an archive dump, its tail is ignored."""
_LANG = re.compile(r"[A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8})*\Z")
_MAX_TTL_MINUTES = 366 * 24 * 60


def plain(text: RawText | None) -> str:
    """The plain text of a field: markup stripped only when the feed says it is HTML."""
    if text is None:
        return ""
    return html_to_text(text.value) if text.html else collapse_space(text.value)


@functools.lru_cache(maxsize=256)
def language_tag(value: str | None) -> str | None:
    """Normalise a language tag to BCP 47 case (``en-us`` -> ``en-US``); None if invalid."""
    if not value:
        return None
    value = value.strip()
    if not _LANG.match(value):
        return None
    first, *rest = value.replace("_", "-").split("-")
    parts = [first.lower()]
    for part in rest:
        if len(part) == 2 and part.isalpha():
            parts.append(part.upper())
        elif len(part) == 4 and part.isalpha():
            parts.append(part.title())
        else:
            parts.append(part.lower())
    return "-".join(parts)


def article_link(entry: RawEntry) -> str | None:
    """The entry's link, with redirect wrappers removed: FeedBurner's ``origLink`` when it
    is an absolute http(s) URL, else the link itself, unwrapped (``urls.unwrap_link``)."""
    orig = entry.orig_link
    if orig and is_web(orig):
        return unwrap_link(orig)
    link = entry.link
    return unwrap_link(link) if link else None


def build(
    raw: RawFeed, *, feed_id: str, now: datetime, language: str | None, problems: list[str]
) -> ParsedFeed:
    """Turn an engine's reading into a ``ParsedFeed``.

    ``problems`` (found before parsing) come first in the result; this adds its own.
    """
    problems = list(problems)
    entries = raw.entries
    if len(entries) > MAX_ENTRIES:
        problems.append(f"the feed has {len(entries)} entries; read the first {MAX_ENTRIES}")
        entries = entries[:MAX_ENTRIES]
    feed_language = language_tag(raw.language) or language_tag(language)
    inherited = raw.authors if raw.format.startswith("atom") else []
    drafts: list[tuple[RawEntry, str, str, str, str | None, str | None, datetime, bool]] = []
    parts: list[IdentityParts] = []
    empty = future = 0
    garbled: list[str] = []
    for entry in entries:
        title, summary, content = plain(entry.title), plain(entry.summary), plain(entry.content)
        if not summary and content:
            summary = content  # feedparser's rule: the content stands in for a missing summary
        link = article_link(entry)
        if not (title or summary or link or entry.guid):
            empty += 1
            continue
        # Only a web link is an article URL: "javascript:" or "data:" never reach a reader.
        url = link if link is not None and is_web(link) else None
        canonical = canonical_url(url) if url else None
        published, from_feed, trouble = entry_time(entry.published, entry.updated, now)
        if trouble == "future":
            future += 1
        elif trouble is not None:
            garbled.append(trouble)
        drafts.append((entry, title, summary, content, url, canonical, published, from_feed))
        parts.append(IdentityParts(entry.guid or None, canonical or link, title, summary))
    keys, key_problems = assign_keys(parts)
    fallback_authors = _unique(inherited)
    articles = tuple(
        Article(
            feed_id=feed_id,
            key=key,
            title=title,
            url=url,
            canonical_url=canonical,
            summary=summary,
            content=content,
            published=published,
            date_from_feed=from_feed,
            language=language_tag(entry.language) or feed_language,
            authors=_unique(entry.authors) or fallback_authors,
            tags=_unique(entry.tags),
        )
        for (entry, title, summary, content, url, canonical, published, from_feed), key in zip(
            drafts, keys, strict=True
        )
        if key
    )
    if raw.malformed:
        count = len(articles)
        read = _n(count, "entry", "entries") + " read" if count else "no entry read"
        problems.append(f"{raw.malformed}; {read}")
    if empty:
        problems.append(
            f"skipped {_n(empty, 'entry', 'entries')} with no title, text, link or guid"
        )
    if garbled:
        problems.append(
            f"{_n(len(garbled), 'entry has', 'entries have')} an unreadable date "
            f"(first: {garbled[0][:60]!r}); used the poll time"
        )
    if future:
        problems.append(
            f"{_n(future, 'entry is', 'entries are')} dated more than a day in the "
            "future; used the poll time"
        )
    problems.extend(key_problems)
    ttl, ttl_problem = _ttl(raw.ttl)
    if ttl_problem:
        problems.append(ttl_problem)
    return ParsedFeed(
        feed_id=feed_id,
        articles=articles,
        title=plain(raw.title) or None,
        link=raw.link or None,
        language=feed_language,
        ttl=ttl,
        format=raw.format or None,
        problems=tuple(problems),
    )


def _unique(values: list[str]) -> tuple[str, ...]:
    if not values:
        return ()
    seen: dict[str, None] = {}
    for value in values:
        clean = collapse_space(value)
        if clean:
            seen.setdefault(clean, None)
    return tuple(seen)


def _ttl(value: str | None) -> tuple[timedelta | None, str | None]:
    if not value:
        return None, None
    if not value.isdigit() or len(value) > 9:
        return None, f"ttl {value[:20]!r} is not a number of minutes; ignored"
    minutes = int(value)
    if minutes == 0:
        return None, None
    if minutes > _MAX_TTL_MINUTES:
        return None, f"ttl of {minutes} minutes is more than a year; ignored"
    return timedelta(minutes=minutes), None


def _n(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"
