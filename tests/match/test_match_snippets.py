"""Snippets: a short field is one extract shared by all its hits; a long one is cut."""

from __future__ import annotations

from monitor.match.snippets import ELLIPSIS, make_snippet
from tests.match.helpers import article, matcher

SUMMARY = (
    "The European Data Protection Board said Dragoș Tudorache's proposals on live "
    "facial recognition must respect the GDPR & the Charter."
)
KEYWORDS = """
watchlists:
  edpb:
    any: [European Data Protection Board]
  frt:
    any: [facial recognition]
"""


def test_hits_in_a_short_summary_share_one_snippet_with_both_marked():
    matches = matcher(KEYWORDS).match(article(title="EDPB warns police", summary=SUMMARY))
    snippets = {h.snippet for m in matches for h in m.hits if h.field == "summary"}
    texts = {s.text for s in snippets}
    assert texts == {SUMMARY}  # the whole summary, no ellipsis, once
    marked = {SUMMARY[a:b] for s in snippets for a, b in s.marks}
    assert {"European Data Protection Board", "facial recognition"} <= marked


def test_a_long_text_is_cut_on_word_boundaries_around_the_hit():
    text = " ".join(["word"] * 100) + " facial recognition " + " ".join(["word"] * 100)
    start = text.index("facial")
    snip = make_snippet(text, start, start + len("facial recognition"))
    assert snip.text.startswith(ELLIPSIS)
    assert snip.text.endswith(ELLIPSIS)
    assert len(snip.text) < 200
    [(a, b)] = snip.marks
    assert snip.text[a:b] == "facial recognition"
    assert " word " in snip.text  # whole words only
