"""Routing: which targets get which new article, as an alert or in a digest (pure).

A watchlist names destinations under ``alert:`` (instant) and ``digest:``; a
destination expands into targets (its Telegram chat, each of its e-mail addresses).
An article that matched several watchlists becomes one row per target and kind,
listing every watchlist that sent it there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from monitor.models import Match, OutboxKind, Route, Target


class DestinationLike(Protocol):
    @property
    def telegram(self) -> str | None: ...
    @property
    def email(self) -> tuple[str, ...]: ...


class WatchlistLike(Protocol):
    @property
    def priority(self) -> str: ...
    @property
    def alert(self) -> tuple[str, ...]: ...
    @property
    def digest(self) -> tuple[str, ...]: ...
    @property
    def min_prominence(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Subscription:
    """A Telegram chat that subscribed to a watchlist: a user in a private chat with the
    bot, or a group (``topic``: the forum topic it was asked in)."""

    chat_id: str
    watchlist: str
    topic: int | None = None

    @property
    def address(self) -> str:
        return topic_address(self.chat_id, self.topic)


def topic_address(chat_id: str, topic: int | None) -> str:
    """A subscriber's address: the chat id, and ``/<topic>`` for a forum topic."""
    return chat_id if topic is None else f"{chat_id}/{topic}"


def split_topic(address: str) -> tuple[str, int | None]:
    """``"-100123/42"`` -> ``("-100123", 42)``; an address without a topic -> ``(it, None)``."""
    chat, sep, topic = address.strip().partition("/")
    return (chat, int(topic)) if sep and topic.isdigit() else (address.strip(), None)


SUBSCRIBER_PREFIX = "sub:"
BASELINE_DIGEST_WINDOW = timedelta(days=1)


def targets(name: str, dest: DestinationLike) -> list[Target]:
    out: list[Target] = []
    if dest.telegram:
        out.append(Target(name, "telegram", dest.telegram))
    out.extend(Target(name, "email", addr) for addr in dest.email)
    return out


def route(
    article_id: int,
    matches: Sequence[Match],
    *,
    watchlists: Mapping[str, WatchlistLike],
    destinations: Mapping[str, DestinationLike],
    now: datetime,
    baseline: bool = False,
    published: datetime | None = None,
    subscriptions: Iterable[Subscription] = (),
    story_id: int | None = None,
) -> list[Route]:
    """The outbox rows one new article needs.

    ``baseline``: the article was recorded on a feed's first poll beyond the backfill
    limit; it raises no instant alert and enters digests only if published in the last
    day (so adding a feed does not flood anyone).  A match less prominent than its
    watchlist's ``min_prominence`` raises no instant alert either.
    """
    wanted: dict[tuple[OutboxKind, Target], list[str]] = {}

    def add(kind: OutboxKind, target: Target, wl: str) -> None:
        names = wanted.setdefault((kind, target), [])
        if wl not in names:
            names.append(wl)

    subs: dict[str, list[str]] = {}
    for sub in subscriptions:
        subs.setdefault(sub.watchlist, []).append(sub.address)
    recent = published is None or now - published <= BASELINE_DIGEST_WINDOW
    for match in matches:
        wl = watchlists.get(match.watchlist)
        if wl is None:
            continue
        # A passing mention (prominence below the watchlist's min_prominence, issue 18)
        # goes to the digest only.
        if not baseline and wl.priority == "instant" and match.prominence >= wl.min_prominence:
            for name in wl.alert:
                dest = destinations.get(name)
                if dest is not None:
                    for t in targets(name, dest):
                        add("alert", t, match.watchlist)
            for chat in subs.get(match.watchlist, ()):
                add("alert", Target(SUBSCRIBER_PREFIX + chat, "telegram", chat), match.watchlist)
        if baseline and not recent:
            continue
        if wl.priority != "instant":
            # Subscribers of a digest-only watchlist get it in their own daily digest.
            for chat in subs.get(match.watchlist, ()):
                add("digest", Target(SUBSCRIBER_PREFIX + chat, "telegram", chat), match.watchlist)
        for name in wl.digest:
            dest = destinations.get(name)
            if dest is not None:
                for t in targets(name, dest):
                    add("digest", t, match.watchlist)
    return [
        Route(
            kind=kind,
            target=target,
            article_id=article_id,
            watchlists=tuple(names),
            due=now,
            story_id=story_id,
        )
        for (kind, target), names in sorted(
            wanted.items(), key=lambda kv: (kv[0][0], kv[0][1].destination, kv[0][1].address)
        )
    ]
