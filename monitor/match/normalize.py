"""Text normalisation for matching: one folding function and the offset map back.

``fold`` is the single definition of "the same words": NFKC, case-folded, diacritics
removed (ș/ş/s, ß/ss, ł/l, ø/o, æ/ae), every character that is not a letter or digit
(quotes, dashes, hyphens, apostrophes, punctuation, white space) turned into a word
break, zero-width characters, soft hyphens and combining marks deleted, and word
breaks collapsed to one space.  Terms and article text go through the same function.

The work is one ``bytes.translate`` when the text is ASCII or fits the cp1252 or cp1250
code page (most EU-language news), else one ``str.translate`` with a per-character
table.  That table is a plain dict filled for the whole Basic Multilingual Plane on
first use and extended when a text brings characters beyond it: measured, a plain dict
is about a third faster in ``str.translate`` than a dict subclass with ``__missing__``.
The matcher scans the result as bytes (``fold_for_automaton``): for the code-page texts
they are ASCII, runs of word breaks are shrunk by one ``re.sub`` and nothing is decoded
unless the automaton finds something.  The map from folded offsets back to the original
text is in ``offsets``.
"""

from __future__ import annotations

import importlib
import re
import unicodedata
from codecs import charmap_encode

# Letters that NFKD does not decompose but that readers treat as their base letter.
_SPECIAL_LOWER = {
    "ß": "ss",
    "ẞ": "ss",
    "æ": "ae",
    "Æ": "ae",
    "œ": "oe",
    "Œ": "oe",
    "ø": "o",
    "Ø": "o",
    "ł": "l",
    "Ł": "l",
    "đ": "d",
    "Đ": "d",
    "ð": "d",
    "Ð": "d",
    "þ": "th",
    "Þ": "th",
    "ı": "i",
    "ħ": "h",
    "Ħ": "h",
    "ŧ": "t",
    "Ŧ": "t",
    "ĸ": "k",
    "ŀ": "l",
    "Ŀ": "l",
}
_SPECIAL_CASED = {
    "ß": "ss",
    "ẞ": "SS",
    "æ": "ae",
    "Æ": "AE",
    "œ": "oe",
    "Œ": "OE",
    "ø": "o",
    "Ø": "O",
    "ł": "l",
    "Ł": "L",
    "đ": "d",
    "Đ": "D",
    "ð": "d",
    "Ð": "D",
    "þ": "th",
    "Þ": "TH",
    "ı": "i",
    "ħ": "h",
    "Ħ": "H",
    "ŧ": "t",
    "Ŧ": "T",
    "ĸ": "k",
    "ŀ": "l",
    "Ŀ": "L",
}
# Modifier letters that are apostrophes in practice (ʼ ʻ ʹ ˈ): a word break, not a letter.
_APOSTROPHE_LETTERS = frozenset("\u02b9\u02ba\u02bb\u02bc\u02bd\u02be\u02bf\u02c8\u02ca\u02cb")
_DELETED_CATEGORIES = frozenset({"Mn", "Me", "Cf"})
_BREAK_CATEGORIES = frozenset({"Co", "Cs", "Cn"})
_BYTE_RUNS = re.compile(rb"  +")
FIELD_BREAK = "\x01"
"""Joins the fields of one article for a single scan; no pattern can match across it.
(U+0001 cannot occur in XML 1.0 text, so no feed article contains it.)"""


def _fold_once(text: str, lower: bool) -> str:
    special = _SPECIAL_LOWER if lower else _SPECIAL_CASED
    out: list[str] = []
    for char in text:
        if char in special:
            out.append(special[char])
            continue
        composed = unicodedata.normalize("NFKC", char)
        if lower:
            composed = composed.casefold()
        for part in unicodedata.normalize("NFKD", composed):
            if part in special:
                out.append(special[part])
            elif part in _APOSTROPHE_LETTERS:
                out.append(" ")
            elif part.isalnum():
                out.append(part)
            else:
                category = unicodedata.category(part)
                if category == "Mc":  # spacing vowel signs are part of the word (Indic scripts)
                    out.append(part)
                elif category not in _DELETED_CATEGORIES:
                    out.append(" ")
    return "".join(out)


