"""The story choice, pure (issue 11 item 1): which story a new article joins, named before
anything is written, as ``Store.apply`` then executes it.

Hand-made fingerprints (``test_decide_exact.fp``); no database, no index.  Ids at or above
``PENDING`` are the poll's own new articles, which have no id yet.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from monitor.dedupe.decide import PENDING, Candidate, choose
from monitor.dedupe.fingerprint import Fingerprint
from tests.dedupe.test_decide_exact import NOW, S, fp

URL = 77
SHARED_URL = fp(url_key=URL)  # a copy by URL: score 1.0 whatever the text


def cand(article_id: int, story_id: int, feed: str = "other", age: float = 60) -> Candidate:
    return Candidate(article_id, story_id, feed, NOW - timedelta(seconds=age), SHARED_URL)


def test_no_candidate_starts_the_article_s_own_story() -> None:
    own = PENDING + 2
    choice = choose(fp(url_key=1), "f", NOW, [], {}, S, own)
    assert (choice.relation, choice.story_id, choice.related_id) == ("first", own, None)
    assert (choice.score, choice.merged) == (0.0, ())


def test_a_copy_joins_the_story_of_the_article_it_copies() -> None:
    choice = choose(SHARED_URL, "f", NOW, [cand(12, 5)], {}, S, PENDING)
    assert (choice.relation, choice.story_id, choice.related_id) == ("copy", 5, 12)
    assert choice.score == 1.0
    assert choice.merged == ()


def test_two_stories_reached_become_the_oldest_one() -> None:
    # A stored story (id 9) and a story started earlier in this poll (PENDING + 0): the
    # stored one is older, whatever the order the candidates come in.
    for order in ([cand(PENDING, PENDING), cand(30, 9)], [cand(30, 9), cand(PENDING, PENDING)]):
        choice = choose(SHARED_URL, "f", NOW, order, {}, S, PENDING + 1)
        assert choice.story_id == 9
        assert choice.merged == (PENDING,)
        assert choice.related_id == order[0].article_id  # a tie: the first candidate


def test_within_the_poll_the_earlier_article_names_the_story() -> None:
    choice = choose(SHARED_URL, "f", NOW, [cand(PENDING + 1, PENDING + 1)], {}, S, PENDING + 3)
    assert (choice.relation, choice.story_id, choice.related_id) == (
        "copy",
        PENDING + 1,
        PENDING + 1,
    )
    several = [cand(PENDING + 1, PENDING + 1), cand(PENDING + 2, PENDING)]
    choice = choose(SHARED_URL, "f", NOW, several, {}, S, PENDING + 3)
    assert (choice.story_id, choice.merged) == (PENDING, (PENDING + 1,))


def test_a_candidate_outside_the_window_is_not_a_story() -> None:
    old = cand(12, 5, age=S.window.total_seconds() + 1)
    own = PENDING + 4
    choice = choose(SHARED_URL, "f", NOW, [old], {}, S, own)
    assert (choice.relation, choice.story_id) == ("first", own)


def test_the_choice_carries_what_is_stored_and_filed() -> None:
    f = fp(terms=(3, 4), title_terms=1, url_key=1, idf={3: 1.0, 4: 2.0})
    choice = choose(f, "f", NOW, [], {3: 1.0, 4: 2.0}, S, PENDING)
    assert choice.keys == tuple(f.keys())
    # Stored in 32 bits: later articles of the same poll compare with this, not with f.
    assert Fingerprint.decode(choice.sketch).norm == pytest.approx(f.norm, rel=1e-6)
    assert Fingerprint.decode(choice.sketch).terms == f.terms
