"""The update decider: what one poll of one feed changes, decided without I/O (issue 11).

As lemon24/reader splits its update (parse -> make intents -> store), a poll here is

1. ``prepare`` (the parser process, or inline for small cycles): parse, compute each
   entry's identity (``monitor.identity``) and match the entries (inline: those whose
   key the store does not know).  The only matching path: whichever process runs it,
   the same function does.
2. ``Store.snapshot``: what the database knows about these entries (their keys in this
   feed, their URL keys in any feed, their text hashes in this feed).
3. ``decide`` (this module, pure: no I/O, no clock; ``now`` is a parameter): each entry
   is ``known`` (its key was seen; ``changed`` when its text differs from the stored
   article's), an ``alias`` (a new key for a known article: the same URL key in any feed,
   the same text in this feed, or the same URL key as a new entry earlier in this poll) or
   ``new``; which new entries matched; which of them join a story; the backfill limit of a
   feed's first poll; and the outbox routes.  The result is a ``FeedIntent``.
4. ``StoryIndex.plan`` (``monitor.dedupe``, main process): the story each new entry
   that joins one joins (``StoryChoice``), decided by the pure ``dedupe.decide.choose``
   from the candidates the in-memory index and the stored fingerprints give, the poll's
   earlier new entries included; added with ``FeedIntent.with_stories``.
5. ``Store.apply(intent)``: writes it in one transaction (articles, keys, story,
   matches, outbox rows, the feed's state) and decides nothing.  Database ids (the
   article's, its story's) exist only there, so the routes of a new entry carry article
   id 0 and no story, and a story choice names the poll's new articles ``PENDING + i``;
   apply fills the ids in.  Then ``StoryIndex.file`` adds the stored articles' keys to
   the in-memory index (after the commit: a rolled-back poll leaves nothing there).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from monitor.identity import text_hash, url_key
from monitor.models import Article, FeedState, Match, ParsedFeed, Route
from monitor.route import DestinationLike, Subscription, WatchlistLike, route

if TYPE_CHECKING:  # monitor.dedupe imports the store, which imports this module
    from monitor.dedupe.fingerprint import Fingerprint


class MatcherLike(Protocol):
    """What the decider needs from compiled watchlists (``monitor.match.Matcher``)."""

    def match(self, article: Article) -> list[Match]: ...


@dataclass(frozen=True, slots=True)
class EntryIdentity:
    """The keys one entry is recognised by (``monitor.identity``)."""

    key: str
    url_key: str | None
    text_hash: str

    def __reduce__(self) -> tuple[type[EntryIdentity], tuple[str, str | None, str]]:
        # Sent back from the parser process for every entry: as a plain tuple it pickles
        # in a third of the time a slotted dataclass's default takes.
        return (EntryIdentity, (self.key, self.url_key, self.text_hash))


@dataclass(frozen=True, slots=True)
class PreparedFeed:
    """A parsed feed with each entry's identity and matches (``prepare``'s output)."""

    parsed: ParsedFeed
    identities: tuple[EntryIdentity, ...]
    """One per article of ``parsed``, in feed order."""
    matches: Mapping[str, tuple[Match, ...]]
    """Matches by entry key; entries that matched nothing are absent."""
    fingerprints: Mapping[str, Fingerprint] = field(default_factory=dict)
    """Near-duplicate fingerprints of the entries that may join a story, by key."""


def prepare(
    parsed: ParsedFeed,
    matcher: MatcherLike | None,
    known: Collection[str] = frozenset(),
    *,
    fingerprint: Callable[[Article], Fingerprint] | None = None,
    stories: Callable[[tuple[Match, ...]], bool] = bool,
) -> PreparedFeed:
    """Identify and match the entries of a parsed feed (pure; runs in the parser process).

    ``known``: keys already seen in this feed (a hint from ``Store.known_keys``), whose
    entries are neither matched nor fingerprinted, since only a new entry's are used.  The
    parser process has no hint and does every entry.  ``fingerprint``: the dedupe index's
    (``StoryIndex.fingerprint``), applied to the entries ``stories`` says join a story
    (0.2 ms an entry, which the parser process takes off the main one).
    """
    identities = tuple(
        EntryIdentity(
            a.key,
            url_key(a.canonical_url),
            # An entry keyed by its text hash has it already (monitor.parse.identity).
            a.key[5:] if a.key.startswith("hash:") else text_hash(a.title, a.summary),
        )
        for a in parsed.articles
    )
    matches: dict[str, tuple[Match, ...]] = {}
    fingerprints: dict[str, Fingerprint] = {}
    for article in parsed.articles:
        if article.key in known:
            continue
        found = tuple(matcher.match(article)) if matcher is not None else ()
        if found:
            matches[article.key] = found
        if fingerprint is not None and stories(found):
            fingerprints[article.key] = fingerprint(article)
    return PreparedFeed(parsed, identities, matches, fingerprints)


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """A stored article an entry key of this feed names."""

    article_id: int
    text_hash: str | None


@dataclass(frozen=True, slots=True)
class FeedSnapshot:
    """What the store knows about one poll's entries (``Store.snapshot``)."""

    feed_id: str
    keys: Mapping[str, StoredEntry]
    """Entry keys already seen in this feed."""
    urls: Mapping[str, int]
    """URL key -> the oldest article with it, in any feed (for entries not known by key)."""
    hashes: Mapping[str, int]
    """Text hash -> the oldest article of this feed with it (for entries not known by key)."""


