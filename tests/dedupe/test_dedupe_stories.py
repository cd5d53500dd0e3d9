"""Different outlets' articles about one event share a story; other news does not.

The index is fed every real replay item of the labelled set (about a thousand articles
of November and December 2023, in publication order), so inverse document frequencies
are those of real feeds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from monitor.dedupe import StoryAssignment
from monitor.store import stories as store_stories
from tests.dedupe.helpers import NOW, Stories, article, doc_article, pairs, seed_text, stories

AI_ACT_DEAL = {
    "politico-eu": "EU negotiators strike political deal on AI Act",
    "theverge": "EU reaches provisional agreement on AI Act, paving way for landmark law",
    "engadget": "The EU has reached a historic regulatory agreement over AI development",
    "arstechnica": "EU agrees to landmark rules on artificial intelligence",
    "biometricupdate": "EU’s provisional AI Act deal limits remote biometrics use after "
    "marathon negotiation",
}


class Replay:
    def __init__(self, s: Stories) -> None:
        self.s = s
        self.ids: dict[str, int] = {}
        self.result: dict[str, StoryAssignment] = {}
        real = [d for d in pairs()["docs"] if pairs()["docs"][d]["feed"] != "farm"]
        for doc_id in sorted(real, key=lambda d: (doc_article(d)[1], d)):
            art, when = doc_article(doc_id)
            self.ids[doc_id] = s.next_id
            self.result[doc_id] = s.add(art, when)

    def story(self, doc_id: str) -> int:
        return self.s.story_of(self.ids[doc_id])

    def by_title(self, feed: str, title: str) -> str:
        docs = pairs()["docs"]
        return next(d for d in self.ids if docs[d]["feed"] == feed and docs[d]["title"] == title)


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replay]:
    with stories(tmp_path_factory.mktemp("replay")) as s:
        yield Replay(s)


def test_the_ai_act_deal_is_one_story_across_outlets_and_no_copy(replay: Replay):
    docs = {feed: replay.by_title(feed, title) for feed, title in AI_ACT_DEAL.items()}
    story_ids = {feed: replay.story(d) for feed, d in docs.items()}
    assert len(set(story_ids.values())) == 1, story_ids
    relations = {feed: replay.result[d].relation for feed, d in docs.items()}
    assert "copy" not in relations.values()
    # Two of them may have started stories that a later article then joined together.
    assert "same-story" in relations.values()


def test_two_biometrics_stories_of_one_day_are_neither_copies_nor_one_story(replay: Replay):
    docs = pairs()["docs"]
    same_day = [
        p
        for p in pairs()["pairs"]
        if p["kind"] == "same-topic" and docs[p["a"]]["feed"] == "biometricupdate"
    ]
    assert len(same_day) >= 5
    for p in same_day:
        assert replay.story(p["a"]) != replay.story(p["b"]), (
            docs[p["a"]]["title"],
            docs[p["b"]]["title"],
        )
        later = max((p["a"], p["b"]), key=lambda d: doc_article(d)[1])
        assert replay.result[later].relation != "copy"


def test_hand_labelled_events_mostly_share_a_story(replay: Replay):
    story_pairs = [p for p in pairs()["pairs"] if p["label"] == "story"]
    together = sum(replay.story(p["a"]) == replay.story(p["b"]) for p in story_pairs)
    assert together / len(story_pairs) >= 0.9


def test_stories_since_lists_the_deal_with_every_source(replay: Replay):
    sid = replay.story(replay.by_title("politico-eu", AI_ACT_DEAL["politico-eu"]))
    since = datetime.fromisoformat("2023-12-08T00:00:00+00:00")
    row = next(r for r in store_stories.stories_since(replay.s.store.conn, since) if r.id == sid)
    assert set(AI_ACT_DEAL) <= {m.feed_id for m in row.members}
    assert row.members[0].relation == "first"


def test_a_new_article_linking_two_stories_merges_them(tmp_path: Path):
    one = (
        "Rite Aid banned from facial recognition",
        "The Federal Trade Commission barred the pharmacy chain from face surveillance.",
    )
    two = (
        "Lawmakers question Amazon drone deliveries",
        "Senators asked the retailer how its quadcopters avoid schools and hospitals.",
    )
    with stories(tmp_path) as s:
        a = s.add(article(*one, "engadget"))
        b = s.add(article(*two, "theverge"))
        assert a.story_id != b.story_id
        c = s.add(
            article(one[0] + "; " + two[0], one[1] + " " + two[1], "roundup"),
            NOW + timedelta(hours=2),
        )
        assert c.story_id == a.story_id
        assert c.merged_story_ids == (b.story_id,)
        assert s.story_of(1) == s.story_of(2) == s.story_of(3) == a.story_id
        row = s.store.conn.execute("SELECT articles FROM stories WHERE id = ?", (a.story_id,))
        assert row.fetchone()[0] == 3
        gone = s.store.conn.execute("SELECT 1 FROM stories WHERE id = ?", (b.story_id,))
        assert gone.fetchone() is None


def test_articles_of_one_feed_never_join_as_same_story(tmp_path: Path):
    with stories(tmp_path) as s:
        s.add(
            article(
                "EU reaches provisional agreement on AI Act",
                "Lawmakers in Brussels reached a provisional agreement on the AI Act.",
                "theverge",
            )
        )
        follow = s.add(
            article(
                "Why the AI Act was so hard to pass",
                "The provisional agreement on the AI Act took lawmakers in Brussels three days.",
                "theverge",
            ),
            NOW + timedelta(hours=20),
        )
    assert follow.relation == "first"


def test_a_teaser_joins_its_story_through_the_page_body(tmp_path: Path):
    """Full text: the body fetched from a teaser's page is what stories compare."""
    full = article("EU edges towards a facial recognition ban", seed_text(), "farm")
    teaser = dataclasses.replace(
        article("Lawmakers and the biometrics question", "Our reporter on the vote …", "wire"),
        key="k:teaser",
    )
    with stories(tmp_path / "without") as s:
        first = s.add(full)
        alone = s.add(teaser, NOW + timedelta(hours=1))
    assert alone.story_id != first.story_id
    with stories(tmp_path / "with") as s:
        first = s.add(full)
        joined = s.add(dataclasses.replace(teaser, body=seed_text()), NOW + timedelta(hours=1))
    assert joined.story_id == first.story_id
