"""Assign each new article to a story, inside the store's transaction.

``StoryIndex`` is the stage's one stateful object. It reads and writes the story tables
through the ``StoryRows`` the store hands it (``Store.apply``, ``Store.story_rows``);
its SQL is in ``monitor.store.stories`` and it never holds a connection. Per article:
compute its fingerprint; look its keys up in the in-memory
:class:`~monitor.dedupe.keyindex.KeyIndex` (which also gives the document frequencies of
its terms); read the best candidates' fingerprints from SQLite;
:func:`~monitor.dedupe.decide.decide`; store the article's story row with its
fingerprint and keys; file its keys in memory.

SQLite holds everything the index needs, committed with the article: after a restart
the first call rebuilds the in-memory keys from ``story_articles``.  If the caller's
transaction rolls back, the memory keeps keys of articles that were never stored; a
lookup that finds one reads no row for it (or, should the id be reused, the row of the
article that now has it, compared on its own fingerprint), so nothing false comes of it.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from monitor.dedupe.decide import (
    Candidate,
    Relation,
    Settings,
    decide,
    idf_of,
    norm,
    term_weights,
)
from monitor.dedupe.fingerprint import SHINGLE, TERM, Fingerprint
from monitor.dedupe.keyindex import MAX_ID, KeyIndex
from monitor.models import Article
from monitor.store import stories as store
from monitor.store.stories import StoryRows

RELATIONS: tuple[Relation, ...] = ("first", "copy", "same-story")
UNINDEX_EVERY = 256
"""Articles that leave the window are dropped from SQLite in batches of about this many."""


@dataclass(frozen=True, slots=True)
class StoryAssignment:
    """How one article joined a story.

    ``story_id`` is the id of the story's first article; ``related_article_id`` is the
    article it was found to copy or to cover the same event as (``None`` for ``first``);
    ``score`` is the copy or story score that decided (0.0 for ``first``).
    ``merged_story_ids``: stories this article linked to the one it joined, which are now
    part of it (their articles moved to ``story_id``; those ids are gone).
    """

    article_id: int
    story_id: int
    relation: Relation
    related_article_id: int | None
    score: float
    merged_story_ids: tuple[int, ...] = ()


class StoryIndex:
    """The near-duplicate index over the articles of the last ``settings.window``.

    Build one per process and keep it (the poller owns it); not thread-safe.
    """

    def __init__(
        self, settings: Settings | None = None, unindex_every: int = UNINDEX_EVERY
    ) -> None:
        self.settings = settings or Settings()
        self.unindex_every = unindex_every
        self.keys = KeyIndex()
        self._loaded = False
        self._expired = 0

    def load(self, rows: StoryRows, now: datetime) -> int:
        """Rebuild the in-memory keys from the articles stored inside the window.

        Called by the first :meth:`assign`; returns how many articles were loaded.
        """
        blob = bytearray()
        ids: list[int] = []
        counts: list[int] = []
        arrivals: list[tuple[int, datetime]] = []
        for aid, seen, keys in rows.window(now - self.settings.window):
            blob += keys
            ids.append(aid)
            counts.append(len(keys) // 4)
            arrivals.append((aid, seen))
        keys_of = np.frombuffer(bytes(blob), dtype="<u4").astype(np.uint64) << np.uint64(32)
        owners = np.repeat(np.array(ids, dtype=np.uint64), counts)
        self.keys.bulk(keys_of | owners, arrivals)
        self._loaded = True
        return len(ids)

    def fingerprint(self, article: Article) -> Fingerprint:
        """The article's fingerprint under these settings (pure: the parser process
        computes it for ``assign``)."""
        return Fingerprint.of(article, keys=self.settings.keys, max_terms=self.settings.max_terms)

    def assign(
        self,
        rows: StoryRows,
        article_id: int,
        article: Article,
        now: datetime,
        fingerprint: Fingerprint | None = None,
    ) -> StoryAssignment:
        """Find the story of a newly stored article, record it, and return it.

        Call it inside the transaction that stored the article, once per new article, in
        the order they were stored, with that transaction's ``now``.  Calling it again
        for an article returns the recorded assignment.

        Raises:
            ValueError: ``article_id`` does not fit 32 bits.
        """
        if not 0 <= article_id <= MAX_ID:
            raise ValueError(f"dedupe: article id {article_id} does not fit 32 bits")
        known = rows.assignment(article_id)
        if known is not None:
            return StoryAssignment(
                known.article_id,
                known.story_id,
                _relation(known.relation),
                known.related_id,
                known.score,
            )
        s = self.settings
        if not self._loaded:
            self.load(rows, now)
        self.expire(rows, now)
        fp = fingerprint if fingerprint is not None else self.fingerprint(article)
        kinds = fp.keys()
        found = self.keys.lookup(list(kinds), s.posting_limit)
        counts = {
            key ^ TERM: found[key][0]
            for key, kind in kinds.items()
            if kind == TERM and key in found
        }
        idf = idf_of(counts, fp.terms, len(self.keys))
        fp = fp.with_norm(norm(fp, idf, s))
        candidates = self._candidates(rows, kinds, found, term_weights(fp, idf, s), article_id)
        decision = decide(fp, article.feed_id, now, candidates, idf, s)
        related = decision.related
        # Stories are named by their first article: the oldest one absorbs the others.
        story_id = min(decision.stories) if decision.stories else article_id
        merged = tuple(sid for sid in decision.stories if sid != story_id)
        if merged:
            rows.merge(story_id, merged)
        row = store.AssignmentRow(
            article_id=article_id,
            story_id=story_id,
            relation=decision.relation,
            related_id=related.article_id if related else None,
            score=decision.score,
        )
        rows.add(
            row,
            feed_id=article.feed_id,
            title=article.title,
            seen=now,
            sketch=fp.encode(),
            keys=np.fromiter(kinds, dtype=np.uint32, count=len(kinds)).astype("<u4").tobytes(),
        )
        self.keys.add(article_id, now, kinds)
        return StoryAssignment(
            row.article_id, row.story_id, decision.relation, row.related_id, row.score, merged
        )

    def discard(self, article_ids: Iterable[int]) -> None:
        """Forget articles whose rows a rolled-back transaction took away.

        Optional (see the module docstring), but it keeps the candidates clean.
        """
        self.keys.discard(article_ids)

    def reset(self) -> None:
        """Drop the in-memory index; the next :meth:`assign` rebuilds it from SQLite."""
        self.keys = KeyIndex()
        self._loaded = False

    def expire(self, rows: StoryRows, now: datetime) -> int:
        """Let articles first seen more than a window ago leave the index.

        In memory at once; in SQLite (fingerprints and keys dropped, story membership
        kept) in batches.  Returns how many left the in-memory index.
        """
        before = now - self.settings.window
        gone = self.keys.expire(before)
        self._expired += gone
        if self._expired >= self.unindex_every:
            rows.unindex(before)
            self._expired = 0
        return gone

    def _candidates(
        self,
        rows: StoryRows,
        kinds: dict[int, int],
        found: dict[int, tuple[int, list[int]]],
        weights: dict[int, float],
        article_id: int,
    ) -> list[Candidate]:
        s = self.settings
        copy_hits: Counter[int] = Counter()
        story_weight: dict[int, float] = {}
        for key, (_count, ids) in found.items():
            kind = kinds[key]
            if kind == TERM:
                w = weights.get(key ^ TERM, 0.0) ** 2
                for i in ids:
                    story_weight[i] = story_weight.get(i, 0.0) + w
            else:
                weight = 1 if kind == SHINGLE else s.keys
                for i in ids:
                    copy_hits[i] += weight
        copy_hits.pop(article_id, None)
        story_weight.pop(article_id, None)
        # A copy shares several shingle keys; one shared key is chance.  A story
        # candidate sharing little of the new article's term weight cannot reach the
        # story threshold (a cosine): neither is worth reading.
        floor = s.story_threshold * s.candidate_floor * sum(w * w for w in weights.values())
        wanted = [i for i, n in copy_hits.most_common(s.candidates) if n >= 2]
        best = heapq.nlargest(s.candidates, story_weight.items(), key=lambda kv: kv[1])
        wanted += [i for i, w in best if w >= floor and i not in wanted]
        return [
            Candidate(r.article_id, r.story_id, r.feed_id, r.seen, Fingerprint.decode(r.sketch))
            for r in rows.indexed(wanted)
        ]


def _relation(text: str) -> Relation:
    if text not in RELATIONS:
        raise ValueError(f"dedupe: unknown story relation {text!r}")
    return text
