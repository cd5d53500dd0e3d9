"""Rule evaluation: from the atoms found in one article to a verdict per watchlist.

The same code decides a match and explains it, so ``monitor explain`` can never
disagree with ``monitor match``.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from monitor.match.automaton import AtomHit, Scan
from monitor.models import FIELDS

if TYPE_CHECKING:  # config imports the rule types from this package
    from monitor.config.specs import WatchlistSpec

CheckKind = Literal["languages", "any", "all", "near", "threshold", "none"]


@dataclass(frozen=True, slots=True)
class CItem:
    """A compiled rule item: the atoms of a term or actor, or the slots of a near group."""

    label: str
    atoms: frozenset[int] = frozenset()
    slots: tuple[frozenset[int], ...] = ()
    slot_labels: tuple[str, ...] = ()
    within: int = 0


@dataclass(frozen=True, slots=True)
class CompiledWatchlist:
    spec: WatchlistSpec
    fields: frozenset[int]
    languages: frozenset[str]
    any: tuple[CItem, ...]
    all: tuple[CItem, ...]
    none: tuple[CItem, ...]
    near: tuple[CItem, ...]
    ignore: frozenset[int]
    weights: tuple[tuple[CItem, float], ...]
    threshold: float | None
    any_atoms: frozenset[int] = frozenset()
    """With ``simple``: every atom of ``any``, and the items each one stands for."""
    atom_items: dict[int, tuple[int, ...]] = field(default_factory=dict)
    simple: bool = False
    """Only terms and actors under ``any`` (the common case): evaluated by set operations."""

    def possible(self, present: AbstractSet[int]) -> bool:
        """A cheap necessary condition: could the atoms found satisfy the rule at all?"""

        def can(item: CItem) -> bool:
            if item.slots:
                return all(not slot.isdisjoint(present) for slot in item.slots)
            return not item.atoms.isdisjoint(present)

        if self.any and not any(can(i) for i in self.any):
            return False
        if not all(can(i) for i in self.all) or not all(can(i) for i in self.near):
            return False
        if self.weights:
            best = sum(w for item, w in self.weights if w > 0 and can(item))
            return best >= (self.threshold or 0.0)
        return True


@dataclass(frozen=True, slots=True)
class Check:
    """One condition of a watchlist's rule and how the article fared."""

    kind: CheckKind
    ok: bool
    detail: str
    found: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()


@dataclass(slots=True)
class Verdict:
    matched: bool
    score: float
    hits: list[AtomHit]
    checks: list[Check] = field(default_factory=list)
    ignored: list[AtomHit] = field(default_factory=list)


class _Context:
    """Hits of one watchlist: its fields only, minus those inside an ``ignore`` phrase."""

    def __init__(
        self, wl: CompiledWatchlist, scan: Scan | None, by_atom: dict[int, list[AtomHit]]
    ) -> None:
        self.scan = scan
        self.by_atom = by_atom
        self.fields = wl.fields
        masks = [h for a in wl.ignore for h in by_atom.get(a, ()) if h[1] in wl.fields]
        self.masks = bool(masks)
        # Per ignore atom and field: the mask starts in order, and the furthest end of the
        # masks up to each one; a hit is inside a mask of that atom when the furthest end
        # of the masks starting at or before it reaches its end.  A binary search a hit
        # and an ignore atom, not a pass over every mask (issue 10: 25,000 of each).
        self._masks: dict[tuple[int, int], tuple[list[int], list[int]]] = {}
        for m in sorted(masks, key=lambda h: h[2]):
            starts, reach = self._masks.setdefault((m[0], m[1]), ([], []))
            starts.append(m[2])
            reach.append(max(m[3], reach[-1]) if reach else m[3])
        self.ignored: list[AtomHit] = []
        self._ignored: set[AtomHit] = set()
        self._words: dict[AtomHit, tuple[int, int]] = {}

    def hits(self, atoms: frozenset[int]) -> list[AtomHit]:
        out = []
        for atom in atoms.intersection(self.by_atom):
            for hit in self.by_atom[atom]:
                if hit[1] not in self.fields:
                    continue
                if self.masks and self._masked(hit):
                    if hit not in self._ignored:
                        self._ignored.add(hit)
                        self.ignored.append(hit)
                    continue
                out.append(hit)
        return out

    def _masked(self, hit: AtomHit) -> bool:
        for (atom, field_index), (starts, reach) in self._masks.items():
            if field_index != hit[1] or atom == hit[0]:
                continue
            before = bisect_right(starts, hit[2])
            if before and reach[before - 1] >= hit[3]:
                return True
        return False

    def words(self, hit: AtomHit) -> tuple[int, int]:
        found = self._words.get(hit)
        if found is None:
            assert self.scan is not None  # there are hits, so there was a scan
            found = self._words[hit] = self.scan.words(hit)
        return found


