"""From folded offsets back to the original text.

Folding deletes some characters, expands others (``ß`` -> ``ss``) and collapses runs of
word breaks, so an offset in the folded text is not an offset in the article.  Two
steps undo it, only for a text with a hit:

- from the folded text to the per-character translation (before runs of word breaks
  were collapsed): both hold the same words in the same order, so a word is found in
  the translation by its text and checked by the number of letters before it (two
  C-level searches and counts per hit, however long the text);
- from the translation to the original: most characters fold to exactly one character,
  so that map is stored as the few places where the two texts shift against each other.

Those two searches and counts scan the text from its start, so a text with thousands
of hits (one word repeated 25,000 times, issue 10) would cost hits x length: after
``DIRECT_LOOKUPS`` look-ups the word starts of both texts are listed once (linear in
the text) and every further look-up is a binary search.
"""

from __future__ import annotations

import unicodedata
from bisect import bisect_left, bisect_right
from itertools import accumulate

from monitor.match.mend import NO_REGIONS, Regions, widen
from monitor.match.normalize import FIELD_BREAK, TABLES, table_text, tables_for

Events = tuple[list[int], list[int], list[int], list[int]]
DIRECT_LOOKUPS = 16
"""Look-ups answered by searching the text; beyond them, by the word index."""


class FoldedText:
    """A text and the map from its folded offsets back to the original.

    ``folded`` is ``" " + fold(text) + " "`` (or what ``fold_for_scan`` returned for
    it); offsets into it that fall on word boundaries are mapped back by :meth:`span`.
    ``translated`` is ``text.translate(scan)`` as a str or, from a code-page fold, as
    ASCII bytes; None: computed when first needed.
    """

    __slots__ = (
        "_codepage",
        "_events",
        "_index",
        "_known",
        "_lookups",
        "_regions",
        "_translated",
        "folded",
        "text",
    )

    def __init__(
        self,
        text: str,
        folded: str | None = None,
        translated: str | bytes | None = None,
        regions: Regions = NO_REGIONS,
        known: dict[tuple[int, int], tuple[int, int]] | None = None,
    ) -> None:
        self.text = text
        self._known = known
        """``(fstart, fend)`` -> the original span before trailing marks and mended places
        are taken in, as the compiled scan recorded it while folding (None: none)."""
        self._regions = regions
        """Places that ``mend`` repaired: a hit covers the whole of each it touches."""
        if folded is None:
            # The table keeps FIELD_BREAK; fold() makes it a word break (one character
            # for one: offsets stay).
            translated = text.translate(tables_for(text).fold).replace(FIELD_BREAK, " ")
            folded = " " + " ".join(translated.split()) + " "
        self.folded = folded
        self._translated = translated
        self._codepage = isinstance(translated, bytes)
        """Translated by a code page: one byte per character but for a few."""
        self._events: Events | None = None
        self._lookups = 0
        self._index: tuple[list[int], list[int]] | None = None
        """Where each space of ``folded`` is, and where each word of the translation starts."""

    def span(self, fstart: int, fend: int) -> tuple[int, int]:
        """Original ``(start, end)`` of the words at ``folded[fstart:fend]``.

        ``fstart`` is the first character of a word and ``fend`` the space after a word.
        """
        known = self._known
        found = known.get((fstart, fend)) if known is not None else None
        if found is None:
            start, end = self._mapped_span(fstart, fend)
        else:
            start, end = found
        text = self.text
        # A decomposed accent after the last letter belongs to the word ("Dragos\u0326");
        # combining marks start at U+0300.
        while (
            end < len(text)
            and text[end] >= "\u0300"
            and unicodedata.category(text[end]) in ("Mn", "Me")
            and (TABLES.fold.get(ord(text[end])) == "")
        ):
            end += 1
        return widen(start, end, self._regions)

    def _mapped_span(self, fstart: int, fend: int) -> tuple[int, int]:
        """The original characters that the first and the last letter of
        ``folded[fstart:fend]`` come from: ``(first, last + 1)``."""
        translated = self._translation()
        folded = self.folded
        index = self._word_index(translated)
        if index is not None:
            spaces, starts = index
            # folded[fstart] begins word number (spaces before it - 1); fend is a space.
            last_space = bisect_left(spaces, fend)
            start = starts[bisect_left(spaces, fstart) - 1]
            end = starts[last_space - 1] + fend - spaces[last_space - 1] - 1
        else:
            part = folded[fstart:fend]
            start = _find_word(translated, folded, fstart, max(0, fstart - 1))
            # The translation of the hit: the same characters unless it spans a run of
            # word breaks ("AI, Act"); then its last word is looked up as well.
            if translated.startswith(part, start):
                end = start + len(part)
            else:
                last = folded.rfind(" ", fstart, fend) + 1
                end = _find_word(translated, folded, last, start) + fend - last
        events = self._events
        if events is None:
            events = self._uneven_events()
        if events[0]:
            start = _orig_char(start, events)
            end = _orig_char(end - 1, events) + 1
        return start, end

    def words(self, fstart: int, fend: int) -> tuple[int, int]:
        """Word numbers ``(first, stop)`` covered by ``folded[fstart:fend]`` (stop exclusive)."""
        index = self._word_index(None)
        if index is not None:
            spaces = index[0]
            return bisect_left(spaces, fstart) - 1, bisect_left(spaces, fend)
        count = self.folded.count
        return count(" ", 0, fstart) - 1, count(" ", 0, fend)

    def _word_index(self, translated: str | None) -> tuple[list[int], list[int]] | None:
        """The word index once more than ``DIRECT_LOOKUPS`` look-ups were made, else None."""
        if self._index is not None:
            return self._index
        self._lookups += 1
        if self._lookups <= DIRECT_LOOKUPS:
            return None
        if translated is None:
            translated = self._translation()
        # Both texts hold the same words in the same order; only the runs of word
        # breaks between them differ.  ``split(" ")`` leaves an empty part per extra space.
        spaces = [end - 1 for end in accumulate(len(part) + 1 for part in self.folded.split(" "))]
        spaces.pop()  # the end of the text, not a space
        parts = translated.split(" ")
        ends = list(accumulate(len(part) + 1 for part in parts))
        starts = [end - len(part) - 1 for end, part in zip(ends, parts, strict=True) if part]
        self._index = (spaces, starts)
        return self._index

    def _translation(self) -> str:
        translated = self._translated
        if not isinstance(translated, str):
            translated = self._translated = (
                self.text.translate(tables_for(self.text).scan)
                if translated is None
                else translated.decode("ascii")
            )
        return translated

    def _uneven_events(self) -> Events:
        # Characters whose fold is not exactly one character shift the offsets.
        if self._events is not None:
            return self._events
        t_start: list[int] = []
        orig: list[int] = []
        length: list[int] = []
        delta: list[int] = []
        text = self.text
        # A code page maps one character to one byte except for the few that it deletes
        # or expands: with none deleted, equal lengths mean that none was expanded.
        even = text.isascii() or (self._codepage and len(self._translated or "") == len(text))
        if even and not text.isascii():
            for char in TABLES.codepage_deleted:
                if char in text:
                    even = False
                    break
        if not even:
            assert TABLES.uneven_re is not None
            fold_table = TABLES.fold
            shift = 0
            for m in TABLES.uneven_re.finditer(text):
                i = m.start()
                size = len(table_text(fold_table[ord(text[i])]))
                t_start.append(i + shift)
                orig.append(i)
                length.append(size)
                shift += size - 1
                delta.append(shift)
        self._events = (t_start, orig, length, delta)
        return self._events


def _find_word(translated: str, folded: str, fstart: int, lowest: int) -> int:
    """Where the word at ``folded[fstart:]`` starts in ``translated``.

    Collapsing only removes word breaks, so the word lies at or after ``lowest`` and
    has as many non-space characters before it as in ``folded``: the first occurrence
    of its letters with that count is the one (a few characters on, at most as many as
    the word breaks removed before it).
    """
    letters = fstart - folded.count(" ", 0, fstart)
    word = folded[fstart : folded.find(" ", fstart)]
    found = translated.find(word, lowest)
    spaces = translated.count(" ", 0, found)
    while found >= 0 and found - spaces != letters:
        after = translated.find(word, found + 1)
        if after >= 0:
            spaces += translated.count(" ", found, after)
        found = after
    if found < 0:
        raise ValueError(f"no word at folded offset {fstart}")
    return found


def _orig_char(tpos: int, events: Events) -> int:
    # Index of the original character that produced translated[tpos].
    t_start, orig, length, delta = events
    k = bisect_right(t_start, tpos) - 1
    if k < 0:
        return tpos
    if tpos < t_start[k] + length[k]:
        return orig[k]
    return tpos - delta[k]
