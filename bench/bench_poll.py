"""Poll-cycle benchmark: monitor's cycle against feedparser and reader on a local feed farm.

    .venv/bin/python bench/bench_poll.py [--feeds 1000] [--items 30] [--runs 3]
                                         [--peer-sample 100] [--reader-workers 32]
                                         [--no-peers] [--no-write]

A feed farm (``bench/feedfarm.py``) runs in its own process: ``--feeds`` RSS feeds of
``--items`` real items each (from the replay fixtures), spread over ``--hosts`` loopback
addresses, each answer after a random 50-250 ms, ETag/Last-Modified and 304, gzip.

Every contender runs in a fresh subprocess per run, so that its peak RSS and its CPU
time (``time.process_time()``: user + system, all threads) are its own:

- monitor: a fresh state directory, the repository's keywords.yaml, then
  ``Poller.cycle`` over every feed three times, as ``monitor poll --all`` does: COLD
  (empty database), WARM (every feed answers 304) and CHANGED (the farm first puts one
  new item on 10 % of the feeds); a :class:`StageClock` splits the CPU time by stage;
- feedparser: the naive serial loop ``feedparser.parse(url)`` over the first
  ``--peer-sample`` feeds, then again with ``etag=``/``modified=`` (WARM); its times are
  extrapolated linearly to all feeds (``--peer-sample 0`` runs them all);
- reader (lemon24/reader): ``add_feed`` for every feed (not timed), then
  ``update_feeds(workers=N, scheduled=False)`` twice (COLD, WARM), for every N of
  ``--reader-workers`` (default 32, 64, 128, 256) in the same run; the fastest N of
  each phase (median wall) is the one compared (issue 15: with 128 workers reader's
  warm cycle fell from 5.0 s to 1.7 s).  reader retrieves in threads and parses in the
  calling thread.  It needs ``sgmllib3k`` (in the ``bench`` extra).

Ratios are given by wall time and by CPU time.  Memory is the peak, per phase, of the
summed RSS and of the summed PSS of the contender's process and its children (monitor's
parser process), sampled every 50 ms the same way for every contender.

The machine is shared: besides wall and CPU time, the time the client waited for a
core (``/proc/self/schedstat``) is reported.  The figures are medians over ``--runs``
runs.  The section between ``<!-- BEGIN poll -->`` and ``<!-- END poll -->`` in
docs/benchmarks.md is rewritten with them, the machine and the method (``--no-write``
leaves the file alone).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import DOC, cpu_model, write_section  # noqa: E402
from feedfarm import FeedFarm, default_replay, loopback  # noqa: E402

TARGETS = {"cold": 6.0, "warm": 3.0, "warm_cpu": 2.5, "changed": 4.0, "rss": 150.0, "ratio": 5.0}
CHANGED_SHARE = 0.10
Result = dict[str, Any]


# -- measuring ------------------------------------------------------------------------


def _rss_pss_kib(pid: int) -> tuple[int, int]:
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


class PssSampler:
    """Samples the summed RSS and the summed PSS of this process plus its children
    (monitor's forked parser process) every 50 ms in a thread; every contender runs it,
    so that memory is compared the same way (issue 15: summed RSS *and* summed PSS; PSS
    splits the pages a forked child shares with its parent, RSS counts them twice)."""

    peak_mb = 0.0
    """Summed PSS, MB, highest since the last :meth:`reset`."""
    peak_rss_mb = 0.0
    """Summed RSS, MB, highest since the last :meth:`reset`."""
    peak_split: tuple[float, float] = (0.0, 0.0)
    """(this process, its children) PSS in MB at the highest PSS of the whole run."""
    _overall = 0.0
    cpu = 0.0
    """CPU seconds the sampling thread has used (about 1.3 ms a sample of two processes):
    ``timed`` takes it out of the contender's CPU, which would otherwise grow with its
    wall time (0.6 s in a 12 s cycle)."""

    @classmethod
    def sample(cls) -> None:
        me = os.getpid()
        try:
            with open(f"/proc/{me}/task/{me}/children") as fh:
                kids = [int(p) for p in fh.read().split()]
        except OSError:
            kids = []
        mine = _rss_pss_kib(me)
        theirs = [_rss_pss_kib(k) for k in kids]
        rss = (mine[0] + sum(t[0] for t in theirs)) / 1024
        pss = (mine[1] + sum(t[1] for t in theirs)) / 1024
        cls.peak_rss_mb = max(cls.peak_rss_mb, rss)
        cls.peak_mb = max(cls.peak_mb, pss)
        if pss > cls._overall:
            cls._overall = pss
            cls.peak_split = (mine[1] / 1024, pss - mine[1] / 1024)

    @classmethod
    def reset(cls) -> None:
        cls.peak_mb = cls.peak_rss_mb = 0.0
        cls.sample()

    @classmethod
    def start(cls) -> None:
        import threading

        def run() -> None:
            while True:
                started = time.thread_time()
                cls.sample()
                cls.cpu += time.thread_time() - started
                time.sleep(0.05)

        threading.Thread(target=run, daemon=True).start()


def runqueue_wait() -> float:
    """Seconds the main thread has spent runnable but waiting for a core (Linux schedstat).

    On a shared machine, other processes' work shows up here and not in CPU time:
    wall ~ CPU + run-queue wait + time with nothing to do (waiting for the network).
    """
    try:
        return int(Path("/proc/self/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(fn: Callable[[], Any]) -> tuple[Any, Result]:
    """Run ``fn``; its wall and CPU seconds, the time it waited for a core, the 1-minute
    load average before it, and the peak summed RSS and PSS while it ran (``PssSampler``)."""
    load = os.getloadavg()[0]
    PssSampler.reset()
    w0, c0, q0 = time.perf_counter(), time.process_time(), runqueue_wait()
    k0, s0 = children_cpu(), PssSampler.cpu
    value = fn()
    # monitor's parser process (a child, reaped when the cycle ends) counts as its CPU;
    # the memory sampler's thread does not.
    wall = time.perf_counter() - w0
    cpu = time.process_time() - c0 + children_cpu() - k0 - (PssSampler.cpu - s0)
    queued = runqueue_wait() - q0
    m = {"wall": wall, "cpu": cpu, "queued": queued, "unqueued": wall - queued, "load": load}
    PssSampler.sample()
    return value, {**m, "rss": PssSampler.peak_rss_mb, "pss": PssSampler.peak_mb}


class StageClock:
    """CPU seconds spent in the pipeline's stages, by wrapping the functions the poller
    calls (``monitor.pipeline.poll``'s own references, so nothing else is affected).

    What is left of a cycle's CPU time is the fetch stage (httpx, connections, the
    event loop) and the poller's bookkeeping.
    """

    STAGES = (
        ("parse", "parse_feed", "parse_feed"),
        ("prepare (identify, match; inline polls)", "prepare", "prepare"),
        ("snapshot", "Store", "snapshot"),
        ("decide", "decide", "decide"),
        ("apply (one transaction: articles, stories, outbox, feed state)", "Store", "apply"),
        ("record (the rest of it)", "Poller", "_record"),
        ("304 bookkeeping", "Poller", "_unchanged"),
    )

    def __init__(self, parse_in_process: bool = True) -> None:
        from monitor.pipeline import poll

        self.spent: Counter[str] = Counter()
        self.children = children_cpu()
        # With a parser process, parse_feed runs there (and must stay picklable): its CPU
        # is the children's CPU, read in take().
        self.parse_in_process = parse_in_process
        for label, owner_name, attr in self.STAGES:
            if owner_name == "parse_feed" and not parse_in_process:
                continue
            # A module-level function of poll, or a method of a class poll imports.
            module_level = owner_name == attr
            owner = poll if module_level else getattr(poll, owner_name)
            name = attr
            setattr(owner, name, self._wrap(label, getattr(owner, name)))

    def _wrap(self, label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed_stage(*args: Any, **kwargs: Any) -> Any:
            # The calling thread's CPU only: on PostgreSQL a cycle's store calls run on a
            # thread of their own while the event loop goes on in the main thread.
            t0 = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.spent[label] += time.thread_time() - t0

        return timed_stage

    def take(self) -> dict[str, float]:
        """CPU seconds per stage since the last call; ``record`` excludes what it called."""
        spent, self.spent = dict(self.spent), Counter()
        if not self.parse_in_process:
            now = children_cpu()
            spent["parse"] = now - self.children
            self.children = now
        record = "record (the rest of it)"
        if record in spent:
            inner = sum(
                spent.get(label, 0.0)
                for label, _, attr in self.STAGES
                if attr in ("snapshot", "decide", "apply")
            )
            spent[record] = max(0.0, spent[record] - inner)
        return spent


def write_feeds_yaml(path: Path, urls: list[str], concurrency: int, per_host: int) -> None:
    lines = [
        "settings:",
        f"  concurrency: {concurrency}",
        f"  per_host: {per_host}",
        "defaults:",
        "  interval: 15m",
        "  timeout: 30s",
        "  fulltext: never",  # the replay's links are real sites; full text: bench_fulltext
        "feeds:",
    ]
    lines += [f"  - id: f{i:04d}\n    url: {url}" for i, url in enumerate(urls)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# -- workers (each runs in its own subprocess) -------------------------------------------


class ServerCpu:
    """CPU seconds of the PostgreSQL server's processes that work for this benchmark, read
    with psutil (``/proc/<pid>/stat``; the server runs on this machine): the backend of
    the store's connection (``pg_backend_pid()``) and the server's own background
    processes (``pg_stat_activity`` rows that are not a client backend: checkpointer, WAL
    writer, background writer, autovacuum). Other clients' backends (other sessions'
    tests on the same server) are left out; an autovacuum worker that starts and ends
    between two readings is missed."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.backend = int(conn.execute("SELECT pg_backend_pid()").fetchone()[0])

    def read(self) -> tuple[float, dict[int, float]]:
        """This backend's CPU seconds so far, and each background process's."""
        import psutil

        aux = [
            int(r[0])
            for r in self.conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE backend_type <> 'client backend'"
            )
        ]

        def cpu(pid: int) -> float | None:
            try:
                t = psutil.Process(pid).cpu_times()
            except psutil.Error:
                return None
            return float(t.user + t.system)

        return cpu(self.backend) or 0.0, {
            pid: used for pid in aux if (used := cpu(pid)) is not None
        }

    @staticmethod
    def aux_delta(before: dict[int, float], after: dict[int, float]) -> float:
        """CPU the background processes used between two ``read``: a process that started
        meanwhile (an autovacuum worker) counts in full; one that ended meanwhile counts
        until it was last seen (a summed list of whoever runs at each end went negative
        when an autovacuum worker ended during a cycle)."""
        return sum(after.get(pid, used) - used for pid, used in before.items()) + sum(
            used for pid, used in after.items() if pid not in before
        )


