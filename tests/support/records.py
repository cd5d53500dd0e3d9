"""Record articles the way a poll does: prepare, snapshot, decide, apply."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from monitor.models import Article, NewArticle, ParsedFeed
from monitor.store import Store, StoryAssigner
from monitor.update import decide, prepare


def record(
    store: Store,
    articles: Sequence[Article],
    now: datetime,
    *,
    feed_id: str | None = None,
    stories: StoryAssigner | None = None,
) -> list[NewArticle]:
    """Store one poll's articles (no matcher, no routing); every new one joins a story
    when ``stories`` is given.  Returns the new articles with their ids."""
    feed = feed_id or articles[0].feed_id
    prepared = prepare(ParsedFeed(feed, tuple(articles)), None)
    intent = decide(
        prepared, store.snapshot(feed, prepared.identities), now, stories=lambda _: True
    )
    return list(store.apply(intent, stories))
