"""The candidate index in memory: 32-bit key -> ids of the articles that filed it.

Each posting is one 64-bit integer, ``key << 32 | article_id``, so one sorted numpy
array holds them all (8 bytes a posting, about 25 postings an article: 200 MB for a
million articles) and a key's postings are one ``searchsorted`` range, sorted by id.
New postings go to a small dictionary first and are merged into the array in one
O(n) pass once it holds ``merge_at`` of them.  Articles leave the window in id order
(ids grow with time), so expiry is a floor: ids below it are ignored by lookups and
dropped at the next merge.

It is a cache of what ``story_articles`` stores (each article's keys): rebuilt from
there after a restart, so nothing here needs saving.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from datetime import datetime

import numpy as np
import numpy.typing as npt

_ID_MASK = np.uint64(0xFFFFFFFF)
_SHIFT = np.uint64(32)
MAX_ID = 0xFFFFFFFF


class KeyIndex:
    """Postings of the articles in the window; not thread-safe."""

    def __init__(self, merge_at: int = 1 << 18) -> None:
        self.merge_at = merge_at
        self._main: npt.NDArray[np.uint64] = np.zeros(0, dtype=np.uint64)
        self._delta: dict[int, list[int]] = {}
        self._delta_size = 0
        self._arrivals: deque[tuple[int, datetime]] = deque()
        self.floor = 0
        """Articles with a smaller id have left the window."""
        self._filtered = 0
        self._dead: set[int] = set()
        self._dead_alive: set[int] = set()
        self._recent: set[int] = set()

    def __len__(self) -> int:
        """Articles in the window."""
        return len(self._arrivals) - len(self._dead_alive)

    @property
    def postings(self) -> int:
        return len(self._main) + self._delta_size

    def add(self, article_id: int, seen: datetime, keys: Iterable[int]) -> None:
        """File ``article_id`` under each of ``keys`` (32-bit)."""
        if not 0 <= article_id <= MAX_ID:
            raise ValueError(f"dedupe: article id {article_id} does not fit 32 bits")
        delta = self._delta
        for key in keys:
            ids = delta.get(key)
            if ids is None:
                delta[key] = [article_id]
            else:
                ids.append(article_id)
            self._delta_size += 1
        self._arrivals.append((article_id, seen))
        self._recent.add(article_id)
        if self._delta_size >= self.merge_at:
            self.merge()

    def bulk(
        self, packed: npt.NDArray[np.uint64], arrivals: Sequence[tuple[int, datetime]]
    ) -> None:
        """Load postings already packed as ``key << 32 | id`` (any order), replacing all."""
        self._main = np.sort(packed)
        self._delta = {}
        self._delta_size = 0
        self._arrivals = deque(sorted(arrivals))
        self.floor = self._filtered = 0
        self._dead, self._dead_alive, self._recent = set(), set(), set()

    def discard(self, article_ids: Iterable[int]) -> None:
        """Forget these articles (their rows were rolled back): lookups skip them."""
        for i in article_ids:
            self._dead.add(i)
            if i in self._recent and i >= self.floor:
                self._dead_alive.add(i)

    def expire(self, before: datetime) -> int:
        """Raise the floor past every article seen before ``before``; returns how many left."""
        arrivals = self._arrivals
        gone = 0
        while arrivals and arrivals[0][1] < before:
            aid = arrivals.popleft()[0]
            self.floor = max(self.floor, aid + 1)
            if aid in self._dead_alive:
                self._dead_alive.discard(aid)
            else:
                gone += 1
        return gone

    def lookup(self, keys: Sequence[int], limit: int) -> dict[int, tuple[int, list[int]]]:
        """For each key: how many articles in the window filed it, and, when that is at
        most ``limit``, their ids (newest first)."""
        out: dict[int, tuple[int, list[int]]] = {}
        if not keys:
            return out
        main = self._main
        floor = np.uint64(self.floor)
        q = np.asarray(keys, dtype=np.uint64) << _SHIFT
        lo = np.searchsorted(main, q | floor)
        hi = np.searchsorted(main, q | _ID_MASK, side="right")
        delta = self._delta
        dead = self._dead
        for key, a, b in zip(keys, lo.tolist(), hi.tolist(), strict=True):
            recent = [i for i in delta.get(key, ()) if i >= self.floor]
            count = b - a + len(recent)
            if not count:
                continue
            if count > limit and not dead:
                out[key] = (count, [])
                continue
            ids = recent[::-1]
            if b > a:
                ids.extend((main[a:b] & _ID_MASK)[::-1].tolist())
            if dead:
                ids = [i for i in ids if i not in dead]
                count = len(ids)
                if not count:
                    continue
                if count > limit:
                    ids = []
            out[key] = (count, ids)
        return out

    def merge(self) -> None:
        """Move the new postings into the sorted array, dropping expired ones."""
        dead = self._dead
        fresh = np.fromiter(
            (
                (key << 32) | i
                for key, ids in self._delta.items()
                for i in ids
                if i >= self.floor and i not in dead
            ),
            dtype=np.uint64,
        )
        fresh.sort()
        main = self._main
        if self.floor > self._filtered:
            main = main[(main & _ID_MASK) >= np.uint64(self.floor)]
            self._filtered = self.floor
        if dead:
            ids = main & _ID_MASK
            main = main[~np.isin(ids, np.fromiter(dead, dtype=np.uint64))]
            self._arrivals = deque(a for a in self._arrivals if a[0] not in dead)
            self._dead = set()
            self._dead_alive = set()
        self._recent = set()
        self._main = np.insert(main, np.searchsorted(main, fresh), fresh)
        self._delta = {}
        self._delta_size = 0