@dataclass(slots=True)
class _ItemResult:
    item: CItem
    hits: list[AtomHit]
    note: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.hits)


def quick(
    wl: CompiledWatchlist, language: str | None, by_atom: dict[int, list[AtomHit]]
) -> tuple[float, list[AtomHit]] | None:
    """``evaluate`` for a ``simple`` watchlist, without explanations.

    Returns the score and the hits of a match, or None.
    """
    atoms: AbstractSet[int] = wl.any_atoms.intersection(by_atom)
    if not atoms or (wl.languages and language and language not in wl.languages):
        return None
    if len(atoms) == 1:  # the common case
        atom = next(iter(atoms))
        hits = by_atom[atom]
        if len(wl.fields) != len(FIELDS):
            hits = [h for h in hits if h[1] in wl.fields]
            if not hits:
                return None
        # One atom's hits are unique and in text order already (``Scanner.scan``).
        return float(len(set(wl.atom_items[atom]))), list(hits)
    if len(wl.fields) == len(FIELDS):
        hits = [h for a in atoms for h in by_atom[a]]
    else:
        hits = [h for a in atoms for h in by_atom[a] if h[1] in wl.fields]
        if not hits:
            return None
        atoms = {h[0] for h in hits}
    items = {i for a in atoms for i in wl.atom_items[a]}
    return float(len(items)), unique_hits(hits)


def evaluate(
    wl: CompiledWatchlist,
    scan: Scan | None,
    by_atom: dict[int, list[AtomHit]],
    *,
    language: str | None,
    explain: bool = False,
) -> Verdict:
    """Decide whether the scanned article matches ``wl``; with ``explain``, say why."""
    checks: list[Check] = []
    if wl.languages and language and language not in wl.languages:
        if not explain:
            return Verdict(False, 0.0, [])
        checks.append(
            Check(
                "languages",
                False,
                f"article language {language!r} is not one of {', '.join(sorted(wl.languages))}",
            )
        )
    ctx = _Context(wl, scan, by_atom)
    matched = not checks
    used: list[AtomHit] = []
    satisfied: set[str] = set()

    def run(item: CItem) -> _ItemResult:
        return _near(item, ctx) if item.slots else _ItemResult(item, ctx.hits(item.atoms))

    if wl.any:
        results = [run(item) for item in wl.any]
        ok = any(r.ok for r in results)
        matched &= ok
        for r in results:
            used.extend(r.hits)
        satisfied.update(r.item.label for r in results if r.ok)
        if explain:
            found = tuple(r.item.label for r in results if r.ok)
            checks.append(
                Check(
                    "any",
                    ok,
                    _found_text(results)
                    if ok
                    else f"none of {len(results)} found: {_labels(results)}",
                    found=found,
                    missing=() if ok else tuple(r.item.label for r in results),
                )
            )
    groups: tuple[tuple[CheckKind, tuple[CItem, ...]], ...] = (("all", wl.all), ("near", wl.near))
    for kind, items in groups:
        if not items:
            continue
        results = [run(item) for item in items]
        ok = all(r.ok for r in results)
        matched &= ok
        for r in results:
            used.extend(r.hits)
        satisfied.update(r.item.label for r in results if r.ok)
        if explain:
            missing = [r for r in results if not r.ok]
            detail = (
                _found_text(results)
                if ok
                else "missing: " + "; ".join(r.note or r.item.label for r in missing)
            )
            checks.append(
                Check(
                    kind,
                    ok,
                    detail,
                    found=tuple(r.item.label for r in results if r.ok),
                    missing=tuple(r.item.label for r in missing),
                )
            )
    score = 0.0
    if wl.weights:
        results = [run(item) for item, _ in wl.weights]
        parts = [(r, w) for r, (_, w) in zip(results, wl.weights, strict=True) if r.ok]
        score = float(sum(w for _, w in parts))
        threshold = wl.threshold or 0.0
        ok = score >= threshold
        matched &= ok
        for r, _ in parts:
            used.extend(r.hits)
        if explain:
            counted = ", ".join(f"{r.item.label} ({w:g})" for r, w in parts) or "nothing"
            checks.append(
                Check(
                    "threshold",
                    ok,
                    f"score {score:g} of {threshold:g} needed: {counted}",
                    found=tuple(r.item.label for r, _ in parts),
                )
            )
    if wl.none:
        results = [run(item) for item in wl.none]
        vetoes = [r for r in results if r.ok]
        matched &= not vetoes
        if explain:
            checks.append(
                Check(
                    "none",
                    not vetoes,
                    "vetoed by " + _labels(vetoes) if vetoes else "no excluded term found",
                    found=tuple(r.item.label for r in vetoes),
                )
            )
    if not wl.weights:
        # Without weights the score is the number of distinct terms and actors found.
        score = float(len(satisfied))
    return Verdict(matched, score, unique_hits(used), checks, unique_hits(ctx.ignored))