@dataclass(frozen=True, slots=True)
class KnownEntry:
    """An entry whose key was seen before: its key and article are seen again."""

    key: str
    article_id: int
    changed: bool
    """Its title or summary differs from the stored article's (no new alert: an edit)."""


@dataclass(frozen=True, slots=True)
class NewEntry:
    """An article never seen before, to store with everything that follows from it."""

    article: Article
    url_key: str | None
    text_hash: str
    matches: tuple[Match, ...]
    baseline: bool
    """A first poll's match beyond the backfill limit: no instant alert."""
    story: bool
    """Group it into a story (it matched, or every article is grouped)."""
    fingerprint: Fingerprint | None
    """Its fingerprint when ``prepare`` made one (else the dedupe index makes it)."""
    routes: tuple[Route, ...]
    """Outbox rows with article id 0 and no story: ``Store.apply`` fills both in."""


PENDING = 1 << 40
"""Ids from here on name the new entries of the intent being decided (``PENDING + i``:
its i-th new entry), whose database ids exist only once ``Store.apply`` writes them.
Stored ids are below (the dedupe index packs them in 32 bits)."""


@dataclass(frozen=True, slots=True)
class StoryChoice:
    """The story a new entry joins (``monitor.dedupe.decide.choose``); ids at or above
    ``PENDING`` name new entries of the same intent."""

    relation: str
    """``first``, ``copy`` or ``same-story``."""
    story_id: int
    related_id: int | None
    """The article it copies or covers the same event as (None for ``first``)."""
    score: float
    merged: tuple[int, ...]
    """Stories it linked to ``story_id``, which become part of it."""
    sketch: bytes
    """Its fingerprint as stored (later articles are compared with it)."""
    keys: tuple[int, ...]
    """Its index keys (32-bit), stored with it and filed in the in-memory index."""


@dataclass(frozen=True, slots=True)
class StoryPlan:
    """The stories of one poll's new entries (``StoryIndex.plan``)."""

    choices: tuple[StoryChoice | None, ...]
    """One per new entry of the intent (None: it joins no story)."""
    unindex_before: datetime | None = None
    """Drop the stored fingerprints of articles seen before this (left the window)."""


def resolve(ref: int, ids: Sequence[int]) -> int:
    """A story choice's id as stored: ``PENDING + i`` is the i-th new article's ``ids[i]``."""
    return ids[ref - PENDING] if ref >= PENDING else ref


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A new entry key of this feed and the article it names: a stored one, or the new
    entry ``new_index`` of this intent."""

    key: str
    article_id: int | None
    new_index: int | None


@dataclass(frozen=True, slots=True)
class FeedIntent:
    """Everything one poll of one feed writes (``Store.apply`` does, in one transaction)."""

    feed_id: str
    now: datetime
    known: tuple[KnownEntry, ...]
    new: tuple[NewEntry, ...]
    keys: tuple[KeyRecord, ...]
    """Every entry key seen for the first time, in feed order (new entries and aliases)."""
    held_back: int = 0
    """Matching new entries of a first poll beyond the backfill limit."""
    state: FeedState | None = None
    """The feed's state after this poll (None: leave it), see ``with_state``."""
    stories: StoryPlan | None = None
    """The story of each new entry (None: none joins one), see ``with_stories``."""

    def with_stories(self, plan: StoryPlan) -> FeedIntent:
        """This intent writing the stories ``StoryIndex.plan`` chose for its new entries."""
        if len(plan.choices) != len(self.new):
            raise ValueError("update: a story plan needs one choice per new entry")
        return replace(self, stories=plan)

    def with_state(self, polled: FeedState) -> FeedIntent:
        """This intent writing ``polled`` (the feed's state updated by the fetch) with its
        article counters advanced by this poll's new entries."""
        return replace(
            self,
            state=replace(
                polled,
                articles_seen=polled.articles_seen + len(self.new),
                last_new=self.now if self.new else polled.last_new,
            ),
        )

    @property
    def matched(self) -> int:
        return sum(1 for n in self.new if n.matches)

    @property
    def aliases(self) -> int:
        return sum(1 for k in self.keys if k.article_id is not None)


