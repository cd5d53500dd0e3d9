"""``monitor run`` (the service) and ``monitor demo`` (an offline demonstration)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    from monitor.cli import add_config_args, add_database_arg

    p = sub.add_parser(
        "run",
        help="run the service (poll, deliver, digest, bot) until stopped",
        description="One process that polls every feed on its own schedule, delivers alerts "
        "and digests, answers Telegram commands and reloads edited configuration files. "
        "SIGTERM or SIGINT finish in-flight work and exit within 10 seconds.",
    )
    add_config_args(p)
    add_database_arg(p)
    p.add_argument(
        "--http",
        help="host:port for the dashboard, /healthz and /metrics (env MONITOR_HTTP; empty: off)",
    )
    p.add_argument("--no-bot", action="store_true", help="do not answer Telegram commands")
    p.add_argument(
        "--lease",
        type=float,
        metavar="SECONDS",
        help="with several instances on PostgreSQL: how long a claimed feed or alert stays "
        "this instance's while it is alive but silent, before another takes it over "
        "(default 300; a dead instance's claims are free at once)",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "demo",
        help="an offline demonstration: local feeds, real service, no credentials",
        description="Serve the bundled sample feeds from a local server, run the real service "
        "for a short while in a temporary directory, publish a new item, and show the alert "
        "as it would appear in Telegram and the digest preview. Needs no network and no "
        "credentials.",
    )
    p.add_argument("--seconds", type=float, default=12.0, help="how long to run (default 12)")
    p.add_argument("--keep", metavar="DIR", help="keep the demo's files in DIR")
    p.set_defaults(func=cmd_demo)


def cmd_run(args: argparse.Namespace) -> int:
    import asyncio
    from datetime import timedelta

    from monitor.service.runner import Service, ServiceOptions

    options = ServiceOptions(
        settings=args.settings,
        database_url=args.database,
        feeds_path=args.feeds,
        keywords_path=args.keywords,
        state_dir=Path(args.state),
        http=args.http or None,
        bot=not args.no_bot,
        lease=timedelta(seconds=args.lease) if args.lease else None,
    )
    return asyncio.run(Service(options).run())


def cmd_demo(args: argparse.Namespace) -> int:
    from monitor.service.demo import run_demo

    return run_demo(seconds=args.seconds, keep=Path(args.keep) if args.keep else None)
