"""``monitor check``, ``monitor poll``, ``monitor feeds``."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from monitor.config.durations import format_duration
from monitor.errors import StateLockedError
from monitor.models import CycleReport, PollReport


def register(sub: Any) -> None:
    from monitor.cli import add_config_args, add_database_arg

    p = sub.add_parser(
        "check",
        help="validate feeds.yaml and keywords.yaml",
        description="Validate both YAML files completely. Exit 2 with every error (file, "
        "line, key) on an invalid file; exit 0 with a one-screen summary otherwise.",
    )
    add_config_args(p)
    add_database_arg(p)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser(
        "poll",
        help="poll the feeds that are due, once",
        description="One poll cycle over the feeds that are due (--all: every enabled feed). "
        "New articles are stored, matched and routed to the outbox; due outbox rows are "
        "then delivered unless --no-deliver. Exit 0 when the cycle completed, even if some "
        "feeds failed: the failures are in the output.",
    )
    add_config_args(p)
    add_database_arg(p)
    p.add_argument("--all", action="store_true", help="poll every enabled feed, due or not")
    p.add_argument(
        "--feed", action="append", default=[], metavar="ID", help="poll only this feed (repeatable)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--no-deliver", action="store_true", help="do not deliver the outbox")
    p.set_defaults(func=cmd_poll)

    p = sub.add_parser(
        "feeds",
        help="show the health of every feed",
        description="The per-feed health table: last success, consecutive failures, last "
        "status and error, next poll.",
    )
    add_config_args(p)
    add_database_arg(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_feeds)


# -- check --------------------------------------------------------------------------------


def cmd_check(args: argparse.Namespace) -> int:
    from monitor.match import compile_matcher
    from monitor.pipeline.build import load_configs

    cfg = load_configs(args.feeds, args.keywords, cache_dir=args.state)
    feeds, kw = cfg.feeds, cfg.keywords
    matcher = compile_matcher(kw)
    enabled = feeds.enabled()
    langs = Counter(f.language or "?" for f in enabled)
    print(
        f"{feeds.path}: {len(feeds.feeds)} feeds, {len(enabled)} enabled "
        f"({', '.join(f'{n} {lang}' for lang, n in langs.most_common())})"
    )
    intervals = Counter(format_duration(f.interval) for f in enabled)
    print(f"  intervals: {', '.join(f'{n} x {i}' for i, n in intervals.most_common())}")
    print(
        f"{kw.path}: {len(kw.watchlists)} watchlists, {len(kw.actors)} actors, "
        f"{matcher.pattern_count} patterns, {len(kw.destinations)} destinations"
    )
    for wid, wl in kw.watchlists.items():
        route = []
        if wl.alert and wl.priority == "instant":
            route.append("alert: " + ", ".join(wl.alert))
        if wl.digest:
            route.append("digest: " + ", ".join(wl.digest))
        print(f"  {wid:<22} {wl.priority:<8} {'; '.join(route) or '(no destination)'}")
    for did, d in kw.destinations.items():
        where = []
        if d.telegram:
            where.append(f"telegram {d.telegram}")
        if d.email:
            where.append(f"email {', '.join(d.email)}")
        print(f"  destination {did}: {'; '.join(where)}; digest {d.digest_time:%H:%M} {d.timezone}")
    for w in (*feeds.warnings, *kw.warnings):
        print(f"warning: {w}")
    url = args.database  # --database, else MONITOR_DATABASE_URL (cli.with_settings)
    if url:  # PostgreSQL: reachable, and a schema this program knows (SQLite: at first use)
        from monitor.store import describe_database

        print(describe_database(url))
    print("ok")
    return 0


# -- poll ---------------------------------------------------------------------------------


class Progress:
    """A one-line progress display on a terminal (nothing when not a TTY)."""

    def __init__(self, total: int, stream: TextIO = sys.stderr) -> None:
        self.total = total
        self.done = 0
        self.counts: Counter[str] = Counter()
        self.stream = stream
        self.enabled = stream.isatty() and total > 1

    def __call__(self, report: PollReport) -> None:
        self.done += 1
        self.counts[report.status] += 1
        if self.enabled:
            self.stream.write(
                f"\rpolling {self.done}/{self.total}: {self.counts['ok']} fetched, "
                f"{self.counts['not_modified']} not modified, {self.counts['error']} failed"
            )
            self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r\033[K")
            self.stream.flush()


def cmd_poll(args: argparse.Namespace) -> int:
    from monitor.pipeline.build import load_configs, open_state

    cfg = load_configs(args.feeds, args.keywords, cache_dir=args.state)
    unknown = [f for f in args.feed if cfg.feeds.get(f) is None]
    if unknown:
        print(
            f"monitor: unknown feed id {', '.join(unknown)} (see {cfg.feeds.path})", file=sys.stderr
        )
        return 2
    for w in cfg.feeds.warnings:
        print(f"warning: {w}", file=sys.stderr)
    try:
        store, lock = open_state(args.state, database_url=args.database, feeds=len(cfg.feeds.feeds))
    except StateLockedError as busy:
        report, delivery = _poll_by_service(args, busy)
    else:
        try:
            report, delivery = _poll_here(cfg, store, args)
        finally:
            store.close()
            if lock:
                lock.release()
    if args.json:
        print(json.dumps(_poll_json(report, delivery), ensure_ascii=False))
    else:
        _print_poll(report, delivery)
    return 0


def _poll_by_service(args: argparse.Namespace, busy: StateLockedError) -> tuple[CycleReport, Any]:
    """``monitor run`` holds the state directory: it polls on our behalf (see
    monitor.service.requests)."""
    from pathlib import Path

    from monitor.service import requests

    print("monitor: the running service polls (it holds the state directory)", file=sys.stderr)
    request = requests.Request(
        "poll", feeds=tuple(args.feed), everything=args.all, deliver=not args.no_deliver
    )
    result = requests.ask(Path(args.state), request, busy)
    return requests.cycle_from_json(result["cycle"]), requests.delivery_from_json(
        result.get("delivery")
    )


@dataclass(frozen=True)
class _NothingDelivered:
    """The delivery report when no outbox row was due (the deliverer was not built)."""

    sent: int = 0
    messages: int = 0
    retried: int = 0
    failed: int = 0


def _poll_here(cfg: Any, store: Any, args: argparse.Namespace) -> tuple[CycleReport, Any]:
    """Decide what is due from the state database first: with no feed and no outbox row
    due, the fetcher, parsers, matcher, story index and senders are never imported or
    built (issue 15: a cron ``monitor poll`` with nothing to do costs only the start-up;
    tests/test_startup.py holds the list of modules it may import)."""
    from monitor.pipeline.due import due_feeds

    now = datetime.now(UTC)
    store.sync_feeds(cfg.feeds.feeds, now)
    specs = due_feeds(cfg.feeds, store.feed_states(), now, everything=args.all, only=args.feed)
    if specs or _outbox_due(store, args):
        import asyncio

        return asyncio.run(_poll(cfg, store, args, specs))
    report = CycleReport(feeds=(), started=now, finished=datetime.now(UTC))
    return report, (None if args.no_deliver else _NothingDelivered())


def _outbox_due(store: Any, args: argparse.Namespace) -> bool:
    """Whether an alert or story update waits to be delivered now (never with --no-deliver)."""
    if args.no_deliver:
        return False
    due = store.next_due(("alert", "update"))
    return due is not None and due <= datetime.now(UTC)


async def _poll(
    cfg: Any, store: Any, args: argparse.Namespace, specs: list[Any]
) -> tuple[CycleReport, Any]:
    from monitor.fetch import Fetcher
    from monitor.pipeline.build import matcher, routing
    from monitor.pipeline.poll import Poller

    async with Fetcher(cfg.feeds.settings) as fetcher:
        poller = Poller(
            feeds=cfg.feeds,
            store=store,
            fetcher=fetcher,
            # Compiled only when a feed sends a new body: a warm run of 304s needs none.
            build_matcher=lambda: matcher(cfg.keywords),
            routing=routing(cfg.keywords),
        )
        progress = Progress(len(specs)) if not args.json else None
        poller.on_report = progress
        try:
            report = await poller.cycle(specs)
        finally:
            if progress:
                progress.close()
    delivery: Any = None
    if _outbox_due(store, args):
        from monitor.pipeline.runtime import build_deliverer

        # With --json, stdout holds only the JSON object: console alerts go to stderr.
        deliverer = build_deliverer(
            cfg, store, settings=args.settings, console=sys.stderr if args.json else None
        )
        try:
            delivery = await deliverer.deliver_alerts()
        finally:
            await deliverer.aclose()
    elif not args.no_deliver:
        delivery = _NothingDelivered()
    return report, delivery


def _poll_json(report: CycleReport, delivery: Any) -> dict[str, Any]:
    feeds = []
    for r in report.feeds:
        item: dict[str, Any] = {"id": r.feed_id, "status": r.status, "new": r.new}
        if r.error:
            item["error"] = r.error
        if r.problems and r.status != "error":
            item["warnings"] = list(r.problems)
        if r.http_status is not None:
            item["http_status"] = r.http_status
        if r.matches:
            item["matched"] = r.matches
        if r.moved_to:
            item["moved_to"] = r.moved_to
        feeds.append(item)
    out: dict[str, Any] = {"feeds": feeds, "new": report.new}
    if delivery is not None:
        out["delivered"] = {
            "sent": delivery.sent,
            "messages": delivery.messages,
            "retry": delivery.retried,
            "failed": delivery.failed,
        }
    return out


def _print_poll(report: CycleReport, delivery: Any) -> None:
    seconds = (report.finished - report.started).total_seconds()
    matched = sum(r.matches for r in report.feeds)
    print(
        f"polled {len(report.feeds)} feeds in {seconds:.1f}s: {report.count('ok')} fetched, "
        f"{report.count('not_modified')} not modified, {report.count('error')} failed; "
        f"{report.new} new articles, {matched} matched"
    )
    for r in report.feeds:
        if r.status == "error":
            print(f"  FAILED {r.feed_id}: {r.error}")
        elif r.problems:
            print(f"  warning {r.feed_id}: {'; '.join(r.problems)}")
        if r.moved_to:
            print(f"  moved {r.feed_id}: now polling {r.moved_to}")
    if delivery is not None and (delivery.sent or delivery.failed or delivery.retried):
        print(
            f"delivered {delivery.sent} alerts in {delivery.messages} messages; "
            f"{delivery.retried} to retry, {delivery.failed} failed"
        )


# -- feeds --------------------------------------------------------------------------------


def _ago(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "never"
    delta = now - when
    sign = "" if delta >= timedelta(0) else "in "
    text = format_duration(abs(delta)) if abs(delta) >= timedelta(seconds=1) else "0s"
    return f"{sign}{text}" + (" ago" if not sign else "")


def _pages(fetched: int, failed: int) -> str:
    """Full text: article pages fetched / failed ("-" when none was tried)."""
    return f"{fetched}/{failed}" if fetched or failed else "-"


def cmd_feeds(args: argparse.Namespace) -> int:
    from monitor.config.feeds import load_feeds
    from monitor.store import Store

    feeds = load_feeds(args.feeds)
    store = Store(args.state, database_url=args.database)
    try:
        states = store.feed_states()
    finally:
        store.close()
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for spec in feeds.feeds:
        st = states.get(spec.id)
        if st is None or st.last_attempt is None:
            health = "new"
        elif st.consecutive_failures:
            health = f"failing x{st.consecutive_failures}"
        else:
            health = "ok"
        if not spec.enabled:
            health = "disabled"
        rows.append(
            {
                "id": spec.id,
                "health": health,
                "url": st.url if st else spec.url,
                "last_success": st.last_success.isoformat() if st and st.last_success else None,
                "consecutive_failures": st.consecutive_failures if st else 0,
                "last_status": st.last_status if st else None,
                "last_error": st.last_error if st else None,
                "next_poll": st.next_poll.isoformat() if st and st.next_poll else None,
                "articles": st.articles_seen if st else 0,
                "pages_fetched": st.pages_fetched if st else 0,
                "page_failures": st.page_failures if st else 0,
                "_st": st,
            }
        )
    if args.json:
        print(
            json.dumps(
                {"feeds": [{k: v for k, v in r.items() if k != "_st"} for r in rows]},
                ensure_ascii=False,
                indent=1,
            )
        )
        return 0
    header = (
        f"{'feed':<24} {'health':<12} {'last ok':<10} {'status':<6} {'next':<10} {'arts':>5} "
        f"{'pages':>9}  error"
    )
    print(header)
    for r in rows:
        st = r["_st"]
        print(
            f"{r['id'][:24]:<24} {r['health']:<12} "
            f"{_ago(st.last_success if st else None, now):<10} "
            f"{r['last_status'] or '-'!s:<6} "
            f"{_ago(st.next_poll if st else None, now) if st and st.next_poll else 'now':<10} "
            f"{r['articles']:>5} {_pages(r['pages_fetched'], r['page_failures']):>9}  "
            f"{(r['last_error'] or '')[:80]}"
        )
    return 0
