"""The compiled matcher: every watchlist of a ``KeywordsConfig`` behind one automaton."""

from __future__ import annotations

import dataclasses
from bisect import bisect_left
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

from monitor import speedups
from monitor.match.atoms import AtomTable
from monitor.match.automaton import Atom, AtomHit, Scan, Scanner
from monitor.match.evaluate import Check, CItem, CompiledWatchlist, evaluate, quick
from monitor.match.inflect import Inflector, default_cache
from monitor.match.prominence import Prominence, is_roundup, prominence
from monitor.match.snippets import compiled_snippet
from monitor.match.terms import ActorRef, Item, Near, Term, Word, primary_language
from monitor.models import FIELDS, Article, Field, Hit, Match

if TYPE_CHECKING:  # config imports the rule types from this package
    from monitor.config.specs import KeywordsConfig, WatchlistSpec

MAX_HITS_PER_FIELD = 10
"""A match reports at most this many hits of each field, and how many there are in all:
an item that repeats a watched word 25,000 times must cost no more than its length, and
an alert shows a few hits, not thousands (issue 10)."""


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why one watchlist did or did not match one article."""

    watchlist: str
    title: str
    matched: bool
    score: float
    hits: tuple[Hit, ...]
    checks: tuple[Check, ...]
    ignored: tuple[Hit, ...] = ()
    """Hits discarded because they lie inside one of the watchlist's ``ignore`` phrases."""
    hit_count: int = 0
    """Every hit found; ``hits`` holds at most ``MAX_HITS_PER_FIELD`` of them a field."""
    ignored_count: int = 0
    """Every ignored hit; ``ignored`` is bounded like ``hits``."""
    prominence: Prominence | None = None
    """How prominent the hits are (None without hits)."""
    unconfirmed: tuple[Hit, ...] = ()
    """Hits of ambiguous aliases without a context term near them: not counted."""


