"""The compiled hot path (monitor/_speedups.pyx) against the pure-Python one: same text,
same folded bytes, same hits and offsets.

These tests use the compiled module directly, so they run (and compare) also when
``MONITOR_MATCH_PURE=1`` forces the rest of the suite onto the Python path.  They fail
when the extension is not built: ``pip install -e .`` builds it (Cython, a C compiler).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from html.entities import html5

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from monitor import plaintext, speedups
from monitor.match import Matcher, compile_matcher
from monitor.match.inflect import Inflector
from monitor.match.normalize import fold_for_automaton
from monitor.match.snippets import _FLATTEN, DEFAULT_CONTEXT, ELLIPSIS, make_snippet
from monitor.models import Article, Snippet
from monitor.plaintext import pure_html_to_text
from tests.match.helpers import ROOT, config

fast = speedups.for_matching(force=True)
if fast is None:
    pytest.fail(
        "the compiled matcher (monitor/_speedups.pyx) is not built: "
        "run `pip install -e .` or `python setup.py build_ext --inplace`",
        pytrace=False,
    )

# -- html_to_text -------------------------------------------------------------------------

_TAGS = ["p", "P", "b", "a", "em", "br", "li", "ul", "img", "div", "span", "h2", "figure"]
_TAGS += ["table", "script", "pre", "svg", "Strong", "x-y", "wbr", "td"]
_ATTRIBUTES = [
    "",
    ' href="https://x.eu/a?b=1&c=2"',
    " href='x'",
    " class=x",
    ' alt="a > b"',
    " data-x",
    " disabled checked",
    '  title = "t" ',
    " /",
    ' x="unterminated',
    " =bad",
    " a=`b`",
    "\n\tid=x",
]
_TEXT = [
    "AI",
    "Act",
    "Zürich",
    "EDPB’s",
    "&amp;",
    "&amp;nbsp;",
    "&lt;",
    "&nbsp;",
    "&eacute;",
    "&Eacute",
    "&notit;",
    "&#8217;",
    "&#x2014;",
    "&#X41;",
    "&#0;",
    "&#128;",
    "&#xD800;",
    "&#1234567;",
    "&#12345678;",
    "&#x;",
    "&#;",
    "&",
    "& ",
    "a&b",
    "AT&T",
    "&nosuchthing;",
    "&" + "a" * 33 + ";",
    "5 < 6",
    "<",
    "</",
    "<!-- c -->",
    "\u00a0",
    "\u2003",
    "\t",
    "\n",
    "\r\n",
    "\x0b",
    "\x00",
    "\ud800",
    "😀",
    "\u00ad",
    "  ",
]


@st.composite
def markup(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 14))):
        kind = draw(st.integers(0, 4))
        if kind == 0:
            parts.append(draw(st.sampled_from(_TEXT)))
        elif kind == 1:
            tag = draw(st.sampled_from(_TAGS))
            parts.append(f"<{tag}{draw(st.sampled_from(_ATTRIBUTES))}>")
        elif kind == 2:
            parts.append(f"</{draw(st.sampled_from(_TAGS))}>")
        elif kind == 3:
            parts.append(draw(st.text(max_size=6)))
        else:
            parts.append(" ")
    text = "".join(parts)
    if draw(st.booleans()):  # summaries are often cut anywhere, in a tag too
        text = text[: draw(st.integers(0, len(text)))]
    return text


@settings(max_examples=600, deadline=None)
@given(html=markup())
@example(html='AI <a href="https://x.eu/a?b=1')
@example(html="AI </p")
@example(html="AI <p>x</p> < b")
@example(html="caf&eacute; &amp;nbsp;")
def test_compiled_html_to_text_gives_what_the_python_code_gives(html: str) -> None:
    got = fast.html_to_text(html, plaintext._TAG_TEXT, html5)
    if got is not NotImplemented:
        assert got == pure_html_to_text(html)


def test_html_to_text_uses_the_compiled_path_unless_told_not_to() -> None:
    assert (plaintext._FAST is not None) == (os.environ.get(speedups.PURE_ENV, "") in ("", "0"))


def test_the_compiled_path_handles_ordinary_feed_markup() -> None:
    # Else the test above could pass by answering NotImplemented to everything.
    html = '<p>The <a href="https://x.eu/?a=1&amp;b=2">AI&nbsp;Act</a> &#8217;s <br/>text</p>'
    got = fast.html_to_text(html, plaintext._TAG_TEXT, html5)
    assert got == pure_html_to_text(html) == "The AI Act ’s text"
    assert fast.html_to_text("<p>cut <a href='x", plaintext._TAG_TEXT, html5) == "cut"


# -- the fold -----------------------------------------------------------------------------


@settings(max_examples=600, deadline=None)
@given(text=st.text())
@example(text="")
@example(text="   ")
@example(text="Stra\u00dfe \ufb01 \u00ad\u200b \x01 \u0130 \ufdfa")
def test_compiled_fold_gives_the_bytes_the_automaton_gets(text: str) -> None:
    got = fast.fold(text)
    if got is None:  # only for what the Python path must handle: beyond the BMP
        assert any(ord(c) > 0xFFFF for c in text)
    else:
        assert got == fold_for_automaton(text)[0]


# -- snippets -----------------------------------------------------------------------------

_SNIPPET_CHARS = st.sampled_from([*"ab ÿ.\n\t\x00\x7f\u2028\u00a0\u3000€ł", "\U0001f600"])


@st.composite
def snippet_cases(draw: st.DrawFn) -> tuple[str, int, int, list[tuple[int, int]], int]:
    text = "".join(draw(st.lists(_SNIPPET_CHARS, max_size=260)))
    start = draw(st.integers(-2, len(text) + 2))
    end = draw(st.integers(start - 2, len(text) + 2))
    bound = st.integers(-1, len(text) + 1)
    marks = draw(st.lists(st.tuples(bound, bound), max_size=5))
    context = draw(st.sampled_from([0, 1, 3, 10, DEFAULT_CONTEXT]))
    return text, start, end, marks, context


@settings(max_examples=800, deadline=None)
@given(case=snippet_cases())
@example(case=("a b " * 60, 100, 105, [(100, 105), (110, 113), (1, 2)], DEFAULT_CONTEXT))
@example(case=("x\n" + "word " * 50 + "\u2028end", 40, 44, [], 10))
def test_compiled_snippet_gives_what_make_snippet_gives(
    case: tuple[str, int, int, list[tuple[int, int]], int],
) -> None:
    text, start, end, marks, context = case
    made = fast.snippet(text, start, end, marks, context, Snippet, ELLIPSIS, _FLATTEN)
    if made is NotImplemented:  # a span outside the text: the Python code decides
        assert not (0 <= start <= end <= len(text))
        return
    assert made == make_snippet(text, start, end, marks, context)


# -- the whole matcher --------------------------------------------------------------------

_KEYWORDS = """
actors:
  edpb:
    name: European Data Protection Board
    aliases: ["=EDPB", European Data Protection Board]
    by_language:
      es: ["=CEPD"]
    ambiguous: ["=CEPD"]
    context: [datos, protección]
    within: 5
