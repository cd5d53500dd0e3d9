"""Explanations as text (for a terminal, optionally coloured) and as JSON values."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from monitor.match.matcher import Explanation
from monitor.models import FIELDS, Article, Hit

_RESET = "\x1b[0m"
_STYLES = {
    "match": "\x1b[1;32m",
    "miss": "\x1b[2m",
    "fail": "\x1b[31m",
    "ok": "\x1b[32m",
    "hit": "\x1b[1;33m",
    "title": "\x1b[1m",
}


def explanation_text(
    article: Article, explanations: Sequence[Explanation], *, color: bool = False
) -> str:
    """A readable report: every watchlist, its checks, and each hit with its snippet."""

    def paint(style: str, text: str) -> str:
        return _paint(style, text, color)

    lines = [
        paint("title", f"Article: {article.title or '(no title)'}"),
        f"  id: {article.key}   language: {article.language or 'unknown'}   "
        + ", ".join(
            f"{name}: {len(article.text(name))} chars" for name in FIELDS if article.text(name)
        ),
    ]
    matched = sum(1 for e in explanations if e.matched)
    lines.append(f"  {matched} of {len(explanations)} watchlists match")
    for e in explanations:
        lines.append("")
        verdict = paint("match", "MATCH") if e.matched else paint("miss", "no   ")
        score = f"  (score {e.score:g})" if e.matched else ""
        lines.append(f"{verdict} {e.watchlist}: {e.title}{score}")
        for check in e.checks:
            mark = paint("ok", "ok  ") if check.ok else paint("fail", "FAIL")
            lines.append(f"  {mark} {check.kind}: {check.detail}")
        if e.prominence is not None:
            weight = e.prominence
            lines.append(
                f"  prominence {weight.score:g} ({weight.label}): {'; '.join(weight.reasons)}"
            )
        for hit in e.hits:
            lines.extend(_hit_lines(hit, color, "hit"))
        if len(e.hits) < e.hit_count:
            lines.append(f"    and {e.hit_count - len(e.hits):,} more hits")
        for hit in e.ignored:
            lines.extend(_hit_lines(hit, color, "ignored"))
        if len(e.ignored) < e.ignored_count:
            lines.append(f"    and {e.ignored_count - len(e.ignored):,} more ignored")
        for hit in e.unconfirmed:
            lines.extend(_hit_lines(hit, color, "unconfirmed"))
    return "\n".join(lines) + "\n\n"


def _paint(style: str, text: str, color: bool) -> str:
    return f"{_STYLES[style]}{text}{_RESET}" if color else text


def _hit_lines(hit: Hit, color: bool, kind: str) -> list[str]:
    open_, close = (_STYLES["hit"], _RESET) if color else ("[", "]")
    label = {
        "ignored": "ignored (inside an ignore: phrase)",
        "unconfirmed": "unconfirmed (ambiguous alias, no context: term near it)",
    }.get(kind, "hit")
    return [
        f"    {label} {hit.field}[{hit.start}:{hit.end}] {hit.text!r}  <- {hit.term}"
        + (f" ({_form(hit.form)})" if hit.form else "")
        + (f" (actor {hit.actor})" if hit.actor else ""),
        f"      {hit.snippet.marked(open_, close)}",
    ]


def _form(form: str) -> str:
    """``pl: rozpoznawaniem twarzy`` -> ``pl form 'rozpoznawaniem twarzy'``."""
    language, _, key = form.partition(": ")
    return f"{language} form {key!r}"


def explanation_json(article: Article, explanations: Sequence[Explanation]) -> dict[str, Any]:
    """The same report as plain JSON-ready values."""
    return {
        "id": article.key,
        "title": article.title,
        "language": article.language,
        "watchlists": [
            {
                "watchlist": e.watchlist,
                "title": e.title,
                "matched": e.matched,
                "score": e.score,
                "checks": [
                    {
                        "kind": c.kind,
                        "ok": c.ok,
                        "detail": c.detail,
                        "found": list(c.found),
                        "missing": list(c.missing),
                    }
                    for c in e.checks
                ],
                "hits": [_hit_json(h) for h in e.hits],
                "hit_count": e.hit_count,
                "ignored": [_hit_json(h) for h in e.ignored],
                "ignored_count": e.ignored_count,
                "unconfirmed": [_hit_json(h) for h in e.unconfirmed],
                "prominence": None
                if e.prominence is None
                else {
                    "score": e.prominence.score,
                    "label": e.prominence.label,
                    "reasons": list(e.prominence.reasons),
                },
            }
            for e in explanations
        ],
    }


def _hit_json(hit: Hit) -> dict[str, Any]:
    return {
        "term": hit.term,
        "text": hit.text,
        "field": hit.field,
        "start": hit.start,
        "end": hit.end,
        "actor": hit.actor,
        "form": hit.form,
        "snippet": hit.snippet.marked("[", "]"),
    }
