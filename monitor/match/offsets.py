"""From folded offsets back to the original text.

Folding deletes some characters, expands others (``ß`` -> ``ss``) and collapses runs of
word breaks, so an offset in the folded text is not an offset in the article.  The map
is built lazily, only for a text with a hit, and only as far into the text as the hits
go; most characters fold to exactly one character, so it is stored as the few places
where the two texts shift against each other.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Iterator

from monitor.match.normalize import TABLES, tables_for

_RUNS = re.compile(r" {2,}")


class FoldedText:
    """A text and the map from its folded offsets back to the original.

    ``folded`` is ``" " + fold(text) + " "`` (or what ``fold_for_scan`` returned for
    it); offsets into it that fall on word boundaries are mapped back by :meth:`span`.
    The map is built on the first call, so only texts with a hit pay for it.
    """

    __slots__ = (
        "_events",
        "_lead",
        "_more_runs",
        "_removed_total",
        "_run_fpos",
        "_run_removed",
        "_translated",
        "folded",
        "text",
    )

    def __init__(self, text: str, folded: str | None = None, translated: str | None = None) -> None:
        self.text = text
        if folded is None:
            translated = text.translate(tables_for(text).fold)
            folded = " " + " ".join(translated.split()) + " "
        self.folded = folded
        self._translated = translated
        self._run_fpos: list[int] | None = None
        self._run_removed: list[int] = []
        self._lead = 0
        self._removed_total = 0
        self._more_runs: Iterator[re.Match[str]] | None = None
        self._events: tuple[list[int], list[int], list[int], list[int]] | None = None

    def span(self, fstart: int, fend: int) -> tuple[int, int]:
        """Original ``(start, end)`` of the words at ``folded[fstart:fend]``.

        ``fstart`` is the first character of a word and ``fend`` the space after a word.
        """
        start = self._orig_char(self._t_pos(fstart))
        end = self._orig_char(self._t_pos(fend - 1)) + 1
        text = self.text
        # A decomposed accent after the last letter belongs to the word ("Dragos\u0326").
        while (
            end < len(text)
            and unicodedata.category(text[end]) in ("Mn", "Me")
            and (TABLES.fold.get(ord(text[end])) == "")
        ):
            end += 1
        return start, end

    def words(self, fstart: int, fend: int) -> tuple[int, int]:
        """Word numbers ``(first, stop)`` covered by ``folded[fstart:fend]`` (stop exclusive)."""
        count = self.folded.count
        return count(" ", 0, fstart) - 1, count(" ", 0, fend)

    def _t_pos(self, fpos: int) -> int:
        # folded = pad + translated with the leading run dropped and each inner run of
        # spaces shrunk to one; undo that with the positions of the runs, found lazily up
        # to the position asked for (hits in a title never pay for the rest of the text).
        fpositions = self._run_fpos
        if fpositions is None:
            fpositions = self._start_runs()
        while self._more_runs is not None and (not fpositions or fpositions[-1] < fpos):
            self._next_run()
        k = bisect_left(fpositions, fpos)
        removed = self._run_removed[k - 1] if k else self._lead
        return fpos - 1 + removed

    def _start_runs(self) -> list[int]:
        translated = self._translated
        if translated is None:
            translated = self._translated = self.text.translate(tables_for(self.text).scan)
        self._lead = len(translated) - len(translated.lstrip(" "))
        self._run_fpos = []
        self._removed_total = self._lead
        self._more_runs = _RUNS.finditer(translated, self._lead)
        return self._run_fpos

    def _next_run(self) -> None:
        assert self._more_runs is not None
        assert self._run_fpos is not None
        m = next(self._more_runs, None)
        if m is None:
            self._more_runs = None
            return
        s, e = m.span()
        self._run_fpos.append(s - self._removed_total + 1)
        self._removed_total += e - s - 1
        self._run_removed.append(self._removed_total)

    def _orig_char(self, tpos: int) -> int:
        # Index of the original character that produced translated[tpos].
        events = self._uneven_events()
        if not events[0]:
            return tpos
        t_start, orig, length, delta = events
        k = bisect_right(t_start, tpos) - 1
        if k < 0:
            return tpos
        if tpos < t_start[k] + length[k]:
            return orig[k]
        return tpos - delta[k]

    def _uneven_events(self) -> tuple[list[int], list[int], list[int], list[int]]:
        # Characters whose fold is not exactly one character shift the offsets.
        if self._events is not None:
            return self._events
        t_start: list[int] = []
        orig: list[int] = []
        length: list[int] = []
        delta: list[int] = []
        text = self.text
        pattern = None if text.isascii() else TABLES.uneven_re
        if pattern is not None:
            fold_table = TABLES.fold
            shift = 0
            for m in pattern.finditer(text):
                i = m.start()
                size = len(fold_table[ord(text[i])])
                t_start.append(i + shift)
                orig.append(i)
                length.append(size)
                shift += size - 1
                delta.append(shift)
        self._events = (t_start, orig, length, delta)
        return self._events