class Matcher:
    """Matches articles against every watchlist at once.  Build with :func:`compile_matcher`.

    Immutable after construction and safe to share; ``match`` is pure and deterministic.
    """

    def __init__(
        self,
        cfg: KeywordsConfig,
        inflector: Inflector | None = None,
        *,
        compiled: bool | None = None,
    ) -> None:
        self.config = cfg
        self._inflector = inflector if inflector is not None else Inflector(default_cache())
        self._inflector.prepare(
            (language, term.text)
            for term, languages in inflected_terms(cfg)
            for language in _inflected_in(term, languages)
        )
        self._spec_languages: tuple[str, ...] = ()
        self._atoms = AtomTable()
        self._touches: list[tuple[int, ...]] = []
        """Per atom, the watchlists it can make match (their indexes, ascending)."""
        self._shared: dict[tuple[int, ...], tuple[int, ...]] = {}
        """One copy of each equal tuple: 25,000 atoms have a few hundred distinct ones."""
        self._term_atoms: dict[tuple[int, tuple[str, ...]], frozenset[int]] = {}
        self._context: dict[int, tuple[frozenset[int], int]] = {}
        """Ambiguous aliases: the atoms that must occur near them, and how near (words)."""
        self._watchlists: list[CompiledWatchlist] = []
        for index, spec in enumerate(sorted(cfg.watchlists.values(), key=lambda w: w.id)):
            self._watchlists.append(self._compile(index, spec))
        self._atoms.seal()
        self._scanner = Scanner(self._atoms, compiled=compiled)
        fast = self._scanner.speedups
        self._results: Any = speedups.results(fast) if fast is not None else None
        """The compiled builder of ``Hit`` and ``Match`` objects (None: their constructors)."""
        # Per atom, the watchlists it can make match (sorted by id), each with its id and,
        # when that atom alone decides it (a simple watchlist of every field and language),
        # the score it then has: an article with a single atom needs no rule evaluation.
        Plan = tuple[tuple[int, str, float | None], ...]
        plans: dict[Plan, Plan] = {}  # one copy of each, as ``_shared``
        self._plans: list[Plan] = []
        for atom_id, touched in enumerate(self._touches):
            plan = tuple(self._plan(atom_id, index) for index in touched)
            self._plans.append(plans.setdefault(plan, plan))
        # Only the compile needs these: with the default keywords.yaml's 25,000 inflected
        # forms, the inflector's forms and the tables above are megabytes (issue 12).
        del self._shared, self._term_atoms, self._inflector
        self._shown: dict[int, tuple[str, str | None, str | None]] = {}
        """Per atom found so far, what its hits show: term, actor, form.  ``AtomTable``
        builds an inflected form's ``Atom`` on each lookup; a hit needs three strings."""

    @property
    def watchlists(self) -> tuple[WatchlistSpec, ...]:
        return tuple(w.spec for w in self._watchlists)

    @property
    def pattern_count(self) -> int:
        """Distinct folded keys in the automaton."""
        return self._scanner.pattern_count

    def match(self, article: Article) -> list[Match]:
        """Every watchlist that ``article`` matches, sorted by watchlist id."""
        language = primary_language(article.language) if article.language else None
        scan = self._scanner.scan(article, language)
        if scan is None:
            return []
        by_atom = self._confirmed(scan, _by_atom(scan))
        if not by_atom:
            return []
        # The watchlists that the atoms found can make match, each with its id and, when
        # one atom alone decides it, that atom and the score (no rule to evaluate).
        plans = self._plans
        candidates: dict[int, tuple[str, float | None, int]] = {}
        for atom in by_atom:
            for index, watchlist, score in plans[atom]:
                if index in candidates:  # several atoms: evaluate the rule
                    candidates[index] = (watchlist, None, -1)
                else:
                    candidates[index] = (watchlist, score, atom)
        out = []
        roundup: bool | None = None
        fast = self._scanner.speedups
        results = self._results
        for index in sorted(candidates) if len(candidates) > 1 else candidates:
            watchlist, score, atom = candidates[index]
            if score is not None:
                atom_hits = by_atom[atom]  # unique and in text order (``Scanner.scan``)
            else:
                found = self._verdict(self._watchlists[index], scan, by_atom, language)
                if found is None:
                    continue
                score, atom_hits = found
            hits, count = self._hits(scan, atom_hits)
            if roundup is None:
                roundup = is_roundup(article, fast)
            weight = prominence(article, hits, count, roundup=roundup)
            if results is not None:
                out.append(results.match(watchlist, score, hits, count, weight.score))
            else:
                out.append(
                    Match(
                        watchlist=watchlist,
                        score=score,
                        hits=hits,
                        hit_count=count,
                        prominence=weight.score,
                    )
                )
        return out

    def _confirmed(self, scan: Scan, by_atom: dict[int, list[AtomHit]]) -> dict[int, list[AtomHit]]:
        """``by_atom`` without the hits of ambiguous aliases that no context term confirms
        (one within the actor's ``within`` words in the same field)."""
        if not self._context or self._context.keys().isdisjoint(by_atom):
            return by_atom
        out = dict(by_atom)
        for atom in [a for a in by_atom if a in self._context]:
            confirm, within = self._context[atom]
            near: dict[int, list[tuple[int, int]]] = {}
            for c in confirm.intersection(by_atom):
                for hit in by_atom[c]:
                    near.setdefault(hit[1], []).append(scan.words(hit))
            for found in near.values():
                found.sort()
            longest = {f: max(stop - first for first, stop in found) for f, found in near.items()}
            kept = []
            for hit in by_atom[atom]:
                spans = near.get(hit[1], [])
                if not spans:
                    continue
                first, stop = scan.words(hit)
                # Context spans that start from (first - within - longest) to (stop + within).
                k = bisect_left(spans, (first - within - longest[hit[1]], -1))
                while k < len(spans) and spans[k][0] <= stop + within:
                    c_first, c_stop = spans[k]
                    if max(0, c_first - stop, first - c_stop) <= within:
                        kept.append(hit)
                        break
                    k += 1
            if kept:
                out[atom] = kept
            else:
                del out[atom]
        return out

    def _verdict(
        self,
        wl: CompiledWatchlist,
        scan: Scan,
        by_atom: dict[int, list[AtomHit]],
        language: str | None,
    ) -> tuple[float, list[AtomHit]] | None:
        """Score and hits if ``wl`` matches the scanned article, else None."""
        if wl.simple:
            return quick(wl, language, by_atom)
        if not wl.possible(by_atom.keys()):
            return None
        verdict = evaluate(wl, scan, by_atom, language=language)
        return (verdict.score, verdict.hits) if verdict.matched else None

    def _plan(self, atom_id: int, index: int) -> tuple[int, str, float | None]:
        wl = self._watchlists[index]
        alone = wl.simple and len(wl.fields) == len(FIELDS) and not wl.languages
        score = float(len(set(wl.atom_items[atom_id]))) if alone else None
        return index, wl.spec.id, score

    def explain(self, article: Article) -> list[Explanation]:
        """For every watchlist (sorted by id): matched or not, the hits, and each condition."""
        language = primary_language(article.language) if article.language else None
        scan = self._scanner.scan(article, language)
        found = _by_atom(scan) if scan is not None else {}
        by_atom = self._confirmed(scan, found) if scan is not None else {}
        # Hits of ambiguous aliases that no context confirmed: shown, not counted.
        dropped: dict[int, list[AtomHit]] = {}
        for atom, atom_hits in found.items():
            if atom in self._context:
                kept = set(by_atom.get(atom, ()))
                dropped[atom] = [h for h in atom_hits if h not in kept]
        out = []
        roundup: bool | None = None
        for index, wl in enumerate(self._watchlists):
            verdict = evaluate(wl, scan, by_atom, language=language, explain=True)
            hits, count = self._hits(scan, verdict.hits) if scan else ((), 0)
            ignored, ignored_count = self._hits(scan, verdict.ignored) if scan else ((), 0)
            mine = [
                h
                for atom, hs in dropped.items()
                if index in self._touches[atom]
                for h in hs
                if h[1] in wl.fields
            ]
            unconfirmed, _ = self._hits(scan, mine) if scan is not None else ((), 0)
            if roundup is None:
                roundup = is_roundup(article, self._scanner.speedups)
            weight = prominence(article, hits, count, roundup=roundup) if hits else None
            out.append(
                Explanation(
                    watchlist=wl.spec.id,
                    title=wl.spec.title,
                    matched=verdict.matched,
                    score=verdict.score,
                    hits=hits,
                    checks=tuple(verdict.checks),
                    ignored=ignored,
                    hit_count=count,
                    ignored_count=ignored_count,
                    prominence=weight,
                    unconfirmed=unconfirmed,
                )
            )
        return out

    def _hits(self, scan: Scan, atom_hits: list[AtomHit]) -> tuple[tuple[Hit, ...], int]:
        """The hits to report (at most ``MAX_HITS_PER_FIELD`` a field) and how many there are.

        Only the reported hits are mapped back to the original text and get a snippet, so
        the cost does not grow with the square of the number of hits (issue 10).
        """
        if not atom_hits:
            return (), 0
        shown = self._shown_of
        texts = scan.texts
        fast = self._scanner.speedups
        results = self._results
        if len(atom_hits) == 1:  # the common case: nothing to sort or to nest
            hit = atom_hits[0]
            start, end = scan.span(hit)
            field_index = hit[1]
            text = texts[field_index]
            term, actor, form = self._shown_of(hit[0])
            field = FIELDS[field_index]
            return (build_hit(results, fast, text, start, end, (), term, field, actor, form),), 1
        # Sorted by field, start, longest first, term; ties keep the given order.  Folded
        # offsets map to original ones in the same order, so the folded ones sort.  One
        # atom's hits are in that order already (``Scanner.scan``, ``unique_hits``).
        first = atom_hits[0][0]
        ordered = (
            atom_hits
            if all(h[0] == first for h in atom_hits)
            else sorted(atom_hits, key=lambda h: (h[1], h[2], -h[3], shown(h[0])[0]))
        )
        # A hit inside a longer hit of the same field ("Tudorache" in "Dragoș Tudorache")
        # adds nothing to the explanation.
        kept: list[AtomHit] = []
        counts = [0] * len(FIELDS)
        last_field, last_start, last_end = -1, 0, 0
        for hit in ordered:
            field_index, start, end = hit[1], hit[2], hit[3]
            if field_index == last_field and last_start <= start and end <= last_end:
                continue
            counts[field_index] += 1
            if counts[field_index] <= MAX_HITS_PER_FIELD:
                kept.append(hit)
            last_field, last_start, last_end = field_index, start, end
        spans = [scan.span(hit) for hit in kept]
        marks: dict[int, list[tuple[int, int]]] = {}
        for hit, span in zip(kept, spans, strict=True):
            marks.setdefault(hit[1], []).append(span)
        out = []
        for hit, (start, end) in zip(kept, spans, strict=True):
            field_index = hit[1]
            text = texts[field_index]
            term, actor, form = self._shown_of(hit[0])
            field = FIELDS[field_index]
            mine = marks[field_index]
            out.append(build_hit(results, fast, text, start, end, mine, term, field, actor, form))
        return tuple(out), sum(counts)

    def _shown_of(self, atom_id: int) -> tuple[str, str | None, str | None]:
        found = self._shown.get(atom_id)
        if found is None:
            atom = self._scanner.atoms[atom_id]
            # Bounded by the atoms: a dict write is atomic, so threads may share a matcher.
            found = self._shown[atom_id] = (atom.term.text, atom.actor, atom.form)
        return found

    # -- compilation ----------------------------------------------------------------------

    def _compile(self, index: int, spec: WatchlistSpec) -> CompiledWatchlist:
        rule = spec.rule
        self._spec_languages = spec.languages

        def items(source: tuple[Item, ...], positive: bool) -> tuple[CItem, ...]:
            return tuple(self._item(index, item, positive) for item in source)

        any_items = items(rule.any, True)
        simple = not (rule.all or rule.none or rule.near or rule.ignore or rule.weights) and all(
            not item.slots for item in any_items
        )
        atom_items: dict[int, list[int]] = {}
        for number, item in enumerate(any_items):
            for atom in item.atoms:
                atom_items.setdefault(atom, []).append(number)
        return CompiledWatchlist(
            spec=spec,
            fields=frozenset(FIELDS.index(f) for f in spec.fields),
            languages=frozenset(spec.languages),
            any=any_items,
            all=items(rule.all, True),
            none=items(rule.none, False),
            near=items(rule.near, True),
            ignore=frozenset().union(*(self._term(index, t, None, False) for t in rule.ignore)),
            weights=tuple((self._item(index, w, True), weight) for w, weight in rule.weights),
            threshold=rule.threshold,
            any_atoms=frozenset(atom_items) if simple else frozenset(),
            atom_items={a: self._one(tuple(n)) for a, n in atom_items.items()} if simple else {},
            simple=simple,
        )

    def _item(self, index: int, item: Item, positive: bool) -> CItem:
        if isinstance(item, Near):
            slots = tuple(
                frozenset().union(*(self._word(index, w, positive) for w in slot))
                for slot in item.slots
            )
            labels = tuple(_alternatives([self._label(w) for w in slot]) for slot in item.slots)
            return CItem(
                label=f"near({'; '.join(labels)}; within {item.within})",
                slots=slots,
                slot_labels=labels,
                within=item.within,
            )
        return CItem(label=self._label(item), atoms=self._word(index, item, positive))

    def _word(self, index: int, word: Word, positive: bool) -> frozenset[int]:
        if isinstance(word, Term):
            return self._term(index, word, None, positive)
        actor = self.config.actors[word.actor]
        terms = [*actor.aliases]
        for language, written in actor.by_language:
            terms.extend(dataclasses.replace(t, language=language) for t in written)
        # Context terms match as written (``*`` for endings), not inflected: their atoms
        # are shared by every watchlist, so they cannot take one watchlist's languages.
        confirm = (
            frozenset(self._atom(index, Atom(t), False) for t in actor.context)
            if actor.ambiguous
            else frozenset()
        )
        ids: set[int] = set()
        for term in terms:
            found = self._term(index, term, actor.id, positive)
            ids |= found
            if term.text in actor.ambiguous:
                # Every atom of the alias, its inflected forms too, needs the context.
                for atom_id in found - self._context.keys():
                    self._context[atom_id] = (confirm, actor.within)
        return frozenset(ids)

    def _term(self, index: int, term: Term, actor: str | None, positive: bool) -> frozenset[int]:
        """The atom of ``term`` and one per inflected form of it (issue 14)."""
        languages = frozenset({term.language}) if term.language else None
        base = self._atom(index, Atom(term, actor, languages), False)
        inflected = _inflected_in(term, self._spec_languages)
        ids = self._term_atoms.get((base, inflected))
        if ids is None:
            found = {base}
            for language in inflected:
                keys = [k for k in self._inflector.expand(language, term.text) if k != term.key]
                forms = self._atoms.add_forms(base, language, keys)
                self._touches.extend(() for _ in range(forms.stop - len(self._touches)))
                found.update(forms)
            ids = self._term_atoms[(base, inflected)] = frozenset(found)
        if positive:
            for atom_id in ids:
                self._touch(atom_id, index)
        return ids

    def _label(self, word: Word) -> str:
        if isinstance(word, ActorRef):
            return f"{self.config.actors[word.actor].name} (actor {word.actor})"
        return word.text

    def _atom(self, index: int, atom: Atom, positive: bool) -> int:
        atom_id, new = self._atoms.add(atom)
        if new:
            self._touches.append(())
        if positive:
            self._touch(atom_id, index)
        return atom_id

    def _touch(self, atom_id: int, index: int) -> None:
        # Watchlists compile in order of their index: a new one comes last.
        touched = self._touches[atom_id]
        if not touched or touched[-1] != index:
            self._touches[atom_id] = self._one((*touched, index))

    def _one(self, numbers: tuple[int, ...]) -> tuple[int, ...]:
        return self._shared.setdefault(numbers, numbers)


