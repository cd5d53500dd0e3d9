"""HTML to plain text, shared by the parser (article text) and the matcher (raw input).

Only text nodes survive: a word that appears only inside a link URL, an image file name
or an attribute never reaches the matcher.  Block elements become a space; inline
elements do not split words ("ransom<b>ware</b>" stays one word).  Entities are
decoded, NBSP and every run of white space become one space.

Most feed HTML is a few paragraphs, links, images and emphasis.  For such markup the
HTML5 tree builder only nests elements and never moves text (no tables, no head
elements, no raw-text elements, no comments, no foreign content), so the visible text is
the text between the tags in order: a fast path splits the markup on its tags with one
regular expression and decodes the character references itself.  On the fixtures it
takes about 8 µs a summary, where lexbor takes 10 to 40 µs (building a document
allocates memory that the C allocator may hand back to the system after every parse).
Anything the fast path does not fully recognise goes to lexbor (``lexbor_text``), which
defines the result: both agree on every fixture and on generated markup.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html.entities import html5
from types import NotImplementedType

from monitor import speedups

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

# -- fast path ----------------------------------------------------------------------------
# Elements that the HTML5 "in body" insertion mode only opens, closes or reparents along
# the chain of open elements, so that the text keeps its document order: no table parts
# (foster parenting), no head elements, no raw-text or RCDATA elements, no <pre> (drops a
# newline), no form controls, no svg/math.  The value is the text a tag leaves: a space
# where ``_BLOCK`` puts one, else nothing.
_BLOCK_NAMES = (
    "address article aside audio blockquote br dd details div dl dt figcaption figure footer "
    "h1 h2 h3 h4 h5 h6 header hr img li main nav ol p section summary ul video"
)
_INLINE_NAMES = (
    "a abbr b bdi bdo cite code data del dfn em i ins kbd mark q s samp small source span "
    "strong sub sup time track u var wbr"
)
_TAG_TEXT = {
    f"{slash}{name}": text
    for names, text in ((_BLOCK_NAMES, " "), (_INLINE_NAMES, ""))
    for name in names.split()
    for slash in ("", "/")
}
_HTML_SPACE = "[\t\n\f\r ]"
_ATTRIBUTE = (
    rf"{_HTML_SPACE}++[a-zA-Z_:][-a-zA-Z0-9_:.]*+"
    rf"(?:{_HTML_SPACE}*+={_HTML_SPACE}*+(?:\"[^\"]*+\"|'[^']*+'|[^\t\n\f\r \"'=<>`]++))?+"
)
# A start or end tag with its attributes; the group is "/"? and the name, in ASCII as the
# tokenizer reads it.  Possessive throughout: a failed tag never backtracks.
_TAG = re.compile(
    rf"<(/?[a-zA-Z][a-zA-Z0-9]*+)(?=[\t\n\f\r />])(?:{_ATTRIBUTE})*+{_HTML_SPACE}*+/?>"
)
# A character reference (groups 1-3), or a bare "&".
_REFERENCE = re.compile(
    r"&(?:([a-zA-Z][a-zA-Z0-9]{0,31});|#([0-9]{1,7});|#[xX]([0-9a-fA-F]{1,6});)?"
)
# A tag cut off by the end of the input ("<" and a letter, no ">" after it, quoted or not)
# is dropped by the tokenizer (summaries are often cut in the middle of a link).
_CUT_TAG = re.compile(r"</?[a-zA-Z][^>]*\Z")
_SPACE_RUNS = re.compile("  +")
_SURROGATE = re.compile("[\ud800-\udfff]")  # lost when the parser's input is encoded


class _Unsure(Exception):
    """Markup that the fast path leaves to lexbor."""


def _plain_code_point(code: int) -> bool:
    # Numeric references that the tokenizer passes through unchanged: no NUL, controls,
    # C1 remapping, surrogates, noncharacters or out-of-range values.
    if code < 0xA0:
        return 0x20 <= code < 0x7F or code in (0x09, 0x0A, 0x0C)
    if 0xD800 <= code <= 0xDFFF or 0xFDD0 <= code <= 0xFDEF or code > 0x10FFFF:
        return False
    return code & 0xFFFE != 0xFFFE


def _reference(match: re.Match[str]) -> str:
    kind = match.lastindex
    if kind == 1:
        value = html5.get(match.group(1) + ";")
        if value is None:
            raise _Unsure  # maybe a legacy prefix ("&notit;" is "¬it;")
        return value
    if kind is not None:
        code = int(match.group(2), 10) if kind == 2 else int(match.group(3), 16)
        if not _plain_code_point(code):
            raise _Unsure
        return chr(code)
    # A bare "&" is text, unless a letter, digit or "#" follows (a reference without ";").
    following = match.string[match.end() : match.end() + 1]
    if following.isascii() and (following.isalnum() or following == "#"):
        raise _Unsure
    return "&"


def _strip(html: str) -> str | None:
    # [text, tag, text, tag, ..., text]: each tag becomes the text it leaves.
    parts = _TAG.split(html)
    names = parts[1::2]
    texts = list(map(_TAG_TEXT.get, names))
    if None in texts:
        texts = list(map(_TAG_TEXT.get, map(str.lower, names)))
        if None in texts:
            return None  # an element that may move or hide text
    parts[1::2] = texts
    text = "".join(parts)
    if "<" in text:
        return None
    if "&" in text:
        # References are read in the text between the tags, not across them.
        try:
            parts[::2] = [
                _REFERENCE.sub(_reference, part) if "&" in part else part for part in parts[::2]
            ]
        except _Unsure:
            return None
        text = "".join(parts)
    return text


def _fast_text(html: str) -> str | None:
    """The text of ``html`` before white space is collapsed, or None if unsure."""
    if "\x00" in html:
        return None  # dropped by the tree builder
    text = _strip(html)
    if text is None:
        cut = html.find("<", html.rfind(">") + 1)
        if cut == -1 or not _CUT_TAG.match(html, cut):
            return None  # another element, a comment, a literal "<": lexbor decides
        text = _strip(html[:cut])
        if text is None:
            return None
        if _BLOCK.match(html, cut):
            text += " "
    return text


def collapse_space(text: str) -> str:
    """Collapse every run of white space (NBSP included) into one space and strip."""
    if text.isprintable():  # most titles: see _collapse_printable
        return _SPACE_RUNS.sub(" ", text).strip(" ") if "  " in text else text.strip(" ")
    collapsed = _collapse_printable(text)
    # str.split() splits on exactly the characters str.isspace() accepts: NBSP, the
    # U+2000 block, U+2028/9, U+202F, U+205F and U+3000 included.
    return " ".join(text.split()) if collapsed is None else collapsed


def _collapse_printable(text: str) -> str | None:
    """``collapse_space(text)`` if ``text`` is printable but for line breaks and tabs.

    In printable text the only white space is " " (every other one is a control or a
    separator), and shrinking its runs is about twice as fast as splitting into words
    and joining them.  None: the text holds other white space or unprintable characters.
    """
    if not text.isprintable():
        text = text.replace("\n", " ").replace("\t", " ")  # HTML source line breaks
        if not text.isprintable():
            return None
    if "  " in text:
        text = _SPACE_RUNS.sub(" ", text)
    return text.strip(" ")


def html_to_text(html: str) -> str:
    """Return the visible text of an HTML fragment, whitespace collapsed.

    Plain text without ``<`` or ``&`` is returned with white space collapsed only.
    """
    if _FAST is not None:
        # The compiled fast path (monitor/_speedups.pyx): the same text, or NotImplemented.
        text = _FAST(html, _TAG_TEXT, html5)
        if not isinstance(text, NotImplementedType):
            return text
    return pure_html_to_text(html)


def pure_html_to_text(html: str) -> str:
    """``html_to_text`` in Python alone: what the compiled path must agree with."""
    if not html:
        return ""
    if "<" not in html and "&" not in html:
        return collapse_space(html)
    text = _fast_text(html)
    if text is not None:
        collapsed = _collapse_printable(text)
        if collapsed is not None:
            return collapsed
        # A lone surrogate (only a JSON input can hold one; it is not printable) is lost
        # when lexbor's input is encoded: leave it to lexbor.
        if not _SURROGATE.search(text):
            return " ".join(text.split())
    return lexbor_text(html)


def _compiled() -> Callable[[str, dict[str, str], dict[str, str]], str | NotImplementedType] | None:
    fast = speedups.module()
    return None if fast is None else fast.html_to_text


_FAST = _compiled()


def lexbor_text(html: str) -> str:
    """``html_to_text`` by lexbor's HTML5 tree builder alone: the reference of the fast path."""
    # Imported here: the state package imports this module (monitor.identity), and a
    # cron `monitor poll` with nothing due parses no HTML (issue 15).
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(_BLOCK.sub(" <", html))
    if _INVISIBLE.search(html):
        for node in tree.css("script, style, noscript, template"):
            node.decompose()
    body = tree.body
    text = body.text(deep=True, separator="", strip=False) if body is not None else ""
    if not text and tree.head is not None:
        text = tree.head.text(deep=True, separator="", strip=False)
    return collapse_space(text)
