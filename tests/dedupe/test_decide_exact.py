"""The dedupe decision on hand-made fingerprints: exact scores, exact thresholds (issue 19).

The other dedupe tests feed real articles through a real index and check outcomes that
hold with some margin (recall, precision on labelled pairs); mutation testing
(tools/mutation.sh) showed that a broken formula or a moved threshold still passed them.
Here every score is computed by hand from sets small enough for exact sketches, and
every rule is tried at its boundary.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.dedupe.decide import (
    Candidate,
    Decision,
    Settings,
    copy_score,
    decide,
    idf_of,
    norm,
    story_score,
    term_weights,
)
from monitor.dedupe.fingerprint import Fingerprint
from monitor.dedupe.sketch import Sketch

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
S = Settings()


def sk(values: Iterable[int]) -> Sketch:
    return Sketch.of(np.array(sorted(set(values)), dtype=np.uint32), 128)


def fp(
    terms: tuple[int, ...] = (),
    title_terms: int = 0,
    *,
    shingles: Iterable[int] = (),
    words: Iterable[int] = (),
    numbers: Iterable[int] = (),
    title_key: int | None = None,
    url_key: int | None = None,
    body_words: int = 100,
    idf: dict[int, float] | None = None,
) -> Fingerprint:
    f = Fingerprint(
        sk(shingles), sk(words), sk(numbers), terms, title_terms, title_key, url_key, body_words
    )
    return f.with_norm(norm(f, idf, S)) if idf is not None else f


def cand(
    f: Fingerprint, *, article_id: int = 1, story: int = 10, feed: str = "other", age=None
) -> Candidate:
    return Candidate(article_id, story, feed, NOW - (age or timedelta(hours=1)), f)


# -- story score ------------------------------------------------------------------------
IDF = {1: 2.0, 2: 0.5, 3: 1.0, 4: 3.0, 5: 1.5, 6: 0.25}


def test_term_weights_and_norm_are_exact() -> None:
    f = fp((1, 2, 3), 1)
    assert term_weights(f, IDF, S) == {1: 4.0, 2: 0.5, 3: 1.0}
    assert norm(f, IDF, S) == pytest.approx(math.sqrt(16 + 0.25 + 1))
    assert term_weights(fp((9,), 1), IDF, S) == {9: 0.0}  # a term without an idf weighs 0


def test_story_score_is_the_exact_weighted_cosine() -> None:
    # a: title (1), lead (2, 3); b: title (2), lead (1, 4).
    a, b = fp((1, 2, 3), 1, idf=IDF), fp((2, 1, 4), 1, idf=IDF)
    # Term 1 is in a's title (x2) and b's lead; term 2 in a's lead and b's title (x2).
    dot = (2.0 * 2) * (2.0 * 1) + (0.5 * 1) * (0.5 * 2)
    expected = dot / (math.sqrt(16 + 0.25 + 1) * math.sqrt(1 + 4 + 9))
    assert story_score(a, b, IDF, S) == pytest.approx(expected)
    assert story_score(b, a, IDF, S) == pytest.approx(expected)


def test_identical_terms_score_one_and_disjoint_terms_zero() -> None:
    a = fp((1, 2, 3, 4), 2, idf=IDF)
    assert story_score(a, fp((1, 2, 3, 4), 2, idf=IDF), IDF, S) == pytest.approx(1.0)
    assert story_score(a, fp((5, 6), 1, idf=IDF), IDF, S) == 0.0


def test_a_vector_without_length_scores_zero() -> None:
    a = fp((1, 2), 1, idf=IDF)
    unweighted = fp((1, 2), 1)  # norm 0.0: not indexed with weights
    assert story_score(a, unweighted, IDF, S) == 0.0
    assert story_score(unweighted, a, IDF, S) == 0.0


def test_a_shared_rare_term_counts_more_than_a_shared_common_one() -> None:
    a = fp((1, 3, 4, 6), 1, idf=IDF)
    rare = fp((1, 4, 5), 1, idf=IDF)  # shares 1 and the rare 4
    common = fp((1, 6, 5), 1, idf=IDF)  # shares 1 and the common 6
    assert story_score(a, rare, IDF, S) > story_score(a, common, IDF, S)


_terms = st.lists(st.integers(1, 6), min_size=1, max_size=6, unique=True).map(tuple)


@settings(max_examples=200, deadline=None)
@given(a=_terms, b=_terms, ta=st.integers(0, 6), tb=st.integers(0, 6), extra=st.integers(7, 9))
def test_story_score_is_a_symmetric_cosine_that_grows_with_shared_terms(
    a: tuple[int, ...], b: tuple[int, ...], ta: int, tb: int, extra: int
) -> None:
    idf = {**IDF, 7: 1.0, 8: 2.0, 9: 4.0}
    fa, fb = fp(a, min(ta, len(a)), idf=idf), fp(b, min(tb, len(b)), idf=idf)
    score = story_score(fa, fb, idf, S)
    assert score == pytest.approx(story_score(fb, fa, idf, S))
    assert 0.0 <= score <= 1.0 + 1e-9
    assert (score > 0) == bool(set(a) & set(b))
    # One more shared lead term: the cosine grows (or stays at 1 when already equal).
    grown = story_score(fp((*a, extra), len(a), idf=idf), fp((*b, extra), 0, idf=idf), idf, S)
    if not set(a) & set(b):
        assert grown > score


def test_idf_is_the_smoothed_log_ratio() -> None:
    idf = idf_of({7: 3, 8: 0}, [7, 8, 9], indexed=9)
    # n = 10 articles with the new one; log((n + 1) / (count + 1)).
    assert idf == pytest.approx({7: math.log(11 / 4), 8: math.log(11), 9: math.log(11)})
    assert idf_of({7: 9}, [7], indexed=9)[7] == pytest.approx(math.log(11 / 10))


# -- copy score -------------------------------------------------------------------------
def test_copy_score_is_exact_on_small_sets() -> None:
    a = fp(shingles=range(4), words=range(10))
    b = fp(shingles=range(8), words=[*range(5), *range(100, 120)])
    # Shingles: all 4 of the smaller set shared (support 2 met) -> 1.0.
    # Words: 5 of the smaller set's 10 -> 0.5, scaled by 5 / 20 shared -> 0.125.
    assert copy_score(a, b, S) == pytest.approx(0.8 * 1.0 + 0.2 * 0.125)
    assert copy_score(b, a, S) == pytest.approx(0.8 * 1.0 + 0.2 * 0.125)


def test_one_shared_shingle_counts_half_and_twenty_shared_words_in_full() -> None:
    a = fp(shingles=[1], words=range(20))
    b = fp(shingles=[1, 2, 3], words=range(40))
    assert copy_score(a, b, S) == pytest.approx(0.8 * 0.5 + 0.2 * 1.0)


def test_numbers_that_differ_make_no_copy_but_numbers_on_one_side_only_do_not_matter() -> None:
    base = {"shingles": range(10), "words": range(30)}
    five = fp(numbers=range(5), **base)
    assert copy_score(five, fp(numbers=range(4), **base), S) == pytest.approx(1.0)  # 4/4
    assert copy_score(five, fp(numbers=[0, 1, 2, 3, 99], **base), S) == pytest.approx(1.0)
    assert copy_score(five, fp(numbers=[0, 1, 2, 98, 99], **base), S) == 0.0  # 3/5 < 0.8
    assert copy_score(five, fp(**base), S) == pytest.approx(1.0)
    assert copy_score(fp(**base), five, S) == pytest.approx(1.0)


# -- decide -----------------------------------------------------------------------------
TEXT = {"shingles": range(10), "words": range(30)}
STORY = {"terms": (1, 2, 3, 4), "title_terms": 2, "idf": IDF}


def test_no_candidate_is_a_first() -> None:
    assert decide(fp(**TEXT), "mine", NOW, [], IDF, S) == Decision("first", None, 0.0, ())


def test_the_same_url_is_a_copy_even_with_nothing_else_in_common() -> None:
    c = cand(fp(shingles=[50], url_key=7))
    d = decide(fp(**TEXT, url_key=7), "mine", NOW, [c], IDF, S)
    assert d == Decision("copy", c, 1.0, (10,))


def test_no_url_or_no_title_on_both_sides_is_not_a_match() -> None:
    c = cand(fp(shingles=[50], body_words=0))
    assert decide(fp(**TEXT, body_words=0), "mine", NOW, [c], IDF, S).relation == "first"


def test_the_same_title_decides_only_over_a_body_too_thin_to_compare() -> None:
    def relation(body_words: int) -> str:
        c = cand(fp(shingles=[50], title_key=5, body_words=body_words))
        return decide(fp(**TEXT, title_key=5), "mine", NOW, [c], IDF, S).relation

    assert relation(S.thin_body - 1) == "copy"
    assert relation(S.thin_body) == "first"
    other_title = cand(fp(shingles=[50], title_key=6, body_words=0))
    assert decide(fp(**TEXT, title_key=5), "mine", NOW, [other_title], IDF, S).relation == "first"


def test_the_copy_thresholds_hold_at_their_exact_values() -> None:
    new = fp(shingles=range(4), words=range(10))
    c = fp(shingles=range(8), words=[*range(5), *range(100, 120)])
    score = copy_score(new, c, S)
    for feed, key in (("other", "copy_threshold"), ("mine", "same_feed_copy_threshold")):
        at = replace(S, **{key: score})
        above = replace(S, **{key: score + 1e-9})
        assert decide(new, "mine", NOW, [cand(c, feed=feed)], IDF, at).relation == "copy"
        assert decide(new, "mine", NOW, [cand(c, feed=feed)], IDF, above).relation == "first"


def test_within_one_feed_a_copy_must_share_much_more() -> None:
    # A score between the two thresholds: a copy from another feed, not within the feed.
    new = fp(shingles=range(4), words=range(40))
    c = fp(shingles=[0, 50, 51, 52], words=range(40))
    assert S.copy_threshold <= copy_score(new, c, S) < S.same_feed_copy_threshold
    assert decide(new, "mine", NOW, [cand(c, feed="other")], IDF, S).relation == "copy"
    assert decide(new, "mine", NOW, [cand(c, feed="mine")], IDF, S).relation == "first"


def test_the_index_window_holds_up_to_its_last_instant_either_way() -> None:
    c = fp(shingles=[50], url_key=7)
    new = fp(**TEXT, url_key=7)
    for seen in (NOW - S.window, NOW + S.window):  # a clock ahead: abs(age)
        d = decide(new, "mine", NOW, [Candidate(1, 10, "other", seen, c)], IDF, S)
        assert d.relation == "copy"
    late = Candidate(1, 10, "other", NOW - S.window - timedelta(microseconds=1), c)
    assert decide(new, "mine", NOW, [late], IDF, S).relation == "first"


def test_another_feeds_article_on_the_same_terms_is_the_same_story() -> None:
    c = cand(fp(shingles=[50], **STORY))
    d = decide(fp(**TEXT, **STORY), "mine", NOW, [c], IDF, S)
    assert d == Decision("same-story", c, 1.0, (10,))


def test_a_feeds_own_article_on_the_same_terms_is_not_the_same_story() -> None:
    c = cand(fp(shingles=[50], **STORY), feed="mine")
    assert decide(fp(**TEXT, **STORY), "mine", NOW, [c], IDF, S).relation == "first"


def test_the_story_window_and_threshold_hold_at_their_exact_values() -> None:
    new = fp(**TEXT, **STORY)
    c = fp(shingles=[50], terms=(1, 2, 5, 6), title_terms=2, idf=IDF)
    score = story_score(new, c, IDF, S)
    assert 0 < score < 1
    at, above = replace(S, story_threshold=score), replace(S, story_threshold=score + 1e-9)
    assert decide(new, "mine", NOW, [cand(c)], IDF, at).relation == "same-story"
    assert decide(new, "mine", NOW, [cand(c)], IDF, above).relation == "first"
    edge = cand(c, age=S.story_window)
    assert decide(new, "mine", NOW, [edge], IDF, at).relation == "same-story"
    past = cand(c, age=S.story_window + timedelta(microseconds=1))
    assert decide(new, "mine", NOW, [past], IDF, at).relation == "first"


def test_the_best_copy_wins_and_every_linked_story_is_listed() -> None:
    new = fp(shingles=range(4), words=range(40))
    weak = cand(fp(shingles=[0, 50, 51, 52], words=range(40)), article_id=1, story=30)
    strong = cand(fp(shingles=range(4), words=range(40)), article_id=2, story=20)
    story = cand(fp(shingles=[90], **STORY), article_id=3, story=40)
    d = decide(new, "mine", NOW, [weak, strong], IDF, S)
    assert (d.relation, d.related, d.score, d.stories) == ("copy", strong, 1.0, (20, 30))
    d = decide(new, "mine", NOW, [strong, weak], IDF, S)
    assert (d.related, d.stories) == (strong, (20, 30))
    # A copy outranks a story match; the story still joins.
    both = fp(shingles=range(4), words=range(40), **STORY)
    d = decide(both, "mine", NOW, [story, weak], IDF, S)
    assert (d.relation, d.related, d.stories) == ("copy", weak, (30, 40))


def test_on_a_tie_the_first_candidate_stays() -> None:
    one = cand(fp(shingles=[50], url_key=7), article_id=1, story=11)
    two = cand(fp(shingles=[51], url_key=7), article_id=2, story=12)
    d = decide(fp(**TEXT, url_key=7), "mine", NOW, [one, two], IDF, S)
    assert (d.related, d.stories) == (one, (11, 12))
    s1 = cand(fp(shingles=[50], **STORY), article_id=3, story=13)
    s2 = cand(fp(shingles=[51], **STORY), article_id=4, story=14)
    d = decide(fp(**TEXT, **STORY), "mine", NOW, [s1, s2], IDF, S)
    assert (d.relation, d.related, d.stories) == ("same-story", s1, (13, 14))


def test_the_best_story_wins_and_its_score_is_rounded() -> None:
    new = fp(**TEXT, **STORY)
    close = cand(fp(shingles=[50], terms=(1, 3, 5, 6), title_terms=2, idf=IDF), story=21)
    far = cand(fp(shingles=[51], terms=(3, 4, 5, 6), title_terms=2, idf=IDF), story=22)
    low = replace(S, story_threshold=0.01)
    for order in ([far, close], [close, far]):
        d = decide(new, "mine", NOW, order, IDF, low)
        assert (d.relation, d.related, d.stories) == ("same-story", close, (21, 22))
        assert story_score(new, close.fingerprint, IDF, S) == pytest.approx(0.733359, abs=1e-6)
        assert d.score == 0.7334


def test_a_copy_score_is_rounded_to_four_places() -> None:
    new = fp(shingles=range(3))
    c = cand(fp(shingles=[0, 1, 50]))
    # Two of the smaller set's three shingles: 0.8 * 2/3.
    d = decide(new, "mine", NOW, [c], IDF, S)
    assert (d.relation, d.score) == ("copy", 0.5333)


def test_a_candidate_out_of_the_window_does_not_hide_the_next_one() -> None:
    old = Candidate(1, 10, "other", NOW - S.window - timedelta(hours=1), fp(url_key=7))
    recent = cand(fp(url_key=7), article_id=2, story=20)
    d = decide(fp(**TEXT, url_key=7), "mine", NOW, [old, recent], IDF, S)
    assert (d.relation, d.related, d.stories) == ("copy", recent, (20,))


def test_a_shared_term_without_an_idf_adds_nothing_to_the_story_score() -> None:
    idf = {1: 2.0, 2: 0.5}
    a, b = fp((1, 2, 3), 1, idf=idf), fp((1, 2, 3), 1, idf=idf)
    with_unknown = story_score(a, b, idf, S)
    a2, b2 = fp((1, 2), 1, idf=idf), fp((1, 2), 1, idf=idf)
    assert with_unknown == pytest.approx(story_score(a2, b2, idf, S))
    assert with_unknown == pytest.approx(1.0)
