"""Service benchmark: ``monitor run`` with 1,000 feeds, its idle footprint and alert latency.

    .venv/bin/python bench/bench_service.py [--feeds 1000] [--idle 240] [--alerts 10]
                                            [--full-interval] [--runs 1] [--no-bot]
                                            [--no-write] [--keep]

Set-up: the feed farm of the poll benchmark (``bench/feedfarm.py``, its own process:
``--feeds`` feeds of 30 real items, 50-250 ms per answer, ETag/304) plus one "hot" feed;
the local Telegram Bot API server of the tests (``tests/support/telegram_server.py``,
threads of this process) with the channel ``@eu_ai_watch``; the repository's
keywords.yaml.  ``monitor run`` is started as users start it, as a subprocess
(``python -m monitor run``) with ``TELEGRAM_BOT_TOKEN`` and ``TELEGRAM_API_URL`` pointing
at the local server, the command bot on (``--no-bot``: off) and /metrics on a free port.
The feeds are polled every 15 minutes, the hot feed every ``--hot-interval`` seconds;
``backfill: 0``, so that the first cycle queues no alerts (1,000 new feeds would
otherwise queue about 1,500 backfill alerts, which take the outbox over an hour at
Telegram's 20 messages a minute per channel: that is not idling).

Measured, per run (a thread samples the process's CPU time and RSS with psutil every
second from the end of the first cycle on):

1. first cycle: from the start of the process until every feed has been polled (the
   state database says so), its CPU time and peak RSS;
2. idle: ``--idle`` seconds between the first and the second round of 15-minute polls:
   average CPU as a share of one core, median and highest RSS;
3. alert latency, ``--alerts`` times: the farm puts a new item that the ``ai-act``
   watchlist matches on the hot feed; the farm records when it first answered the poll
   that carried it, the Telegram server when the ``sendMessage`` with its title
   arrived (both ``time.monotonic()``, one clock system-wide on Linux);
4. with ``--full-interval`` (about 16 minutes): wait for the second round of polls,
   publish matching items while it runs (latency under load), then the average CPU and
   the highest RSS over the whole interval since the first round;
5. SIGTERM: seconds until the process exits, and its exit code.

The section between ``<!-- BEGIN service -->`` and ``<!-- END service -->`` in
docs/benchmarks.md is rewritten (the markers are added at its end when missing).
"""

from __future__ import annotations

import argparse
import html
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_poll import version  # noqa: E402
from common import cpu_model, write_section  # noqa: E402
from feedfarm import FeedFarm, default_replay  # noqa: E402

from tests.support.telegram_server import TelegramServer  # noqa: E402

TARGETS = {"rss": 150.0, "cpu": 5.0, "latency": 1.0}
CHANNEL = "@eu_ai_watch"
Result = dict[str, Any]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return check()


