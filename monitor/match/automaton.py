"""One Aho-Corasick automaton over the folded keys of every term of every watchlist.

Each distinct folded key is one pattern: ``" ai act "`` for a whole-word phrase, with
the space left off on a side that has a ``*``.  Scanning a field costs one pass over
its folded text whatever the number of terms; a hit then names the *atoms* (a term,
possibly an actor's alias limited to some languages) that share the key, and each atom
checks what the automaton cannot: letter case and article language.

The automaton is ``ahocorasick_rs`` (the Rust ``aho-corasick`` crate) over UTF-8 bytes:
at 30,000 keys it scans about 1.6 times as fast as pyahocorasick, and bytes let the
ASCII fold of most articles go in without a decode.  Most articles have no hit and cost
a fold and that one call.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass

from ahocorasick_rs import BytesAhoCorasick

from monitor.match.normalize import FIELD_BREAK, fold_for_automaton
from monitor.match.offsets import FoldedText
from monitor.match.terms import Term, cased_matches
from monitor.models import Article

assert FIELD_BREAK == "\x01"  # written as such where every microsecond counts

AtomHit = tuple[int, int, int, int]
"""``(atom id, field index, folded start, folded end)``; the span covers whole words."""


@dataclass(frozen=True, slots=True)
class Atom:
    """A term as one watchlist item uses it."""

    term: Term
    actor: str | None = None
    languages: frozenset[str] | None = None
    """Only in articles of these languages (or of unknown language); None: any."""
    form: str | None = None
    """An inflected form of ``term`` (``"pl: rozpoznawaniem twarzy"``); ``term.key`` is its key."""


class Scan:
    """One article's fields, folded and joined by ``FIELD_BREAK``, and the atoms found.

    Hit spans index into ``folded``; :meth:`span` maps them to a field's plain text.
    """

    __slots__ = ("_mapped", "_spans", "hits", "language", "offsets", "texts")

    def __init__(
        self,
        language: str | None,
        mapped: FoldedText,
        texts: tuple[str, ...],
    ) -> None:
        self.language = language
        self.texts = texts
        offsets = [0]
        for text in texts[:-1]:
            offsets.append(offsets[-1] + len(text) + 3)  # " \x01 " between fields
        self.offsets = tuple(offsets)
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
        keys: list[bytes] = []
        shapes: list[tuple[bool, bool] | None] = []
        for atom_id, atom in enumerate(self.atoms):
            term = atom.term
            key = ("" if term.open_start else " ") + term.key + ("" if term.open_end else " ")
            pid = index.get(key)
            if pid is None:
                pid = index[key] = len(grouped)
                grouped.append([])
                keys.append(key.encode("utf-8"))
                shapes.append(
                    (term.open_start, term.open_end) if term.open_start or term.open_end else None
                )
            grouped[pid].append(atom_id)
        self._patterns = [tuple(ids) for ids in grouped]
        self._shapes = shapes
        self._checked = [
            any(
                self.atoms[a].languages is not None or self.atoms[a].term.case_sensitive
                for a in ids
            )
            for ids in self._patterns
        ]
        # Standard match kind: with ``overlapping=True`` every occurrence of every key.
        self._automaton = BytesAhoCorasick(keys) if keys else None

    @property
    def pattern_count(self) -> int:
        return len(self._patterns)

    def scan(self, article: Article, language: str | None) -> Scan | None:
        """Find every atom in the title, summary, content and body of ``article`` (pure).

        Returns None when nothing was found.
        """
        automaton = self._automaton
        if automaton is None:
            return None
        texts = (article.title, article.summary, article.content, article.body)
        joined = " \x01 ".join(texts)  # FIELD_BREAK between fields
        data, translated = fold_for_automaton(joined)
        if data.count(b"\x01") != len(texts) - 1:  # FIELD_BREAK folds to itself only
            # Only a JSON input could carry U+0001; keep it from faking a field boundary.
            joined = f" {FIELD_BREAK} ".join(t.replace(FIELD_BREAK, " ") for t in texts)
            data, translated = fold_for_automaton(joined)
        found = automaton.find_matches_as_indexes(data, True)  # overlapping: every match
        if not found:
            return None  # most articles: nothing more to do
        shapes = self._shapes
        # (start, -stop, pattern): sorted, by position and the longest first.
        raw: set[tuple[int, int, int]] = set()
        for pid, start, end in found:
            shape = shapes[pid]
            if shape is None:  # " key ": the space either side is not part of the hit
                raw.add((start + 1, 1 - end, pid))
            else:
                open_start, open_end = shape
                start = data.rfind(b" ", 0, start) + 1 if open_start else start + 1
                raw.add((start, -(data.find(b" ", end) if open_end else end - 1), pid))
        if isinstance(translated, bytes):
            folded = data.decode("ascii")
        else:
            folded = data.decode("utf-8")
            if len(folded) != len(data):
                raw = _char_offsets(data, raw)
        breaks = [folded.find(FIELD_BREAK)]
        for _ in texts[2:]:
            breaks.append(folded.find(FIELD_BREAK, breaks[-1] + 1))
        scan = Scan(language, FoldedText(joined, folded, translated), texts)
        self._accept(scan, sorted(raw) if len(raw) > 1 else list(raw), breaks)
        return scan if scan.hits else None

    def _accept(self, scan: Scan, raw: list[tuple[int, int, int]], breaks: list[int]) -> None:
        atoms = self.atoms
        language = scan.language
        hits = scan.hits
        patterns = self._patterns
        checked = self._checked
        for start, stop, pid in raw:
            stop = -stop
            field_index = bisect_left(breaks, start)
            if not checked[pid]:
                ids = patterns[pid]
                if len(ids) == 1:
                    hits.append((ids[0], field_index, start, stop))
                else:
                    hits.extend((atom_id, field_index, start, stop) for atom_id in ids)
                continue
            for atom_id in patterns[pid]:
                atom = atoms[atom_id]
                if atom.languages is not None and language and language not in atom.languages:
                    continue
                hit = (atom_id, field_index, start, stop)
                if atom.term.case_sensitive:
                    s, e = scan.span(hit)
                    if not cased_matches(atom.term, scan.texts[field_index][s:e]):
                        continue
                hits.append(hit)


def _char_offsets(data: bytes, raw: set[tuple[int, int, int]]) -> set[tuple[int, int, int]]:
    """Byte offsets into UTF-8 ``data`` as character offsets (they fall on characters)."""
    chars: dict[int, int] = {}

    def char(offset: int) -> int:
        found = chars.get(offset)
        if found is None:
            found = chars[offset] = len(data[:offset].decode("utf-8"))
        return found

    return {(char(start), -char(-stop), pid) for start, stop, pid in raw}
