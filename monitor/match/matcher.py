"""The compiled matcher: every watchlist of a ``KeywordsConfig`` behind one automaton."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from monitor.match.automaton import Atom, AtomHit, Scan, Scanner
from monitor.match.evaluate import Check, CItem, CompiledWatchlist, evaluate, quick
from monitor.match.snippets import make_snippet
from monitor.match.terms import ActorRef, Item, Near, Term, Word, primary_language
from monitor.models import FIELDS, Article, Hit, Match

if TYPE_CHECKING:  # config imports the rule types from this package
    from monitor.config.keywords import KeywordsConfig, WatchlistSpec


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


class Matcher:
    """Matches articles against every watchlist at once.  Build with :func:`compile_matcher`.

    Immutable after construction and safe to share; ``match`` is pure and deterministic.
    """

    def __init__(self, cfg: KeywordsConfig) -> None:
        self.config = cfg
        self._atom_ids: dict[Atom, int] = {}
        self._atom_watchlists: list[set[int]] = []
        self._watchlists: list[CompiledWatchlist] = []
        for index, spec in enumerate(sorted(cfg.watchlists.values(), key=lambda w: w.id)):
            self._watchlists.append(self._compile(index, spec))
        self._scanner = Scanner(self._atom_ids)
        self._touches: list[tuple[int, ...]] = [tuple(sorted(w)) for w in self._atom_watchlists]

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
        by_atom = _by_atom(scan)
        touched: set[int] = set()
        touches = self._touches
        for atom in by_atom:
            touched.update(touches[atom])
        present = set(by_atom)
        out = []
        for index in sorted(touched):
            wl = self._watchlists[index]
            if wl.simple:
                verdict = quick(wl, language, by_atom)
            elif wl.possible(present):
                verdict = evaluate(wl, scan, by_atom, language=language)
            else:
                continue
            if verdict is not None and verdict.matched:
                hits = self._hits(scan, article, verdict.hits)
                out.append(Match(watchlist=wl.spec.id, score=verdict.score, hits=hits))
        return out

    def explain(self, article: Article) -> list[Explanation]:
        """For every watchlist (sorted by id): matched or not, the hits, and each condition."""
        language = primary_language(article.language) if article.language else None
        scan = self._scanner.scan(article, language)
        by_atom = _by_atom(scan) if scan is not None else {}
        out = []
        for wl in self._watchlists:
            verdict = evaluate(wl, scan, by_atom, language=language, explain=True)
            out.append(
                Explanation(
                    watchlist=wl.spec.id,
                    title=wl.spec.title,
                    matched=verdict.matched,
                    score=verdict.score,
                    hits=self._hits(scan, article, verdict.hits) if scan else (),
                    checks=tuple(verdict.checks),
                    ignored=self._hits(scan, article, verdict.ignored) if scan else (),
                )
            )
        return out

    def _hits(self, scan: Scan, article: Article, atom_hits: list[AtomHit]) -> tuple[Hit, ...]:
        atoms = self._scanner.atoms
        spans: list[tuple[int, int, int, AtomHit]] = []
        for hit in atom_hits:
            start, end = scan.span(hit)
            spans.append((hit[1], start, end, hit))
        # A hit inside a longer hit of the same field ("Tudorache" in "Dragoș Tudorache")
        # adds nothing to the explanation.
        spans.sort(key=lambda s: (s[0], s[1], -s[2], atoms[s[3][0]].term.text))
        kept: list[tuple[int, int, int, AtomHit]] = []
        for span in spans:
            last = kept[-1] if kept else None
            if last and last[0] == span[0] and last[1] <= span[1] and span[2] <= last[2]:
                continue
            kept.append(span)
        marks: dict[int, list[tuple[int, int]]] = {}
        for field_index, start, end, _ in kept:
            marks.setdefault(field_index, []).append((start, end))
        out = []
        for field_index, start, end, hit in kept:
            name = FIELDS[field_index]
            text = article.text(name)
            atom = atoms[hit[0]]
            out.append(
                Hit(
                    term=atom.term.text,
                    text=text[start:end],
                    field=name,
                    start=start,
                    end=end,
                    snippet=make_snippet(text, start, end, marks[field_index]),
                    actor=atom.actor,
                )
            )
        return tuple(out)

    # -- compilation ----------------------------------------------------------------------

    def _compile(self, index: int, spec: WatchlistSpec) -> CompiledWatchlist:
        rule = spec.rule

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
            ignore=frozenset(self._atom(index, Atom(t), False) for t in rule.ignore),
            weights=tuple((self._item(index, w, True), weight) for w, weight in rule.weights),
            threshold=rule.threshold,
            any_atoms=frozenset(atom_items) if simple else frozenset(),
            atom_items={a: tuple(n) for a, n in atom_items.items()} if simple else {},
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
            return frozenset({self._atom(index, Atom(word), positive)})
        actor = self.config.actors[word.actor]
        ids = {self._atom(index, Atom(t, actor=actor.id), positive) for t in actor.aliases}
        for language, terms in actor.by_language:
            ids.update(
                self._atom(index, Atom(t, actor.id, frozenset({language})), positive) for t in terms
            )
        return frozenset(ids)

    def _label(self, word: Word) -> str:
        if isinstance(word, ActorRef):
            return f"{self.config.actors[word.actor].name} (actor {word.actor})"
        return word.text

    def _atom(self, index: int, atom: Atom, positive: bool) -> int:
        atom_id = self._atom_ids.get(atom)
        if atom_id is None:
            atom_id = self._atom_ids[atom] = len(self._atom_ids)
            self._atom_watchlists.append(set())
        if positive:
            self._atom_watchlists[atom_id].add(index)
        return atom_id


def _by_atom(scan: Scan) -> dict[int, list[AtomHit]]:
    by_atom: dict[int, list[AtomHit]] = {}
    for hit in scan.hits:
        by_atom.setdefault(hit[0], []).append(hit)
    return by_atom


def _alternatives(labels: list[str], shown: int = 3) -> str:
    more = f" | … ({len(labels) - shown} more)" if len(labels) > shown + 1 else ""
    return " | ".join(labels if more == "" else labels[:shown]) + more


def compile_matcher(cfg: KeywordsConfig) -> Matcher:
    """Compile every watchlist of ``cfg`` into one matcher."""
    return Matcher(cfg)
