"""Idle memory of ``monitor run`` with the dashboard on, end to end (issue 12).

    python bench/bench_web_memory.py [--feeds 1000] [--idle 30] [--no-write]

The set-up of ``bench/bench_service.py``: the feed farm (its own process), the local
Telegram Bot API server (threads of this process), the repository's keywords.yaml, and
``python -m monitor run`` as a subprocess with ``--http`` on a free port, which serves
``/healthz``, ``/metrics`` and the dashboard.  After the first cycle has polled every
feed, memory is sampled every second for ``--idle`` seconds three times:

1. idle, no page asked yet (the dashboard's modules are imported, nothing rendered);
2. idle after every page and every ``/api`` twin was asked once: templates compiled, the
   reader's connection open, a search run, the lab's backtest of the shipped keywords.yaml
   over the last day's articles (it compiles two matchers; over 14 days, 20,000 articles,
   it takes 4.3 s of CPU, more than the 10 s request deadline allows on a loaded machine)
   and the digest preview rendered;
3. idle after the same round again, ten times (does it grow?).

Memory is summed over the service's process and its children (``psutil``, recursive):
RSS counts shared pages once per process, PSS shares them out, so the PSS sum is what
the service costs the machine.  The section between ``<!-- BEGIN web-memory -->`` and
``<!-- END web-memory -->`` in docs/benchmarks.md is rewritten unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_service import CHANNEL, first_cycle, free_port, write_feeds_yaml  # noqa: E402
from common import cpu_model, write_section  # noqa: E402
from feedfarm import FeedFarm, default_replay  # noqa: E402

from tests.support.telegram_server import TelegramServer  # noqa: E402

TARGET_MB = 150.0
PAGES = [
    "/",
    "/articles",
    "/articles?q=commission",
    "/articles?watchlist=ai-act",
    "/feeds",
    "/stories",
    "/trends?days=90",
    "/trends?days=90&by=feed",
    "/digests",
    "/lab",
    "/api/overview",
    "/api/articles?q=parliament",
    "/api/feeds",
    "/api/stories",
    "/api/trends?by=language",
    "/api/digests",
]


def tree_memory(ps: psutil.Process) -> tuple[float, float, int]:
    """Summed RSS and PSS (MB) of the process and its children, and how many there are."""
    rss = pss = 0.0
    procs = [ps, *ps.children(recursive=True)]
    for p in procs:
        try:
            info = p.memory_full_info()
        except psutil.Error:
            continue
        rss += info.rss
        pss += info.pss
    return rss / 2**20, pss / 2**20, len(procs)


def sample(ps: psutil.Process, seconds: float) -> dict[str, float]:
    rss, pss, count = [], [], 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        r, p, count = tree_memory(ps)
        rss.append(r)
        pss.append(p)
        time.sleep(1.0)
    return {
        "rss": statistics.median(rss),
        "rss_max": max(rss),
        "pss": statistics.median(pss),
        "pss_max": max(pss),
        "processes": count,
    }


def ask_every_page(url: str, keywords: str) -> int:
    asked = 0
    with httpx.Client(base_url=url, timeout=120) as client:
        for path in PAGES:
            client.get(path).raise_for_status()
            asked += 1
        for path in ("/lab", "/api/lab"):
            client.post(path, data={"yaml": keywords, "days": "1"}).raise_for_status()
            asked += 1
    return asked


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--hosts", type=int, default=100)
    ap.add_argument("--idle", type=float, default=30.0, help="seconds sampled per phase")
    ap.add_argument("--settle", type=float, default=5.0)
    ap.add_argument("--first-timeout", type=float, default=300.0)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    # what bench_service's helpers read
    args.concurrency, args.per_host, args.interval, args.hot_interval = 400, 4, "15m", 60
    load_start = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="bench-web-memory-"))
    keywords_text = (ROOT / "keywords.yaml").read_text(encoding="utf-8")
    phases: dict[str, dict[str, float]] = {}
    with (
        FeedFarm.start(feeds=args.feeds, latency=(0.05, 0.25), seed=1, replay=default_replay(),
                       hosts=args.hosts) as farm,
        TelegramServer() as tg,
    ):  # fmt: skip
        tg.add_channel(CHANNEL)
        write_feeds_yaml(tmp / "feeds.yaml", farm.urls, farm.hot, args)
        (tmp / "keywords.yaml").write_text(keywords_text, encoding="utf-8")
        env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": tg.token,
            "TELEGRAM_API_URL": tg.base_url,
            "PYTHONUNBUFFERED": "1",
        }
        for name in ("SMTP_HOST", "TELEGRAM_ADMIN_IDS", "TELEGRAM_ADMIN_CHAT", "MONITOR_WEB_TOKEN"):
            env.pop(name, None)
        port = free_port()
        cmd = [
            sys.executable, "-m", "monitor", "run", "--feeds", str(tmp / "feeds.yaml"),
            "--keywords", str(tmp / "keywords.yaml"), "--state", str(tmp / "state"),
            "--http", f"127.0.0.1:{port}",
        ]  # fmt: skip
        with (tmp / "run.log").open("wb") as log:
            proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        ps = psutil.Process(proc.pid)
        try:
            first_cycle(args, proc, ps, tmp, time.monotonic())
            url = f"http://127.0.0.1:{port}"
            phases["idle, no page asked yet"] = sample(ps, args.idle)
            asked = ask_every_page(url, keywords_text)
            phases[f"idle after every page once ({asked} requests)"] = sample(ps, args.idle)
            for _ in range(10):
                asked = ask_every_page(url, keywords_text)
            phases[f"idle after 10 more rounds ({10 * asked} requests)"] = sample(ps, args.idle)
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    shutil.rmtree(tmp, ignore_errors=True)
    load_end = os.getloadavg()[0]
    lines = [
        "## Service memory with the dashboard (issue 12)",
        "",
        f"`python bench/bench_web_memory.py --feeds {args.feeds} --idle {args.idle:g}` "
        f"({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {cpu_model()}, {os.cpu_count()} cores, "
        f"shared; load average {load_start:.1f} at the start, {load_end:.1f} at the end). "
        f"`monitor run` with {args.feeds} feeds of the local farm (first cycle done), the "
        "command bot, /metrics and the dashboard on `--http`; memory summed over the "
        "service's process and its children with psutil, sampled every second for "
        f"{args.idle:g} s per phase (median, and the highest sample).",
        "",
        "| phase | processes | RSS median / max MB | PSS median / max MB | target |",
        "|---|---:|---:|---:|---|",
    ]
    for name, m in phases.items():
        ok = "met" if m["pss_max"] <= TARGET_MB and m["rss_max"] <= TARGET_MB else "missed"
        lines.append(
            f"| {name} | {m['processes']:.0f} | {m['rss']:.0f} / {m['rss_max']:.0f} | "
            f"{m['pss']:.0f} / {m['pss_max']:.0f} | <= {TARGET_MB:g} MB: {ok} |"
        )
    section = "\n".join(lines)
    print(section)
    if not args.no_write:
        write_section("web-memory", section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
