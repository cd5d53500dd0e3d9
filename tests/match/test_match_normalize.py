"""Normalisation: one folding function, its properties, and the offset map back."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from monitor.match.normalize import FIELD_BREAK, fold, fold_cased, fold_for_scan
from monitor.match.offsets import FoldedText

# Latin letters with and without accents, decomposed marks, the invisible characters
# feeds carry, ligatures and expanding letters, punctuation and white space.
_TRICKY = (
    "aAbBsStTiIeE"
    "șşȘŞțţéÉèüÜöäßẞłŁøØæÆœđıİ"
    "\u0301\u0326\u0327\u0308"  # combining acute, comma below, cedilla, diaeresis
    "\u00ad\u200b\u200c\u200d\u2060\ufeff"  # soft hyphen, zero-width characters
    "ﬁﬂ½²"
    " \u00a0\u2009\n\t-‐‑–—'’‘“”«».,;:!?()/&"
)
tricky_text = st.text(alphabet=_TRICKY, max_size=40)


@given(st.text())
@example("Straße\u00ad ÆØ ﬁ ½ İ")
def test_fold_is_idempotent(text: str) -> None:
    assert fold(fold(text)) == fold(text)


@given(st.text())
def test_fold_output_is_words_separated_by_one_space(text: str) -> None:
    folded = fold(text)
    assert folded == folded.strip()
    assert "  " not in folded
    for char in folded.replace(" ", ""):
        assert char.isalnum() or unicodedata.category(char) == "Mc"


@given(tricky_text)
def test_cased_fold_differs_from_fold_by_case_only(text: str) -> None:
    assert fold(fold_cased(text)) == fold(text)


@pytest.mark.parametrize(
    ("variant", "folded"),
    [
        ("Dragoș Tudorache", "dragos tudorache"),  # s with comma below, U+0219
        ("Dragoş Tudorache", "dragos tudorache"),  # s with cedilla, U+015F
        ("Dragos\u0326 Tudorache", "dragos tudorache"),  # decomposed comma below
        ("DRAGOȘ TUDORACHE", "dragos tudorache"),
        ("Tudorache’s", "tudorache s"),
        ("EDPB's", "edpb s"),
        ("AI-Act", "ai act"),
        ("AI‑Act", "ai act"),  # non-breaking hyphen
        ("AI – Act", "ai act"),
        ("AI\u00a0Act", "ai act"),
        ("Gesichts\u00aderkennung", "gesichtserkennung"),  # soft hyphen
        ("Gesichts\u200berkennung", "gesichtserkennung"),  # zero-width space
        ("Straße", "strasse"),
        ("STRAẞE", "strasse"),
        ("Łódź", "lodz"),
        ("Ørsted", "orsted"),
        ("Æther", "aether"),
        ("ﬁnance", "finance"),
        ("“règlement sur l’IA”", "reglement sur l ia"),
        ("ΣΟΦΟΣ σοφος", "σοφοσ σοφοσ"),
    ],
)
def test_fold_examples(variant: str, folded: str) -> None:
    assert fold(variant) == folded


@given(tricky_text)
@example("  Hello,  Dragos\u0326 Stra\u00dfe-Æther!  x")
@example("\u0326abc\u200b ﬁx½y")
def test_every_folded_word_maps_back_to_the_original_text(text: str) -> None:
    folded_text = FoldedText(text)
    folded = folded_text.folded
    assert folded == " " + fold(text) + " "
    previous_end = 0
    for m in re.finditer(r"\S+", folded):
        start, end = folded_text.span(m.start(), m.end())
        assert previous_end <= start < end <= len(text)
        # A character that folds to two words (½ -> "1 2") maps both words to itself.
        assert m.group() in fold(text[start:end]).split()
        previous_end = start


@given(tricky_text)
def test_words_count_from_zero_and_stop_after_the_last(text: str) -> None:
    folded_text = FoldedText(text)
    words = list(re.finditer(r"\S+", folded_text.folded))
    for number, m in enumerate(words):
        assert folded_text.words(m.start(), m.end()) == (number, number + 1)


def test_a_trailing_combining_mark_belongs_to_the_word() -> None:
    text = "Renew’s Dragos\u0326 Tudorache said"
    folded_text = FoldedText(text)
    start = folded_text.folded.index("dragos")
    s, e = folded_text.span(start, start + len("dragos"))
    assert text[s:e] == "Dragos\u0326"


def _codepage_chars(name: str) -> str:
    return "".join(bytes([b]).decode(name, "ignore") for b in range(256))


# Text that the cp1252 / cp1250 fast paths handle (µ, ß, …, soft hyphen, ™ included).
codepage_text = st.one_of(
    st.text(alphabet=_codepage_chars("cp1252")), st.text(alphabet=_codepage_chars("cp1250"))
)


@given(
    st.one_of(
        st.text(),
        tricky_text,
        codepage_text,
        st.text(alphabet="abcXYZ ’é\u0301ł\u00ad-", max_size=30),
    )
)
@example("TX AG Pax\xadton Opens Inves\xadti\xadga\xadtion")
@example("Straße … ™ ¼ µm Œuvre")
@example("a\U0001f1ea\U0001f1fab")  # astral characters (emoji flags) are word breaks
@example("ΣΟΦΟΣ’s “Łódź”")
def test_the_scanning_fold_agrees_with_fold(text: str) -> None:
    text = text.replace(FIELD_BREAK, " ")
    folded, translated = fold_for_scan(text)
    assert folded == " " + fold(text) + " "
    mapped = FoldedText(text, folded, translated)
    for m in re.finditer(r"\S+", folded):
        start, end = mapped.span(m.start(), m.end())
        assert m.group() in fold(text[start:end]).split()


def test_field_break_survives_only_the_scanning_fold() -> None:
    joined = f"AI {FIELD_BREAK} Act"
    assert fold_for_scan(joined)[0] == f" ai {FIELD_BREAK} act "
    assert fold(joined) == "ai act"
    # Both folds share one table (issue 12): fold() and FoldedText make it a word break.
    assert fold(f"AI{FIELD_BREAK}Act") == "ai act"
    mapped = FoldedText(f"AI{FIELD_BREAK}Act")
    assert mapped.folded == " ai act "
    assert mapped.span(4, 7) == (3, 6)
