"""The update decider is pure: identity, match, backfill and routing from data alone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from monitor.identity import text_hash, url_key
from monitor.models import Article, Match, ParsedFeed
from monitor.update import (
    FeedSnapshot,
    KeyRecord,
    KnownEntry,
    Routing,
    StoredEntry,
    decide,
    prepare,
)

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


ROUTING = Routing({"ai": Watchlist()}, {"chan": Destination()})


class Matcher:
    """Matches every article whose title says "AI"."""

    def match(self, article: Article) -> list[Match]:
        return [Match("ai", 1.0, ())] if "AI" in article.title else []


def art(key: str, title: str, url: str | None = None, hours: int = 0) -> Article:
    return Article(
        feed_id="f",
        key=key,
        title=title,
        url=url,
        canonical_url=url,
        summary="text",
        published=NOW - timedelta(hours=hours),
    )


def snapshot(**kw: object) -> FeedSnapshot:
    return FeedSnapshot("f", kw.get("keys", {}), kw.get("urls", {}), kw.get("hashes", {}))  # type: ignore[arg-type]


def test_known_alias_and_new() -> None:
    articles = (
        art("guid:1", "AI Act deal", "https://e.eu/1"),  # key seen, same text
        art("guid:2", "Edited title", "https://e.eu/2"),  # key seen, text changed
        art("guid:3", "Syndicated", "https://m.other.eu/3/amp"),  # URL key seen elsewhere
        art("guid:4", "Regenerated", "https://e.eu/4-new"),  # same text in this feed
        art("guid:5", "AI fresh", "https://e.eu/5"),  # new
        art("guid:6", "AI fresh again", "https://www.e.eu/5/"),  # same page as guid:5
    )
    prepared = prepare(ParsedFeed("f", articles), Matcher())
    snap = snapshot(
        keys={
            "guid:1": StoredEntry(11, text_hash("AI Act deal", "text")),
            "guid:2": StoredEntry(12, text_hash("Old title", "text")),
        },
        urls={url_key("https://other.eu/3"): 13},
        hashes={text_hash("Regenerated", "text"): 14},
    )
    intent = decide(prepared, snap, NOW, routing=ROUTING)
    assert intent.known == (KnownEntry("guid:1", 11, False), KnownEntry("guid:2", 12, True))
    assert intent.keys == (
        KeyRecord("guid:3", 13, None),
        KeyRecord("guid:4", 14, None),
        KeyRecord("guid:5", None, 0),
        KeyRecord("guid:6", None, 0),
    )
    [new] = intent.new
    assert new.article.key == "guid:5"
    assert new.url_key == "e.eu/5"
    assert [m.watchlist for m in new.matches] == ["ai"]
    assert [(r.kind, r.article_id, r.story_id) for r in new.routes] == [("alert", 0, None)]
    assert new.story  # it matched
    assert intent.matched == 1
    assert intent.aliases == 2


def test_first_poll_alerts_only_the_newest_matches() -> None:
    articles = tuple(
        art(f"guid:{i}", f"AI item {i}", f"https://e.eu/{i}", hours=i) for i in range(5)
    )
    prepared = prepare(ParsedFeed("f", articles), Matcher())
    intent = decide(prepared, snapshot(), NOW, routing=ROUTING, first_poll=True, backfill=3)
    assert [n.baseline for n in intent.new] == [False, False, False, True, True]
    assert [len(n.routes) for n in intent.new] == [1, 1, 1, 0, 0]  # baseline: no alert
    assert intent.held_back == 2
    later = decide(prepared, snapshot(), NOW, routing=ROUTING, first_poll=False, backfill=3)
    assert later.held_back == 0
    assert all(not n.baseline for n in later.new)


def test_unmatched_entries_join_stories_only_when_asked() -> None:
    prepared = prepare(ParsedFeed("f", (art("guid:1", "Weather", "https://e.eu/w"),)), Matcher())
    assert not decide(prepared, snapshot(), NOW).new[0].story
    assert decide(prepared, snapshot(), NOW, stories=lambda _: True).new[0].story


def test_with_state_counts_the_new_articles() -> None:
    from monitor.models import FeedState

    prepared = prepare(ParsedFeed("f", (art("guid:1", "AI", "https://e.eu/1"),)), None)
    intent = decide(prepared, snapshot(), NOW).with_state(FeedState("f", "u", "u", articles_seen=4))
    assert intent.state is not None
    assert (intent.state.articles_seen, intent.state.last_new) == (5, NOW)


@given(
    st.lists(st.tuples(st.integers(0, 6), st.integers(0, 3), st.integers(0, 3)), max_size=12),
    st.sets(st.integers(0, 6)),
    st.sets(st.integers(0, 3)),
)
def test_every_entry_is_decided_once(
    entries: list[tuple[int, int, int]], seen: set[int], urls_seen: set[int]
) -> None:
    by_key = {f"guid:{k}": art(f"guid:{k}", f"t{t}", f"https://e.eu/{u}") for k, u, t in entries}
    articles = tuple(by_key.values())
    prepared = prepare(ParsedFeed("f", articles), None)
    snap = snapshot(
        keys={f"guid:{k}": StoredEntry(100 + k, None) for k in seen},
        urls={f"e.eu/{u}": 200 + u for u in urls_seen},
    )
    intent = decide(prepared, snap, NOW)
    decided = [k.key for k in intent.known] + [k.key for k in intent.keys]
    assert sorted(decided) == sorted(by_key)
    assert {n.article.key for n in intent.new} <= {
        k.key for k in intent.keys if k.new_index is not None
    }
    new_urls = [n.url_key for n in intent.new]
    assert len(new_urls) == len(set(new_urls))  # one new article per page
    assert decide(prepared, snap, NOW) == intent  # deterministic: no clock, no I/O


def test_prepare_leaves_known_entries_unmatched() -> None:
    articles = (
        art("guid:1", "AI old", "https://e.eu/1"),
        art("guid:2", "AI new", "https://e.eu/2"),
    )
    everything = prepare(ParsedFeed("f", articles), Matcher())
    assert set(everything.matches) == {"guid:1", "guid:2"}
    hinted = prepare(ParsedFeed("f", articles), Matcher(), known={"guid:1"})
    assert set(hinted.matches) == {"guid:2"}
    assert hinted.identities == everything.identities
    snap = snapshot(keys={"guid:1": StoredEntry(1, None)})
    assert decide(hinted, snap, NOW, routing=ROUTING) == decide(
        everything, snap, NOW, routing=ROUTING
    )


def test_prepare_fingerprints_the_entries_that_join_a_story() -> None:
    from monitor.dedupe import StoryIndex

    index = StoryIndex()
    articles = (
        art("guid:1", "AI seen before", "https://e.eu/1"),
        art("guid:2", "AI new", "https://e.eu/2"),
        art("guid:3", "Weather", "https://e.eu/3"),
    )
    prepared = prepare(
        ParsedFeed("f", articles), Matcher(), {"guid:1"}, fingerprint=index.fingerprint
    )
    assert set(prepared.fingerprints) == {"guid:2"}  # matched and not known
    known = snapshot(keys={"guid:1": StoredEntry(1, None)})
    [new, _] = decide(prepared, known, NOW, routing=ROUTING).new
    assert new.fingerprint is prepared.fingerprints["guid:2"]
    everything = prepare(
        ParsedFeed("f", articles), Matcher(), fingerprint=index.fingerprint, stories=lambda _: True
    )
    assert set(everything.fingerprints) == {"guid:1", "guid:2", "guid:3"}
