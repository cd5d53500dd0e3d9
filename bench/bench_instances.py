"""Two ``monitor run`` instances against one on PostgreSQL: a cold cycle's throughput (issue 11).

    python bench/bench_instances.py --database postgresql://postgres@127.0.0.1:5432/postgres
                                    [--feeds 5000] [--runs 1] [--instances 1,2] [--no-write]

A feed farm (``bench/feedfarm.py``: ``--feeds`` feeds of 30 real items, 100 loopback
hosts, 50-250 ms per answer) and, per run and per instance count, a fresh PostgreSQL
database.  The instances are started as users start them (``python -m monitor run
--database URL --no-bot --http ...``, alerts to the console), all at once; each feed is
due at start, so the instances share the first cycle through the feed leases
(``monitor/store/leases.py``).  Measured until every feed has been polled successfully
(``feeds.last_success``; a fetch that timed out is retried by the service after its
back-off, and counted): wall time from the start of the processes, CPU time of the
instances (and their children) and of the database server's backends serving them
(psutil, sampled every second: a backend's time is kept from its last sample),
articles stored per second, how the feeds split between the instances (each one's
``/metrics``: ``monitor_feed_polls_total``), and duplicates: articles stored twice for
one feed and key, and feeds answered more than once by the farm (its 200 count above
the number of feeds).  The section between ``<!-- BEGIN instances -->`` and
``<!-- END instances -->`` of docs/benchmarks.md is rewritten (``--no-write``: print only).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_poll import admin, server_database  # noqa: E402
from bench_service import free_port  # noqa: E402
from common import cpu_model, write_section  # noqa: E402
from feedfarm import FeedFarm, default_replay  # noqa: E402

Result = dict[str, Any]


def write_feeds_yaml(path: Path, urls: list[str], per_host: int) -> None:
    lines = [
        "settings:",
        "  concurrency: 400",
        f"  per_host: {per_host}",
        "defaults:",
        "  interval: 60m",
        "  timeout: 30s",
        "  backfill: 0",
        "  fulltext: never",
        "feeds:",
    ]
    lines += [f"  - id: f{i:05d}\n    url: {url}" for i, url in enumerate(urls)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


class CpuWatch(threading.Thread):
    """CPU seconds of some processes, sampled every second; a process that ends keeps
    the time of its last sample."""

    def __init__(self, pids: Any) -> None:
        super().__init__(daemon=True)
        self.pids = pids  # a callable giving the pids to watch now
        self.seen: dict[int, float] = {}
        self.done = threading.Event()

    def sample(self) -> None:
        for pid in self.pids():
            try:
                t = psutil.Process(pid).cpu_times()
            except psutil.Error:
                continue
            self.seen[pid] = float(t.user + t.system + t.children_user + t.children_system)

    def run(self) -> None:
        while not self.done.wait(1.0):
            self.sample()

    def total(self) -> float:
        self.sample()
        return sum(self.seen.values())


def metric(port: int, name: str, label: str = "") -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    pattern = rf"^{name}(?:{{[^}}]*{re.escape(label)}[^}}]*}})? (\S+)$"
    return sum(float(m.group(1)) for m in re.finditer(pattern, text, re.M))


def one(args: argparse.Namespace, farm: FeedFarm, instances: int, run: int) -> Result:
    tmp = Path(tempfile.mkdtemp(prefix="bench-instances-"))
    name = f"bench_instances_{os.getpid()}_{instances}_{run}"
    admin(args.database, f"CREATE DATABASE {name}")
    url = server_database(args.database, name)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        write_feeds_yaml(tmp / "feeds.yaml", farm.urls, args.per_host)
        shutil.copy(ROOT / "keywords.yaml", tmp / "keywords.yaml")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for var in ("TELEGRAM_BOT_TOKEN", "SMTP_HOST", "MONITOR_DATABASE_URL"):
            env.pop(var, None)
        farm.reset()
        ports = [free_port() for _ in range(instances)]
        load = os.getloadavg()[0]
        started = time.monotonic()
        for i, port in enumerate(ports):
            cmd = [
                sys.executable, "-m", "monitor", "run", "--feeds", str(tmp / "feeds.yaml"),
                "--keywords", str(tmp / "keywords.yaml"), "--state", str(tmp / f"state{i}"),
                "--database", url, "--no-bot", "--http", f"127.0.0.1:{port}",
            ]  # fmt: skip
            with (tmp / f"run{i}.log").open("wb") as log:
                procs.append(
                    subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
                )
        clients = CpuWatch(lambda: [p.pid for p in procs])
        clients.start()
        conn: psycopg.Connection[Any] | None = None
        while conn is None:
            try:
                conn = psycopg.connect(url, autocommit=True)
            except psycopg.Error:
                time.sleep(0.2)

        def backends() -> list[int]:
            assert conn is not None
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid()"
            ).fetchall()
            return [int(r[0]) for r in rows]

        server = CpuWatch(backends)
        server.start()
        total = len(farm.urls)
        polled = 0
        while polled < total:
            if any(p.poll() is not None for p in procs):
                raise SystemExit(f"an instance exited early; see {tmp}")
            if time.monotonic() - started > args.timeout:
                raise SystemExit(f"not every feed polled after {args.timeout} s")
            time.sleep(0.5)
            try:
                polled = int(
                    conn.execute(
                        "SELECT COUNT(*) FROM feeds WHERE last_success IS NOT NULL"
                    ).fetchone()[0]  # type: ignore[index]
                )
            except psycopg.Error:
                polled = 0
        wall = time.monotonic() - started
        client_cpu, server_cpu = clients.total(), server.total()
        split = [int(metric(port, "monitor_feed_polls_total")) for port in ports]
        articles = int(conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0])  # type: ignore[index]
        twice = int(
            conn.execute(
                # A stored key is packed ("guid:" alone when it is "guid:" + url, "link:"
                # alone when "link:" + canonical URL): with both URLs it is the whole key.
                "SELECT COUNT(*) FROM (SELECT 1 FROM articles"
                " GROUP BY feed_id, key, url, canonical_url HAVING COUNT(*) > 1) d"
            ).fetchone()[0]  # type: ignore[index]
        )
        answered = farm.stats().get("status", {})
        oks = int(answered.get("200", answered.get(200, 0)))
        # Polls that failed on the way (timeouts): every one counted by the instances.
        errors = sum(
            int(metric(port, "monitor_feed_polls_total", 'status="error"')) for port in ports
        )
        conn.close()
        clients.done.set()
        server.done.set()
        return {
            "instances": instances,
            "wall": wall,
            "client_cpu": client_cpu,
            "server_cpu": server_cpu,
            "articles": articles,
            "rate": articles / wall,
            "split": split,
            "duplicate_articles": twice,
            "fetched_twice": max(0, oks - total),
            "errors": errors,
            "load": load,
        }
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        admin(args.database, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        shutil.rmtree(tmp, ignore_errors=True)


def report(args: argparse.Namespace, res: dict[int, list[Result]]) -> str:
    def m(rows: list[Result], key: str) -> float:
        return float(statistics.median(r[key] for r in rows))

    base = res[min(res)]
    lines = [
        "## Two instances against one on PostgreSQL (issue 11, `bench/bench_instances.py`)",
        "",
        f"Command: `python bench/bench_instances.py --database URL --feeds {args.feeds}`. "
        f"Machine: {os.cpu_count()} cores ({cpu_model()}), shared and noisy; PostgreSQL on "
        f"the same machine. Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {len(base)} run(s) "
        "per row (medians).",
        "",
        f"Method: {args.feeds} feeds of 30 items on the local farm (100 loopback hosts, "
        "50-250 ms per answer), all due at start; N `monitor run` processes started at "
        "once on a fresh database (`--no-bot`, alerts to the console, `backfill: 0`, "
        f"`per_host: {args.per_host}` across instances, `concurrency: 400` each); timed "
        "until every feed has been polled successfully once (a failed poll is retried "
        "after its back-off and counted in *failed polls*). CPU: the instances with their "
        "children, and the server backends serving them (psutil, sampled every second); "
        "both cores are shared by the instances, the server and the farm.",
        "",
        "| instances | wall | items/s | client CPU | server CPU | feeds per instance "
        "| duplicate articles | extra 200 answers (retries included) | failed polls | load |",
        "|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for n, rows in sorted(res.items()):
        split = " / ".join(str(x) for x in rows[len(rows) // 2]["split"])
        lines.append(
            f"| {n} | {m(rows, 'wall'):.1f} s | {m(rows, 'rate'):.0f} "
            f"| {m(rows, 'client_cpu'):.1f} s | {m(rows, 'server_cpu'):.1f} s | {split} "
            f"| {max(r['duplicate_articles'] for r in rows)} "
            f"| {max(r['fetched_twice'] for r in rows)} | {max(r['errors'] for r in rows)} "
            f"| {min(r['load'] for r in rows):.1f}-{max(r['load'] for r in rows):.1f} |"
        )
    if len(res) > 1:
        one_rate = m(res[min(res)], "rate")
        lines += [
            "",
            "Throughput against one instance: "
            + ", ".join(
                f"{n} instances {m(rows, 'rate') / one_rate:.2f}x"
                for n, rows in sorted(res.items())
                if n != min(res)
            )
            + ". Runs (wall, s): "
            + "; ".join(
                f"{n}: " + ", ".join(f"{r['wall']:.1f}" for r in rows)
                for n, rows in sorted(res.items())
            )
            + ".",
        ]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database", required=True, help="a PostgreSQL server URL (createdb rights)")
    ap.add_argument("--feeds", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument(
        "--per-host",
        type=int,
        default=4,
        help="settings.per_host (the farm spreads the feeds over 100 hosts)",
    )
    ap.add_argument("--instances", default="1,2", help="instance counts to compare")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds for one cycle")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    counts = [int(x) for x in args.instances.split(",")]
    res: dict[int, list[Result]] = {n: [] for n in counts}
    with FeedFarm.start(
        feeds=args.feeds, items=30, hosts=100, latency=(0.05, 0.25), seed=1,
        replay=default_replay(),
    ) as farm:  # fmt: skip
        for run in range(args.runs):
            for n in counts:
                r = one(args, farm, n, run)
                res[n].append(r)
                print(
                    f"run {run + 1} instances {n}: {r['wall']:.1f} s wall, "
                    f"{r['client_cpu']:.1f} s client CPU, {r['server_cpu']:.1f} s server CPU, "
                    f"{r['articles']} articles ({r['rate']:.0f}/s), split {r['split']}, "
                    f"duplicates {r['duplicate_articles']}, fetched twice {r['fetched_twice']}, "
                    f"failed {r['errors']}, load {r['load']:.1f}",
                    flush=True,
                )
    section = report(args, res)
    if args.no_write:
        print(section)
    else:
        write_section("instances", section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
