"""``monitor deliver``, ``monitor digest``, ``monitor send-test``, ``monitor status``."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor.models import Target


def register(sub: Any) -> None:
    from monitor.cli import add_config_args, add_database_arg

    p = sub.add_parser(
        "deliver",
        help="deliver the due outbox rows",
        description="Send every due instant alert from the outbox (and the "
        "digests that are due). Nothing is polled.",
    )
    add_config_args(p)
    add_database_arg(p)
    p.add_argument("--no-digests", action="store_true", help="alerts only")
    p.set_defaults(func=cmd_deliver)

    p = sub.add_parser(
        "digest",
        help="preview or send digests",
        description="--preview renders each destination's pending digest "
        "without sending; --send sends the digests due now (--now: regardless "
        "of the clock).",
    )
    add_config_args(p)
    add_database_arg(p)
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--preview", action="store_true", help="render without sending")
    mode.add_argument("--send", action="store_true", help="send the digests that are due")
    p.add_argument("--now", action="store_true", help="with --send: send regardless of the clock")
    p.add_argument("--to", metavar="ADDRESS", help="only this e-mail address or chat")
    p.add_argument("--html", metavar="FILE", help="with --preview: write the e-mail HTML here")
    p.set_defaults(func=cmd_digest)

    p = sub.add_parser(
        "send-test",
        help="send a test message to a destination",
        description="Send a short test message to every address of DESTINATION "
        "(a name under destinations: in keywords.yaml).",
    )
    add_config_args(p)
    add_database_arg(p)
    p.add_argument("destination")
    p.set_defaults(func=cmd_send_test)

    p = sub.add_parser(
        "status",
        help="outbox and destination health",
        description="Outbox depth by kind and status, the oldest waiting alert, "
        "and the health of every destination (failures are listed with their "
        "reason).",
    )
    add_config_args(p)
    add_database_arg(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_status)


def _open(args: argparse.Namespace, lock: bool = True) -> tuple[Any, Any, Any]:
    from monitor.pipeline.build import load_configs, open_state

    cfg = load_configs(args.feeds, args.keywords, cache_dir=args.state)
    store, state_lock = open_state(args.state, lock=lock, database_url=args.database)
    return cfg, store, state_lock


def _close(store: Any, state_lock: Any) -> None:
    store.close()
    if state_lock:
        state_lock.release()


def cmd_deliver(args: argparse.Namespace) -> int:
    import asyncio

    from monitor.errors import StateLockedError
    from monitor.pipeline.runtime import build_deliverer

    try:
        cfg, store, state_lock = _open(args)
    except StateLockedError as busy:
        _print_delivery(_deliver_by_service(args, busy))
        return 0

    async def go() -> Any:
        deliverer = build_deliverer(cfg, store, settings=args.settings)
        try:
            report = await deliverer.deliver_alerts()
            if not args.no_digests:
                report.add(await deliverer.deliver_digests())
            return report
        finally:
            await deliverer.aclose()

    try:
        report = asyncio.run(go())
    finally:
        _close(store, state_lock)
    _print_delivery(report)
    return 0


def _deliver_by_service(args: argparse.Namespace, busy: Exception) -> Any:
    """``monitor run`` holds the state directory: it delivers on our behalf (see
    monitor.service.requests)."""
    from monitor.errors import StateLockedError
    from monitor.service import requests

    assert isinstance(busy, StateLockedError)
    print("monitor: the running service delivers (it holds the state directory)", file=sys.stderr)
    request = requests.Request("deliver", digests=not args.no_digests)
    result = requests.ask(Path(args.state), request, busy)
    return requests.delivery_from_json(result.get("delivery"))


def _print_delivery(report: Any) -> None:
    print(
        f"delivered {report.sent} rows in {report.messages} messages "
        f"({report.digests} digests); {report.retried} to retry, {report.failed} failed"
    )
    for err in report.errors:
        print(f"  {err}")


def _matches(target: Target, to: str | None) -> bool:
    return to is None or target.address == to


def cmd_digest(args: argparse.Namespace) -> int:
    import asyncio

    from monitor.pipeline.runtime import build_deliverer

    cfg, store, state_lock = _open(args, lock=not args.preview)
    try:
        if args.preview:
            deliverer = build_deliverer(cfg, store, settings=args.settings)
            found = 0
            for target, messages in deliverer.preview_digests():
                if not _matches(target, args.to):
                    continue
                found += 1
                for message in messages:
                    print(
                        f"=== {target.channel} digest for {target.destination} "
                        f"({target.address}) ==="
                    )
                    if message.subject:
                        print(f"Subject: {message.subject}\n")
                    print(message.plain if target.channel != "email" else message.text)
                    if args.html and message.html:
                        Path(args.html).write_text(message.html, encoding="utf-8")
                        print(f"(HTML written to {args.html})")
            if not found:
                print("no pending digest items" + (f" for {args.to}" if args.to else ""))
            asyncio.run(deliverer.aclose())
            return 0

        async def go() -> Any:
            deliverer = build_deliverer(cfg, store, settings=args.settings)
            try:
                return await deliverer.deliver_digests(force=args.now, only=args.to)
            finally:
                await deliverer.aclose()

        report = asyncio.run(go())
    finally:
        _close(store, state_lock)
    print(
        f"sent {report.digests} digests ({report.sent} items in {report.messages} messages); "
        f"{report.retried} to retry, {report.failed} failed"
    )
    for err in report.errors:
        print(f"  {err}")
    return 0 if not report.failed else 1


def cmd_send_test(args: argparse.Namespace) -> int:
    import asyncio

    from monitor.pipeline.runtime import build_deliverer

    cfg, store, state_lock = _open(args, lock=False)
    dest = cfg.keywords.destinations.get(args.destination)
    if dest is None:
        _close(store, state_lock)
        known = ", ".join(cfg.keywords.destinations) or "none"
        print(
            f"monitor: unknown destination {args.destination!r} (known: {known})", file=sys.stderr
        )
        return 2

    async def go() -> list[str]:
        deliverer = build_deliverer(cfg, store, settings=args.settings)
        try:
            return await deliverer.send_test(args.destination)
        finally:
            await deliverer.aclose()

    try:
        results = asyncio.run(go())
    finally:
        _close(store, state_lock)
    failed = False
    for line in results:
        print(line)
        failed = failed or line.startswith("FAILED")
    return 1 if failed else 0


def cmd_status(args: argparse.Namespace) -> int:
    from monitor.store import Store

    store = Store(args.state, database_url=args.database)
    try:
        stats = store.outbox_stats()
        dests = store.destination_rows()
        failures = store.recent_failures(limit=10)
    finally:
        store.close()
    now = datetime.now(UTC)
    if args.json:
        print(
            json.dumps(
                {
                    "outbox": stats.counts,
                    "oldest_pending_alert": stats.oldest_pending_alert.isoformat()
                    if stats.oldest_pending_alert
                    else None,
                    "destinations": [
                        {
                            k: (v.isoformat() if isinstance(v, datetime) else v)
                            for k, v in asdict(d).items()
                        }
                        for d in dests
                    ],
                    "failures": [asdict(f) for f in failures],
                },
                ensure_ascii=False,
                indent=1,
            )
        )
        return 0
    counts = stats.counts
    print("outbox: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "empty"))
    oldest = stats.oldest_pending_alert
    if oldest:
        print(f"oldest waiting alert: {int((now - oldest).total_seconds())}s old")
    print("destinations:")
    if not dests:
        print("  (none has been used yet)")
    for d in dests:
        # A stand-in (the console without TELEGRAM_BOT_TOKEN) is not "ok": nothing
        # reached the chat (issue 10 item 10).
        health = (d.via or "ok") if d.healthy else "UNHEALTHY"
        last = d.last_success.isoformat(timespec="seconds") if d.last_success else "never"
        line = f"  {d.destination:<20} {d.channel:<8} {d.address:<28} {health:<9} last ok {last}"
        if d.last_error:
            line += f"\n      last error: {d.last_error}"
        print(line)
    if failures:
        print("failed rows (latest):")
        for f in failures:
            print(f"  #{f.id} {f.kind} -> {f.destination} ({f.address}): {f.last_error}")
    return 0
