"""Alerts and digests for the Telegram render and delivery tests.

Golden inputs are JSON files (``tests/data/render/telegram/*.json``) so that input and
expected output sit side by side.  In titles and snippets, ``[[...]]`` marks a hit::

    {"kind": "alert", "now": "2026-11-29T15:00:00Z", "timezone": "Europe/Brussels",
     "target": "@eu_ai_watch",
     "items": [{"id": 1, "title": "Deal on the [[AI Act]]", "url": "https://...",
                "source": "Euractiv", "published": "2026-11-29T13:05:00Z",
                "watchlists": ["AI Act"], "snippets": ["... the [[AI Act]] ..."],
                "also": ["EUobserver"], "repeat": 3}]}

``repeat: N`` makes N copies with ``{n}`` in any string replaced by 1..N and ids counted
up.  A digest has ``"sections": [{"watchlist", "title", "items": [...]}]`` and
``period_end`` instead of ``items`` and ``now``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from monitor.models import (
    Alert,
    AlertItem,
    Article,
    Digest,
    DigestSection,
    Hit,
    Match,
    Snippet,
    Target,
)

_MARK = re.compile(r"\[\[(.+?)\]\]", re.DOTALL)


def marked(text: str) -> tuple[str, tuple[tuple[int, int], ...]]:
    """``"a [[b]] c"`` -> ``("a b c", ((2, 3),))``."""
    out: list[str] = []
    marks: list[tuple[int, int]] = []
    pos = 0
    size = 0
    for m in _MARK.finditer(text):
        out.append(text[pos : m.start()])
        size += m.start() - pos
        out.append(m.group(1))
        marks.append((size, size + len(m.group(1))))
        size += len(m.group(1))
        pos = m.end()
    out.append(text[pos:])
    return "".join(out), tuple(marks)


def target(address: str = "@eu_ai_watch", destination: str = "eu-channel") -> Target:
    return Target(destination=destination, channel="telegram", address=address)


def item(
    outbox_id: int,
    title: str,
    *,
    url: str | None = "https://www.euractiv.com/section/tech/news/x/",
    source: str = "Euractiv",
    published: datetime | None = None,
    watchlists: tuple[str, ...] = ("AI Act",),
    snippets: tuple[str, ...] = (),
    summary: str = "",
    also: tuple[str, ...] = (),
) -> AlertItem:
    """An alert item; ``[[...]]`` in ``title`` and ``snippets`` marks the hits."""
    plain_title, title_marks = marked(title)
    hits: list[Hit] = []
    for start, end in title_marks:
        hits.append(
            Hit(
                plain_title[start:end],
                plain_title[start:end],
                "title",
                start,
                end,
                Snippet(plain_title, ((start, end),)),
            )
        )
    for raw in snippets:
        text, marks = marked(raw)
        first = marks[0] if marks else (0, 0)
        hits.append(
            Hit(
                text[first[0] : first[1]],
                text[first[0] : first[1]],
                "summary",
                first[0],
                first[1],
                Snippet(text, marks),
            )
        )
    article = Article(
        feed_id=source.lower().replace(" ", "-"),
        key=f"guid:{outbox_id}",
        title=plain_title,
        url=url,
        summary=summary,
        published=published,
    )
    matches = tuple(Match(w.lower().replace(" ", "-"), 1.0, tuple(hits)) for w in watchlists)
    return AlertItem(outbox_id, article, source, matches, watchlists, also)


@dataclass(frozen=True)
class Case:
    """A golden input: an alert (with ``now``) or a digest, and maybe ``edit_of``."""

    alert: Alert | None
    digest: Digest | None
    now: datetime
    edit_of: str | None = None


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _items(raw: list[dict[str, Any]], first_id: int) -> list[AlertItem]:
    out: list[AlertItem] = []
    next_id = first_id
    for spec in raw:
        for n in range(1, int(spec.get("repeat", 1)) + 1):

            def sub(value: str, n: int = n) -> str:
                return value.replace("{n}", str(n))

            out.append(
                item(
                    int(spec["id"]) if "id" in spec and "repeat" not in spec else next_id,
                    sub(spec["title"]),
                    url=sub(spec["url"]) if spec.get("url") else None,
                    source=spec.get("source", "Euractiv"),
                    published=_when(sub(spec["published"]) if spec.get("published") else None),
                    watchlists=tuple(spec.get("watchlists", ["AI Act"])),
                    snippets=tuple(sub(s) for s in spec.get("snippets", [])),
                    summary=sub(spec.get("summary", "")),
                    also=tuple(spec.get("also", [])),
                )
            )
            next_id = out[-1].outbox_id + 1
    return out


def load_case(path: Path) -> Case:
    spec = json.loads(path.read_text(encoding="utf-8"))
    tgt = target(spec.get("target", "@eu_ai_watch"))
    zone = spec.get("timezone", "Europe/Brussels")
    if spec["kind"] == "digest":
        sections = []
        next_id = 1
        for section in spec["sections"]:
            items = _items(section["items"], next_id)
            next_id = max((i.outbox_id for i in items), default=next_id) + 1
            sections.append(DigestSection(section["watchlist"], section["title"], tuple(items)))
        end = datetime.fromisoformat(spec["period_end"])
        start = _when(spec.get("period_start"))
        digest = Digest(tgt, zone, end, tuple(sections), period_start=start)
        return Case(None, digest, end)
    alert = Alert(tgt, tuple(_items(spec["items"], 1)), timezone=zone)
    return Case(alert, None, datetime.fromisoformat(spec["now"]), spec.get("edit_of"))


def burst(count: int, *, address: str = "@eu_ai_watch") -> Alert:
    """``count`` realistic items for one channel, as one poll of a busy feed finds them."""
    items = tuple(
        item(
            n,
            f"Council and Parliament clash over the [[AI Act]] timeline, round {n}",
            url=f"https://www.euractiv.com/section/tech/news/ai-act-{n}/",
            published=datetime.fromisoformat(f"2026-11-29T{8 + n % 10:02d}:{n % 60:02d}:00+00:00"),
            watchlists=("AI Act", "Platform work") if n % 3 == 0 else ("AI Act",),
            snippets=(
                f"… negotiators said the [[AI Act]] provisions on general-purpose models "
                f"(item {n}) would apply from August, after a long night of talks in "
                f"Brussels that also touched the DSA and the Data Act …",
            ),
        )
        for n in range(1, count + 1)
    )
    return Alert(target(address), items)
