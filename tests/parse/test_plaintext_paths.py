"""html_to_text's fast path for simple feed HTML gives exactly what lexbor gives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.plaintext import html_to_text, lexbor_text

TAGS = [
    "p",
    "b",
    "i",
    "em",
    "strong",
    "a",
    "span",
    "br",
    "li",
    "ul",
    "h2",
    "figure",
    "figcaption",
    "img",
    "div",
    "blockquote",
    "table",
    "td",
    "script",
    "sup",
]
WORDS = [
    "AI",
    "Act",
    "facial",
    "recognition",
    "EDPB’s",
    "Zürich",
    "café",
    "&amp;",
    "&lt;",
    "&nbsp;",
    "&eacute;",
    "&#8217;",
    "&#x2014;",
    "5 < 6",
    "a&b",
    "\u00a0",
    "\t",
    "\n",
]


@st.composite
def markup(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 12))):
        kind = draw(st.integers(0, 3))
        if kind == 0:
            parts.append(draw(st.sampled_from(WORDS)))
        elif kind == 1:
            tag = draw(st.sampled_from(TAGS))
            attrs = draw(
                st.sampled_from(
                    [
                        "",
                        ' href="https://x.eu/facial-recognition"',
                        ' src="biometric.jpg" alt="face"',
                        ' class="x"',
                    ]
                )
            )
            parts.append(f"<{tag}{attrs}>")
        elif kind == 2:
            parts.append(f"</{draw(st.sampled_from(TAGS))}>")
        else:
            parts.append(" ")
    return "".join(parts)


@settings(max_examples=400, deadline=None)
@given(markup())
def test_fast_path_equals_lexbor(html: str) -> None:
    assert html_to_text(html) == lexbor_text(html)
