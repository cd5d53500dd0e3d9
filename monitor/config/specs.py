"""The validated configuration: the plain frozen values the rest of monitor reads.

``monitor.config.feeds`` and ``monitor.config.keywords`` check the YAML files (ruamel.yaml,
pydantic, email_validator) and return these values.  They live apart from those schemas so
that a configuration read back from the cache (``monitor.config.cache``) needs none of
those libraries (issue 15: start-up time).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time, timedelta
from typing import Literal

from monitor.match.terms import Rule, Term
from monitor.models import FIELDS, DigestLayout, Explain, FeedSpec, Field, LinkPreview

# -- feeds.yaml ------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchSettings:
    """``settings:`` of feeds.yaml: whole-service fetch settings (bounds checked at load)."""

    concurrency: int = 64
    per_host: int = 4
    max_backoff: timedelta = timedelta(hours=6)
    min_backoff: timedelta = timedelta(minutes=1)
    max_redirects: int = 5
    user_agent: str | None = None
    keep_text: timedelta = timedelta(days=30)
    keep_keys: timedelta = timedelta(days=400)
    page_timeout: timedelta = timedelta(seconds=10)
    """Deadline for one article page (full text), from its slot to its last byte."""
    page_max_size: int = 2 * 1024 * 1024
    """Article pages larger than this (raw or decoded) are not read (full text)."""


@dataclass(frozen=True)
class FeedsConfig:
    """The validated contents of ``feeds.yaml``."""

    path: str
    settings: FetchSettings
    feeds: tuple[FeedSpec, ...]
    warnings: tuple[str, ...] = ()

    def enabled(self) -> tuple[FeedSpec, ...]:
        return tuple(f for f in self.feeds if f.enabled)

    def get(self, feed_id: str) -> FeedSpec | None:
        for f in self.feeds:
            if f.id == feed_id:
                return f
        return None


# -- keywords.yaml ---------------------------------------------------------------------

Priority = Literal["instant", "digest"]
DEFAULT_DIGEST_TIME = time(8, 0)
DEFAULT_TIMEZONE = "Europe/Brussels"
DEFAULT_MAX_ITEMS = 40
"""Stories shown in one digest (issue 17); the rest are counted."""


@dataclass(frozen=True, slots=True)
class ActorSpec:
    """A person or organisation and every name it goes by."""

    id: str
    name: str
    aliases: tuple[Term, ...]
    """The name and the aliases that apply in every language."""
    by_language: tuple[tuple[str, tuple[Term, ...]], ...] = ()
    """Aliases that count only in articles of that language (or of unknown language)."""
    ambiguous: frozenset[str] = frozenset()
    """Aliases (as written) that name other bodies too: they count only with one of the
    ``context`` terms at most ``within`` words away in the same field (issue 18)."""
    context: tuple[Term, ...] = ()
    within: int = 20


@dataclass(frozen=True, slots=True)
class DestinationSpec:
    """Where alerts and digests go: a Telegram chat and/or e-mail addresses."""

    id: str
    telegram: str | None
    email: tuple[str, ...]
    digest_time: time = DEFAULT_DIGEST_TIME
    timezone: str = DEFAULT_TIMEZONE
    digest_empty: bool = False
    topic: int | None = None
    """Telegram forum topic (``message_thread_id``) of the chat to post in."""
    silent: bool = False
    quiet_hours: tuple[time, time] | None = None
    """Alerts from the first time of day to the second (local, ``timezone``) are silent."""
    link_preview: LinkPreview = "off"
    hashtags: bool = False
    explain: Explain = "inline"
    template: str | None = None
    """Jinja2 source for each article of an alert (checked at load)."""
    layout: DigestLayout = "stories"
    """``stories``: each story once, most important first; ``watchlists``: by watchlist."""
    max_items: int = DEFAULT_MAX_ITEMS
    """Stories shown in one digest; the rest are counted."""


@dataclass(frozen=True, slots=True)
class WatchlistSpec:
    """One watchlist: its rule and where its matches go."""

    id: str
    title: str
    rule: Rule
    priority: Priority = "instant"
    alert: tuple[str, ...] = ()
    digest: tuple[str, ...] = ()
    fields: tuple[Field, ...] = FIELDS
    languages: tuple[str, ...] = ()
    """Primary language subtags; empty: every language.  Unknown article language passes."""
    min_prominence: float = 0.0
    """Matches less prominent than this (``Match.prominence``) go to digests only."""
    hashtag: str = ""
    """Without the "#": ``hashtag:`` or one made from the id (``ai-act`` -> ``AIAct``)."""
    silent: bool | None = None
    """Overrides the destinations' ``silent:``/``quiet_hours:`` for this watchlist's alerts."""


@dataclass(frozen=True)
class KeywordsConfig:
    """The validated contents of ``keywords.yaml``."""

    path: str
    actors: Mapping[str, ActorSpec]
    watchlists: Mapping[str, WatchlistSpec]
    destinations: Mapping[str, DestinationSpec]
    warnings: tuple[str, ...] = ()


def default_hashtag(watchlist_id: str) -> str:
    """A hashtag from a watchlist id: its words joined, each capitalised, words of one
    or two letters upper-cased (``ai-act`` -> ``AIAct``, ``eu.dsa_fines`` -> ``EUDsaFines``);
    ``Watchlist`` in front of an id without letters (Telegram needs one); at most 64."""
    words = [w for w in re.split(r"[^0-9a-z]+", watchlist_id) if w]
    tag = "".join(w.upper() if len(w) <= 2 else w.capitalize() for w in words)
    tag = tag if any(c.isalpha() for c in tag) else "Watchlist" + tag
    return tag[:64]