def server_database(server: str, name: str) -> str:
    """The URL of database ``name`` on the server of ``server`` (a ``postgresql://`` URL)."""
    from urllib.parse import urlsplit, urlunsplit

    return urlunsplit(urlsplit(server)._replace(path=f"/{name}"))


def admin(server: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.encode())


def worker_monitor(farm: dict[str, Any], args: argparse.Namespace) -> Result:
    from monitor.fetch import Fetcher
    from monitor.models import CycleReport
    from monitor.pipeline.build import load_configs, matcher, routing
    from monitor.pipeline.poll import Poller
    from monitor.store import Store, cache_for

    tmp = Path(tempfile.mkdtemp(prefix="bench-poll-"))
    # On PostgreSQL (--database), every run in a fresh database of its own, dropped after.
    database = f"bench_poll_{os.getpid()}" if args.database else None
    url = ""
    if args.database and database:
        admin(args.database, f"CREATE DATABASE {database}")
        url = server_database(args.database, database)
    try:
        write_feeds_yaml(tmp / "feeds.yaml", farm["urls"], args.concurrency, args.per_host)
        shutil.copy(ROOT / "keywords.yaml", tmp / "keywords.yaml")
        cfg, load = timed(lambda: load_configs(str(tmp / "feeds.yaml"), str(tmp / "keywords.yaml")))
        compiled = matcher(cfg.keywords)
        out: Result = {"load_configs": load["wall"]}
        from monitor.pipeline.poll import default_parse_workers

        PssSampler.start()

        workers = default_parse_workers() if args.parse_workers is None else args.parse_workers
        stages = StageClock(parse_in_process=workers == 0)
        out["parse_workers"] = workers
        cache = cache_for(len(cfg.feeds.feeds))  # as `monitor poll` and `monitor run` size it
        with Store(tmp / "state", database_url=url, cache_mib=cache) as store:
            server = ServerCpu(store.conn) if url else None

            async def cycle() -> CycleReport:
                async with Fetcher(cfg.feeds.settings) as fetcher:
                    poller = Poller(
                        feeds=cfg.feeds,
                        store=store,
                        fetcher=fetcher,
                        matcher=compiled,
                        routing=routing(cfg.keywords),
                        parse_workers=workers,
                    )
                    specs = poller.due(poller.clock(), everything=True)
                    return await poller.cycle(specs)

            for phase in ("cold", "warm", "changed"):
                if phase == "changed":
                    count = round(len(farm["urls"]) * CHANGED_SHARE)
                    FeedFarm.control(farm["control"], "publish", count=count, seed=args.run)
                s0 = server.read() if server else (0.0, {})
                report, m = timed(lambda: asyncio.run(cycle()))
                if server:
                    s1 = server.read()
                    m["server_cpu"] = s1[0] - s0[0]
                    m["server_aux_cpu"] = server.aux_delta(s0[1], s1[1])
                m["stages"] = stages.take()
                m["status"] = dict(Counter(r.status for r in report.feeds))
                m["new"] = report.new
                m["errors"] = sorted({r.error or "" for r in report.feeds if r.error})[:3]
                out[phase] = m
            out["articles"] = store.count_articles()
            out["peak_split"] = PssSampler.peak_split
            out["engine"] = store.engine
            out["written"] = written_bytes()
            if not url:
                out["database"] = database_size(store)
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if args.database and database:
            admin(args.database, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def written_bytes() -> int:
    """Bytes this process caused to be written to storage (``/proc/self/io``)."""
    try:
        for line in Path("/proc/self/io").read_text().splitlines():
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def database_size(store: Any) -> Result:
    """The SQLite file's size and its biggest tables and indexes (``dbstat``), after the
    cycles (issue 15: bytes per stored article)."""
    conn = store.conn
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # every page in the main file
    main = store.path.stat().st_size
    wal = store.path.with_name(store.path.name + "-wal")
    tables: dict[str, int] = {}
    try:
        for name, size in conn.execute(
            "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"
        ):
            tables[str(name)] = int(size)
    except Exception:  # a SQLite without the dbstat table: sizes only
        pass
    return {
        "main": main,
        "wal": wal.stat().st_size if wal.exists() else 0,
        "tables": dict(list(tables.items())[:14]),
    }


def worker_feedparser(farm: dict[str, Any], args: argparse.Namespace) -> Result:
    import feedparser

    PssSampler.start()
    urls = farm["urls"][: args.peer_sample or None]
    validators: dict[str, tuple[Any, Any]] = {}

    def cold() -> tuple[Counter[int], int]:
        status: Counter[int] = Counter()
        items = 0
        for url in urls:
            d = feedparser.parse(url)
            status[d.get("status", 0)] += 1
            items += len(d.entries)
            validators[url] = (d.get("etag"), d.get("modified"))
        return status, items

    def warm() -> tuple[Counter[int], int]:
        status: Counter[int] = Counter()
        items = 0
        for url in urls:
            etag, modified = validators[url]
            d = feedparser.parse(url, etag=etag, modified=modified)
            status[d.get("status", 0)] += 1
            items += len(d.entries)
        return status, items

    out: Result = {"sample": len(urls), "scale": len(farm["urls"]) / len(urls)}
    for phase, fn in (("cold", cold), ("warm", warm)):
        (status, items), m = timed(fn)
        m["status"] = {str(k): v for k, v in status.items()}
        m["new"] = items
        out[phase] = m
    return out


def worker_reader(farm: dict[str, Any], args: argparse.Namespace) -> Result:
    from reader import make_reader

    PssSampler.start()
    workers = args.reader_workers[0]
    tmp = Path(tempfile.mkdtemp(prefix="bench-reader-"))
    try:
        reader = make_reader(str(tmp / "reader.sqlite"))
        for url in farm["urls"]:
            reader.add_feed(url)
        out: Result = {"workers": workers}
        for phase in ("cold", "warm"):
            before = reader.get_entry_counts().total
            _, m = timed(lambda: reader.update_feeds(workers=workers, scheduled=False))
            m["new"] = reader.get_entry_counts().total - before
            m["errors"] = sum(1 for _ in reader.get_feeds(broken=True))
            out[phase] = m
        reader.close()
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


WORKERS = {
    "monitor": worker_monitor,
    "monitor-pg": worker_monitor,  # the same, with --database
    "feedparser": worker_feedparser,
    "reader": worker_reader,
}


def run_worker(kind: str, farm_file: Path, args: argparse.Namespace, workers: int = 32) -> Result:
    cmd = [
        sys.executable, __file__, "--worker", kind, "--farm-file", str(farm_file),
        "--concurrency", str(args.concurrency), "--per-host", str(args.per_host),
        "--peer-sample", str(args.peer_sample), "--reader-workers", str(workers),
        "--run", str(args.run),
    ]  # fmt: skip
    if kind == "monitor-pg":
        cmd += ["--database", args.database]
    if args.parse_workers is not None:
        cmd += ["--parse-workers", str(args.parse_workers)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"{kind} worker failed (exit code {proc.returncode})")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


# -- reporting ------------------------------------------------------------------------


def med(results: list[Result], phase: str, key: str, scale: bool = False) -> float:
    values = [r[phase][key] * (r.get("scale", 1.0) if scale else 1.0) for r in results]
    return statistics.median(values)


def series(results: list[Result], phase: str, key: str, scale: bool = False) -> str:
    values = [r[phase][key] * (r.get("scale", 1.0) if scale else 1.0) for r in results]
    return ", ".join(f"{v:.2f}" for v in values)


def version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "-"


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def report(args: argparse.Namespace, farm: FeedFarm, res: dict[str, list[Result]]) -> str:
    mon = res["monitor"]
    n = len(farm.urls)
    changed = round(n * CHANGED_SHARE)
    rss = max(max(r[p]["rss"] for p in ("cold", "warm", "changed")) for r in mon)
    rss_med = statistics.median(max(r[p]["rss"] for p in ("cold", "warm", "changed")) for r in mon)
    cold, warm, chg = (med(mon, p, "wall") for p in ("cold", "warm", "changed"))
    warm_cpu = med(mon, "warm", "cpu")
    floor = n * sum(args.latency) / 2 / min(args.concurrency, args.hosts * args.per_host)
    lines = [
        "## Poll cycle",
        "",
        "Command: `.venv/bin/python bench/bench_poll.py` (writes this section; "
        "`--help` for the options).",
        "",
        f"Machine: {os.cpu_count()} cores ({cpu_model()}), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}; httpx {version('httpx')}, "
        f"lxml {version('lxml')}, feedparser {version('feedparser')}, "
        f"reader {version('reader')}, SQLite {sqlite_version()}. "
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        "",
        f"Method: a feed farm in its own process (`bench/feedfarm.py`, asyncio) serves {n} RSS "
        f"feeds of {args.items} real items each, taken from the replay fixtures "
        f"({len(farm.outlets)} outlets; {farm.bytes / n / 1024:.0f} KiB per feed on "
        f"average, {farm.gzip_bytes / n / 1024:.0f} KiB gzipped), each item with a link and "
        f"guid unique to its feed. The feeds are spread over {args.hosts} loopback addresses "
        f"(127.0.0.2-{loopback(args.hosts - 1)}); every answer waits a random "
        f"{args.latency[0] * 1000:.0f}-{args.latency[1] * 1000:.0f} ms; ETag, Last-Modified "
        "and 304 as a real site; gzip. Each contender runs in a fresh subprocess per run: "
        "wall time, CPU time (`time.process_time()` of that process: user + system, all "
        "threads but the memory sampler's, plus the CPU of its child processes: monitor's "
        "parser process) and peak "
        "memory (the highest summed RSS and summed PSS of the process and its children "
        "during the phase, sampled every 50 ms; PSS counts the pages a forked child shares "
        "with its parent once, RSS twice). monitor: a fresh state directory, the "
        f"repository's keywords.yaml, `concurrency: {args.concurrency}`, "
        f"`per_host: {args.per_host}` (feeds.yaml ships 4), "
        f"{mon[0].get('parse_workers', 0)} parser process(es) (its default on 2 cores); "
        "each cycle is `Poller.cycle` over every feed "
        "(fetch, parse, store, match, route to the outbox, feed health), with a new "
        f"`Fetcher`; COLD on the empty database, WARM right after (every feed answers 304), "
        f"CHANGED after the farm put one new item on {changed} feeds. Loading the "
        f"{n}-feed configuration ({statistics.median(r['load_configs'] for r in mon):.2f} s) "
        f"is not in the cycle. With {n} requests, a mean latency of "
        f"{sum(args.latency) / 2 * 1000:.0f} ms and at most "
        f"{min(args.concurrency, args.hosts * args.per_host)} requests in flight, the "
        f"network alone takes at least {floor:.2f} s per cycle. Medians of {len(mon)} runs; "
        "this 2-core machine is shared and noisy.",
        "",
        "| monitor | wall (median) | CPU (median) | waited for a core | wall - waited "
        "| summed RSS / PSS | runs (wall) | outcome | target |",
        "|---|---:|---:|---:|---:|---:|---|---|---|",
    ]

    def idle_note(phase: str, limit: float) -> str:
        # On a loaded machine the wall time says more about the other processes.
        quiet = med(mon, phase, "unqueued")
        if (med(mon, phase, "wall") <= limit) == (quiet <= limit):
            return ""
        return f" (wall - waited: {verdict(quiet <= limit)})"

    targets = {
        "cold": f"<= {TARGETS['cold']:g} s: {verdict(cold <= TARGETS['cold'])}"
        + idle_note("cold", TARGETS["cold"]),
        "warm": (
            f"<= {TARGETS['warm']:g} s wall: {verdict(warm <= TARGETS['warm'])}"
            + idle_note("warm", TARGETS["warm"])
            + f"; <= {TARGETS['warm_cpu']:g} s CPU: {verdict(warm_cpu <= TARGETS['warm_cpu'])}"
        ),
        "changed": f"<= {TARGETS['changed']:g} s: {verdict(chg <= TARGETS['changed'])}"
        + idle_note("changed", TARGETS["changed"]),
    }
    for phase, label in (
        ("cold", "COLD"),
        ("warm", "WARM (all 304)"),
        ("changed", f"CHANGED ({changed} feeds, 1 new item each)"),
    ):
        status = Counter[str]()
        for r in mon:
            status.update(r[phase]["status"])
        shown = ", ".join(f"{k} {v // len(mon)}" for k, v in sorted(status.items()))
        lines.append(
            f"| {label} | {med(mon, phase, 'wall'):.2f} s | {med(mon, phase, 'cpu'):.2f} s | "
            f"{med(mon, phase, 'queued'):.2f} s | {med(mon, phase, 'unqueued'):.2f} s | "
            f"{med(mon, phase, 'rss'):.0f} / {med(mon, phase, 'pss'):.0f} MB | "
            f"{series(mon, phase, 'wall')} | {shown}; "
            f"{statistics.median(r[phase]['new'] for r in mon):.0f} new | {targets[phase]} |"
        )
    lines += ["", *stage_table(mon)]
    loads = [r[p]["load"] for r in mon for p in ("cold", "warm", "changed")]
    lines += [
        "",
        "*Waited for a core*: the time the client was ready to run while other processes "
        "held both cores (`/proc/self/schedstat` of its thread); *wall - waited* "
        "approximates the wall time on an otherwise idle machine. The 1-minute load "
        f"average before the cycles was {min(loads):.1f}-{max(loads):.1f} on 2 cores "
        "(other sessions' tests and benchmarks share the machine).",
        "",
        f"Peak summed RSS over the three cycles: median {rss_med:.0f} MB, highest {rss:.0f} MB "
        f"(target <= {TARGETS['rss']:g} MB: {verdict(rss <= TARGETS['rss'])}).",
    ]
    readers = {int(k.removeprefix("reader w")): v for k, v in res.items() if k.startswith("reader")}
    if readers and "feedparser" in res:
        lines += peer_lines(args, n, mon, readers, res["feedparser"])
    return "\n".join(lines)


def peer_lines(
    args: argparse.Namespace,
    n: int,
    mon: list[Result],
    readers: dict[int, list[Result]],
    fp: list[Result],
) -> list[str]:
    """The fair comparison of issue 15: reader at its best of the swept ``workers``, ratios
    by wall and by CPU time, summed RSS and summed PSS, the load beside every figure."""
    phases = ("cold", "warm")
    sample = fp[0]["sample"]
    best = {p: min(readers, key=lambda w: med(readers[w], p, "wall")) for p in phases}

    def memory(rows: list[Result], key: str) -> float:
        return float(statistics.median(max(r[p][key] for p in phases) for r in rows))

    def row(name: str, rows: list[Result], scale: bool) -> str:
        loads = [r[p]["load"] for r in rows for p in phases]
        cells = " | ".join(
            f"{med(rows, p, 'wall', scale):.2f} s | {med(rows, p, 'cpu', scale):.2f} s"
            for p in phases
        )
        return (
            f"| {name} | {cells} | {memory(rows, 'rss'):.0f} MB | {memory(rows, 'pss'):.0f} MB "
            f"| {min(loads):.1f}-{max(loads):.1f} |"
        )

    fp_name = "serial `feedparser.parse(url)` loop"
    if sample < n:
        fp_name += f" (**{sample} feeds, extrapolated x{n / sample:g}**)"
    lines = [
        "",
        "Peers, against the same farm in the same run, by the fair method of issue 15: "
        f"reader's `workers` swept over {', '.join(str(w) for w in sorted(readers))}, its "
        "fastest per phase (median wall) compared; ratios by wall **and** by CPU time; memory "
        "as the summed RSS and the summed PSS of each contender's process and its children "
        "(the peak of a phase, sampled every 50 ms; the higher of COLD and WARM); the "
        "1-minute load average at the start of the phases beside every row.",
        "",
        "| contender | COLD wall | COLD CPU | WARM wall | WARM CPU | summed RSS | summed PSS "
        "| load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        row("monitor `Poller.cycle`", mon, False),
        *(row(f"reader `update_feeds(workers={w})`", readers[w], False) for w in sorted(readers)),
        row(fp_name, fp, True),
        "",
        f"Ratios: the peer's median over monitor's (above 1: monitor is faster; target >= "
        f"{TARGETS['ratio']:g}x).",
        "",
        "| peer | COLD by wall | COLD by CPU | WARM by wall | WARM by CPU |",
        "|---|---:|---:|---:|---:|",
    ]
    peers: list[tuple[str, dict[str, list[Result]], bool]] = [
        (
            f"reader at its best (workers {best['cold']} cold, {best['warm']} warm)",
            {p: readers[best[p]] for p in phases},
            False,
        ),
        ("feedparser loop", {p: fp for p in phases}, True),
    ]
    for name, rows, scale in peers:
        cells = []
        for p in phases:
            for key in ("wall", "cpu"):
                ratio = med(rows[p], p, key, scale) / med(mon, p, key)
                cells.append(f"{ratio:.1f}x ({verdict(ratio >= TARGETS['ratio'])})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    rd = readers[best["warm"]]
    lines += [
        "",
        "The peers only fetch and parse (reader also stores); neither matches watchlists nor "
        f"keeps feed health. reader (workers {best['warm']}) stored "
        f"{statistics.median(r['cold']['new'] for r in rd):.0f} entries cold, "
        f"{statistics.median(r['warm']['new'] for r in rd):.0f} warm, "
        f"{max(r['cold']['errors'] for r in rd)} broken feeds. feedparser's sample answered "
        f"{fp[0]['cold']['status']} cold and {fp[0]['warm']['status']} warm.",
    ]
    if sample < n:
        lines.append(
            f"The feedparser loop is serial, so its time grows linearly with the number "
            f"of feeds: it ran on the first {sample} feeds and its times are multiplied "
            f"by {n / sample:g} (`--peer-sample 0` runs all {n})."
        )
    return lines


def stage_table(mon: list[Result]) -> list[str]:
    """monitor's CPU time by stage (medians), from :class:`StageClock`."""
    phases = ("cold", "warm", "changed")
    rest = "fetch, event loop, poller (the rest)"
    labels = [label for label, _, _ in StageClock.STAGES] + [rest]

    def cell(r: Result, phase: str, label: str) -> float:
        stages = r[phase]["stages"]
        if label == rest:
            return float(r[phase]["cpu"] - sum(stages.values()))
        return float(stages.get(label, 0.0))

    lines = [
        "monitor's CPU time by stage (median of the runs; share of the cycle's CPU time):",
        "",
        "| stage | COLD | WARM | CHANGED |",
        "|---|---:|---:|---:|",
    ]
    for label in labels:
        cells = []
        for phase in phases:
            value = statistics.median(cell(r, phase, label) for r in mon)
            share = 100 * value / med(mon, phase, "cpu")
            cells.append(f"{value:.2f} s ({share:.0f} %)")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def engines_report(args: argparse.Namespace, farm: FeedFarm, res: dict[str, list[Result]]) -> str:
    """The same cycles on SQLite and on PostgreSQL (``--database``), the server's CPU
    counted with the client's (issue 11: PostgreSQL within 1.5x of SQLite)."""
    lite, pg = res["monitor"], res["monitor-pg"]
    n = len(farm.urls)
    changed = round(n * CHANGED_SHARE)
    limit = 1.5

    def server(r: Result, phase: str) -> float:
        return float(r[phase].get("server_cpu", 0.0) + r[phase].get("server_aux_cpu", 0.0))

    def total(rows: list[Result], phase: str) -> float:
        return statistics.median(r[phase]["cpu"] + server(r, phase) for r in rows)

    lines = [
        "## Poll cycle on PostgreSQL beside SQLite",
        "",
        "Command: `.venv/bin/python bench/bench_poll.py --database "
        "postgresql://postgres@127.0.0.1:5432/postgres` (writes this section).",
        "",
        f"Machine: {os.cpu_count()} cores ({cpu_model()}), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}; SQLite {sqlite_version()}, "
        f"PostgreSQL {pg_version(args.database)} on the same machine (loopback TCP), "
        f"psycopg {version('psycopg')}. Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. "
        "**Provisional**: this 2-core machine is shared with other sessions' tests and "
        "benchmarks (some of them on the same PostgreSQL server), and noisy.",
        "",
        f"Method: the farm and cycles of the poll section ({n} feeds of {args.items} items, "
        f"{args.hosts} loopback hosts, {args.latency[0] * 1000:.0f}-"
        f"{args.latency[1] * 1000:.0f} ms per answer; COLD, WARM: all 304, CHANGED: one new "
        f"item on {changed} feeds), monitor only, once on SQLite (a fresh state directory) "
        "and once on PostgreSQL (a fresh database, one connection, as `monitor run` "
        f"opens it) per run, alternating; medians of {len(lite)} runs. *Client CPU*: the "
        "monitor process and its parser process (`time.process_time()` + children, less "
        "the memory sampler's thread). "
        "*Server CPU* (PostgreSQL only): psutil's user + system time, before and after each "
        "cycle, of the server process serving monitor's connection (`pg_backend_pid()`) "
        "plus the server's background processes (`pg_stat_activity` rows that are not a "
        "client backend: checkpointer, WAL writer, background writer, autovacuum); other "
        "clients' backends are not counted. SQLite has no server: its CPU is all in the "
        "client. The ratios compare PostgreSQL's client + server CPU with SQLite's CPU.",
        "",
        "| cycle | SQLite wall | SQLite CPU | PostgreSQL wall | client CPU | server CPU "
        "| client + server | wall ratio | CPU ratio | target (<= 1.5x) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for phase, label in (
        ("cold", "COLD"),
        ("warm", "WARM (all 304)"),
        ("changed", f"CHANGED ({changed} feeds, 1 new item each)"),
    ):
        wall = med(pg, phase, "wall") / med(lite, phase, "wall")
        cpu = total(pg, phase) / med(lite, phase, "cpu")
        lines.append(
            f"| {label} | {med(lite, phase, 'wall'):.2f} s | {med(lite, phase, 'cpu'):.2f} s "
            f"| {med(pg, phase, 'wall'):.2f} s | {med(pg, phase, 'cpu'):.2f} s "
            f"| {statistics.median(server(r, phase) for r in pg):.2f} s "
            f"| {total(pg, phase):.2f} s | {wall:.2f}x | {cpu:.2f}x "
            f"| {verdict(wall <= limit and cpu <= limit)} |"
        )
    loads = [r[p]["load"] for rows in (lite, pg) for r in rows for p in ("cold", "warm")]
    lines += [
        "",
        "Runs (wall, s): "
        + "; ".join(
            f"{engine} {phase} {series(rows, phase, 'wall')}"
            for engine, rows in (("SQLite", lite), ("PostgreSQL", pg))
            for phase in ("cold", "warm", "changed")
        )
        + ". Server CPU (median), the backend serving monitor / the background processes "
        "(which also work for the other databases of a shared server): "
        + "; ".join(
            f"{phase} {statistics.median(r[phase].get('server_cpu', 0.0) for r in pg):.2f} / "
            f"{statistics.median(r[phase].get('server_aux_cpu', 0.0) for r in pg):.2f} s"
            for phase in ("cold", "warm", "changed")
        )
        + f". 1-minute load average before the cycles: {min(loads):.1f}-{max(loads):.1f} "
        "on 2 cores. New articles stored (COLD, median): SQLite "
        f"{statistics.median(r['cold']['new'] for r in lite):.0f}, PostgreSQL "
        f"{statistics.median(r['cold']['new'] for r in pg):.0f}.",
    ]
    return "\n".join(lines)


def pg_version(url: str) -> str:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]).split()[0] if row else "?"


