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

import dataclasses
import heapq
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from monitor.dedupe.decide import (
    Candidate,
    Relation,
    Settings,
    choose,
    idf_of,
    norm,
    term_weights,
)
from monitor.dedupe.fingerprint import SHINGLE, TERM, Fingerprint
from monitor.dedupe.keyindex import MAX_ID, KeyIndex
from monitor.models import Article
from monitor.store.stories import IndexedRow, StoryRows
from monitor.update import PENDING, StoryChoice, StoryPlan, resolve

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

    def plan(
        self,
        rows: StoryRows,
        entries: Sequence[tuple[Article, Fingerprint | None] | None],
        now: datetime,
        *,
        exclude: int | None = None,
    ) -> StoryPlan:
        """The story of each of a poll's new articles (None: joins none), in order, for
        ``Store.apply`` to write; each one's candidates include the poll's earlier ones
        (named ``PENDING + i`` until they are stored).  Reads ``rows`` (the fingerprints of
        candidates), writes nothing; only the in-memory window moves on (``expire``).
        Call :meth:`file` once the plan is written.  ``exclude``: an article id that is
        never its own candidate (``assign``'s, already stored)."""
        s = self.settings
        if not self._loaded:
            self.load(rows, now)
        unindex = self._expire(now)
        batch = _Batch()
        choices: list[StoryChoice | None] = []
        for i, entry in enumerate(entries):
            if entry is None:
                choices.append(None)
                continue
            article, given = entry
            own = PENDING + i
            fp = given if given is not None else self.fingerprint(article)
            kinds = fp.keys()
            found = batch.lookup(self.keys.lookup(list(kinds), s.posting_limit), kinds, s)
            counts = {
                key ^ TERM: found[key][0]
                for key, kind in kinds.items()
                if kind == TERM and key in found
            }
            idf = idf_of(counts, fp.terms, len(self.keys) + len(batch))
            fp = fp.with_norm(norm(fp, idf, s))
            weights = term_weights(fp, idf, s)
            wanted = self._wanted(kinds, found, weights, {own, exclude})
            candidates = batch.candidates(
                rows.indexed([a for a in wanted if a < PENDING]),
                [a for a in wanted if a >= PENDING],
            )
            choice = choose(fp, article.feed_id, now, candidates, idf, s, own)
            batch.add(own, article.feed_id, now, choice)
            choices.append(choice)
        return StoryPlan(tuple(choices), unindex)

    def file(self, plan: StoryPlan, ids: Sequence[int], now: datetime) -> None:
        """Add the articles of a written ``plan`` (``ids``: the new articles' ids, in the
        intent's order) to the in-memory index."""
        for i, choice in enumerate(plan.choices):
            if choice is not None:
                self.keys.add(ids[i], now, choice.keys)

    def assign(
        self,
        rows: StoryRows,
        article_id: int,
        article: Article,
        now: datetime,
        fingerprint: Fingerprint | None = None,
    ) -> StoryAssignment:
        """Find the story of an article stored already, record it, and return it.

        Call it inside the transaction that stored the article, once per new article, in
        the order they were stored, with that transaction's ``now`` (a poll does
        :meth:`plan`, ``Store.apply`` and :meth:`file` instead).  Calling it again for an
        article returns the recorded assignment.

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
        plan = self.plan(rows, [(article, fingerprint)], now, exclude=article_id)
        if plan.unindex_before is not None:
            rows.unindex(plan.unindex_before)
        choice = plan.choices[0]
        assert choice is not None
        story_id, merged = rows.record(
            article_id, choice, [article_id], feed_id=article.feed_id, title=article.title, seen=now
        )
        self.file(plan, [article_id], now)
        related = resolve(choice.related_id, [article_id]) if choice.related_id else None
        return StoryAssignment(
            article_id, story_id, _relation(choice.relation), related, choice.score, merged
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

    def _expire(self, now: datetime) -> datetime | None:
        """:meth:`expire` in memory; when a batch of articles has left, the time before
        which ``Store.apply`` drops their stored fingerprints (None: not yet)."""
        before = now - self.settings.window
        self._expired += self.keys.expire(before)
        if self._expired >= self.unindex_every:
            self._expired = 0
            return before
        return None

    def _wanted(
        self,
        kinds: dict[int, int],
        found: dict[int, tuple[int, list[int]]],
        weights: dict[int, float],
        skip: set[int | None],
    ) -> list[int]:
        """The candidates worth reading in full, best first."""
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
        for own in skip:
            if own is not None:
                copy_hits.pop(own, None)
                story_weight.pop(own, None)
        # A copy shares several shingle keys; one shared key is chance.  A story
        # candidate sharing little of the new article's term weight cannot reach the
        # story threshold (a cosine): neither is worth reading.
        floor = s.story_threshold * s.candidate_floor * sum(w * w for w in weights.values())
        wanted = [i for i, n in copy_hits.most_common(s.candidates) if n >= 2]
        best = heapq.nlargest(s.candidates, story_weight.items(), key=lambda kv: kv[1])
        wanted += [i for i, w in best if w >= floor and i not in wanted]
        return wanted


class _Batch:
    """The poll's new articles decided so far, as later ones see them: filed under their
    keys, their stories followed through this poll's merges (as the rows written in one
    transaction would show them)."""

    def __init__(self) -> None:
        self.keys: dict[int, list[int]] = {}
        self.members: dict[int, Candidate] = {}
        self.moved: dict[int, int] = {}
        """Story id -> the story a later article of this poll merged it into."""

    def __len__(self) -> int:
        return len(self.members)

    def lookup(
        self,
        found: dict[int, tuple[int, list[int]]],
        kinds: dict[int, int],
        s: Settings,
    ) -> dict[int, tuple[int, list[int]]]:
        """``KeyIndex.lookup``'s answer with this poll's articles filed too (newest first)."""
        for key in kinds:
            extra = self.keys.get(key)
            if not extra:
                continue
            count, ids = found.get(key, (0, []))
            count += len(extra)
            found[key] = (count, [] if count > s.posting_limit else [*extra[::-1], *ids])
        return found

    def story(self, story_id: int) -> int:
        while story_id in self.moved:
            story_id = self.moved[story_id]
        return story_id

    def candidates(self, stored: Sequence[IndexedRow], pending: Sequence[int]) -> list[Candidate]:
        """Stored and pending candidates, by article id (the order the rows of one
        transaction come in)."""
        out = [
            Candidate(
                r.article_id,
                self.story(r.story_id),
                r.feed_id,
                r.seen,
                Fingerprint.decode(r.sketch),
            )
            for r in stored
        ]
        for ref in pending:
            member = self.members[ref]
            out.append(dataclasses.replace(member, story_id=self.story(member.story_id)))
        out.sort(key=lambda c: c.article_id)
        return out

    def add(self, ref: int, feed_id: str, now: datetime, choice: StoryChoice) -> None:
        for sid in choice.merged:
            self.moved[sid] = choice.story_id
        self.members[ref] = Candidate(
            ref, choice.story_id, feed_id, now, Fingerprint.decode(choice.sketch)
        )
        for key in choice.keys:
            self.keys.setdefault(key, []).append(ref)


def _relation(text: str) -> Relation:
    if text not in RELATIONS:
        raise ValueError(f"dedupe: unknown story relation {text!r}")
    return text
