"""``monitor stories``: the stories of the last days, with their articles and sources."""

from __future__ import annotations

import argparse
import json
import os
from datetime import UTC, datetime
from typing import Any

from monitor.errors import ConfigError


def register(sub: Any) -> None:
    from monitor.cli import add_config_args, add_database_arg

    p = sub.add_parser(
        "stories",
        help="list recent stories: copies and coverage of one event grouped",
        description="List the stories seen since --since, newest first: each with its "
        "articles (the first, copies of it, other outlets' coverage of the same event) and "
        'its sources. --json prints {"stories": [{"id", "title", "first_seen", "sources", '
        '"articles": [{"id", "feed", "title", "url", "published", "relation"}]}]} with '
        'relation one of "first", "copy", "same-story".',
    )
    add_config_args(p)
    add_database_arg(p)
    p.add_argument(
        "--since", default="2d", metavar="DURATION", help="how far back (e.g. 12h, 2d; default 2d)"
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument(
        "--all",
        action="store_true",
        help="text output: also list stories of a single article (--json always lists them)",
    )
    p.set_defaults(func=cmd_stories)


def cmd_stories(args: argparse.Namespace) -> int:
    from monitor.config.durations import parse_duration
    from monitor.store import Store

    try:
        since = datetime.now(UTC) - parse_duration(args.since)
    except ValueError as exc:
        raise ConfigError(f"--since: {exc}") from exc
    labels = _feed_labels(args.feeds)
    store = Store(args.state, database_url=args.database)
    try:
        rows = store.stories_since(since)
    finally:
        store.close()
    stories = [
        story_json(row, labels) for row in rows if args.all or args.json or len(row.members) > 1
    ]
    if args.json:
        print(json.dumps({"stories": stories}, ensure_ascii=False, indent=1))
        return 0
    if not stories:
        print(f"no stories with more than one article since {since:%Y-%m-%d %H:%M} UTC")
        return 0
    singles = len(rows) - len(stories)
    for story in stories:
        print(f"[{story['id']}] {story['title']}")
        print(f"    first seen {story['first_seen']}; sources: {', '.join(story['sources'])}")
        for art in story["articles"]:
            print(f"    {art['relation']:<10} {art['feed']:<20} {art['title']}")
    if singles:
        print(f"(and {singles} stories of a single article; --all lists them)")
    return 0


def story_json(row: Any, labels: dict[str, str]) -> dict[str, Any]:
    """One story as the ``--json`` output shows it (``row`` is a ``StoryRow``)."""
    articles = [
        {
            "id": m.article_id,
            "feed": m.feed_id,
            "title": m.title,
            "url": m.url,
            "published": m.published.isoformat() if m.published else None,
            "relation": m.relation,
        }
        for m in row.members
    ]
    sources = list(dict.fromkeys(labels.get(m.feed_id, m.feed_id) for m in row.members))
    return {
        "id": row.id,
        "title": row.title,
        "first_seen": row.first_seen.isoformat(),
        "sources": sources,
        "articles": articles,
    }


def _feed_labels(path: str) -> dict[str, str]:
    # Sources are shown by the feed's display name when feeds.yaml is at hand; the
    # stories themselves do not need it.
    if not os.path.exists(path):
        return {}
    from monitor.config.feeds import load_feeds

    return {spec.id: spec.label for spec in load_feeds(path).feeds}