def sqlite_version() -> str:
    import sqlite3

    return sqlite3.sqlite_version


def summary(kind: str, r: Result) -> str:
    parts = []
    for phase in ("cold", "warm", "changed"):
        if phase in r:
            m = r[phase]
            scale = r.get("scale", 1.0)
            server = ""
            if "server_cpu" in m:
                server = f" (server {m['server_cpu']:.2f} + {m['server_aux_cpu']:.2f} s)"
            parts.append(
                f"{phase} {m['wall'] * scale:6.2f} s wall {m['cpu'] * scale:6.2f} s CPU "
                f"{m['rss']:4.0f} MB{server}"
            )
    note = f" (x{r['scale']:g} extrapolated)" if r.get("scale", 1.0) != 1.0 else ""
    if r.get("peak_split"):
        note += " (peak PSS: {:.0f} MB this process + {:.0f} MB parser process)".format(
            *r["peak_split"]
        )
    if r.get("database") and r.get("articles"):
        db = r["database"]
        note += f" (database {db['main'] / r['articles']:.0f} B/article, WAL {db['wal'] >> 20} MB"
        note += f", wrote {r.get('written', 0) / 2**30:.2f} GiB)"
    return f"{kind:10s} " + " | ".join(parts) + note


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--feeds", type=int, default=1000, help="feeds on the farm")
    ap.add_argument("--items", type=int, default=30, help="items per feed")
    ap.add_argument("--hosts", type=int, default=100, help="loopback addresses the feeds use")
    ap.add_argument("--latency", default="0.05:0.25", help="MIN:MAX answer delay, seconds")
    ap.add_argument("--runs", type=int, default=3, help="runs of every contender (medians)")
    ap.add_argument("--concurrency", type=int, default=400, help="monitor settings.concurrency")
    ap.add_argument("--per-host", type=int, default=4, help="monitor settings.per_host")
    ap.add_argument(
        "--peer-sample",
        type=int,
        default=100,
        help="feeds for the serial feedparser loop, extrapolated (0: all)",
    )
    ap.add_argument(
        "--reader-workers",
        default="32,64,128,256",
        help="reader's worker threads, swept in the same run; the best is compared",
    )
    ap.add_argument(
        "--parse-workers",
        type=int,
        default=None,
        help="monitor's parser processes (default: monitor's own choice, 1 on 2+ cores)",
    )
    ap.add_argument("--no-peers", action="store_true", help="time monitor only")
    ap.add_argument(
        "--database",
        metavar="URL",
        help="a PostgreSQL server (postgresql://..., a role that may create databases): "
        "monitor on PostgreSQL beside SQLite, each run in a fresh database; no peers; "
        "writes the poll-postgresql section",
    )
    ap.add_argument("--seed", type=int, default=1, help="the farm's choice of items")
    ap.add_argument("--replay", type=Path, default=default_replay(), help="replay fixtures")
    ap.add_argument("--no-write", action="store_true", help="print only, leave docs alone")
    ap.add_argument("--results", type=Path, help="append every run's raw figures (JSON lines)")
    ap.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    ap.add_argument("--farm-file", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--run", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.latency = tuple(float(x) for x in args.latency.split(":"))
    args.reader_workers = [int(w) for w in str(args.reader_workers).split(",")]
    return args


def main() -> int:
    args = parse_args()
    if args.worker:
        farm_info = json.loads(args.farm_file.read_text())
        print(json.dumps(WORKERS[args.worker](farm_info, args)))
        return 0
    kinds = ["monitor"] if args.no_peers else ["monitor", "reader", "feedparser"]
    if args.database:
        kinds = ["monitor", "monitor-pg"]
    results: dict[str, list[Result]] = {k: [] for k in kinds if k != "reader"}
    if "reader" in kinds:
        results.update({f"reader w{w}": [] for w in args.reader_workers})
    with FeedFarm.start(
        feeds=args.feeds,
        items=args.items,
        hosts=args.hosts,
        latency=args.latency,
        seed=args.seed,
        replay=args.replay,
    ) as farm:
        with tempfile.TemporaryDirectory(prefix="bench-farm-") as tmp:
            farm_file = Path(tmp) / "farm.json"
            farm_file.write_text(json.dumps({"urls": farm.urls, "control": farm.control_url}))
            for run in range(args.runs):
                for kind in kinds:
                    args.run = run + 1  # another 10 % of the feeds change in each run
                    sweep = args.reader_workers if kind == "reader" else [0]
                    for workers in sweep:
                        name = f"reader w{workers}" if kind == "reader" else kind
                        r = run_worker(kind, farm_file, args, workers)
                        results[name].append(r)
                        if args.results:
                            with args.results.open("a", encoding="utf-8") as fh:
                                row = {"kind": name, "run": run + 1, "feeds": args.feeds, **r}
                                fh.write(json.dumps(row) + "\n")
                        print(f"run {run + 1}/{args.runs} {summary(name, r)}", flush=True)
                        for phase in ("cold", "warm", "changed"):
                            if phase in r and r[phase].get("errors"):
                                print(f"  {phase} errors: {r[phase]['errors']}", flush=True)
        name = "poll-postgresql" if args.database else "poll"
        section = (engines_report if args.database else report)(args, farm, results)
    if args.no_write:
        print(section)
    else:
        write_section(name, section)
        print(f"wrote the {name} section of {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
