"""Text constructs from lxml elements, read the way feedparser reads them.

An RSS or Atom text field is plain text, escaped HTML, or inline (X)HTML elements; Atom
also has base64 for any other type (and Atom 0.3 a ``mode`` attribute).  feedparser
re-serialises inline elements: in an XHTML field text stays escaped ("&lt;blink&gt;" is a
word), in any other field child elements are markup and their text is taken as it is.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from lxml import etree

from monitor.parse.compat import (
    base64_or_same,
    base64_text,
    content_type,
    fix_text,
    looks_like_html,
    text_kind,
)
from monitor.parse.raw import RawText

XHTML = "{http://www.w3.org/1999/xhtml}"
_QUOTE = {'"': "&quot;"}


def _raw(el: etree._Element) -> str:
    """The element's content as feedparser sees it in an HTML or text field: text nodes as
    they are (unescaped), child elements as tags, so "&lt;b&gt;" in a child is markup."""
    if len(el) == 0:
        return el.text or ""
    parts = [el.text or ""]
    for child in el:
        _html(child, parts)
    return "".join(parts)


def _html(el: etree._Element, parts: list[str]) -> None:
    tag = el.tag
    if type(tag) is str:
        name = tag.rpartition("}")[2]
        attrs = "".join(
            f' {str(k).rpartition("}")[2]}="{escape(str(v), _QUOTE)}"' for k, v in el.attrib.items()
        )
        parts.append(f"<{name}{attrs}>")
        parts.append(el.text or "")
        for child in el:
            _html(child, parts)
        parts.append(f"</{name}>")
    parts.append(el.tail or "")


def _xhtml(el: etree._Element) -> str:
    """The content of an XHTML element: text escaped, so "&lt;blink&gt;" stays text."""
    parts = [escape(el.text or "")]
    parts.extend(_markup(child, tail=True) for child in el)
    return "".join(parts)


def text_construct(el: etree._Element, default: str, guess: bool) -> RawText | None:
    """A text construct as feedparser reads it; None for a type that is not text.

    ``default`` is the type when the element gives none; ``guess``: RSS gives no type,
    so markup is guessed on strong evidence (``compat.looks_like_html``).
    """
    mime = content_type(el.get("type"), default)
    html = text_kind(mime)
    if el.get("src") is not None:
        return None
    if el.get("mode") == "base64" and len(el) == 0 and html is not None:
        # Atom 0.3: the type says what the decoded text is; feedparser keeps a value
        # that does not decode as it is.
        value = fix_text(base64_or_same(el.text or "").strip())
        return RawText(value, html or (guess and looks_like_html(value)))
    if html is None:
        # Atom: any other type is base64 (RFC 4287 4.1.3.3); text is kept when it is text.
        text = base64_text(simple_text(el)) if len(el) == 0 else None
        return None if text is None else RawText(text, False)
    if mime == "application/xhtml+xml" and len(el):
        value = escape(el.text or "") + "".join(
            _xhtml(child) if child.tag == XHTML + "div" else _markup(child, tail=True)
            for child in el
        )
    else:
        value = _raw(el)
        # Child elements in a text field: feedparser takes them as (X)HTML markup.
        html = html or len(el) > 0
    value = fix_text(value.strip())
    if guess and not html and looks_like_html(value):
        html = True
    return RawText(value, html)


def _markup(el: etree._Element, *, tail: bool) -> str:
    return str(etree.tostring(el, encoding="unicode", with_tail=tail))


def simple_text(el: etree._Element) -> str:
    """The element's text (its descendants' text too), stripped and repaired."""
    text = el.text if len(el) == 0 else "".join(str(t) for t in el.itertext())
    return fix_text(text.strip()) if text else ""
