"""What a parse engine reads from a feed, before any cleaning: the seam between engines.

Both engines (lxml for well-formed RSS 2.0, RSS 1.0 and Atom 1.0; feedparser for the
rest) fill these records the same way, and one builder turns them into ``Article``
values, so text cleaning, dates and identity can never differ between the engines.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class RawText:
    """A text field as the feed gave it; ``html`` when the feed says it is markup."""

    value: str
    html: bool


@dataclass(slots=True)
class RawEntry:
    guid: str | None = None
    link: str | None = None
    orig_link: str | None = None
    """FeedBurner's ``feedburner:origLink``: the publisher's URL behind a feedproxy link."""
    title: RawText | None = None
    summary: RawText | None = None
    content: RawText | None = None
    published: str | None = None
    updated: str | None = None
    language: str | None = None
    authors: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


@dataclass(slots=True)
class RawFeed:
    format: str
    entries: list[RawEntry]
    title: RawText | None = None
    link: str | None = None
    language: str | None = None
    ttl: str | None = None
    authors: list[str] = field(default_factory=list)
    malformed: str | None = None
    """What feedparser's strict parser tripped over before its loose parser took over."""
    not_a_feed: bool = False
