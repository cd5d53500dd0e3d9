"""CPU per matched article (issue 15 target: <= 0.25 ms): what matching, story grouping
and routing to the outbox add to a poll, per article that matched.

    python3 bench/bench_matched.py [--feeds 100] [--runs 5] [--no-write]

Method: feeds of 30 real items of the replay fixtures (``bench/feedfarm.py``'s loader, a
unique link and guid per feed), half of them items that match the shipped
``keywords.yaml``; each run is a fresh process that records every feed twice, each time
into an empty state directory, through ``Poller._process`` (parse, identify, match,
fingerprint, snapshot, decide, story, apply: a poll after its fetch, no network): once as
``monitor poll`` does (the compiled watchlists, their routing, the story index; every
match alerts: ``backfill`` off) and once with no matcher (no match, hence no story and
no outbox row); the order alternates from run to run, after an uncounted pass over three
feeds in each mode (the first poll's imports). The cost is (CPU with - CPU
without) / matched articles (``time.process_time()``: every thread of the process; the
parsing runs in it, ``parse_workers: 0``). Parsing and storing the articles are the same
in both and cancel out. Medians of ``--runs``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, cpu_model, write_section
from feedfarm import MARK, default_replay, load_outlets

ITEMS = 30


def build_bodies(replay: Path, feeds: int, keywords: Path) -> list[bytes]:
    """``feeds`` RSS bodies of ``ITEMS`` items, half of them matching ``keywords``."""
    from monitor.config.keywords import load_keywords
    from monitor.match import compile_matcher
    from monitor.parse import parse_feed
    from monitor.update import prepare

    matcher = compile_matcher(load_keywords(str(keywords)))
    now = datetime.now(UTC)
    hits: list[tuple[str, str]] = []
    misses: list[tuple[str, str]] = []
    for outlet in load_outlets(replay, ITEMS):
        for n, item in enumerate(outlet.items):
            body = (outlet.header + item.replace(MARK, f"x{n}") + "</channel>\n</rss>\n").encode()
            parsed = parse_feed(body, feed_id="probe", url="https://probe.eu/feed", now=now)
            if not parsed.articles:
                continue
            matched = bool(prepare(parsed, matcher).matches)
            (hits if matched else misses).append((outlet.header, item))
    if not hits:
        raise SystemExit("no item of the replay matches keywords.yaml")
    bodies = []
    for f in range(feeds):
        chosen = [hits[(f * 15 + i) % len(hits)] for i in range(ITEMS // 2)]
        chosen += [misses[(f * 15 + i) % len(misses)] for i in range(ITEMS - ITEMS // 2)]
        header = chosen[0][0]
        items = [t.replace(MARK, f"f{f}n{i}") for i, (_, t) in enumerate(chosen)]
        bodies.append((header + "".join(items) + "</channel>\n</rss>\n").encode())
    return bodies


def worker(bodies: list[bytes], run: int) -> dict[str, Any]:
    from monitor.config.keywords import load_keywords
    from monitor.config.specs import FeedsConfig, FetchSettings
    from monitor.fetch import Fetcher
    from monitor.models import FeedSpec, FetchResult
    from monitor.pipeline.build import matcher, routing
    from monitor.pipeline.poll import Poller, Routing
    from monitor.store import Store

    keywords = load_keywords(str(ROOT / "keywords.yaml"))
    compiled = matcher(keywords)
    specs = [
        FeedSpec(id=f"f{i}", url=f"https://feed{i}.example.eu/rss", backfill=None, fulltext="never")
        for i in range(len(bodies))
    ]
    feeds = FeedsConfig(path="feeds.yaml", settings=FetchSettings(), feeds=tuple(specs))

    async def record(store: Store, mode: str, count: int) -> tuple[int, int]:
        async with Fetcher(feeds.settings) as fetcher:
            poller = Poller(
                feeds=feeds,
                store=store,
                fetcher=fetcher,
                matcher=compiled if mode == "with" else None,
                routing=routing(keywords) if mode == "with" else Routing(),
                parse_workers=0,
            )
            new = matched = 0
            for spec, body in list(zip(specs, bodies, strict=True))[:count]:
                now = poller.clock()
                state = poller._stored_state(spec, now)
                result = FetchResult(
                    feed_id=spec.id,
                    url=spec.url,
                    outcome="ok",
                    fetched_at=now,
                    status=200,
                    body=body,
                    content_type="application/rss+xml",
                )
                report = await poller._process(spec, state, result, now)
                if report.error:
                    raise SystemExit(f"{spec.id}: {report.error}")
                new += report.new
                matched += report.matches
            return new, matched

    tmp = Path(tempfile.mkdtemp(prefix="bench-matched-"))
    out: dict[str, Any] = {}
    try:
        order = ("with", "without") if run % 2 else ("without", "with")
        # A first pass over three feeds in each mode, not counted: the first poll imports
        # the parsers, the story index (numpy) and the outbox's code.
        for mode in ("warm-" + m for m in order):
            with Store(tmp / f"state-{mode}") as store:
                asyncio.run(record(store, mode.removeprefix("warm-"), 3))
        for mode in order:
            with Store(tmp / f"state-{mode}") as store:
                c0 = time.process_time()
                new, matched = asyncio.run(record(store, mode, len(specs)))
                cpu = time.process_time() - c0
                outbox = int(store.conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
                out[mode] = {"cpu": cpu, "new": new, "matched": matched, "outbox": outbox}
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--feeds", type=int, default=100, help="feeds of 30 items")
    ap.add_argument("--runs", type=int, default=5, help="runs (medians)")
    ap.add_argument("--replay", type=Path, default=default_replay())
    ap.add_argument("--no-write", action="store_true", help="print only, leave docs alone")
    ap.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--run", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        bodies = [bytes.fromhex(b) for b in json.loads(args.worker.read_text())]
        print(json.dumps(worker(bodies, args.run)))
        return 0
    bodies = build_bodies(args.replay, args.feeds, ROOT / "keywords.yaml")
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-matched-") as tmp:
        data = Path(tmp) / "bodies.json"
        data.write_text(json.dumps([b.hex() for b in bodies]))
        for run in range(1, args.runs + 1):
            cmd = [sys.executable, __file__, "--worker", str(data), "--run", str(run)]
            load = os.getloadavg()[0]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                sys.stderr.write(proc.stderr)
                raise SystemExit(f"worker failed (exit code {proc.returncode})")
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            r["load"] = load
            w, wo = r["with"], r["without"]
            r["per_matched_ms"] = (w["cpu"] - wo["cpu"]) / max(1, w["matched"]) * 1000
            runs.append(r)
            print(
                f"run {run}/{args.runs} load {load:.1f}: with {w['cpu']:.2f} s CPU "
                f"({w['matched']} matched of {w['new']}, {w['outbox']} outbox rows), "
                f"without {wo['cpu']:.2f} s CPU ({wo['matched']} matched): "
                f"{r['per_matched_ms']:.2f} ms a matched article",
                flush=True,
            )
    section = report(args, runs)
    if args.no_write:
        print(section)
    else:
        write_section("bench_matched", section)
        print("wrote the bench_matched section of docs/benchmarks.md")
    return 0


def report(args: argparse.Namespace, runs: list[dict[str, Any]]) -> str:
    per = [r["per_matched_ms"] for r in runs]
    med = statistics.median(per)
    w = statistics.median(r["with"]["cpu"] for r in runs)
    wo = statistics.median(r["without"]["cpu"] for r in runs)
    matched = statistics.median(r["with"]["matched"] for r in runs)
    new = statistics.median(r["with"]["new"] for r in runs)
    outbox = statistics.median(r["with"]["outbox"] for r in runs)
    loads = [r["load"] for r in runs]
    verdict = "met" if med <= 0.25 else "**missed**"
    method = " ".join((__doc__ or "").split("\n\n")[2].split())
    return "\n".join(
        [
            "## CPU per matched article (issue 15, `bench/bench_matched.py`)",
            "",
            f"Command: `python3 bench/bench_matched.py --feeds {args.feeds} --runs {args.runs}`.",
            "",
            f"Machine: 2 cores ({cpu_model()}), Python {platform.python_version()}. Run "
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, 1-minute load average "
            f"{min(loads):.1f}-{max(loads):.1f} before the runs (a shared, noisy machine).",
            "",
            method,
            "",
            "| measure | median | runs |",
            "|---|---:|---|",
            f"| CPU with the matcher | {w:.2f} s | "
            + ", ".join(f"{r['with']['cpu']:.2f}" for r in runs)
            + " |",
            f"| CPU without | {wo:.2f} s | "
            + ", ".join(f"{r['without']['cpu']:.2f}" for r in runs)
            + " |",
            f"| matched articles (of new) / outbox rows | {matched:.0f} (of {new:.0f}) / "
            f"{outbox:.0f} | |",
            f"| **CPU per matched article** | **{med:.2f} ms** | "
            + ", ".join(f"{p:.2f}" for p in per)
            + f" | target <= 0.25 ms: {verdict}",
        ]
    )


if __name__ == "__main__":
    raise SystemExit(main())
