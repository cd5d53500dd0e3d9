"""Hypothesis properties of the matcher: variants match, HTML never hides, offsets hold."""

from __future__ import annotations

import html
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.match import Matcher, fold
from monitor.plaintext import html_to_text
from tests.match.helpers import article, matcher

_words = st.lists(
    st.text(alphabet="abcdefghijklmnoprstuvz", min_size=2, max_size=8), min_size=1, max_size=3
)
# Between the words of a phrase: anything that is a word break.
_JOINERS = [" ", "-", "‐", "‑", "–", " – ", "\u00a0", "  ", "\n", " - ", "’", "/", "_"]
# Around the phrase: a break, then anything.
_EDGES = [" ", "(", "“", "«", "'", "\u00a0", "\n", "#", "—", ", ", ": "]
_MARKS = ["\u0301", "\u0300", "\u0308", "\u0326", "\u0327", "\u030c"]
_INVISIBLE = ["\u00ad", "\u200b", "\u200c", "\u2060"]


def _phrase_matcher(phrase: str) -> Matcher:
    return matcher(f"watchlists: {{w: {{any: [{phrase!r}]}}}}".replace("'", '"'))


@st.composite
def _letter(draw: st.DrawFn, char: str) -> str:
    if draw(st.booleans()):
        char = char.upper()
    if draw(st.booleans()):
        composed = unicodedata.normalize("NFC", char + draw(st.sampled_from(_MARKS)))
        char = composed if draw(st.booleans()) else unicodedata.normalize("NFD", composed)
    return char


@st.composite
def _variant(draw: st.DrawFn, words: list[str]) -> str:
    out = []
    for i, word in enumerate(words):
        if i:
            out.append(draw(st.sampled_from(_JOINERS)))
        for j, char in enumerate(word):
            if j and draw(st.integers(0, 9)) == 0:
                out.append(draw(st.sampled_from(_INVISIBLE)))
            out.append(draw(_letter(char)))
    return "".join(out)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), words=_words)
def test_a_phrase_matches_whatever_its_case_accents_hyphens_and_punctuation(
    data: st.DataObject, words: list[str]
) -> None:
    m = _phrase_matcher(" ".join(words))
    core = data.draw(_variant(words))
    before = data.draw(st.text(max_size=10)) + data.draw(st.sampled_from(_EDGES))
    after = data.draw(st.sampled_from(_EDGES)) + data.draw(st.text(max_size=10))
    text = before + core + after
    found = m.match(article(content=text))
    assert [x.watchlist for x in found] == ["w"]
    hits = [h for h in found[0].hits if h.start == len(before)]
    assert hits, (text, found)
    assert hits[0].text == core
    assert text[hits[0].start : hits[0].end] == core


_INLINE = [
    "<b>",
    "</b>",
    "<i>",
    "</i>",
    '<a href="https://example.org/facial-rec">',
    "</a>",
    "<span class='x'>",
    "</span>",
    "<!-- c -->",
    "<em>",
    "</em>",
]
_BLOCK = ["<p>", "</p>", "<br>", "<div>", "</div>", "<li>", '<img src="ai-act.png" alt="x">']
_filler = st.lists(
    st.sampled_from(
        ["the", "Commission", "said", "on", "Tuesday", "policy", "&", "<", "2024", "data"]
    ),
    max_size=4,
)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), words=_words)
def test_inserting_html_tags_or_unrelated_text_never_removes_a_match(
    data: st.DataObject, words: list[str]
) -> None:
    phrase = " ".join(words)
    m = _phrase_matcher(phrase)
    tokens = ["Intro", "text", *phrase.split(), "and", "more"]
    pieces = []
    for token in tokens:
        # Inline tags may fall inside a word; block tags and text only between words.
        cut = data.draw(st.integers(0, len(token)))
        inline = data.draw(st.sampled_from(["", *_INLINE]))
        pieces.append(html.escape(token[:cut]) + inline + html.escape(token[cut:]))
        pieces.append(" ")
        if data.draw(st.booleans()) and token not in phrase.split()[:-1]:
            pieces.append(data.draw(st.sampled_from(_BLOCK)))
            pieces.append(html.escape(" ".join(data.draw(_filler))) + " ")
    body = "".join(pieces)
    summary = html_to_text(body)
    assert [x.watchlist for x in m.match(article(summary=summary))] == ["w"], (body, summary)


_TRICKY = "aAsSiIeEtT șşȘŞéüßẞłøæ\u0326\u0301\u00ad\u200b ﬁ½\u00a0-–’“.,"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=_TRICKY, max_size=60), st.text(alphabet=_TRICKY, max_size=60))
def test_offsets_always_slice_the_original_text_to_the_hit(title: str, content: str) -> None:
    m = matcher("""
watchlists:
  w:
    any: [sas, "=SAS", "*sas", "iet*", "*tet*", şi, ß, ﬁ, a a]
""")
    for found in m.match(article(title, content=content)):
        for hit in found.hits:
            text = title if hit.field == "title" else content
            assert 0 <= hit.start < hit.end <= len(text)
            assert text[hit.start : hit.end] == hit.text
            assert fold(hit.text)