def _near(item: CItem, ctx: _Context) -> _ItemResult:
    per_slot = [ctx.hits(slot) for slot in item.slots]
    missing = [label for label, hits in zip(item.slot_labels, per_slot, strict=True) if not hits]
    if missing:
        return _ItemResult(item, [], f"{item.label}: {', '.join(missing)} not found")
    best: tuple[int, list[AtomHit]] | None = None
    for field_index in sorted({h[1] for h in per_slot[0]}):
        spans = [[(ctx.words(h), h) for h in hits if h[1] == field_index] for hits in per_slot]
        if not all(spans):
            continue
        # The chosen hit with the smallest end anchors the window; every other slot then
        # takes its hit that ends no earlier and starts first: per slot, its hits by end
        # and the first-starting hit from each one on, found by a binary search (a scan
        # of every hit per anchor would cost hits x hits, issue 10).
        firsts = [_first_starts(options) for options in spans]
        for i, anchors in enumerate(spans):
            for (a_start, a_stop), anchor in anchors:
                chosen = [anchor]
                last_start = a_start
                for j, (ends, first) in enumerate(firsts):
                    if j == i:
                        continue
                    at = bisect_left(ends, a_stop)
                    if at == len(ends):
                        break
                    start, hit = first[at]
                    chosen.append(hit)
                    last_start = max(last_start, start)
                else:
                    gap = max(0, last_start - a_stop)
                    if best is None or gap < best[0]:
                        best = (gap, chosen)
    if best is None:
        return _ItemResult(item, [], f"{item.label}: never in the same field")
    if best[0] > item.within:
        return _ItemResult(item, [], f"{item.label}: closest are {best[0]} words apart")
    return _ItemResult(item, best[1], f"{best[0]} words apart")


def _first_starts(
    options: list[tuple[tuple[int, int], AtomHit]],
) -> tuple[list[int], list[tuple[int, AtomHit]]]:
    """The ends of ``options`` in order and, for each, the least ``(start, hit)`` among
    the options that end there or later."""
    by_end = sorted(options, key=lambda o: o[0][1])
    ends = [stop for (_, stop), _ in by_end]
    first: list[tuple[int, AtomHit]] = [(0, (0, 0, 0, 0))] * len(by_end)
    least: tuple[int, AtomHit] | None = None
    for k in range(len(by_end) - 1, -1, -1):
        (start, _), hit = by_end[k]
        if least is None or (start, hit) < least:
            least = (start, hit)
        first[k] = least
    return ends, first


def _found_text(results: list[_ItemResult]) -> str:
    parts = []
    for r in results:
        if r.ok:
            parts.append(f"{r.item.label} ({r.note})" if r.note else r.item.label)
    return "found " + "; ".join(parts)


def _labels(results: list[_ItemResult], limit: int = 8) -> str:
    labels = [r.item.label for r in results]
    more = f" and {len(labels) - limit} more" if len(labels) > limit else ""
    return ", ".join(labels[:limit]) + more


def unique_hits(hits: list[AtomHit]) -> list[AtomHit]:
    """``hits`` without duplicates, by field, position and the longest first."""
    if len(hits) < 2:
        return hits
    return sorted(set(hits), key=_in_order)


def _in_order(hit: AtomHit) -> tuple[int, int, int, int]:
    return hit[1], hit[2], -hit[3], hit[0]
