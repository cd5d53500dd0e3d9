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

from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from ahocorasick_rs import BytesAhoCorasick

from monitor import speedups
from monitor.match.mend import mend
from monitor.match.normalize import FIELD_BREAK, fold, fold_for_automaton
from monitor.match.offsets import FoldedText
from monitor.match.terms import Term, Variant, cased_matches, variants
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
            offsets.append(offsets[-1] + len(text) + 3)  # " \x01 " (or 3 spaces) between
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
            start -= offset
            end -= offset
            text = self.texts[hit[1]]
            if end > len(text):
                # A hit that runs from a cut title into the summary is shown in the
                # title, up to its last letter before the ellipsis.
                end = len(text.rstrip().rstrip(".…").rstrip())
            found = self._spans[key] = (start, end)
        return found

    def mended(self, field_index: int, start: int, end: int) -> str:
        """A field's ``[start:end]`` as the fold saw it (``mend``: references decoded)."""
        offset = self.offsets[field_index]
        return self._mapped.text[offset + start : offset + end]

    def words(self, hit: AtomHit) -> tuple[int, int]:
        """Word numbers ``(first, stop)`` of a hit, comparable within one field."""
        return self._mapped.words(hit[2], hit[3])


class Scanner:
    """The compiled automaton and the atoms behind each of its patterns."""

    def __init__(self, atoms: Iterable[Atom], *, compiled: bool | None = None) -> None:
        """``compiled``: use the compiled hot path (``monitor.speedups``); None: when it
        was built and ``MONITOR_MATCH_PURE`` does not forbid it; False: the Python path.

        Raises:
            RuntimeError: ``compiled=True`` and the compiled path is not built.
        """
        # A sequence is kept as given: the matcher's ``AtomTable`` packs its forms (issue 12).
        self.atoms: Sequence[Atom] = atoms if isinstance(atoms, Sequence) else list(atoms)
        index: dict[str, int] = {}
        # Per pattern, its atoms and, for a key that spells an acronym another way
        # ("a i act" for "AI Act"), the shape the hit must have (None: any).
        grouped: list[dict[int, Variant | None]] = []
        keys: list[bytes] = []
        shapes: list[tuple[bool, bool] | None] = []
        for atom_id, atom in enumerate(self.atoms):
            term = atom.term
            keyed: list[tuple[str, Variant | None]] = [(term.key, None)]
            keyed.extend((v.key, v) for v in variants(term))
            for folded, variant in keyed:
                key = ("" if term.open_start else " ") + folded + ("" if term.open_end else " ")
                pid = index.get(key)
                if pid is None:
                    pid = index[key] = len(grouped)
                    grouped.append({})
                    keys.append(key.encode("utf-8"))
                    shapes.append(
                        (term.open_start, term.open_end)
                        if term.open_start or term.open_end
                        else None
                    )
                if atom_id not in grouped[pid] or variant is None:
                    grouped[pid][atom_id] = variant
        self._patterns = [tuple(atoms) for atoms in grouped]
        self._variants = [tuple(atoms.values()) for atoms in grouped]
        self._shapes = shapes
        self._checked = [
            any(
                self.atoms[a].languages is not None
                or self.atoms[a].term.case_sensitive
                or variant is not None
                for a, variant in atoms.items()
            )
            for atoms in grouped
        ]
        self._plain: list[tuple[int, ...] | None] = [
            None if checked else atoms
            for checked, atoms in zip(self._checked, self._patterns, strict=True)
        ]
        """Per pattern, its atoms when none needs a check (language, case, shape), else None."""
        # Standard match kind: with ``overlapping=True`` every occurrence of every key.
        self._automaton = BytesAhoCorasick(keys) if keys else None
        self._speedups = (
            speedups.for_matching(force=bool(compiled)) if compiled is not False else None
        )
        if compiled and self._speedups is None:
            raise RuntimeError("the compiled matcher is not built (pip install -e . builds it)")
        # The compiled path finds whole-word keys and keys open at their end word by word
        # (cache-friendlier than the automaton's states at 30,000 keys); the automaton
        # keeps the keys open at their start.
        self._words: Any = None
        self._residual: Callable[[bytes, bool], list[tuple[int, int, int]]] | None = None
        if self._speedups is not None and keys:
            self._words = speedups.word_index(self._speedups, keys)
            residual = [keys[pid] for pid in self._words.residual]
            if residual:
                self._residual = BytesAhoCorasick(residual).find_matches_as_indexes

    @property
    def compiled(self) -> bool:
        """Whether scans take the compiled path."""
        return self._speedups is not None

    @property
    def pattern_count(self) -> int:
        return len(self._patterns)

    @property
    def speedups(self) -> ModuleType | None:
        """The compiled module that scans use (None: the Python path)."""
        return self._speedups

    def scan(self, article: Article, language: str | None) -> Scan | None:
        """Find every atom in the title, summary, content and body of ``article`` (pure).

        Returns None when nothing was found.
        """
        automaton = self._automaton
        if automaton is None:
            return None
        title, summary, content = article.title, article.summary, article.content
        body = article.body
        # A title cut with "…" that the summary continues ("MEPs vote to ban live
        # facial…" / "…recognition in public spaces", issue 18) is read as one text
        # with it: a space, not a FIELD_BREAK, between them.
        bridged = continues(title, summary)
        between = " " if bridged else FIELD_BREAK
        joined = f"{title} {between} {summary} \x01 {content} \x01 {body}"
        joined, regions = mend(joined)  # same length: offsets still slice the fields
        fast = self._speedups
        if fast is not None:
            # The fold, the automaton and the raw hits in one compiled call.
            got = fast.scan(joined, self._words, self._residual, self._shapes, 3 - bridged)
            if got is None:
                return None
            if got is not NotImplemented:
                folded, translated_bytes, raw_sorted, spans, breaks = got
                texts = (title, summary, content, body)
                mapped = FoldedText(joined, folded, translated_bytes, regions, spans)
                scan = Scan(language, mapped, texts)
                starts = self._starts(folded, title, bridged) if bridged else breaks
                fast.accept(raw_sorted, starts, self._plain, scan, self._check, scan.hits)
                return scan if scan.hits else None
        data, translated = fold_for_automaton(joined)
        if data.count(b"\x01") != 3 - bridged:  # FIELD_BREAK folds to itself, nothing else
            # Only a JSON input could carry U+0001; keep it from faking a field boundary.
            a, b, c, d = (t.replace(FIELD_BREAK, " ") for t in (title, summary, content, body))
            joined, regions = mend(f"{a} {between} {b} {FIELD_BREAK} {c} {FIELD_BREAK} {d}")
            data, translated = fold_for_automaton(joined)
        found = automaton.find_matches_as_indexes(data, True)  # overlapping: every match
        if not found:
            return None  # most articles: nothing more to do
        texts = (title, summary, content, body)
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
        scan = Scan(language, FoldedText(joined, folded, translated, regions), texts)
        starts = self._starts(folded, title, bridged)
        self._accept(scan, sorted(raw) if len(raw) > 1 else list(raw), starts)
        return scan if scan.hits else None

    @staticmethod
    def _starts(folded: str, title: str, bridged: bool) -> tuple[int, int, int]:
        """Where the summary, the content and the body begin in ``folded``."""
        if bridged:
            # The summary's first word follows the title's words: " title words summary".
            title_words = fold(mend(title.replace(FIELD_BREAK, " "))[0])
            first = len(title_words) + 2 if title_words else 1
            second = folded.find(FIELD_BREAK)
        else:
            first = folded.find(FIELD_BREAK)
            second = folded.find(FIELD_BREAK, first + 1)
        return first, second, folded.find(FIELD_BREAK, second + 1)

    def _accept(self, scan: Scan, raw: list[tuple[int, int, int]], starts: tuple[int, ...]) -> None:
        """``starts``: where the summary, the content and the body begin in ``folded``
        (their FIELD_BREAK, or the summary's first word when it continues the title)."""
        hits = scan.hits
        patterns = self._patterns
        checked = self._checked
        for start, stop, pid in raw:
            stop = -stop
            field_index = bisect_right(starts, start)
            if not checked[pid]:
                ids = patterns[pid]
                if len(ids) == 1:
                    hits.append((ids[0], field_index, start, stop))
                else:
                    hits.extend((atom_id, field_index, start, stop) for atom_id in ids)
                continue
            self._check(scan, pid, field_index, start, stop)

    def _check(self, scan: Scan, pid: int, field_index: int, start: int, stop: int) -> None:
        """Append to ``scan.hits`` the atoms of pattern ``pid`` whose checks the hit passes:
        the article's language, the letter case, an acronym key's shape."""
        atoms = self.atoms
        language = scan.language
        for atom_id, variant in zip(self._patterns[pid], self._variants[pid], strict=True):
            atom = atoms[atom_id]
            if atom.languages is not None and language and language not in atom.languages:
                continue
            hit = (atom_id, field_index, start, stop)
            if atom.term.case_sensitive or variant is not None:
                s, e = scan.span(hit)
                found = scan.mended(field_index, s, e)
                if variant is not None and not variant.accepts(found):
                    continue
                if atom.term.case_sensitive and not cased_matches(atom.term, found):
                    continue
            scan.hits.append(hit)


_ELLIPSES = ("…", "...")


def continues(title: str, summary: str) -> bool:
    """Whether ``summary`` continues a title cut with an ellipsis: it starts with one
    too, or with a lower-case letter."""
    if not title or title[-1] not in "….  " or not summary:
        return False  # most titles: one character looked at
    head = summary.lstrip()
    return title.rstrip().endswith(_ELLIPSES) and (
        head.startswith(_ELLIPSES) or (head[:1].islower())
    )


def _char_offsets(data: bytes, raw: set[tuple[int, int, int]]) -> set[tuple[int, int, int]]:
    """Byte offsets into UTF-8 ``data`` as character offsets (they fall on characters).

    Decoded piece by piece in increasing order: one pass over ``data`` however many hits.
    """
    chars: dict[int, int] = {}
    last_byte = last_char = 0
    for offset in sorted({o for start, stop, _ in raw for o in (start, -stop)}):
        last_char += len(data[last_byte:offset].decode("utf-8"))
        last_byte = offset
        chars[offset] = last_char
    return {(chars[start], -chars[-stop], pid) for start, stop, pid in raw}