def build_hit(
    results: Any,
    fast: ModuleType | None,
    text: str,
    start: int,
    end: int,
    marks: Collection[tuple[int, int]],
    term: str,
    field: Field,
    actor: str | None,
    form: str | None,
) -> Hit:
    """A reported hit of ``text[start:end]`` with its snippet (the other hits of the field
    in ``marks``): by the compiled ``results`` (``speedups.results``) when given, else by
    ``Hit`` and ``compiled_snippet``.  The one place where snippets are made (issue 10
    counts the calls)."""
    if results is not None:
        made = results.hit(text, start, end, marks, term, field, actor, form)
        if made is not NotImplemented:
            return cast(Hit, made)
    return Hit(
        term=term,
        text=text[start:end],
        field=field,
        start=start,
        end=end,
        snippet=compiled_snippet(fast, text, start, end, marks),
        actor=actor,
        form=form,
    )


def _inflected_in(term: Term, languages: tuple[str, ...]) -> tuple[str, ...]:
    """The languages whose forms of ``term`` count: its own, else its watchlist's."""
    if not term.inflects:
        return ()
    return (term.language,) if term.language else languages


def inflected_terms(cfg: KeywordsConfig) -> Iterator[tuple[Term, tuple[str, ...]]]:
    """Every term that a watchlist uses, with the watchlist's languages."""

    def words(item: object) -> Iterator[Term]:
        if isinstance(item, Term):
            yield item
        elif isinstance(item, ActorRef):
            actor = cfg.actors[item.actor]
            yield from actor.aliases
            for language, terms in actor.by_language:
                yield from (dataclasses.replace(t, language=language) for t in terms)
        elif isinstance(item, Near):
            for slot in item.slots:
                for word in slot:
                    yield from words(word)

    for spec in cfg.watchlists.values():
        rule = spec.rule
        items = (*rule.any, *rule.all, *rule.none, *rule.near, *rule.ignore)
        for item in (*items, *(w for w, _ in rule.weights)):
            for term in words(item):
                yield term, spec.languages


