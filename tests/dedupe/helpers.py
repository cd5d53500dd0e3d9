"""Shared helpers of the dedupe tests: articles, the labelled pairs, a story index on disk."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from monitor.dedupe import Settings, StoryAssignment, StoryIndex
from monitor.models import Article
from monitor.store import Store
from tests.support.engines import engine_url

DATA = Path(__file__).parents[1] / "data" / "dedupe"
NOW = datetime(2023, 12, 8, 23, 0, tzinfo=UTC)


def article(title: str, text: str, feed: str = "feed", url: str | None = None) -> Article:
    return Article(
        feed_id=feed, key=f"k:{title}", title=title, summary=text, url=url, canonical_url=url
    )


@cache
def pairs() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / "pairs.json").read_text(encoding="utf-8"))
    return data


def doc_article(doc_id: str) -> tuple[Article, datetime]:
    d = pairs()["docs"][doc_id]
    return (
        article(d["title"], d["text"], d["feed"], d["url"] or None),
        datetime.fromisoformat(d["published"]),
    )


def seed_text() -> str:
    return (DATA / "seed-spun-politico-2022.txt").read_text(encoding="utf-8")


class Stories:
    """A real state directory with a story index, fed one article at a time."""

    def __init__(self, path: Path, settings: Settings | None = None) -> None:
        self.path = path
        self.settings = settings
        self.store = Store(path, database_url=engine_url())
        self.index = StoryIndex(settings)
        self.next_id = 1

    def add(self, art: Article, now: datetime = NOW) -> StoryAssignment:
        with self.store.story_rows() as rows:
            result = self.index.assign(rows, self.next_id, art, now)
        self.next_id += 1
        return result

    def reopen(self) -> None:
        """Close and open the state directory: a restart."""
        self.store.close()
        self.store = Store(self.path, database_url=engine_url())
        self.index = StoryIndex(self.settings)

    def story_of(self, article_id: int) -> int:
        row = self.store.conn.execute(
            "SELECT story_id FROM story_articles WHERE article_id = ?", (article_id,)
        ).fetchone()
        return int(row[0])

    def close(self) -> None:
        self.store.close()


@contextmanager
def stories(path: Path, settings: Settings | None = None) -> Iterator[Stories]:
    s = Stories(path, settings)
    try:
        yield s
    finally:
        s.close()
