"""A destination's own alert layout: a Jinja2 template rendered in a sandbox.

The template renders one article of an alert.  Its variables (documented in
docs/keywords.md) are plain values; every string is escaped for Telegram's HTML
(autoescape), except ``title_html`` and ``snippets``, which already hold escaped text
with the hits in ``<b>``.  Undefined names are errors (``StrictUndefined``), and the
sandbox keeps a template from reaching anything but its variables.

:func:`check_template` runs at configuration load on sample values, so that a syntax
error, an unknown variable or a tag Telegram does not accept is reported with its line
before any alert is due.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import TracebackType
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

TEMPLATE_NAME = "<template>"
TEMPLATE_CHARS = 2000
"""Longest template source: what it adds to each article must leave room for the article."""
FIXED_CHARS = 1000
"""Most characters a template may show around short sample values."""
VARIABLES = (
    "title",
    "title_html",
    "url",
    "source",
    "published",
    "watchlists",
    "snippets",
    "summary",
    "also",
    "hashtags",
    "terms",
    "more_hits",
    "prominence",
)
# Telegram's HTML subset (https://core.telegram.org/bots/api#html-style).
TELEGRAM_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre", "span"}
    | {"tg-spoiler", "tg-emoji", "blockquote"}
)
_TAG = re.compile(r"</?\s*([A-Za-z][A-Za-z0-9-]*)")
_MARKUP = re.compile(r"<[^>]*>")


@dataclass(frozen=True, slots=True)
class TemplateProblem:
    """What is wrong with a template, and on which of its lines (1-based)."""

    line: int
    message: str


@lru_cache(maxsize=64)
def compile_template(source: str) -> Template:
    """The template, compiled once per source text.

    Raises:
        jinja2.TemplateSyntaxError: the source is not a valid template.
    """
    env = SandboxedEnvironment(
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    return env.from_string(source, template_class=Template)


def render(source: str, variables: Mapping[str, Any]) -> str:
    """The template's Telegram HTML for one article.

    Raises:
        jinja2.TemplateError: the template failed (checked at load, so a bug or a value
            of a shape the check did not see).
    """
    return compile_template(source).render(**variables).strip()


def shown_text(markup: str) -> str:
    """What Telegram shows for ``markup``: tags dropped, entities decoded."""
    return html.unescape(_MARKUP.sub("", markup))


def markup(text: str, spans: list[tuple[int, int]]) -> Markup:
    """``text`` escaped, with ``spans`` in ``<b>`` (spans sorted, not overlapping)."""
    out, pos = [], 0
    for start, end in spans:
        out.append(str(escape(text[pos:start])))
        out.append(f"<b>{escape(text[start:end])}</b>")
        pos = end
    out.append(str(escape(text[pos:])))
    return Markup("".join(out))


SAMPLE: Mapping[str, Any] = {
    "title": "Deal on the AI Act",
    "title_html": Markup("Deal on the <b>AI Act</b>"),
    "url": "https://example.eu/news/1",
    "source": "Euractiv",
    "published": "14:05 CET",
    "watchlists": ["EU AI Act"],
    "snippets": [Markup("… the <b>AI Act</b> …")],
    "summary": "Negotiators agreed on the AI Act.",
    "also": ["EUobserver"],
    "hashtags": "#AIAct",
    "terms": ["AI Act"],
    "more_hits": "and 24,990 more hits",
    "prominence": "main topic",
}


def check_template(source: str) -> list[TemplateProblem]:
    """Every problem found by compiling ``source`` and rendering it on sample values."""
    if len(source) > TEMPLATE_CHARS:
        return [TemplateProblem(1, f"the template is longer than {TEMPLATE_CHARS} characters")]
    try:
        template = compile_template(source)
    except TemplateSyntaxError as exc:
        return [TemplateProblem(exc.lineno or 1, _lower(exc.message or "invalid syntax"))]
    try:
        out = template.render(**SAMPLE)
    except TemplateError as exc:
        return [TemplateProblem(_template_line(exc.__traceback__), _lower(str(exc)))]
    except Exception as exc:  # a filter given the wrong type, a division by zero, ...
        message = f"{type(exc).__name__}: {exc}"
        return [TemplateProblem(_template_line(exc.__traceback__), _lower(message))]
    problems = []
    for tag in sorted({m.group(1).lower() for m in _TAG.finditer(out)} - TELEGRAM_TAGS):
        line = next((i for i, text in enumerate(source.splitlines(), 1) if f"<{tag}" in text), 1)
        problems.append(
            TemplateProblem(line, f"<{tag}> is not in Telegram's HTML (use b, i, u, s, a, code)")
        )
    if not shown_text(out).strip():
        problems.append(TemplateProblem(1, "the template renders nothing"))
    elif len(shown_text(out)) > FIXED_CHARS + sum(len(str(v)) for v in SAMPLE.values()):
        problems.append(TemplateProblem(1, f"the template adds more than {FIXED_CHARS} characters"))
    return problems


def _template_line(tb: TracebackType | None) -> int:
    """The line of the template where rendering failed (Jinja2 rewrites tracebacks so
    that template frames carry the template's own line numbers)."""
    line = 1
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == TEMPLATE_NAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _lower(text: str) -> str:
    return text[:1].lower() + text[1:]
