"""One Aho-Corasick automaton over the folded keys of every term of every watchlist.

Each distinct folded key is one pattern: ``" ai act "`` for a whole-word phrase, with
the space left off on a side that has a ``*``.  Scanning a field costs one pass over
its folded text whatever the number of terms; a hit then names the *atoms* (a term,
possibly an actor's alias limited to some languages) that share the key, and each atom
checks what the automaton cannot: letter case and article language.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import ahocorasick

from monitor.match.normalize import FIELD_BREAK, fold_for_scan
from monitor.match.offsets import FoldedText
from monitor.match.terms import Term, cased_matches
from monitor.models import Article

AtomHit = tuple[int, int, int, int]
"""``(atom id, field index, folded start, folded end)``; the span covers whole words."""


@dataclass(frozen=True, slots=True)
class Atom:
    """A term as one watchlist item uses it."""

    term: Term
    actor: str | None = None
    languages: frozenset[str] | None = None
    """Only in articles of these languages (or of unknown language); None: any."""


class Scan:
    """One article's fields, folded and joined by ``FIELD_BREAK``, and the atoms found.

    Hit spans index into ``folded``; :meth:`span` maps them to a field's plain text.
    """

    __slots__ = ("_mapped", "_spans", "bases", "hits", "language", "offsets", "texts")

    def __init__(
        self,
        language: str | None,
        mapped: FoldedText,
        texts: tuple[str, ...],
        bases: tuple[int, ...],
    ) -> None:
        self.language = language
        self.texts = texts
        self.bases = bases
        """Where each field starts in ``folded``."""
        self.offsets = (0, len(texts[0]) + 3, len(texts[0]) + len(texts[1]) + 6)
        """Where each field starts in the joined original text."""
        self.hits: list[AtomHit] = []
        self._mapped = mapped
        self._spans: dict[tuple[int, int], tuple[int, int]] = {}

    @property
    def folded(self) -> str:
        return self._mapped.folded

    def span(self, hit: AtomHit) -> tuple[int, int]:
        """Original ``(start, end)`` of a hit in its field's plain text."""
        key = (hit[2], hit[3])
        found = self._spans.get(key)
        if found is None:
            start, end = self._mapped.span(hit[2], hit[3])
            offset = self.offsets[hit[1]]
            found = self._spans[key] = (start - offset, end - offset)
        return found

    def words(self, hit: AtomHit) -> tuple[int, int]:
        """Word numbers ``(first, stop)`` of a hit, comparable within one field."""
        return self._mapped.words(hit[2], hit[3])


class Scanner:
    """The compiled automaton and the atoms behind each of its patterns."""

    def __init__(self, atoms: Iterable[Atom]) -> None:
        self.atoms: list[Atom] = list(atoms)
        index: dict[str, int] = {}
        grouped: list[list[int]] = []
        automaton = ahocorasick.Automaton(ahocorasick.STORE_ANY)
        for atom_id, atom in enumerate(self.atoms):
            term = atom.term
            key = ("" if term.open_start else " ") + term.key + ("" if term.open_end else " ")
            pid = index.get(key)
            if pid is None:
                pid = index[key] = len(grouped)
                grouped.append([])
                automaton.add_word(key, (len(key), term.open_start, term.open_end, pid))
            grouped[pid].append(atom_id)
        self._patterns = [tuple(ids) for ids in grouped]
        self._checked = [
            any(
                self.atoms[a].languages is not None or self.atoms[a].term.case_sensitive
                for a in ids
            )
            for ids in self._patterns
        ]
        if grouped:
            automaton.make_automaton()
        self._automaton = automaton if grouped else None

    @property
    def pattern_count(self) -> int:
        return len(self._patterns)

    def scan(self, article: Article, language: str | None) -> Scan | None:
        """Find every atom in the title, summary and content of ``article`` (pure).

        Returns None when nothing was found.
        """
        if self._automaton is None:
            return None
        texts = (article.title, article.summary, article.content)
        joined = f"{texts[0]} {FIELD_BREAK} {texts[1]} {FIELD_BREAK} {texts[2]}"
        if joined.count(FIELD_BREAK) != 2:
            # Only a JSON input could carry U+0001; keep it from faking a field boundary.
            a, b, c = (t.replace(FIELD_BREAK, " ") for t in texts)
            joined = f"{a} {FIELD_BREAK} {b} {FIELD_BREAK} {c}"
        folded, translated = fold_for_scan(joined)
        raw: set[tuple[int, int, int]] = set()
        for end, (size, open_start, open_end, pid) in self._automaton.iter(folded):
            start = end - size + 1
            if open_start:
                start = folded.rfind(" ", 0, start) + 1
            else:
                start += 1
            raw.add((pid, start, folded.find(" ", end) if open_end else end))
        if not raw:
            return None
        first = folded.find(FIELD_BREAK)
        second = folded.find(FIELD_BREAK, first + 1)
        scan = Scan(
            language, FoldedText(joined, folded, translated), texts, (0, first + 1, second + 1)
        )
        self._accept(scan, sorted(raw, key=_by_position), first, second)
        return scan if scan.hits else None

    def _accept(self, scan: Scan, raw: list[tuple[int, int, int]], first: int, second: int) -> None:
        atoms = self.atoms
        language = scan.language
        hits = scan.hits
        for pid, start, stop in raw:
            field_index = 0 if start < first else 1 if start < second else 2
            if not self._checked[pid]:
                hits.extend((atom_id, field_index, start, stop) for atom_id in self._patterns[pid])
                continue
            for atom_id in self._patterns[pid]:
                atom = atoms[atom_id]
                if atom.languages is not None and language and language not in atom.languages:
                    continue
                hit = (atom_id, field_index, start, stop)
                if atom.term.case_sensitive:
                    s, e = scan.span(hit)
                    if not cased_matches(atom.term, scan.texts[field_index][s:e]):
                        continue
                hits.append(hit)


def _by_position(raw: tuple[int, int, int]) -> tuple[int, int, int]:
    return raw[1], -raw[2], raw[0]
