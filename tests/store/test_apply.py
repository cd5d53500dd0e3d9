"""Store.apply writes a poll's intent in one transaction: all of it or nothing."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.dedupe import StoryIndex
from monitor.errors import StorageError
from monitor.models import Article, FeedSpec, Match, ParsedFeed
from monitor.store import Store
from monitor.update import PENDING, FeedIntent, Routing, StoryPlan, decide, prepare
from tests.support.engines import engine_url

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


def _plan(store: Store, index: StoryIndex, intent: FeedIntent) -> StoryPlan:
    with store.story_reader() as rows:
        return index.plan(rows, [(n.article, n.fingerprint) for n in intent.new], NOW)


def test_a_failure_half_way_writes_nothing_and_the_index_files_nothing(tmp_path: Path) -> None:
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
    with Store(tmp_path, database_url=engine_url()) as store:
        store.sync_feeds([FeedSpec(id="f", url="https://e.eu/feed")], NOW)
        index = StoryIndex()
        intent = intent_for(store, articles)
        plan = _plan(store, index, intent)
        # The fault, at the plan: the second article's story names a new entry this
        # intent does not have, so writing it fails half way through the transaction.
        second = plan.choices[1]
        assert second is not None
        broken = dataclasses.replace(second, story_id=PENDING + 7)
        faulty = dataclasses.replace(plan, choices=(plan.choices[0], broken, plan.choices[2]))
        with pytest.raises(IndexError):
            store.apply(intent.with_stories(faulty))
        assert counts(store) == (0, 0, 0, 0, 0)
        state = store.feed_state("f")
        assert state is not None
        assert state.articles_seen == 0
        assert len(index.keys) == 0  # filed only after a commit: nothing to forget
        intent = intent_for(store, articles)
        plan = _plan(store, index, intent)
        new = store.apply(intent.with_stories(plan))
        index.file(plan, [n.id for n in new], NOW)
        assert len(new) == 3
        assert len(index.keys) == 3
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


def _applied(store: Store, prefix: str, *, fault: bool = False) -> int:
    """Apply one poll of three new articles with their stories; ``fault``: the second
    article's story names an entry the intent does not have (the write fails half way)."""
    index = StoryIndex()
    intent = intent_for(store, _articles(prefix))
    plan = _plan(store, index, intent)
    if fault:
        second = plan.choices[1]
        assert second is not None
        broken = dataclasses.replace(second, story_id=PENDING + 7)
        plan = dataclasses.replace(plan, choices=(plan.choices[0], broken, plan.choices[2]))
    return len(store.apply(intent.with_stories(plan)))


@pytest.mark.sqlite_only  # PostgreSQL: the next test
def test_in_a_batch_a_failed_apply_undoes_only_its_own_writes(tmp_path: Path) -> None:
    """Issue 15: a cycle's polls share one transaction (``Store.batch``); on SQLite each
    apply is a savepoint of it."""
    with Store(tmp_path, database_url=engine_url()) as store:
        store.sync_feeds([FeedSpec(id="f", url="https://e.eu/feed")], NOW)
        with store.batch():
            assert _applied(store, "a") == 3
            with pytest.raises(IndexError):
                _applied(store, "b", fault=True)
            assert _applied(store, "c") == 3
        assert counts(store) == (6, 6, 6, 6, 6)


@pytest.mark.postgresql_only  # SQLite: the test above
def test_on_postgresql_a_failed_apply_fails_the_batch(tmp_path: Path) -> None:
    """Issue 11: on PostgreSQL a batch is one transaction in one pipeline, which a failed
    statement ends: the batch raises when it ends and writes nothing (``Poller`` then
    writes each poll alone: tests/pipeline/test_write_batch.py)."""
    with Store(tmp_path, database_url=engine_url()) as store:
        store.sync_feeds([FeedSpec(id="f", url="https://e.eu/feed")], NOW)
        written: list[int] = []

        def fails_in_the_middle() -> None:
            with store.batch():
                written.append(_applied(store, "a"))
                with pytest.raises(IndexError):
                    _applied(store, "b", fault=True)
                written.append(_applied(store, "c"))

        with pytest.raises(StorageError, match="a write of the batch failed"):
            fails_in_the_middle()
        assert written == [3, 3]
        assert counts(store) == (0, 0, 0, 0, 0)
        assert not store.conn.in_transaction
        assert _applied(store, "d") == 3  # the connection is usable again
        assert counts(store) == (3, 3, 3, 3, 3)


def test_a_batch_that_fails_writes_nothing(tmp_path: Path) -> None:
    with Store(tmp_path, database_url=engine_url()) as store:
        store.sync_feeds([FeedSpec(id="f", url="https://e.eu/feed")], NOW)
        written: list[int] = []

        def fails_after_the_applies() -> None:
            with store.batch():
                written.append(_applied(store, "a"))
                raise RuntimeError("after the applies")

        with pytest.raises(RuntimeError, match="after the applies"):
            fails_after_the_applies()
        assert written == [3]
        assert counts(store) == (0, 0, 0, 0, 0)  # one transaction on both engines
