"""Golden tests: each feed under tests/data/parse/ sits beside its expected parse output.

A case file ``<name>.json`` names its input feed, the HTTP Content-Type, the configured
language, the feed URL and the poll time, and holds the expected ``ParsedFeed``.  Every
case must come out exactly the same from ``engine="auto"`` and from each engine listed
in ``engines``; where ``lxml`` is not listed, forcing it must refuse the body, so a feed
that silently moves from the fast engine to the fallback is caught.

After a deliberate change, rewrite the expectations and review the diff:
``MONITOR_REGEN_GOLDEN=1 .venv/bin/pytest tests/parse/test_parse_golden.py``.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.errors import ParseError
from monitor.models import Article, ParsedFeed
from monitor.parse import Engine, parse_feed

ROOT = Path(__file__).parent.parent / "data" / "parse"
CASES = sorted(ROOT.glob("*/*.json"))
REGEN = os.environ.get("MONITOR_REGEN_GOLDEN") == "1"


def article_json(a: Article) -> dict[str, Any]:
    return {
        "key": a.key,
        "title": a.title,
        "url": a.url,
        "canonical_url": a.canonical_url,
        "summary": a.summary,
        "content": a.content,
        "published": a.published.isoformat() if a.published else None,
        "date_from_feed": a.date_from_feed,
        "language": a.language,
        "authors": list(a.authors),
        "tags": list(a.tags),
    }


def feed_json(p: ParsedFeed) -> dict[str, Any]:
    return {
        "format": p.format,
        "title": p.title,
        "link": p.link,
        "language": p.language,
        "ttl_minutes": p.ttl.total_seconds() / 60 if p.ttl else None,
        "problems": list(p.problems),
        "articles": [article_json(a) for a in p.articles],
    }


def run(case: dict[str, Any], engine: Engine) -> dict[str, Any]:
    spec = case["input"]
    parsed = parse_feed(
        (ROOT / spec["file"]).read_bytes(),
        feed_id="golden",
        url=spec["url"],
        now=datetime.fromisoformat(spec["now"]),
        content_type=spec.get("content_type"),
        language=spec.get("language"),
        engine=engine,
    )
    assert all(a.feed_id == "golden" for a in parsed.articles)
    return feed_json(parsed)


def lxml_applies(case: dict[str, Any]) -> bool:
    try:
        run(case, "lxml")
    except ParseError:
        return False
    return True


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_golden(path: Path) -> None:
    case = json.loads(path.read_text(encoding="utf-8"))
    got = run(case, "auto")
    if REGEN:
        case["engines"] = ["lxml", "feedparser"] if lxml_applies(case) else ["feedparser"]
        case["expected"] = got
        path.write_text(json.dumps(case, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    assert got == case["expected"]
    for engine in ("lxml", "feedparser"):
        if engine in case["engines"]:
            assert run(case, engine) == case["expected"], f"engine {engine} differs"
    if "lxml" not in case["engines"]:
        with pytest.raises(ParseError):
            run(case, "lxml")


def test_every_feed_has_a_case_and_a_source_note() -> None:
    feeds = {p for p in ROOT.glob("*/*") if p.suffix not in (".json", ".md", ".txt")}
    named = {ROOT / json.loads(p.read_text(encoding="utf-8"))["input"]["file"] for p in CASES}
    assert feeds == named
    for folder in {p.parent for p in feeds}:
        assert (folder / "SOURCE.md").is_file()
