"""The decision for one new article against its candidates (pure).

Given the new article's fingerprint, the candidates the index found (with their stored
fingerprints, feeds, stories and times) and the inverse document frequencies of the new
article's terms, :func:`decide` returns how the article joins a story:

1. ``copy``: the same URL (looser than storage's identity: no query, no AMP, no
   ``www``); the same title over a body too thin to compare (an aggregator linking the
   article); or a copy score of at least ``copy_threshold`` (see :func:`copy_score`).
2. ``same-story``: another feed's article within ``story_window`` whose story score
   (an idf-weighted cosine of title and lead terms, :func:`story_score`) reaches
   ``story_threshold``.
3. ``first``: a new story.

:func:`choose` turns the decision into the article's story (``StoryChoice``, which
``Store.apply`` writes): the oldest story reached, the others merged into it, or a new
story named after the article itself.  The articles of the poll being decided have no id
yet: they are named ``PENDING + i`` (the poll's i-th new article), and the store puts
their ids in as it writes them.

The thresholds are chosen from the labelled pairs in tests/data/dedupe/pairs.json by
bench/bench_dedupe.py, which reports their precision and recall in docs/benchmarks.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from monitor.dedupe.fingerprint import Fingerprint
from monitor.dedupe.sketch import overlap
from monitor.update import PENDING, StoryChoice

Relation = Literal["first", "copy", "same-story"]
__all__ = ["PENDING", "Candidate", "Decision", "Settings", "StoryChoice", "choose", "decide"]


@dataclass(frozen=True, slots=True)
class Settings:
    """Windows and thresholds of the near-duplicate index."""

    window: timedelta = timedelta(days=7)
    """How long an article stays in the index: copies are found this far back."""
    story_window: timedelta = timedelta(days=3)
    """How far apart two outlets' articles about one event may be."""
    copy_threshold: float = 0.12
    same_feed_copy_threshold: float = 0.5
    """Within one feed every article shares the feed's template ("Follow our live blog",
    "The Morning After:"), so a republished copy must share much more."""
    numbers_floor: float = 0.8
    shingle_weight: float = 0.8
    shingle_support: float = 2.0
    """Shared shingles needed before their containment counts in full."""
    word_support: float = 20.0
    """Shared content words needed before their containment counts in full."""
    thin_body: int = 12
    """A body shorter than this many words cannot tell copies apart: the title decides."""
    story_threshold: float = 0.25
    title_weight: float = 2.0
    keys: int = 12
    """Shingle keys filed per article (the smallest hashes of its shingle sketch)."""
    max_terms: int = 16
    """Story terms kept per article (title first, then the lead)."""
    posting_limit: int = 64
    """Articles read per key; a key filed under more is common and says little."""
    candidates: int = 6
    """Story candidates compared in full, the best by shared term weight first."""
    candidate_floor: float = 0.5
    """A story candidate must share this share of ``story_threshold`` times the new
    article's squared term weight to be compared at all."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """An article of the index found through a shared key."""

    article_id: int
    story_id: int
    feed_id: str
    seen: datetime
    fingerprint: Fingerprint


@dataclass(frozen=True, slots=True)
class Decision:
    relation: Relation
    related: Candidate | None
    score: float
    stories: tuple[int, ...] = ()
    """Every story the article reached a threshold with: more than one means the article
    joins them (single link), and they become one story."""


def copy_score(a: Fingerprint, b: Fingerprint, s: Settings) -> float:
    """How much of the smaller text the other one holds, on spin-proof features.

    Containment of the function-word shingles (a spinner leaves them alone) weighs
    ``shingle_weight``, containment of the content words the rest; each is scaled down
    while the shared elements are too few to be evidence (two short texts of one event
    share many words, but few shingles).  When both texts hold numbers and the other
    holds less than ``numbers_floor`` of the smaller set's, the score is 0: a copy keeps
    its numbers, the next issue of a templated series ("Kurs EUR/PLN 23 listopada") does
    not.
    """
    sh = overlap(a.shingles, b.shingles)
    words = overlap(a.words, b.words)
    sh_part = sh.containment * min(1.0, sh.intersection / s.shingle_support)
    word_part = words.containment * min(1.0, words.intersection / s.word_support)
    score = s.shingle_weight * sh_part + (1.0 - s.shingle_weight) * word_part
    numbers_differ = (
        a.numbers.size
        and b.numbers.size
        and overlap(a.numbers, b.numbers).containment < s.numbers_floor
    )
    return 0.0 if numbers_differ else score


def story_score(a: Fingerprint, b: Fingerprint, idf: Mapping[int, float], s: Settings) -> float:
    """Cosine of the two articles' term vectors, terms weighted by idf (title terms more).

    ``b.norm`` is the length ``b``'s vector had when it was indexed.
    """
    if not a.norm or not b.norm:
        return 0.0
    b_title = set(b.terms[: b.title_terms])
    b_terms = set(b.terms)
    dot = 0.0
    for i, term in enumerate(a.terms):
        if term in b_terms:
            w = idf.get(term, 0.0)
            wa = s.title_weight if i < a.title_terms else 1.0
            wb = s.title_weight if term in b_title else 1.0
            dot += w * w * wa * wb
    return dot / (a.norm * b.norm)


def term_weights(fp: Fingerprint, idf: Mapping[int, float], s: Settings) -> dict[int, float]:
    """Each term's weight in ``fp``'s vector: its idf, times ``title_weight`` in the title."""
    return {
        term: idf.get(term, 0.0) * (s.title_weight if i < fp.title_terms else 1.0)
        for i, term in enumerate(fp.terms)
    }


def norm(fp: Fingerprint, idf: Mapping[int, float], s: Settings) -> float:
    """The length of ``fp``'s weighted term vector."""
    return math.sqrt(sum(w * w for w in term_weights(fp, idf, s).values()))


