"""Idle memory of ``monitor run`` with the dashboard on, end to end (issue 12).

    python bench/bench_web_memory.py [--feeds 1000] [--idle 30] [--no-write]

The set-up of ``bench/bench_service.py``: the feed farm (its own process), the local
Telegram Bot API server (threads of this process), the repository's keywords.yaml, and
``python -m monitor run`` as a subprocess with ``--http`` on a free port, which serves
``/healthz``, ``/metrics`` and the dashboard.  After the first cycle has polled every
feed, memory is sampled every second for ``--idle`` seconds in each phase:

0. a first service started with ``--http ''`` (no HTTP at all): the baseline;
1. with the dashboard: idle, no page asked yet (its modules imported, nothing rendered);
2. after every page and every ``/api`` twin was asked once (templates compiled, the
   reader's connection open, a search run, the digest preview rendered), no lab;
3. after the lab's backtest of the shipped keywords.yaml over the last day's articles
   (every article of the first cycle, about 20,000; it compiles two matchers), by its
   form then its API;
4. after the same again ``--rounds`` times (does it grow?).

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


def ask_pages(url: str) -> int:
    with httpx.Client(base_url=url, timeout=120) as client:
        for path in PAGES:
            client.get(path).raise_for_status()
    return len(PAGES)


def run_lab(url: str, ps: psutil.Process, keywords: str, cut: list[str]) -> None:
    """The lab's backtest by its form and by its API, one after the other; one the
    server's request deadline cut off is listed in ``cut``: its work goes on in its
    worker thread, so the next starts only when the process is idle again."""
    with httpx.Client(base_url=url, timeout=120) as client:
        for path in ("/lab", "/api/lab"):
            try:
                client.post(path, data={"yaml": keywords, "days": "1"}).raise_for_status()
            except httpx.RemoteProtocolError:
                cut.append(path)
                wait_idle(ps)


def tree_cpu(ps: psutil.Process) -> float:
    """CPU seconds of the process and its living children (the lab's runs in one)."""
    total = 0.0
    for p in [ps, *ps.children(recursive=True)]:
        try:
            t = p.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system
    return total


def wait_idle(ps: psutil.Process, timeout: float = 300.0) -> None:
    """Until the process and its children used under 10 % of a core for three seconds
    in a row."""
    calm = 0
    end = time.monotonic() + timeout
    while calm < 3 and time.monotonic() < end:
        before = tree_cpu(ps)
        time.sleep(1.0)
        calm = calm + 1 if tree_cpu(ps) - before < 0.1 else 0


def service(
    args: argparse.Namespace, tmp: Path, http: bool, keywords: str, cut: list[str]
) -> dict[str, dict[str, float]]:
    """Start ``monitor run`` (with or without ``--http``) and measure its phases."""
    phases: dict[str, dict[str, float]] = {}
    state = tmp / ("state-http" if http else "state-plain")
    with (
        FeedFarm.start(feeds=args.feeds, latency=(0.05, 0.25), seed=1, replay=default_replay(),
                       hosts=args.hosts) as farm,
        TelegramServer() as tg,
    ):  # fmt: skip
        tg.add_channel(CHANNEL)
        write_feeds_yaml(tmp / "feeds.yaml", farm.urls, farm.hot, args)
        (tmp / "keywords.yaml").write_text(keywords, encoding="utf-8")
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
            "--keywords", str(tmp / "keywords.yaml"), "--state", str(state),
            "--http", f"127.0.0.1:{port}" if http else "",
        ]  # fmt: skip
        with (tmp / "run.log").open("wb") as log:
            proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        ps = psutil.Process(proc.pid)
        try:
            # bench_service's first_cycle reads the database under tmp/"state"
            (tmp / "state").unlink(missing_ok=True)
            (tmp / "state").symlink_to(state.name)
            first_cycle(args, proc, ps, tmp, time.monotonic())
            if not http:
                phases["no HTTP at all (`--http ''`): the service alone"] = sample(ps, args.idle)
                return phases
            url = f"http://127.0.0.1:{port}"
            phases["dashboard on, no page asked yet"] = sample(ps, args.idle)
            asked = ask_pages(url)
            phases[f"after every page and API once ({asked} GETs), no lab"] = sample(ps, args.idle)
            run_lab(url, ps, keywords, cut)
            phases["after the lab's backtest (form, then API)"] = sample(ps, args.idle)
            for _ in range(args.rounds):
                ask_pages(url)
                run_lab(url, ps, keywords, cut)
            phases[f"after {args.rounds} more rounds of all that"] = sample(ps, args.idle)
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    return phases


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--hosts", type=int, default=100)
    ap.add_argument("--idle", type=float, default=30.0, help="seconds sampled per phase")
    ap.add_argument("--settle", type=float, default=5.0)
    ap.add_argument("--first-timeout", type=float, default=300.0)
    ap.add_argument("--rounds", type=int, default=3, help="rounds of every page after the first")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    # what bench_service's helpers read
    args.concurrency, args.per_host, args.interval, args.hot_interval = 400, 4, "15m", 60
    load_start = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="bench-web-memory-"))
    keywords_text = (ROOT / "keywords.yaml").read_text(encoding="utf-8")
    cut: list[str] = []
    phases = service(args, tmp, False, keywords_text, cut)
    phases.update(service(args, tmp, True, keywords_text, cut))
    shutil.rmtree(tmp, ignore_errors=True)
    load_end = os.getloadavg()[0]
    lines = [
        "## Service memory with the dashboard (issue 12)",
        "",
        f"`python bench/bench_web_memory.py --feeds {args.feeds} --idle {args.idle:g}` "
        f"({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {cpu_model()}, {os.cpu_count()} cores, "
        f"shared; load average {load_start:.1f} at the start, {load_end:.1f} at the end). "
        f"`monitor run` with {args.feeds} feeds of the local farm (first cycle done), the "
        "command bot, /metrics and the dashboard on `--http` (first without HTTP, for the "
        "baseline: a second process, its own first cycle); memory summed over the "
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
    lines += [
        "",
        f"Lab backtests whose connection the server closed: {len(cut)} of "
        f"{2 * (args.rounds + 1)} (the shipped keywords.yaml, every article of the first "
        "cycle). Until 2026-12-07 every one was: the header cap counted the POSTed "
        "keywords.yaml as headers and answered 431 (taken for the request deadline).",
    ]
    section = "\n".join(lines)
    print(section)
    if not args.no_write:
        write_section("web-memory", section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