@dataclass(frozen=True, slots=True)
class Routing:
    """What routing needs: keywords.yaml's watchlists and destinations, live subscriptions."""

    watchlists: Mapping[str, WatchlistLike]
    destinations: Mapping[str, DestinationLike]
    subscriptions: Sequence[Subscription] = ()


def decide(
    prepared: PreparedFeed,
    snapshot: FeedSnapshot,
    now: datetime,
    *,
    routing: Routing = Routing({}, {}),
    first_poll: bool = False,
    backfill: int | None = None,
    stories: Callable[[tuple[Match, ...]], bool] = bool,
) -> FeedIntent:
    """The intent of one poll (pure): identity, match, story and routing of every entry.

    ``first_poll``: the feed never had a successful poll before; then only the newest
    ``backfill`` matching new entries alert (None: all of them).  ``stories``: whether
    a new entry with these matches joins a story.
    """
    known: list[KnownEntry] = []
    keys: list[KeyRecord] = []
    fresh: list[tuple[Article, EntryIdentity]] = []
    for article, ident in zip(prepared.parsed.articles, prepared.identities, strict=True):
        stored = snapshot.keys.get(ident.key)
        if stored is not None:
            known.append(
                KnownEntry(ident.key, stored.article_id, stored.text_hash != ident.text_hash)
            )
        else:
            fresh.append((article, ident))
    new_articles: list[tuple[Article, EntryIdentity]] = []
    by_url_in_poll: dict[str, int] = {}
    for article, ident in fresh:
        existing = (snapshot.urls.get(ident.url_key) if ident.url_key else None) or (
            snapshot.hashes.get(ident.text_hash)
        )
        if existing is not None:
            keys.append(KeyRecord(ident.key, existing, None))
            continue
        if ident.url_key and ident.url_key in by_url_in_poll:
            keys.append(KeyRecord(ident.key, None, by_url_in_poll[ident.url_key]))
            continue
        index = len(new_articles)
        if ident.url_key:
            by_url_in_poll[ident.url_key] = index
        new_articles.append((article, ident))
        keys.append(KeyRecord(ident.key, None, index))

    matches = [prepared.matches.get(a.key, ()) for a, _ in new_articles]
    alertable = _alertable(new_articles, matches, now, backfill) if first_poll else None
    new: list[NewEntry] = []
    for i, (article, ident) in enumerate(new_articles):
        found = matches[i]
        baseline = alertable is not None and i not in alertable
        routes = (
            route(
                0,
                found,
                watchlists=routing.watchlists,
                destinations=routing.destinations,
                now=now,
                baseline=baseline,
                published=article.published,
                subscriptions=routing.subscriptions,
            )
            if found
            else []
        )
        new.append(
            NewEntry(
                article=article,
                url_key=ident.url_key,
                text_hash=ident.text_hash,
                matches=found,
                baseline=baseline,
                story=stories(found),
                fingerprint=prepared.fingerprints.get(article.key),
                routes=tuple(routes),
            )
        )
    held = sum(1 for n in new if n.matches and n.baseline)
    return FeedIntent(
        feed_id=snapshot.feed_id,
        now=now,
        known=tuple(known),
        new=tuple(new),
        keys=tuple(keys),
        held_back=held,
    )


def _alertable(
    new: Sequence[tuple[Article, EntryIdentity]],
    matches: Sequence[tuple[Match, ...]],
    now: datetime,
    backfill: int | None,
) -> set[int] | None:
    """On a feed's first poll, the indexes of the newest matching entries allowed to alert."""
    if backfill is None:
        return None
    candidates = [i for i in range(len(new)) if matches[i]]
    candidates.sort(key=lambda i: new[i][0].published or now, reverse=True)
    return set(candidates[:backfill])
