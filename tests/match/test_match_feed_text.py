"""Issue 18: what feeds do to words does not change what matches.

Double escaping (``facial&amp;nbsp;recognition`` decoded once), soft hyphens, zero-width
characters and line-end hyphenation are undone before the fold, without moving an
offset: inserting them into a text never loses a match and never creates one.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.match.mend import mend, widen
from tests.match.helpers import article, matcher

KEYWORDS = """
watchlists:
  fr:
    any: [facial recognition, "Gesichtserkennung*"]
  edpb:
    any: ["=EDPB", "Europe’s data"]
  cafe:
    any: [café privé]
"""
_WORDS = [
    "facial",
    "recognition",
    "Gesichtserkennung",
    "gesichts",
    "EDPB",
    "edpb",
    "café",
    "privé",
    "Europe",
    "data",
    "news",
    "of",
    "the",
    "recog",
    "nition",
]
# What a break between two words may have become in a feed.
_BREAKS = [" ", "\u00a0", "&nbsp;", "&amp;nbsp;", "&#160;", "&amp;#160;", "&#xA0;", "  "]
_APOSTROPHES = ["’", "&#8217;", "&amp;#8217;", "&rsquo;", "'"]
# Inside a word: deleted by the fold, escaped or not.
_INVISIBLE = ["\u00ad", "\u200b", "\u200c", "\u200d", "\u2060", "&shy;", "&amp;shy;", "&#8203;"]
_LETTERS = {"é": ["&eacute;", "&amp;eacute;", "&#233;"]}


def _plain(words: list[tuple[str, int]]) -> str:
    return " ".join(w for w, _ in words)


@st.composite
def _mangled(draw: st.DrawFn, words: list[tuple[str, int]]) -> str:
    out = []
    for i, (word, apostrophe) in enumerate(words):
        if i:
            out.append(draw(st.sampled_from(_BREAKS)))
        letters = []
        for j, char in enumerate(word):
            if j and draw(st.integers(0, 5)) == 0:
                letters.append(draw(st.sampled_from(_INVISIBLE)))
            if char in _LETTERS and draw(st.booleans()):
                char = draw(st.sampled_from(_LETTERS[char]))
            letters.append(char)
        # A line-end hyphen inside a lower-case word, as plain text breaks lines.
        mangled = "".join(letters)
        if word.islower() and len(word) > 3 and draw(st.booleans()):
            cut = draw(st.integers(1, len(word) - 1))
            mangled = word[:cut] + draw(st.sampled_from(["-\n", "-\r\n", "- \n"])) + word[cut:]
        out.append(mangled)
        if apostrophe:
            out.append(draw(st.sampled_from(_APOSTROPHES)) + "s")
    return "".join(out)


_words = st.lists(
    st.tuples(st.sampled_from(_WORDS), st.integers(0, 4).map(lambda n: n == 0)), max_size=12
)


def _apostrophes(words: list[tuple[str, int]]) -> str:
    return " ".join(w + ("’s" if a else "") for w, a in words)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), words=_words)
def test_mangling_a_text_as_feeds_do_neither_loses_nor_creates_a_match(
    data: st.DataObject, words: list[tuple[str, int]]
) -> None:
    m = matcher(KEYWORDS)
    clean = _apostrophes(words)
    mangled = data.draw(_mangled(words))
    want = {x.watchlist: x.hit_count for x in m.match(article(content=clean))}
    found = m.match(article(content=mangled))
    assert {x.watchlist: x.hit_count for x in found} == want, (clean, mangled)
    for match in found:
        for hit in match.hits:
            assert mangled[hit.start : hit.end] == hit.text


def test_the_issue_examples() -> None:
    m = matcher(KEYWORDS)
    for text, hit in [
        ("Ban on facial&nbsp;recognition", "facial&nbsp;recognition"),
        ("Ban on facial&amp;nbsp;recognition", "facial&amp;nbsp;recognition"),
        ("Europe&#8217;s data strategy", "Europe&#8217;s data"),
        ("Gesichts\u00aderkennung im Bahnhof", "Gesichts\u00aderkennung"),
        ("facial recog-\nnition in stations", "facial recog-\nnition"),
        ("Un caf&eacute; priv&amp;eacute;", "caf&eacute; priv&amp;eacute;"),
    ]:
        found = [h.text for x in m.match(article(content=text)) for h in x.hits]
        assert found == [hit], text
    # A hyphen at a line end keeps its break between capitals or digits, and a text that
    # merely contains an ampersand is left alone.
    assert m.match(article(content="EDPB-\nwide 2024-\n2025 AT&T R&D")) != []
    assert mend("EU-\nwide AT&T &copy2024; x") == ("EU-\nwide AT&T &copy2024; x", ((), ()))


def test_a_hit_covers_every_reference_it_touches() -> None:
    text, regions = mend("caf&eacute; &Eacute;cole")
    assert len(text) == len("caf&eacute; &Eacute;cole")
    assert widen(0, 4, regions) == (0, 11)  # "café" ends inside "&eacute;"
    assert widen(12, 14, regions) == (12, 24 - 4)  # "É" begins the reference


ACRONYMS = """
watchlists:
  act:
    any: [AI Act]
  edpb:
    any: ["=EDPB", EDPS]
  eu:
    any: ["=EU"]
  ai:
    any: ["=AI", artificial intelligence]