def idf_of(counts: Mapping[int, int], terms: Sequence[int], indexed: int) -> dict[int, float]:
    """Inverse document frequency of each term from how many indexed articles hold it."""
    n = indexed + 1
    return {t: math.log((n + 1) / (counts.get(t, 0) + 1)) for t in terms}


def decide(
    fp: Fingerprint,
    feed_id: str,
    now: datetime,
    candidates: Sequence[Candidate],
    idf: Mapping[int, float],
    s: Settings,
) -> Decision:
    """Copy of, same story as, or first of a story (see the module docstring)."""
    best_copy: tuple[float, Candidate] | None = None
    best_story: tuple[float, Candidate] | None = None
    linked: set[int] = set()
    for c in candidates:
        age = abs(now - c.seen)
        if age > s.window:
            continue
        other = c.fingerprint
        same_url = fp.url_key is not None and fp.url_key == other.url_key
        same_title = (
            fp.title_key is not None
            and fp.title_key == other.title_key
            and min(fp.body_words, other.body_words) < s.thin_body
        )
        score = 1.0 if same_url or same_title else copy_score(fp, other, s)
        same_feed = c.feed_id == feed_id
        if score >= (s.same_feed_copy_threshold if same_feed else s.copy_threshold):
            linked.add(c.story_id)
            if best_copy is None or score > best_copy[0]:
                best_copy = (score, c)
        if not same_feed and age <= s.story_window:
            story = story_score(fp, other, idf, s)
            if story >= s.story_threshold:
                linked.add(c.story_id)
                if best_story is None or story > best_story[0]:
                    best_story = (story, c)
    stories = tuple(sorted(linked))
    if best_copy is not None:
        return Decision("copy", best_copy[1], round(best_copy[0], 4), stories)
    if best_story is not None:
        return Decision("same-story", best_story[1], round(best_story[0], 4), stories)
    return Decision("first", None, 0.0)


def choose(
    fp: Fingerprint,
    feed_id: str,
    now: datetime,
    candidates: Sequence[Candidate],
    idf: Mapping[int, float],
    s: Settings,
    own: int,
) -> StoryChoice:
    """The story the article ``own`` joins (pure): :func:`decide`, then the story named by
    its oldest article (the smallest id; a ``PENDING`` one is newer than every stored one,
    and the poll's earlier articles get the smaller ids), the other stories it reached
    merged into it; a ``first`` article starts the story ``own``.  ``fp`` must carry its
    norm: its ``encode()`` is what later articles compare with."""
    decision = decide(fp, feed_id, now, candidates, idf, s)
    story_id = min(decision.stories) if decision.stories else own
    kinds = fp.keys()
    return StoryChoice(
        relation=decision.relation,
        story_id=story_id,
        related_id=decision.related.article_id if decision.related else None,
        score=decision.score,
        merged=tuple(sid for sid in decision.stories if sid != story_id),
        sketch=fp.encode(),
        keys=tuple(kinds),
    )
