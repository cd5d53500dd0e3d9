"""The ``monitor`` command: a thin shell that builds objects and calls the pipeline.

Each sub-command lives in a module of this package with a ``register(subparsers)``
function; ``COMMAND_MODULES`` lists them in the order ``monitor --help`` shows them.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from monitor.errors import ConfigError, MonitorError
from monitor.settings import Settings

COMMAND_MODULES = (
    "monitor.cli.core",
    "monitor.cli.matching",
    "monitor.cli.backtest",
    "monitor.cli.delivery",
    "monitor.cli.service",
    "monitor.cli.stories",
    "monitor.cli.telegram",
    "monitor.cli.db",
)

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CONFIG = 2


def add_config_args(parser: argparse.ArgumentParser) -> None:
    """``--feeds`` / ``--keywords`` / ``--state`` with their environment fall-backs (filled
    in from :class:`Settings` by :func:`main`)."""
    parser.add_argument(
        "--feeds",
        help="feeds file (env MONITOR_FEEDS, default ./feeds.yaml)",
    )
    parser.add_argument(
        "--keywords",
        help="watchlists file (env MONITOR_KEYWORDS, default ./keywords.yaml)",
    )
    parser.add_argument(
        "--state",
        help="state directory (env MONITOR_STATE_DIR, default ./state)",
    )


def add_database_arg(parser: argparse.ArgumentParser) -> None:
    """``--database URL`` for the commands that open the state database (issue 11)."""
    parser.add_argument(
        "--database",
        default=None,
        metavar="URL",
        help="postgresql://user:password@host:port/db instead of SQLite under --state "
        "(env MONITOR_DATABASE_URL)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="monitor",
        description="Watch EU tech-policy news feeds, match watchlists, alert and digest.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        help="log format (env MONITOR_LOG_FORMAT)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(name)
        module.register(sub)
    return parser


def with_settings(args: argparse.Namespace, settings: Settings) -> argparse.Namespace:
    """Fill the options left out on the command line from ``settings`` (the environment),
    and hand ``settings`` to the command as ``args.settings``."""
    fallbacks = {
        "feeds": settings.feeds_path,
        "keywords": settings.keywords_path,
        "state": str(settings.state_dir),
        "log_format": settings.log_format,
        "http": settings.http,
    }
    for name, value in fallbacks.items():
        if hasattr(args, name) and getattr(args, name) is None:
            setattr(args, name, value)
    if getattr(args, "database", "") is None and settings.database_url is not None:
        args.database = settings.database_url.reveal()  # MONITOR_DATABASE_URL
    args.settings = settings
    return args


def main(argv: Sequence[str] | None = None, settings: Settings | None = None) -> int:
    """Run one command; ``settings``: the environment, read here when not given."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_CONFIG
    from monitor.logs import setup_logging

    settings = Settings.from_env() if settings is None else settings
    with_settings(args, settings)
    setup_logging(verbosity=args.verbose, fmt=args.log_format, secrets=settings.secret_values())
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        print(f"monitor: configuration error:\n{exc}", file=sys.stderr)
        return EXIT_CONFIG
    except MonitorError as exc:
        print(f"monitor: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    return code


def run() -> None:
    sys.exit(main())
