"""Bottom-k sketches: a bounded sample of a feature set that still estimates overlap.

A bottom-k sketch keeps the ``k`` smallest hashes of a set (one-hash MinHash, Cohen and
Kaplan 2007).  It is exact for a set of at most ``k`` elements (most feed items), and
for larger sets estimates the Jaccard similarity from the ``k`` smallest hashes of the
union.  With the set sizes kept beside it, it also estimates containment, which is what
a truncated copy or a copy with boilerplate added needs.

The same sketch gives the index keys: two sets that share many elements share some of
their smallest ones (consistent sampling), so the first ``KEYS`` hashes of a
document's shingle sketch are looked up and stored in the key table.

The hashes come from BLAKE2b (``monitor.dedupe.text``), so "the smallest" is a fair
random sample of the set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

U32 = npt.NDArray[np.uint32]


@dataclass(frozen=True, slots=True, eq=False)
class Sketch:
    """The ``k`` smallest mixed hashes of a set and the set's true size."""

    hashes: U32
    size: int

    @classmethod
    def of(cls, hashes: U32, k: int) -> Sketch:
        """The sketch of the set of ``hashes`` (well-mixed 32-bit values, repeats allowed)."""
        distinct = np.unique(hashes)
        return cls(distinct[:k], len(distinct))

    @property
    def exact(self) -> bool:
        return len(self.hashes) == self.size


@dataclass(frozen=True, slots=True)
class Overlap:
    """Estimated overlap of two sets from their sketches."""

    jaccard: float
    intersection: float
    containment: float
    """Intersection over the smaller set: 1.0 when one set lies inside the other."""


def overlap(a: Sketch, b: Sketch) -> Overlap:
    """Estimate how much two sketched sets share (exact when both sketches are).

    Below ``tau``, the largest hash both sketches still hold in full, each sketch is the
    whole set: the elements there are a uniform sample of both sets and their union.
    """
    if not a.size or not b.size:
        return Overlap(0.0, 0.0, 0.0)
    tau = min(_limit(a), _limit(b))
    sa = a.hashes[a.hashes <= tau] if tau < _NO_LIMIT else a.hashes
    sb = b.hashes[b.hashes <= tau] if tau < _NO_LIMIT else b.hashes
    shared = len(np.intersect1d(sa, sb, assume_unique=True))
    union = len(sa) + len(sb) - shared
    jaccard = shared / union if union else 0.0
    small, sample = (a, sa) if a.size <= b.size else (b, sb)
    if len(sample):
        containment = shared / len(sample)
    else:
        containment = min(1.0, jaccard * (a.size + b.size) / (1.0 + jaccard) / small.size)
    return Overlap(jaccard, containment * small.size, containment)


_NO_LIMIT = 1 << 32


def _limit(s: Sketch) -> int:
    return _NO_LIMIT if s.exact else int(s.hashes[-1])
