"""What the pages show, from the store's values (pure): templates, filters, the charts.

Every template is autoescaped; the only markup built here (search and hit highlights,
charts) escapes feed text first and adds its own tags around it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from monitor.config.durations import format_duration
from monitor.models import Snippet
from monitor.service.health import MIN_SILENCE, SILENCE_FACTOR
from monitor.store.dashboard import MARK_END, MARK_START, ArticleQuery, FeedHealth, Trends

TEMPLATES = Path(__file__).parent / "templates"
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
MAX_SERIES = len(PALETTE)


class BadRequest(ValueError):
    """A query parameter the page cannot use (answered 400 with this message)."""


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["search_marks"] = search_marks
    env.filters["snippet"] = snippet_html
    env.filters["when"] = when
    env.filters["ago"] = ago
    env.filters["sparkline"] = sparkline
    env.filters["pyid"] = id  # the lab maps the report's articles back to database ids
    return env


def render(template: str, **context: Any) -> str:
    context.setdefault("request_path", "")
    context.setdefault("login", False)
    return environment().get_template(template).render(**context)


def search_marks(text: str | None) -> Markup:
    """An FTS extract with each hit in ``<mark>``; the text itself escaped."""
    if not text:
        return Markup("")
    safe = str(escape(text))
    return Markup(safe.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>"))


def snippet_html(snippet: Snippet) -> Markup:
    """A hit's snippet with the matched spans in ``<mark>``."""
    out, at = [], 0
    for start, end in sorted(snippet.marks):
        if start < at:
            continue
        out.append(str(escape(snippet.text[at:start])))
        out.append(f"<mark>{escape(snippet.text[start:end])}</mark>")
        at = end
    out.append(str(escape(snippet.text[at:])))
    return Markup("".join(out))


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "never"


def ago(value: datetime | None, now: datetime) -> str:
    if value is None:
        return "never"
    delta = now - value
    if delta < timedelta(0):
        return f"in {format_duration(-delta)}"
    return f"{format_duration(delta)} ago" if delta >= timedelta(minutes=1) else "just now"


def sparkline(counts: Sequence[int], width: int = 100, height: int = 20) -> str:
    """SVG polyline points for per-day counts."""
    top = max(max(counts, default=0), 1)
    step = width / max(len(counts) - 1, 1)
    return " ".join(
        f"{i * step:.1f},{height - 1 - (c / top) * (height - 2):.1f}" for i, c in enumerate(counts)
    )


# -- request parameters ---------------------------------------------------------------------


def int_param(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name, "")
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name}: {raw!r} is not a number") from None
    if not low <= value <= high:
        raise BadRequest(f"{name}: {value} is not between {low} and {high}")
    return value


def lab_fields(body: bytes, content_type: str) -> dict[str, str]:
    """The lab's fields (``yaml``, ``days``, ``explain``) from its form, or from the JSON
    object a script posts to ``/api/lab``.

    Raises:
        BadRequest: the JSON is not an object of those fields with string or number values.
    """
    text = body.decode("utf-8", "replace")
    if content_type.split(";")[0].strip().lower() != "application/json":
        return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"body: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise BadRequest('body: expected an object like {"yaml": "...", "days": 14}')
    fields = {}
    for key, value in data.items():
        if key not in ("yaml", "days", "explain"):
            raise BadRequest(f"{key}: unknown field (yaml, days, explain)")
        if key == "yaml" and not isinstance(value, str):
            raise BadRequest("yaml: expected the candidate keywords.yaml as a string")
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise BadRequest(f"{key}: {value!r} is not a number")
        fields[key] = str(value)
    return fields


def choice(params: Mapping[str, str], name: str, allowed: Sequence[str], default: str) -> str:
    raw = params.get(name) or default
    if raw not in allowed:
        raise BadRequest(f"{name}: {raw!r} is not one of {', '.join(allowed)}")
    return raw


def _date(params: Mapping[str, str], name: str) -> date | None:
    raw = params.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"{name}: {raw!r} is not a date (YYYY-MM-DD)") from None


def article_query(params: Mapping[str, str]) -> ArticleQuery:
    """``/articles`` parameters.

    Raises:
        BadRequest: a page number or date that cannot be read.
    """
    return ArticleQuery(
        q=params.get("q", "").strip()[:500],
        watchlist=params.get("watchlist", "").strip(),
        feed=params.get("feed", "").strip(),
        language=params.get("language", "").strip(),
        since=_date(params, "since"),
        until=_date(params, "until"),
        page=int_param(params, "page", 1, 1, 100_000),
    )


def safe_next(value: str | None) -> str:
    """Where to go after logging in: a path on this site only (never ``//host``)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


# -- feeds ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedStatus:
    feed: FeedHealth
    status: str
    """``ok``, ``failing``, ``silent`` or ``new`` (never polled)."""
    silent: str | None
    """Why the feed counts as silent: nothing new for longer than usual."""


def feed_status(feed: FeedHealth, now: datetime) -> FeedStatus:
    """The same rules as the daily health report (``monitor.service.health``)."""
    if feed.last_attempt is None:
        return FeedStatus(feed, "new", None)
    if feed.consecutive_failures:
        return FeedStatus(feed, "failing", None)
    if feed.articles_seen >= 3 and feed.created is not None and feed.last_new is not None:
        gap = (feed.last_new - feed.created) / max(feed.articles_seen - 1, 1)
        quiet = now - feed.last_new
        if quiet > max(MIN_SILENCE, gap * SILENCE_FACTOR):
            why = f"nothing new for {format_duration(quiet)} (usually every {format_duration(gap)})"
            return FeedStatus(feed, "silent", why)
    return FeedStatus(feed, "ok", None)


# -- charts (server-side SVG: no script, nothing to vendor) ---------------------------------


@dataclass(frozen=True)
class Line:
    name: str
    color: str
    points: str
    total: int


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    bottom: int
    top: int
    lines: tuple[Line, ...]
    y_ticks: tuple[tuple[float, int], ...]
    x_ticks: tuple[tuple[float, str], ...]
    hidden: int
    """Series left out (the chart shows the largest MAX_SERIES)."""


def chart(trends: Trends, width: int = 720, height: int = 260) -> Chart:
    left, bottom, top, right = 40, 24, 10, 10
    days = len(trends.days)
    shown = trends.series[:MAX_SERIES]
    peak = max((max(s.counts, default=0) for s in shown), default=0)
    peak = max(peak, 1)
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(days - 1, 1)

    def y(v: float) -> float:
        return top + plot_h - (v / peak) * plot_h

    lines = tuple(
        Line(
            s.name,
            PALETTE[i],
            " ".join(f"{left + d * step:.1f},{y(c):.1f}" for d, c in enumerate(s.counts)),
            s.total,
        )
        for i, s in enumerate(shown)
    )
    marks = sorted({0, peak // 2, peak}) if peak > 1 else [0, 1]
    every = max(1, days // 6)
    x_ticks = tuple(
        (left + d * step, trends.days[d].strftime("%d %b")) for d in range(0, days, every)
    )
    return Chart(
        width=width,
        height=height,
        left=left,
        bottom=height - bottom,
        top=top,
        lines=lines,
        y_ticks=tuple((y(v), v) for v in marks),
        x_ticks=x_ticks,
        hidden=max(0, len(trends.series) - MAX_SERIES),
    )