def fold_char(char: str, *, lower: bool = True) -> str:
    """The folded form of one character: letters/digits, ``" "`` (a word break) or ``""``."""
    category = unicodedata.category(char)
    if category in _BREAK_CATEGORIES:
        return " "
    if category == "Lo" and not unicodedata.decomposition(char):
        return char  # no case, no accents: most CJK, Arabic, Hebrew, Thai letters
    out = _fold_once(char, lower)
    # Iterate to a fixed point so that folding folded text changes nothing.
    for _ in range(4):
        again = _fold_once(out, lower)
        if again == out:
            break
        out = again
    return out


def table_text(out: str | int) -> str:
    """A translate table's value as the string it stands for."""
    return chr(out) if isinstance(out, int) else out


class _Codepage:
    """Fold text that a one-byte code page can encode, with C-level bytes operations.

    Encoding to cp1252 or cp1250 and translating bytes is several times faster than
    ``str.translate`` on Unicode text, and those two code pages hold the letters and the
    typographic quotes and dashes of most EU-language news.  The result is checked
    against :func:`fold` by the tests.
    """

    def __init__(self, name: str, scan: dict[int, str | int]) -> None:
        self.name = name
        table = bytearray(range(256))  # bytes it cannot map stay above 0x7F
        delete = bytearray()
        bad = bytearray()
        self.expand: list[tuple[bytes, bytes]] = []
        for byte in range(256):
            try:
                char = bytes([byte]).decode(name)
            except UnicodeDecodeError:
                continue  # never produced by encode
            out = table_text(scan[ord(char)])
            if not out:
                delete.append(byte)
            elif len(out) == 1 and out.isascii():
                table[byte] = ord(out)
            elif out.isascii():
                self.expand.append((bytes([byte]), out.encode("ascii")))
            else:
                bad.append(byte)  # folds to a non-Latin letter (µ -> μ): use str.translate
        self.table = bytes(table)
        self.delete = bytes(delete)
        self.bad = bytes(bad)
        # ``str.encode`` would reach the same C function through a Python-level codec.
        self.encoding_table = importlib.import_module(f"encodings.{name}").encoding_table

    def fold(self, text: str) -> bytes | None:
        """The translated ASCII bytes of ``text``, or None if this code page cannot do it.

        One byte per character of the ``scan`` table's translation, before word breaks
        are collapsed: ``text.translate(scan).encode("ascii")``.
        """
        try:
            data = charmap_encode(text, "strict", self.encoding_table)[0]
        except UnicodeEncodeError:
            return None
        folded = data.translate(self.table, self.delete)
        if folded.isascii():
            return folded
        # The table left the bytes that need more than one byte, or a letter beyond ASCII.
        if self.bad and len(data.translate(None, self.bad)) != len(data):
            return None
        for byte, out in self.expand:
            if byte in data:
                data = data.replace(byte, out)
        return data.translate(self.table, self.delete)


class _Tables:
    """The translate tables, built on first use (about 0.2 s for the whole BMP)."""

    def __init__(self) -> None:
        self.fold: dict[int, str | int] = {}
        """``str.translate``'s table: a string, or the code itself for a character that
        folds to itself (above U+00FF only).  ``FIELD_BREAK`` stays itself: where it is
        a word break (``fold``, ``FoldedText``), the caller replaces it by a space."""
        self.scan: dict[int, str | int] = {}
        """The same dict: the two tables differed in ``FIELD_BREAK`` only, and a second
        copy of 65,536 entries is 2.6 MB (issue 12)."""
        self.uneven: set[int] = set()
        self.uneven_re: re.Pattern[str] | None = None
        self.ascii_bytes = b""
        self.codepages: tuple[_Codepage, ...] = ()
        self.codepage_deleted: frozenset[str] = frozenset()
        """Characters that a code-page fold deletes (the soft hyphen)."""
        self.last_page = 0
        self.ready = False

    def build(self) -> None:
        fold: dict[int, str | int] = {}
        for code in range(0x10000):
            out = fold_char(chr(code))
            # A character that folds to itself (two in three: CJK, Hangul, ...) maps to
            # its own code, the key object: no string object of its own (3 MB, issue 12).
            fold[code] = code if code > 0xFF and len(out) == 1 and ord(out) == code else out
        self.fold = fold
        self.uneven = {code for code, out in fold.items() if isinstance(out, str) and len(out) != 1}
        self._compile_uneven()
        fold[ord(FIELD_BREAK)] = FIELD_BREAK
        self.scan = fold
        table = bytearray(range(256))
        for code in range(128):
            table[code] = ord(table_text(self.scan[code]))
        self.ascii_bytes = bytes(table)
        self.codepages = tuple(_Codepage(name, self.scan) for name in ("cp1252", "cp1250"))
        self.codepage_deleted = frozenset(
            char for page in self.codepages for char in page.delete.decode(page.name)
        )
        self.ready = True

    def add_astral(self, text: str) -> None:
        """Add the characters beyond U+FFFF that ``text`` holds (emoji, rare scripts)."""
        added = False
        for char in {c for c in text if ord(c) > 0xFFFF}:
            code = ord(char)
            if code not in self.fold:
                out = fold_char(char)
                self.fold[code] = self.scan[code] = out
                if len(out) != 1:
                    self.uneven.add(code)
                added = True
        if added:
            self._compile_uneven()

    def _compile_uneven(self) -> None:
        ranges: list[tuple[int, int]] = []
        for code in sorted(self.uneven):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
        parts = "".join(
            re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
            for a, b in ranges
        )
        self.uneven_re = re.compile(f"[{parts}]")