watchlists:
  faces:
    any: [facial recognition, Gesichtserkennung, reconnaissance faciale, biometr*]
  acts:
    any: ["=AI Act", Straße, Łódź, Dragoș Tudorache, "*coin"]
  body:
    any: [{actor: edpb}]
    all: [opinion]
  near:
    near:
      - terms: [data, [protection, protección]]
        within: 3
"""
_TERMS = [
    "facial recognition",
    "Gesichtserkennung",
    "reconnaissance faciale",
    "biometrics",
    "biometric",
    "AI Act",
    "A.I. Act",
    "ai act",
    "Strasse",
    "Straße",
    "Łódź",
    "Lodz",
    "Dragoș Tudorache",
    "Dragos\u0326 Tudorache",
    "bitcoin",
    "EDPB",
    "EDPB’s",
    "opinion",
    "data",
    "datos",
    "protection",
    "protección",
    "CEPD",
]
_NOISE = ["the", "and", "Commission", "vote", "ﬁne", "ΑΙ", "数据", "😀", "…", "...", "#", "—"]
_NOISE += ["Zürich", "İstanbul", "x\x01y", "ǅ", "①", "ß", "ﬀ", "٣"]


@st.composite
def _mangled(draw: st.DrawFn, word: str) -> str:
    """A term as feeds write it: cased, accented, with soft hyphens or entities."""
    out = []
    for char in word:
        roll = draw(st.integers(0, 19))
        if roll == 0:
            out.append("\u00ad")  # soft hyphen inside a word
        elif roll == 1:
            out.append("\u200b")
        if roll == 2:
            char = char.upper()
        elif roll == 3 and char.isalpha():
            char += draw(st.sampled_from(["\u0301", "\u0308", "\u0327"]))
        elif roll == 4 and char == " ":
            char = draw(st.sampled_from(["&amp;nbsp;", "&nbsp;", "\u00a0", "-", "\n", "&#8209;"]))
        out.append(char)
    return "".join(out)


@st.composite
def _field(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 10))):
        kind = draw(st.integers(0, 3))
        if kind == 0:
            parts.append(draw(_mangled(draw(st.sampled_from(_TERMS)))))
        elif kind == 1:
            parts.append(draw(st.sampled_from(_NOISE)))
        elif kind == 2:
            parts.append(draw(st.text(max_size=5)))
        else:
            parts.append(draw(st.sampled_from(["&amp;", "&#8217;", "&eacute;", "-\n", "…"])))
        parts.append(draw(st.sampled_from([" ", " ", ", ", "\u00a0", "", "’s "])))
    return "".join(parts)


def _matchers() -> tuple[Matcher, Matcher]:
    cfg = config(_KEYWORDS)
    compiled = compile_matcher(cfg, Inflector(compute=False), compiled=True)
    pure = compile_matcher(cfg, Inflector(compute=False), compiled=False)
    assert compiled._scanner.compiled
    assert not pure._scanner.compiled
    return compiled, pure


COMPILED, PURE = _matchers()


@settings(max_examples=400, deadline=None)
@given(
    title=_field(),
    summary=_field(),
    content=_field(),
    language=st.sampled_from([None, "en", "de", "pl"]),
)
@example(
    title="MEPs vote to ban live facial…",
    summary="…recognition in spaces",
    content="",
    language=None,
)
@example(
    title="", summary="Gesichts\u00aderkennung &amp;nbsp; A.I. Act", content="x", language="de"
)
def test_compiled_scan_finds_the_same_hits_and_offsets(
    title: str, summary: str, content: str, language: str | None
) -> None:
    article = Article(
        feed_id="t", key="k", title=title, summary=summary, content=content, language=language
    )
    assert COMPILED.match(article) == PURE.match(article)
    assert COMPILED.explain(article) == PURE.explain(article)


def test_the_compiled_scan_finds_hits_itself() -> None:
    # Else the test above could pass with a compiled path that always defers.
    article = Article(feed_id="t", key="k", title="EDPB opinion on facial recognition")
    scanner = COMPILED._scanner
    joined = f"{article.title} \x01  \x01  \x01 "
    got = fast.scan(joined, scanner._words, scanner._residual, scanner._shapes, 3)
    assert got is not None
    assert got is not NotImplemented
    assert [m.watchlist for m in COMPILED.match(article)] == ["body", "faces"]


def test_the_suite_runs_on_the_python_path_when_told() -> None:
    code = (
        "from monitor import plaintext; from tests.match.helpers import matcher;"
        "m = matcher('watchlists: {w: {any: [AI Act]}}');"
        "print(plaintext._FAST is None, m._scanner.compiled)"
    )
    env = {**os.environ, speedups.PURE_ENV: "1", "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["True", "False"]


# Dense: few short words, so that keys overlap, nest and share prefixes and suffixes.
_SYLLABLES = ["ab", "ba", "abc", "b", "ca", "abab", "äb", "ß", "łc", "AB", "c\u00adab"]
_BREAKS = [" ", " ", "-", ", ", "’", "\u00a0", ".", "", " \u00ad"]


@st.composite
def _dense_term(draw: st.DrawFn) -> str:
    words = draw(st.lists(st.sampled_from(_SYLLABLES[:9]), min_size=1, max_size=3))
    term = " ".join(words)
    if sum(c.isalnum() for c in term) >= 3:
        term = draw(st.sampled_from(["", "*"])) + term + draw(st.sampled_from(["", "*"]))
    return term


@settings(max_examples=200, deadline=None)
@given(
    terms=st.lists(_dense_term(), min_size=1, max_size=8, unique=True),
    text=st.lists(
        st.tuples(st.sampled_from(_SYLLABLES), st.sampled_from(_BREAKS)), max_size=30
    ).map(lambda parts: "".join(w + b for w, b in parts)),
)
def test_compiled_scan_agrees_where_keys_overlap(terms: list[str], text: str) -> None:
    cfg = config(f"watchlists: {{w: {{any: {json.dumps(terms)}}}}}")
    compiled = compile_matcher(cfg, Inflector(compute=False), compiled=True)
    pure = compile_matcher(cfg, Inflector(compute=False), compiled=False)
    article = Article(feed_id="t", key="k", title=text, summary=text[::-1], content=text)
    assert compiled.explain(article) == pure.explain(article)


def test_a_stale_build_is_not_used_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An update without a reinstall leaves an extension built from older source: its
    interface may differ, so it is not used, and the log says how to rebuild it."""
    from monitor import _speedups  # type: ignore[attr-defined]

    monkeypatch.setattr(_speedups, "VERSION", speedups.VERSION - 1)  # the one fault
    speedups.built.cache_clear()
    try:
        with caplog.at_level("WARNING", logger="monitor.speedups"):
            assert speedups.built() is None
        assert "setup.py build_ext --inplace" in caplog.text
        assert str(speedups.VERSION - 1) in caplog.text
    finally:
        monkeypatch.undo()
        speedups.built.cache_clear()
    assert speedups.built() is _speedups
