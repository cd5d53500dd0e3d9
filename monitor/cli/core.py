"""``monitor check``, ``monitor poll``, ``monitor feeds``."""

from __future__ import annotations

import argparse
from typing import Any

from monitor.config import load_feeds


def register(sub: Any) -> None:
    from monitor.cli import add_config_args

    p = sub.add_parser("check", help="validate feeds.yaml and keywords.yaml",
                       description="Validate both YAML files; exit 2 on an error.")
    add_config_args(p)
    p.set_defaults(func=cmd_check)


def cmd_check(args: argparse.Namespace) -> int:
    feeds = load_feeds(args.feeds)
    enabled = feeds.enabled()
    print(f"{feeds.path}: {len(feeds.feeds)} feeds ({len(enabled)} enabled)")
    for w in feeds.warnings:
        print(f"warning: {w}")
    return 0