"""
_TOKENS = [
    "AI",
    "Act",
    "EDPB",
    "EDPS",
    "EU",
    "the",
    "I",
    "A",
    "a",
    "plan",
    "said",
    "U",
    "E",
    "ai",
    "eu",
    "artificial",
    "intelligence",
]


@st.composite
def _spelled(draw: st.DrawFn, tokens: list[str]) -> str:
    out = []
    for token in tokens:
        if token.isupper() and len(token) > 1 and draw(st.booleans()):
            dots = ".".join(token) + draw(st.sampled_from(["", "."]))
            token = draw(st.sampled_from([dots, " ".join(token)])) if len(token) > 2 else dots
        out.append(token)
    return " ".join(out)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), tokens=st.lists(st.sampled_from(_TOKENS), max_size=12))
def test_spelling_out_acronyms_neither_loses_nor_creates_a_match(
    data: st.DataObject, tokens: list[str]
) -> None:
    m = matcher(ACRONYMS)
    plain = " ".join(tokens)
    spelled = data.draw(_spelled(tokens))
    want = {x.watchlist for x in m.match(article(content=plain))}
    found = m.match(article(content=spelled))
    assert {x.watchlist for x in found} == want, (plain, spelled)
    for match in found:
        for hit in match.hits:
            assert spelled[hit.start : hit.end] == hit.text


def test_dotted_spaced_and_plural_acronyms() -> None:
    m = matcher(ACRONYMS)
    for text, watchlist, hit in [
        ("The A.I. Act passed", "act", "A.I. Act"),
        ("E.D.P.B. guidelines", "edpb", "E.D.P.B"),
        ("the E D P B said", "edpb", "E D P B"),
        ("EDPB’s opinion", "edpb", "EDPB"),
        ("both EDPSs", "edpb", "EDPSs"),
        ("AIs in hiring", "ai", "AIs"),
        ("E.U. rules", "eu", "E.U"),
    ]:
        found = {x.watchlist: [h.text for h in x.hits] for x in m.match(article(content=text))}
        assert found.get(watchlist) == [hit], text
    for text in ["Plan A. I think so", "Plan A I said", "ais and eus", "e d p b", "A I Act"]:
        assert m.match(article(content=text)) == [], text


CUT = """
watchlists:
  frt:
    any: [live facial recognition]
  public:
    any: [recognition in public spaces]
"""


@settings(max_examples=200, deadline=None)
@given(
    before=st.lists(st.sampled_from(["MEPs", "vote", "to", "ban", "the"]), max_size=4),
    after=st.lists(st.sampled_from(["in", "public", "spaces", "today", "and"]), max_size=4),
    cut=st.integers(1, 2),
    ellipsis=st.sampled_from(["…", "...", " …"]),
    lead=st.sampled_from(["…", "...", "… ", ""]),
)
def test_a_phrase_cut_between_title_and_summary_still_matches(
    before: list[str], after: list[str], cut: int, ellipsis: str, lead: str
) -> None:
    m = matcher(CUT)
    phrase = ["live", "facial", "recognition"]
    title = " ".join([*before, *phrase[:cut]]) + ellipsis
    summary = lead + " ".join([*phrase[cut:], *after])
    found = {x.watchlist: x for x in m.match(article(title, summary))}
    assert "frt" in found, (title, summary)
    (hit,) = found["frt"].hits
    assert hit.field == "title"
    assert title[hit.start : hit.end] == hit.text == " ".join(phrase[:cut])
    # Without the ellipsis the fields stay apart: nothing is created.
    apart = m.match(article(title.rstrip(".… "), "…" + summary.lstrip(".… ")))
    assert "frt" not in {x.watchlist for x in apart}


def test_a_title_cut_before_an_unrelated_summary_stays_apart() -> None:
    m = matcher(CUT)
    # An ellipsis, but the summary starts a new sentence: no phrase across.
    assert m.match(article("Ban live facial…", "Recognition in public spaces is next")) == [
        m.match(article("x", "Recognition in public spaces is next"))[0]
    ]