def write_feeds_yaml(path: Path, urls: list[str], hot: str, args: argparse.Namespace) -> None:
    lines = [
        "settings:",
        f"  concurrency: {args.concurrency}",
        f"  per_host: {args.per_host}",
        "defaults:",
        f"  interval: {args.interval}",
        "  timeout: 30s",
        "  backfill: 0",
        "  fulltext: never",  # the replay's links are real sites; full text: bench_fulltext
        "feeds:",
        f"  - id: hot\n    url: {hot}\n    interval: {args.hot_interval}s",
    ]
    lines += [f"  - id: f{i:04d}\n    url: {url}" for i, url in enumerate(urls)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def polled_feeds(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        conn = sqlite3.connect(db, timeout=5)
        try:
            return int(
                conn.execute(
                    "SELECT COUNT(*) FROM feeds WHERE last_attempt IS NOT NULL"
                ).fetchone()[0]
            )
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def cpu_seconds(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


def peak_rss_mb(pid: int) -> float:
    """VmHWM: the highest resident set size of the process so far."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def one_run(args: argparse.Namespace, run: int) -> Result:
    out: Result = {}
    tmp = Path(tempfile.mkdtemp(prefix="bench-service-"))
    log_path = tmp / "run.log"
    with (
        FeedFarm.start(feeds=args.feeds, latency=args.latency, seed=run + 1,
                       replay=args.replay, hosts=args.hosts) as farm,
        TelegramServer() as tg,
    ):  # fmt: skip
        tg.add_channel(CHANNEL)
        write_feeds_yaml(tmp / "feeds.yaml", farm.urls, farm.hot, args)
        shutil.copy(ROOT / "keywords.yaml", tmp / "keywords.yaml")
        env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": tg.token,
            "TELEGRAM_API_URL": tg.base_url,
            "PYTHONUNBUFFERED": "1",
        }
        for name in ("SMTP_HOST", "TELEGRAM_ADMIN_IDS", "TELEGRAM_ADMIN_CHAT"):
            env.pop(name, None)
        cmd = [
            sys.executable, "-m", "monitor", "run", "--feeds", str(tmp / "feeds.yaml"),
            "--keywords", str(tmp / "keywords.yaml"), "--state", str(tmp / "state"),
            "--http", f"127.0.0.1:{free_port()}",
        ]  # fmt: skip
        if args.no_bot:
            cmd.append("--no-bot")
        started = time.monotonic()
        with log_path.open("wb") as log:
            proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        ps = psutil.Process(proc.pid)
        sampler = Sampler(ps)
        try:
            out.update(first_cycle(args, proc, ps, tmp, started))
            sampler.start()
            since = time.monotonic()
            out.update(idle(args, sampler, farm))
            at_idle = alerts(args, farm, tg, count=args.alerts)
            out.update(latencies=at_idle["latencies"], alerts_missing=at_idle["missing"])
            if args.full_interval:
                db = tmp / "state" / "monitor.sqlite3"
                out.update(full_interval(args, sampler, farm, tg, db, since))
        finally:
            sampler.done.set()
            out.update(stop(proc))
        out["log_tracebacks"] = sum(
            1 for line in log_path.read_text(errors="replace").splitlines() if "Traceback" in line
        )
    if args.keep:
        print(f"kept {tmp}", flush=True)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def first_cycle(
    args: argparse.Namespace, proc: subprocess.Popen[bytes], ps: psutil.Process, tmp: Path,
    started: float,
) -> Result:  # fmt: skip
    db = tmp / "state" / "monitor.sqlite3"
    total = args.feeds + 1

    def done() -> bool:
        if proc.poll() is not None:
            raise SystemExit(f"monitor run exited early:\n{(tmp / 'run.log').read_text()}")
        return polled_feeds(db) >= total

    if not wait_until(done, args.first_timeout, step=0.2):
        raise SystemExit(f"first cycle not done after {args.first_timeout} s")
    seconds = time.monotonic() - started
    cpu = cpu_seconds(ps)
    print(f"first cycle: {total} feeds polled {seconds:.1f} s after start, {cpu:.2f} s CPU",
          flush=True)  # fmt: skip
    time.sleep(args.settle)
    return {"first_cycle": seconds, "first_cycle_cpu": cpu, "first_peak_rss": peak_rss_mb(ps.pid)}


class Sampler(threading.Thread):
    """Samples the process's CPU time and RSS every second, in the background."""

    def __init__(self, ps: psutil.Process) -> None:
        super().__init__(daemon=True)
        self.ps = ps
        self.samples: list[tuple[float, float, float]] = []  # (monotonic, CPU s, RSS MB)
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(1.0):
            try:
                sample = (time.monotonic(), cpu_seconds(self.ps), self.ps.memory_info().rss)
            except psutil.Error:
                return
            self.samples.append((sample[0], sample[1], sample[2] / 2**20))

    def window(self, start: float, end: float) -> Result:
        """CPU share of one core, RSS and the busiest minute between two samples."""
        inside = [x for x in self.samples if start <= x[0] <= end]
        if len(inside) < 2:
            raise SystemExit("too few samples: measure for longer")
        (t0, c0, _), (t1, c1, _) = inside[0], inside[-1]
        rss = [x[2] for x in inside]
        minute = max(
            ((b[1] - a[1]) / (b[0] - a[0]) for a, b in zip(inside, inside[60:], strict=False)),
            default=(c1 - c0) / (t1 - t0),
        )
        return {
            "seconds": t1 - t0,
            "cpu_seconds": c1 - c0,
            "cpu_pct": 100 * (c1 - c0) / (t1 - t0),
            "busiest_minute_pct": 100 * minute,
            "rss_median": statistics.median(rss),
            "rss_max": max(rss),
        }


def idle(args: argparse.Namespace, sampler: Sampler, farm: FeedFarm) -> Result:
    farm.reset()
    t0 = time.monotonic()
    time.sleep(args.idle)
    stats = farm.stats()
    w = sampler.window(t0, time.monotonic())
    print(
        f"idle {w['seconds']:.0f} s: CPU {w['cpu_pct']:.2f} % of one core, RSS median "
        f"{w['rss_median']:.0f} MB, max {w['rss_max']:.0f} MB, {stats['requests']} feed requests",
        flush=True,
    )
    return {"idle": w, "idle_requests": stats["requests"], "idle_status": stats["status"]}


def next_round(db: Path) -> tuple[float, float]:
    """Monotonic times of the first and last scheduled poll of the 15-minute feeds."""
    conn = sqlite3.connect(db, timeout=5)
    try:
        first, last = conn.execute(
            "SELECT MIN(next_poll), MAX(next_poll) FROM feeds WHERE id <> 'hot'"
        ).fetchone()
    finally:
        conn.close()

    def mono(text: str) -> float:
        when = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        return time.monotonic() + (when - datetime.now(UTC)).total_seconds()

    return mono(first), mono(last)


def full_interval(
    args: argparse.Namespace, sampler: Sampler, farm: FeedFarm, tg: TelegramServer, db: Path,
    since: float,
) -> Result:  # fmt: skip
    """Wait for the second round of 15-minute polls, publishing matching items on the hot
    feed while it runs; then the CPU share over the whole interval since ``since``."""
    first, last = next_round(db)
    print(f"second round of polls in {first - time.monotonic():.0f} s "
          f"(spread over {last - first:.1f} s)", flush=True)  # fmt: skip
    time.sleep(max(0.0, first - 3.0 - time.monotonic()))
    farm.reset()
    busy = alerts(args, farm, tg, until=last + 3.0, spacing=(2.5, 3.5), first_index=1000)
    wait_until(lambda: farm.stats()["status"].get("304", 0) >= args.feeds, 60, step=0.5)
    time.sleep(5)
    w = sampler.window(since, time.monotonic())
    print(f"full interval {w['seconds']:.0f} s: CPU {w['cpu_pct']:.2f} % of one core, RSS max "
          f"{w['rss_max']:.0f} MB", flush=True)  # fmt: skip
    return {
        "full": w,
        "busy_latencies": busy["latencies"],
        "busy_missing": busy["missing"],
        "round_spread": last - first,
    }


def alerts(
    args: argparse.Namespace, farm: FeedFarm, tg: TelegramServer, *, count: int | None = None,
    until: float | None = None, spacing: tuple[float, float] = (2.5, 4.5), first_index: int = 0,
) -> Result:  # fmt: skip
    """Publish matching items on the hot feed one after the other (``count`` of them, or
    until the monotonic time ``until``); the latency of each from the farm's answer to
    the ``sendMessage``."""
    rng = random.Random(7 + first_index)
    latencies: list[float] = []
    missing = 0
    k = first_index
    while (count is not None and k - first_index < count) or (
        until is not None and time.monotonic() < until
    ):
        title = f"EU AI Act: the Commission publishes guidelines on prohibited practices ({k})"
        summary = (
            "Brussels clarifies how the AI Act's bans on social scoring and emotion "
            f"recognition apply, ahead of the August deadline. Item {k} of the benchmark."
        )
        before = len(tg.calls_to("sendMessage", ok=True))
        version_ = farm.publish_hot(title, summary)

        def arrived(title: str = title, before: int = before) -> bool:
            calls = tg.calls_to("sendMessage", ok=True)[before:]
            return any(title in shown_text(c.params) for c in calls)

        found = wait_until(arrived, args.alert_timeout, step=0.01)
        answered = farm.stats()["hot_answers"].get(str(version_))
        if not found or answered is None:
            missing += 1
            print(f"alert {k}: no sendMessage within {args.alert_timeout} s", flush=True)
        else:
            call = next(
                c for c in tg.calls_to("sendMessage", ok=True)[before:]
                if title in shown_text(c.params)
            )  # fmt: skip
            latencies.append(call.at - answered)
            print(f"alert {k}: {latencies[-1] * 1000:.0f} ms from the feed's answer to "
                  "sendMessage", flush=True)  # fmt: skip
        k += 1
        # Keep below Telegram's 20 messages a minute per channel, which monitor respects:
        # a send held back by that limit would measure the limit, not the pipeline.
        time.sleep(rng.uniform(*spacing))
    return {"latencies": latencies, "missing": missing}


def shown_text(params: dict[str, Any]) -> str:
    """The text of a ``sendMessage`` as a reader sees it (the alert marks its hits in HTML)."""
    return html.unescape(re.sub(r"<[^>]+>", "", str(params.get("text", ""))))


def stop(proc: subprocess.Popen[bytes]) -> Result:
    if proc.poll() is not None:
        return {"exit_code": proc.returncode, "stop_seconds": 0.0}
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
    return {"exit_code": code, "stop_seconds": time.monotonic() - t0}


# -- reporting ------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def report(args: argparse.Namespace, runs: list[Result]) -> str:
    def med(get: Callable[[Result], float]) -> float:
        return statistics.median(get(r) for r in runs)

    def ms(values: list[float]) -> str:
        if not values:
            return "none arrived"
        return f"{statistics.median(values) * 1000:.0f} / {max(values) * 1000:.0f} ms"

    idle_lat = [x for r in runs for x in r["latencies"]]
    busy_lat = [x for r in runs for x in r.get("busy_latencies", [])]
    window = med(lambda r: r["idle"]["seconds"])
    rss_max = max(r["idle"]["rss_max"] for r in runs)
    cpu = med(lambda r: r["idle"]["cpu_pct"])
    full = [r["full"] for r in runs if "full" in r]
    all_lat = idle_lat + busy_lat
    lat_ok = bool(all_lat) and max(all_lat) <= TARGETS["latency"]
    lines = [
        "## Service",
        "",
        "Command: `.venv/bin/python bench/bench_service.py` (writes this section; "
        "`--full-interval` also measures a whole polling interval; `--help` for the options).",
        "",
        f"Machine: {os.cpu_count()} cores ({cpu_model()}), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}; APScheduler {version('APScheduler')}, "
        f"python-telegram-bot {version('python-telegram-bot')}, httpx {version('httpx')}. "
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        "",
        f"Method: `monitor run` as a subprocess (bot {'off' if args.no_bot else 'on'}, "
        f"/metrics on), {args.feeds} feeds of 30 real items at `interval: {args.interval}` from "
        "the feed "
        f"farm of the poll benchmark (own process, {args.hosts} loopback hosts, "
        f"{args.latency[0] * 1000:.0f}-{args.latency[1] * 1000:.0f} ms per answer, ETag/304), "
        f"`concurrency: {args.concurrency}`, `per_host: {args.per_host}`, `backfill: 0` (so "
        "the first cycle queues no backfill alerts), the repository's keywords.yaml, the local "
        "Telegram Bot API server of the tests, and one more feed polled every "
        f"{args.hot_interval} s for the latency test. After the first cycle (and "
        f"{args.settle:g} s to settle) psutil samples the process every second: CPU is user + "
        "system time over the window as a share of one core. Idle window: "
        f"{window:.0f} s, between the first and the second round of polls"
        + (
            "; full interval: from the end of the first round until the second round has "
            f"finished, so it includes {args.feeds} polls answered 304 and the alerts sent "
            "during it"
            if full
            else ""
        )
        + ". Latency: the farm puts an item that `ai-act` matches on the hot feed and records "
        "when it first answered the poll that carried it; the Telegram server records when "
        "the `sendMessage` with that title arrived (`time.monotonic()`, one clock for both "
        f"processes on Linux); {args.alerts} items at idle, 2.5-4.5 s apart (below Telegram's "
        "20 messages a minute per channel, which monitor respects)"
        + (", and more, 2.5-3.5 s apart, while the second round of polls runs" if full else "")
        + f". {len(runs)} run(s); the machine is shared, so CPU time is the steadier figure.",
        "",
        "| measure | result | target |",
        "|---|---:|---|",
        f"| resident memory (RSS) after the first cycle, median / highest over {window:.0f} s "
        f"| {med(lambda r: r['idle']['rss_median']):.0f} / {rss_max:.0f} MB | "
        f"<= {TARGETS['rss']:g} MB: {verdict(rss_max <= TARGETS['rss'])} |",
        f"| average CPU over {window:.0f} s idle (share of one core) | {cpu:.2f} % "
        f"({med(lambda r: r['idle']['cpu_seconds']):.2f} s CPU) | <= {TARGETS['cpu']:g} %: "
        f"{verdict(cpu <= TARGETS['cpu'])} |",
    ]
    if full:
        f_cpu = statistics.median(f["cpu_pct"] for f in full)
        f_rss = max(f["rss_max"] for f in full)
        f_seconds = statistics.median(f["seconds"] for f in full)
        lines += [
            f"| average CPU over a full interval ({f_seconds:.0f} s, with the second round of "
            f"polls) | {f_cpu:.2f} % "
            f"({statistics.median(f['cpu_seconds'] for f in full):.2f} s CPU); busiest minute "
            f"{statistics.median(f['busiest_minute_pct'] for f in full):.1f} % | "
            f"<= {TARGETS['cpu']:g} %: {verdict(f_cpu <= TARGETS['cpu'])} |",
            f"| highest RSS over the full interval | {f_rss:.0f} MB | <= {TARGETS['rss']:g} MB: "
            f"{verdict(f_rss <= TARGETS['rss'])} |",
        ]
    lines += [
        f"| poll that finds a matching item -> Telegram `sendMessage`, at idle, median / max "
        f"of {len(idle_lat)} | {ms(idle_lat)} | <= {TARGETS['latency'] * 1000:.0f} ms: "
        f"{verdict(lat_ok)} (all) |",
    ]
    if full:
        spread = statistics.median(r["round_spread"] for r in runs if "round_spread" in r)
        lines.append(
            f"| the same while the second round of {args.feeds} polls runs (all due within "
            f"{spread:.1f} s), median / max of {len(busy_lat)} | {ms(busy_lat)} | |"
        )
    lines += [
        f"| first cycle ({args.feeds + 1} feeds, from process start) | "
        f"{med(lambda r: r['first_cycle']):.1f} s, "
        f"{med(lambda r: r['first_cycle_cpu']):.1f} s CPU | |",
        f"| peak RSS during the first cycle (VmHWM) | "
        f"{med(lambda r: r['first_peak_rss']):.0f} MB | |",
        f"| SIGTERM to exit | {med(lambda r: r['stop_seconds']):.1f} s (exit code "
        f"{', '.join(str(r['exit_code']) for r in runs)}) | <= 10 s |",
        "",
        f"Feed requests during the idle window: {runs[0]['idle_requests']} "
        f"(the hot feed; {runs[0]['idle_status']}). Alerts that did not arrive: "
        f"{sum(r['alerts_missing'] + r.get('busy_missing', 0) for r in runs)}. Latencies at "
        "idle (ms): "
        + ", ".join(f"{x * 1000:.0f}" for x in idle_lat)
        + "."
        + (
            " While the second round runs (ms): "
            + ", ".join(f"{x * 1000:.0f}" for x in busy_lat)
            + "."
            if full
            else ""
        ),
    ]
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--hosts", type=int, default=100)
    ap.add_argument("--latency", default="0.05:0.25", help="MIN:MAX answer delay, seconds")
    ap.add_argument("--concurrency", type=int, default=400)
    ap.add_argument("--per-host", type=int, default=4)
    ap.add_argument("--idle", type=float, default=240.0, help="seconds measured after cycle 1")
    ap.add_argument("--settle", type=float, default=5.0, help="pause before the idle window")
    ap.add_argument("--alerts", type=int, default=10, help="matching items published")
    ap.add_argument(
        "--full-interval",
        action="store_true",
        help="also wait for the second round of 15-minute polls (about 16 minutes): CPU over "
        "a whole interval, and alert latency while that round runs",
    )
    ap.add_argument("--interval", default="15m", help="interval of the feeds (feeds.yaml)")
    ap.add_argument("--hot-interval", type=int, default=2, help="seconds between hot polls")
    ap.add_argument("--alert-timeout", type=float, default=30.0)
    ap.add_argument("--first-timeout", type=float, default=180.0)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--no-bot", action="store_true", help="run without the command bot")
    ap.add_argument("--replay", type=Path, default=default_replay())
    ap.add_argument("--no-write", action="store_true", help="print only, leave docs alone")
    ap.add_argument("--keep", action="store_true", help="keep the state directory and log")
    args = ap.parse_args()
    args.latency = tuple(float(x) for x in args.latency.split(":"))
    return args


def main() -> int:
    args = parse_args()
    runs = []
    for run in range(args.runs):
        print(f"run {run + 1}/{args.runs}", flush=True)
        runs.append(one_run(args, run))
        print(json.dumps(runs[-1]), flush=True)
    section = report(args, runs)
    if args.no_write:
        print(section)
    else:
        write_section("service", section)
        print("wrote the service section of docs/benchmarks.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
