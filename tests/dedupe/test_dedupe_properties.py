"""Hypothesis properties of the pure parts: features, sketches, fingerprints, URL keys."""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from monitor.dedupe import Settings
from monitor.dedupe.decide import copy_score
from monitor.dedupe.fingerprint import Fingerprint, url_key
from monitor.dedupe.sketch import Sketch, overlap
from tests.dedupe.helpers import article

_FUNCTION = "the of and to in a is that for on with as by at from it was"
_CONTENT = (
    "commission parliament council ban facial recognition police court data privacy rules "
    "minister vote deal agreement market company regulator fine report law member state "
    "platform children security border election party budget energy climate trade"
)
FUNCTION, CONTENT = _FUNCTION.split(), _CONTENT.split()
BOILERPLATE = st.sampled_from(
    [
        "Leave a Reply. Your email address will not be published.",
        "This article is part of POLITICO Pro.",
        "Share this: Facebook, Twitter, LinkedIn. Copyright 2024, all rights reserved.",
        "Advertisement. Subscribe to our newsletter!",
    ]
)
_word = st.one_of(
    st.sampled_from(FUNCTION),
    st.sampled_from(CONTENT),
    st.sampled_from(["Renew", "Tudorache", "EDPB", "Brussels", "42", "7"]),
)
_text = st.lists(_word, min_size=40, max_size=120).map(
    lambda ws: " ".join(w + ("." if i % 11 == 10 else "") for i, w in enumerate(ws))
)


@settings(max_examples=100, deadline=None)
@given(text=_text, before=BOILERPLATE, after=BOILERPLATE)
def test_an_article_is_a_copy_of_itself_with_boilerplate_added(
    text: str, before: str, after: str
) -> None:
    original = Fingerprint.of(article("Parliament votes on the ban", text))
    dressed = Fingerprint.of(article("Parliament votes on the ban", f"{before}\n{text}\n{after}"))
    assert copy_score(original, dressed, Settings()) >= Settings().copy_threshold


@settings(max_examples=100, deadline=None)
@given(text=_text)
def test_case_and_accents_do_not_change_what_copies_are_compared_on(text: str) -> None:
    plain = Fingerprint.of(article("Vote on the ban", text))
    shouted = Fingerprint.of(article("VOTE ON THE BAN", text.upper().replace("E", "É")))
    for a, b in (
        (plain.shingles, shouted.shingles),
        (plain.words, shouted.words),
        (plain.numbers, shouted.numbers),
    ):
        assert a.size == b.size
        assert np.array_equal(a.hashes, b.hashes)


@settings(max_examples=100, deadline=None)
@given(text=_text, url=st.one_of(st.none(), st.just("https://example.eu/a/1?x=2")))
def test_a_fingerprint_survives_its_bytes(text: str, url: str | None) -> None:
    fp = Fingerprint.of(article("Council agrees position", text, url=url)).with_norm(1.5)
    back = Fingerprint.decode(fp.encode())
    assert back.keys() == fp.keys()
    assert back.terms == fp.terms
    assert back.title_terms == fp.title_terms
    assert (back.title_key, back.url_key, back.body_words, back.norm) == (
        fp.title_key,
        fp.url_key,
        fp.body_words,
        fp.norm,
    )
    for a, b in ((back.shingles, fp.shingles), (back.words, fp.words), (back.numbers, fp.numbers)):
        assert a.size == b.size
        assert np.array_equal(a.hashes, b.hashes)


_hashes = st.sets(st.integers(0, 2**32 - 1), max_size=60)


@settings(max_examples=200, deadline=None)
@given(a=_hashes, b=_hashes)
def test_small_sketches_are_exact(a: set[int], b: set[int]) -> None:
    assume(a and b)
    o = overlap(
        Sketch.of(np.array(sorted(a), dtype=np.uint32), 64),
        Sketch.of(np.array(sorted(b), dtype=np.uint32), 64),
    )
    assert o.intersection == len(a & b)
    assert abs(o.jaccard - len(a & b) / len(a | b)) < 1e-9
    assert abs(o.containment - len(a & b) / min(len(a), len(b))) < 1e-9


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 1000), share=st.floats(0.2, 0.9))
def test_large_sketches_estimate_jaccard(seed: int, share: float) -> None:
    rng = np.random.default_rng(seed)
    pool = rng.choice(2**32, size=3000, replace=False).astype(np.uint32)
    common = int(1000 * share)
    a, b = pool[:1000], np.concatenate([pool[:common], pool[1000 : 2000 - common]])
    o = overlap(Sketch.of(a, 128), Sketch.of(b, 128))
    assert abs(o.jaccard - common / (2000 - common)) < 0.15


_segment = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)


@settings(max_examples=100, deadline=None)
@given(
    host=_segment,
    path=st.lists(_segment, min_size=1, max_size=4),
    query=st.sampled_from(["", "?utm_source=rss&utm_medium=feed", "?src=rss", "?ref=hn"]),
)
def test_url_variants_share_a_key(host: str, path: list[str], query: str) -> None:
    # A path ending in "amp" is itself an AMP page ("/amp" is dropped): not a clean URL.
    assume(path[-1] != "amp")
    clean = f"https://{host}.eu/{'/'.join(path)}"
    assert url_key(clean) is not None
    for variant in (
        f"http://www.{host}.eu/{'/'.join(path)}/{query}",
        f"https://m.{host}.eu/{'/'.join(path)}/amp{query}",
        f"{clean}{query}#comments",
    ):
        assert url_key(variant) == url_key(clean), variant


def test_pages_told_apart_by_their_query_keep_apart():
    assert url_key("https://news.ycombinator.com/item?id=1") != url_key(
        "https://news.ycombinator.com/item?id=2"
    )
    assert url_key("https://example.eu/") is None