def _by_atom(scan: Scan) -> dict[int, list[AtomHit]]:
    if len(scan.hits) == 1:  # most articles with a hit
        hit = scan.hits[0]
        return {hit[0]: [hit]}
    by_atom: dict[int, list[AtomHit]] = {}
    for hit in scan.hits:
        found = by_atom.get(hit[0])
        if found is None:
            by_atom[hit[0]] = [hit]
        else:
            found.append(hit)
    return by_atom


def _alternatives(labels: list[str], shown: int = 3) -> str:
    more = f" | … ({len(labels) - shown} more)" if len(labels) > shown + 1 else ""
    return " | ".join(labels if more == "" else labels[:shown]) + more


def compile_matcher(
    cfg: KeywordsConfig, inflector: Inflector | None = None, *, compiled: bool | None = None
) -> Matcher:
    """Compile every watchlist of ``cfg`` into one matcher.

    ``inflector``: where the inflected forms of terms come from; by default the package's
    cache, the user's cache and simplemma (see :mod:`monitor.match.inflect`).
    ``compiled``: scan with the compiled hot path (:mod:`monitor.speedups`); None: when
    it is built and ``MONITOR_MATCH_PURE`` is unset; False: in Python alone (the same
    results, slower).

    Raises:
        RuntimeError: ``compiled=True`` and the compiled path is not available.
    """
    return Matcher(cfg, inflector, compiled=compiled)
