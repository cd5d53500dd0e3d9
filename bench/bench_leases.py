"""Claim rate of the lease queue on PostgreSQL (issue 11): leases per second at 100,000
feeds, one claimer against two.

Every feed is due.  A claimer is a process with its own ``Store`` (its own connection),
as an instance is; it claims feeds one at a time by id, as the poll scheduler does
(``claim_feeds(feed_ids=(id,), per_host=...)``, a host slot with each), then releases them
(``release_feed``), so a claim and a release are one poll's overhead.  The ids are split
between the claimers when there are two, with 10 % of each one's ids also asked for by the
other (contention: the loser's claim comes back empty).  Also the queue form
(``claim_feeds(limit=50)`` without ids), the one ``monitor`` does not use today.

Run: ``MONITOR_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres
python bench/bench_leases.py [--feeds 100000] [--claims 3000] [--runs 3] [--write]``.
A database ``monitor_bench_leases`` is created on that server and dropped at the end.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg

from bench.common import cpu_model, write_section
from monitor.models import FeedSpec
from monitor.store import Store

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)
DB = "monitor_bench_leases"


def _database(base: str) -> str:
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB}" TEMPLATE template0')
    return urlunsplit(urlsplit(base)._replace(path="/" + DB))


def _prepare(url: str, feeds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(tmp, database_url=url)
        specs = [
            FeedSpec(id=f"f{i:06d}", url=f"https://host{i % 2000}.example/feed{i}")
            for i in range(feeds)
        ]
        store.sync_feeds(specs, NOW)
        store.close()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE feeds")


def _reset(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE feeds SET lease_owner = NULL, lease_until = NULL")
        conn.execute("DELETE FROM host_slots")


def _claimer(url: str, name: str, ids: list[str], queue: bool, out: mp.Queue[object]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(tmp, database_url=url)
        got = 0
        cpu, wall = time.process_time(), time.perf_counter()
        if queue:
            for _ in range(len(ids) // 50):
                claimed = store.claim_feeds(name, NOW, NOW + LEASE, 50)
                got += len(claimed)
        else:
            for feed_id in ids:
                claimed = store.claim_feeds(
                    name, NOW, NOW + LEASE, 1, feed_ids=(feed_id,), per_host=4
                )
                got += len(claimed)
                if claimed:
                    store.release_feed(feed_id, name)
        out.put((got, time.perf_counter() - wall, time.process_time() - cpu))
        store.close()


def run(url: str, claimers: int, claims: int, queue: bool, feeds: int) -> tuple[float, float]:
    """Leases per second of all the claimers together (over the slowest one's wall time),
    and the claimers' CPU ms per lease."""
    _reset(url)
    ctx = mp.get_context("spawn")
    out: mp.Queue[object] = ctx.Queue()
    step = feeds // claimers
    procs = []
    for c in range(claimers):
        mine = [f"f{i:06d}" for i in range(c * step, c * step + claims)]
        if claimers > 1:  # a tenth also asked for by the other claimer
            other = (c + 1) % claimers
            mine[: claims // 10] = [
                f"f{i:06d}" for i in range(other * step, other * step + claims // 10)
            ]
        procs.append(ctx.Process(target=_claimer, args=(url, f"c{c}", mine, queue, out)))
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    got = sum(int(r[0]) for r in results)  # type: ignore[index]
    slowest = max(float(r[1]) for r in results)  # type: ignore[index]
    cpu = sum(float(r[2]) for r in results)  # type: ignore[index]
    return got / slowest, 1000 * cpu / max(got, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=100_000)
    ap.add_argument("--claims", type=int, default=3000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = ap.parse_args()
    base = os.environ.get(
        "MONITOR_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    url = _database(base)
    try:
        _prepare(url, args.feeds)
        rows = []
        for label, claimers, queue in (
            ("one claimer, by id (as `monitor run`)", 1, False),
            ("two claimers, by id, 10 % contended", 2, False),
            ("one claimer, queue of 50", 1, True),
            ("two claimers, queue of 50", 2, True),
        ):
            rates, cpus = [], []
            for _ in range(args.runs):
                rate, cpu = run(url, claimers, args.claims, queue, args.feeds)
                rates.append(rate)
                cpus.append(cpu)
            rows.append((label, statistics.median(rates), statistics.median(cpus)))
            print(f"{label}: {rows[-1][1]:,.0f} leases/s, {rows[-1][2]:.2f} ms CPU per lease")
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    if args.write:
        lines = [
            "## Lease queue on PostgreSQL (issue 11, `bench/bench_leases.py`)",
            "",
            f"{args.feeds:,} feeds, all due, in one PostgreSQL (the local server on 127.0.0.1,"
            f" shared); {args.claims:,} claims per claimer, median of {args.runs} runs;"
            f" machine: {cpu_model()}, 2 cores, noisy (up to 7 agents share it).",
            "A lease by id is one claim transaction (feed row and a host slot, `SKIP LOCKED`)"
            " and one release transaction: a poll's whole lease overhead. Rate: leases granted"
            " per second of wall time, all claimers together; CPU: the claimers' own (client)"
            " CPU per lease, the server's not counted.",
            "",
            "| claimers | leases/s | client CPU per lease |",
            "|---|---:|---:|",
            *(f"| {label} | {rate:,.0f} | {cpu:.2f} ms |" for label, rate, cpu in rows),
        ]
        write_section("bench_leases", "\n".join(lines))


if __name__ == "__main__":
    main()
