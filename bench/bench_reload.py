"""Hot-reload benchmark: how long the event loop of ``monitor run`` stalls while an edited
configuration file is loaded (issue 10 item 1: nothing may block it for more than 100 ms).

    .venv/bin/python bench/bench_reload.py [--runs 3] [--no-write]

A ``Service`` runs in this process (as ``monitor run`` does: no HTTP endpoint, no bot,
one disabled feed, hot reload every 0.2 s) while a ticker coroutine sleeps 10 ms at a time
and records how late each wake-up is: the stall of the loop.  Then ``keywords.yaml`` is
replaced, and the stalls are recorded until the service runs on the new file (or has
rejected it), plus one second.  Files, each ``--runs`` times:

1. the repository's keywords.yaml (edited: one watchlist more);
2. a generated keywords.yaml just under the 1 MiB limit (about 3,100 watchlists of 20
   quoted terms, 63,000 terms): the largest file monitor accepts;
3. the 460-byte alias bomb (nine levels of nine aliases), which must be rejected.

A baseline of the same length without a reload shows the machine's own noise (the cores
are shared).  The section between ``<!-- BEGIN reload -->`` and ``<!-- END reload -->`` in
docs/benchmarks.md is rewritten.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import cpu_model, write_section  # noqa: E402

from monitor.config.bounded import MAX_BYTES  # noqa: E402
from monitor.service.runner import Service, ServiceOptions  # noqa: E402
from monitor.settings import Settings  # noqa: E402
from tests.support.hostile import alias_bomb  # noqa: E402

FEEDS = "feeds:\n  - id: off\n    url: http://127.0.0.1:9/feed\n    enabled: false\n"
SMALL = """\
destinations:
  eu:
    telegram: "@eu_ai_watch"
watchlists:
  a:
    any: [x]
    alert: [eu]
"""


def big_keywords() -> str:
    parts = ['destinations:\n  eu:\n    telegram: "@eu_ai_watch"\nwatchlists:\n']
    size, n = len(parts[0]), 0
    while True:
        terms = ", ".join(f'"term{n}x{j}"' for j in range(20))
        part = f"  w{n}:\n    any: [{terms}]\n    alert: [eu]\n"
        if size + len(part) > MAX_BYTES:
            return "".join(parts)
        parts.append(part)
        size += len(part)
        n += 1


def edited_shipped() -> str:
    text = (ROOT / "keywords.yaml").read_text(encoding="utf-8")
    extra = '  bench-extra:\n    any: ["bench term"]\n'
    return text.replace("\nwatchlists:\n", "\nwatchlists:\n" + extra, 1)


@dataclass
class Sample:
    name: str
    seconds: float
    worst_ms: float
    over_100: int
    outcome: str


async def ticker(stop: asyncio.Event, lags: list[float]) -> None:
    while not stop.is_set():
        before = time.monotonic()
        await asyncio.sleep(0.01)
        lags.append(time.monotonic() - before - 0.01)


async def one(name: str, text: str, tmp: Path) -> Sample:
    feeds, keywords = tmp / "feeds.yaml", tmp / "keywords.yaml"
    feeds.write_text(FEEDS, encoding="utf-8")
    keywords.write_text(SMALL, encoding="utf-8")
    service = Service(
        ServiceOptions(
            feeds_path=str(feeds),
            keywords_path=str(keywords),
            state_dir=tmp / "state",
            settings=Settings(),
            http=None,
            bot=False,
            reload_every=0.2,
        )
    )
    task = asyncio.create_task(service.run())
    while service._cfg is None:  # noqa: ASYNC110 (the service has no "started" event)
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    before = service.config.keywords
    rejected = service.metrics.config_reloads.labels("rejected")._value.get()
    lags: list[float] = []
    stop = asyncio.Event()
    tick = asyncio.create_task(ticker(stop, lags))
    started = time.monotonic()
    if text:
        keywords.write_text(text, encoding="utf-8")
        while time.monotonic() - started < 120:
            if service.config.keywords is not before:
                outcome = f"applied ({len(service.config.keywords.watchlists):,} watchlists)"
                break
            if service.metrics.config_reloads.labels("rejected")._value.get() > rejected:
                outcome = "rejected"
                break
            await asyncio.sleep(0.01)
        else:
            outcome = "no answer in 120 s"
        seconds = time.monotonic() - started
        await asyncio.sleep(1.0)
    else:
        await asyncio.sleep(3.0)
        outcome, seconds = "-", 0.0
    stop.set()
    await tick
    service.stop()
    await task
    return Sample(name, seconds, max(lags) * 1000, sum(lag > 0.1 for lag in lags), outcome)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-write", action="store_true", help="print, do not write the docs")
    args = ap.parse_args()
    logging.disable(logging.CRITICAL)
    files = [
        ("no reload (baseline)", ""),
        ("repository keywords.yaml, edited", edited_shipped()),
        ("generated, just under 1 MiB", big_keywords()),
        ("alias bomb", alias_bomb()),
    ]
    rows = []
    for name, text in files:
        samples = []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as tmp:
                samples.append(asyncio.run(one(name, text, Path(tmp))))
        size = f"{len(text.encode()):,}" if text else "-"
        worst = max(s.worst_ms for s in samples)
        secs = sorted(s.seconds for s in samples)[len(samples) // 2]
        over = sum(s.over_100 for s in samples)
        rows.append(
            f"| {name} | {size} | {samples[0].outcome} | {secs:.1f} | {worst:.0f} | {over} |"
        )
        print(rows[-1], flush=True)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = "\n".join(
        [
            "## Hot reload",
            "",
            "Command: `.venv/bin/python bench/bench_reload.py` (writes this section).",
            "",
            f"Machine: {os.cpu_count()} cores ({cpu_model()}), Python "
            f"{platform.python_version()}; run {now}.",
            "",
            "Method: `Service` in-process, a ticker coroutine sleeping 10 ms at a time; the "
            "stall is how late it wakes up, from the edit of `keywords.yaml` until the "
            f"service runs on the new file (or rejected it) plus one second; {args.runs} "
            "runs per file, worst stall over all runs, median time to apply.",
            "",
            "| file | bytes | outcome | s to apply | worst stall ms | stalls > 100 ms |",
            "|---|---:|---|---:|---:|---:|",
            *rows,
            "",
            "Before (loading on the loop): the generated 1 MiB file stalled the loop 13.4 s; "
            "the alias bomb did not finish (minutes, gigabytes).",
            "",
            "The worker thread yields the GIL every few milliseconds, except inside C code: "
            "building the automaton (ahocorasick-rs holds the GIL, about 150 ms for the "
            "66,000 keys of the generated file) and freeing the parse tree (about 60 ms). "
            "So a file near the limit still stalls the loop by 100-200 ms once or twice, "
            "on top of the machine's own noise (the baseline row); a file of the shipped "
            "size does not.",
        ]
    )
    if args.no_write:
        print(section)
    else:
        write_section("reload", section)


if __name__ == "__main__":
    main()
