"""HTML to plain text, shared by the parser (article text) and the matcher (raw input).

Only text nodes survive: a word that appears only inside a link URL, an image file name
or an attribute never reaches the matcher.  Block elements become a space; inline
elements do not split words ("ransom<b>ware</b>" stays one word).  Entities are
decoded, NBSP and every run of white space become one space.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser

# A space goes in front of every block tag, opening or closing.  A lookahead that
# inserts a constant is about three times faster than a group-substituting template,
# and the parser hits this for every summary of every feed.
_BLOCK = re.compile(
    r"<(?=/?(?:p|div|br|hr|li|ul|ol|dl|dt|dd|h[1-6]|tr|td|th|table|thead|tbody|tfoot|"
    r"blockquote|pre|section|article|header|footer|aside|nav|figure|figcaption|"
    r"address|main|details|summary|caption|option|img|iframe|video|audio)\b)",
    re.IGNORECASE,
)
_INVISIBLE = re.compile(r"<(?:script|style|noscript|template)\b", re.IGNORECASE)
_MARKUP = re.compile(r"[<&]")


def collapse_space(text: str) -> str:
    """Collapse every run of white space (NBSP included) into one space and strip."""
    # str.split() splits on exactly the characters str.isspace() accepts: NBSP, the
    # U+2000 block, U+2028/9, U+202F, U+205F and U+3000 included.
    return " ".join(text.split())


def html_to_text(html: str) -> str:
    """Return the visible text of an HTML fragment, whitespace collapsed.

    Plain text without ``<`` or ``&`` is returned with white space collapsed only.
    """
    if not html:
        return ""
    if not _MARKUP.search(html):
        return collapse_space(html)
    tree = LexborHTMLParser(_BLOCK.sub(" <", html))
    if _INVISIBLE.search(html):
        for node in tree.css("script, style, noscript, template"):
            node.decompose()
    body = tree.body
    text = body.text(deep=True, separator="", strip=False) if body is not None else ""
    if not text and tree.head is not None:
        text = tree.head.text(deep=True, separator="", strip=False)
    return collapse_space(text)