TABLES = _Tables()


def tables_for(text: str) -> _Tables:
    """The translate tables, complete for every character of ``text``."""
    tables = TABLES
    if not tables.ready:
        tables.build()
    # UTF-16 needs two units for a character beyond the BMP: a cheap C-level test.
    if not text.isascii() and len(text.encode("utf-16-le", "surrogatepass")) != 2 * len(text):
        tables.add_astral(text)
    return tables


class _CasedTable(dict[int, str]):
    # Only short article slices of case-sensitive hits go through it: laziness is enough.
    def __missing__(self, code: int) -> str:
        out = self[code] = fold_char(chr(code), lower=False)
        return out


_CASED = _CasedTable()


def fold(text: str) -> str:
    """Normalise text for matching: lower case, no diacritics, words separated by one space.

    Idempotent: ``fold(fold(x)) == fold(x)``.
    """
    translated = text.translate(tables_for(text).fold)
    if FIELD_BREAK in translated:  # the table keeps it (see ``_Tables.fold``)
        translated = translated.replace(FIELD_BREAK, " ")
    return " ".join(translated.split())


def fold_cased(text: str) -> str:
    """Like :func:`fold` but keeping letter case (to check case-sensitive terms)."""
    return " ".join(text.translate(_CASED).split())


def _translate(text: str) -> bytes | str:
    """``text.translate(scan)``: ASCII bytes when a code page could do it, else a str."""
    tables = TABLES
    if not tables.ready:
        tables.build()
    if text.isascii():
        return text.encode("ascii").translate(tables.ascii_bytes)
    # Feeds come in batches of one language: try the code page that worked last first.
    pages = tables.codepages
    first = tables.last_page
    data = pages[first].fold(text)
    if data is not None:
        return data
    for index, page in enumerate(pages):
        if index != first:
            data = page.fold(text)
            if data is not None:
                tables.last_page = index
                return data
    return text.translate(tables_for(text).scan)


def fold_for_scan(text: str) -> tuple[str, str | None]:
    """``(" " + fold(text) + " ", translated)``, except that ``FIELD_BREAK`` stays.

    The padding spaces let a whole-word pattern be written ``" word "``.  ``translated``
    is the per-character translation before spaces are collapsed, or None when a bytes
    fast path did the work (``offsets.FoldedText`` recomputes it if a hit needs offsets).
    """
    translated = _translate(text)
    if isinstance(translated, bytes):
        return " " + b" ".join(translated.split()).decode("ascii") + " ", None
    return " " + " ".join(translated.split()) + " ", translated


def fold_for_automaton(text: str) -> tuple[bytes, bytes | str]:
    """``fold_for_scan`` as UTF-8 bytes, and the translation before spaces are collapsed.

    The translation is ASCII bytes when a code page did the work (most texts; then the
    folded bytes are ASCII too and byte offsets are character offsets), else a str.
    """
    translated = _translate(text)
    if isinstance(translated, bytes):
        # Only spaces separate its words ("\x01" is no white space for bytes.split):
        # shrinking the runs of the padded text is what split and join would do, faster.
        folded = _BYTE_RUNS.sub(b" ", b"".join((b" ", translated, b" ")))
        return (folded if len(folded) > 1 else b"  "), translated
    return (" " + " ".join(translated.split()) + " ").encode("utf-8"), translated
