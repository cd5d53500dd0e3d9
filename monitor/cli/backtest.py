"""``monitor backtest NEW_KEYWORDS.yaml``: what a watchlist edit would change, before deploying."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any


def register(sub: Any) -> None:
    from monitor.cli import add_config_args, add_database_arg

    p = sub.add_parser(
        "backtest",
        help="replay stored articles under current and proposed watchlists",
        description="Match the articles stored in the last --since (default 14d) with the "
        "current keywords.yaml and with NEW_KEYWORDS, and list per watchlist the matches "
        "gained and lost. Nothing is sent or written.",
    )
    add_config_args(p)
    add_database_arg(p)
    p.add_argument("new_keywords", metavar="NEW_KEYWORDS.yaml")
    p.add_argument("--since", default="14d", help="how far back (a duration like 14d)")
    p.add_argument("--limit", type=int, default=10, help="example titles per list")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_backtest)


def cmd_backtest(args: argparse.Namespace) -> int:
    from monitor.config.durations import parse_duration
    from monitor.config.keywords import load_keywords
    from monitor.match import backtest, compile_matcher
    from monitor.store import Store

    try:
        since = datetime.now(UTC) - parse_duration(args.since)
    except ValueError as exc:
        print(f"monitor: --since: {exc}")
        return 2
    current = compile_matcher(load_keywords(args.keywords))
    proposed = compile_matcher(load_keywords(args.new_keywords))
    with Store(args.state, database_url=args.database) as store:
        articles = [s.article for s in store.iter_articles(since) if not s.pruned]
    report = backtest(current, proposed, articles)
    if args.json:
        print(
            json.dumps(
                {
                    "articles": report.articles,
                    "watchlists": [
                        {
                            "watchlist": d.watchlist,
                            "status": d.status,
                            "kept": d.kept,
                            "gained": [
                                {
                                    "title": c.article.title,
                                    "url": c.article.url,
                                    "feed": c.article.feed_id,
                                }
                                for c in d.gained
                            ],
                            "lost": [
                                {
                                    "title": c.article.title,
                                    "url": c.article.url,
                                    "feed": c.article.feed_id,
                                }
                                for c in d.lost
                            ],
                        }
                        for d in report.watchlists
                    ],
                },
                ensure_ascii=False,
            )
        )
        return 0
    print(report.render(limit=args.limit))
    if not report.changed:
        print("no watchlist changes its matches")
    return 0
