"""Store.apply writes a poll's intent in one transaction: all of it or nothing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.dedupe import Fingerprint, StoryIndex
from monitor.models import Article, FeedSpec, Match, ParsedFeed
from monitor.store import Store
from monitor.store.stories import StoryRows
from monitor.update import Routing, decide, prepare

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Watchlist:
    priority: str = "instant"
    alert: tuple[str, ...] = ("chan",)
    digest: tuple[str, ...] = ()
    min_prominence: float = 0.0


@dataclass(frozen=True)
class Destination:
    telegram: str | None = "@chan"
    email: tuple[str, ...] = ()


class Matcher:
    def match(self, article: Article) -> list[Match]:
        return [Match("ai", 1.0, ())]


class FailingStories:
    """The dedupe index, failing on the second article it is given (the fault seam)."""

    def __init__(self) -> None:
        self.index = StoryIndex()
        self.calls = 0
        self.discarded: list[int] = []

    def assign(  # type: ignore[no-untyped-def]
        self,
        rows: StoryRows,
        article_id: int,
        article: Article,
        now: datetime,
        fingerprint: Fingerprint | None = None,
    ):
        self.calls += 1
        if self.calls == 2:
            raise RuntimeError("dedupe failed")
        return self.index.assign(rows, article_id, article, now, fingerprint)

    def discard(self, article_ids: Iterable[int]) -> None:
        self.discarded.extend(article_ids)
        self.index.discard(article_ids)


def intent_for(store: Store, articles: tuple[Article, ...]):  # type: ignore[no-untyped-def]
    prepared = prepare(ParsedFeed("f", articles), Matcher())
    routing = Routing({"ai": Watchlist()}, {"chan": Destination()})
    intent = decide(prepared, store.snapshot("f", prepared.identities), NOW, routing=routing)
    state = store.feed_state("f")
    assert state is not None
    return intent.with_state(state)


def counts(store: Store) -> tuple[int, ...]:
    return tuple(
        store.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        for table in ("articles", "seen_keys", "matches", "outbox", "story_articles")
    )


def test_a_failure_half_way_writes_nothing_and_the_index_forgets(tmp_path: Path) -> None:
    articles = tuple(
        Article(
            feed_id="f",
            key=f"guid:{i}",
            title=f"AI story {i}",
            url=f"https://e.eu/{i}",
            canonical_url=f"https://e.eu/{i}",
            summary="text",
            published=NOW,
        )
        for i in range(3)
    )
    with Store(tmp_path) as store:
        store.sync_feeds([FeedSpec(id="f", url="https://e.eu/feed")], NOW)
        stories = FailingStories()
        with pytest.raises(RuntimeError, match="dedupe failed"):
            store.apply(intent_for(store, articles), stories)
        assert counts(store) == (0, 0, 0, 0, 0)
        state = store.feed_state("f")
        assert state is not None
        assert state.articles_seen == 0
        assert len(stories.discarded) == 1  # the first article's keys left the index
        new = store.apply(intent_for(store, articles), StoryIndex())
        assert len(new) == 3
        assert counts(store) == (3, 3, 3, 3, 3)
        state = store.feed_state("f")
        assert state is not None
        assert state.articles_seen == 3


def _articles(prefix: str) -> tuple[Article, ...]:
    return tuple(
        Article(
            feed_id="f",
            key=f"guid:{prefix}{i}",
            title=f"AI story {prefix}{i}",
            url=f"https://e.eu/{prefix}{i}",
            canonical_url=f"https://e.eu/{prefix}{i}",
            summary="text",
            published=NOW,
        )
        for i in range(3)
    )


def test_in_a_batch_a_failed_apply_undoes_only_its_own_writes(tmp_path: Path) -> None:
    """Issue 15: a cycle's polls share one transaction (``Store.batch``); each apply is a
    savepoint of it."""
    with Store(tmp_path) as store:
        store.sync_feeds([FeedSpec(id="f", url="https://e.eu/feed")], NOW)
        stories = FailingStories()
        with store.batch():
            assert len(store.apply(intent_for(store, _articles("a")), StoryIndex())) == 3
            with pytest.raises(RuntimeError, match="dedupe failed"):
                store.apply(intent_for(store, _articles("b")), stories)
            assert len(store.apply(intent_for(store, _articles("c")), StoryIndex())) == 3
        assert counts(store) == (6, 6, 6, 6, 6)
        assert len(stories.discarded) == 1


def test_a_batch_that_fails_writes_nothing_and_the_index_forgets(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        store.sync_feeds([FeedSpec(id="f", url="https://e.eu/feed")], NOW)
        stories = FailingStories()
        stories.calls = -10  # never fails on its own
        written: list[int] = []

        def fails_after_the_applies() -> None:
            with store.batch():
                written.extend(
                    n.id for n in store.apply(intent_for(store, _articles("a")), stories)
                )
                raise RuntimeError("after the applies")

        with pytest.raises(RuntimeError, match="after the applies"):
            fails_after_the_applies()
        assert len(written) == 3
        if store.engine == "sqlite":  # one transaction: nothing is written
            assert counts(store) == (0, 0, 0, 0, 0)
            assert sorted(stories.discarded) == [1, 2, 3]
        else:  # PostgreSQL commits each apply on its own (the batch changes nothing)
            assert counts(store) == (3, 3, 3, 3, 3)
            assert stories.discarded == []
