"""Record articles the way a poll does: prepare, snapshot, decide, apply."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from monitor.models import Article, NewArticle, ParsedFeed
from monitor.store import Store
from monitor.update import decide, prepare

if TYPE_CHECKING:
    from monitor.dedupe import StoryIndex


def record(
    store: Store,
    articles: Sequence[Article],
    now: datetime,
    *,
    feed_id: str | None = None,
    stories: StoryIndex | None = None,
) -> list[NewArticle]:
    """Store one poll's articles (no matcher, no routing); every new one joins a story
    when ``stories`` is given.  Returns the new articles with their ids."""
    feed = feed_id or articles[0].feed_id
    prepared = prepare(ParsedFeed(feed, tuple(articles)), None)
    intent = decide(
        prepared, store.snapshot(feed, prepared.identities), now, stories=lambda _: True
    )
    if stories is not None:
        with store.story_reader() as rows:
            plan = stories.plan(rows, [(n.article, n.fingerprint) for n in intent.new], now)
        intent = intent.with_stories(plan)
    new = store.apply(intent)
    if stories is not None:
        stories.file(plan, [n.id for n in new], now)
    return list(new)
