"""Whole-process benchmark: ``monitor poll`` against whole peer processes (issue 15).

    python bench/bench_cli.py [--feeds 200] [--items 30] [--runs 5] [--reader-workers 20]
                              [--no-hyperfine] [--no-write]

The way a cron user runs it: each contender is a fresh process (interpreter start-up,
imports, configuration, database, network, exit), against a local feed farm
(``bench/feedfarm.py``) with no latency: ``--feeds`` feeds of ``--items`` real items.

- monitor: ``python -m monitor poll --all --no-deliver`` with the repository's
  ``keywords.yaml``; COLD from an empty state directory, WARM with every feed answering
  304; IDLE is ``monitor poll --no-deliver`` (no ``--all``) when nothing is due: the
  start-up cost alone;
- reader (lemon24/reader): ``update_feeds(workers=N, scheduled=False)`` in a fresh
  process, the feeds added beforehand (not timed); COLD from a database with only the
  feeds, WARM after it;
- feedparser: a serial ``feedparser.parse(url, etag=, modified=)`` loop that keeps the
  validators in a JSON file (COLD: no file, WARM: the file of the previous run).

Every contender runs from compiled bytecode (``PYTHONPYCACHEPREFIX`` in the temporary
directory, monitor compiled beforehand), as an installed program does, even where
``PYTHONDONTWRITEBYTECODE`` is set.

Measured per run (medians over ``--runs``): wall time; CPU time (user + system of the
process and of every child it waited for, from ``os.wait4``); the peak over the run of
the summed RSS and of the summed PSS of the process and its children
(``psutil.Process.memory_full_info``, sampled every 100 ms); the one-minute load
average when the run started.  When ``hyperfine`` is on the PATH, each command is timed
again by it (``--runs``, ``--prepare`` for COLD) as a cross-check of the wall medians.
The section between ``<!-- BEGIN cli -->`` and ``<!-- END cli -->`` in
docs/benchmarks.md is rewritten (``--no-write``: print only).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import shlex
import shutil
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from common import DOC, cpu_model, write_section  # noqa: E402
from feedfarm import FeedFarm, default_replay  # noqa: E402

PY = sys.executable
Run = dict[str, float]

READER_SETUP = """\
import json, sys
from reader import make_reader
r = make_reader(sys.argv[1])
for url in json.load(open(sys.argv[2])):
    r.add_feed(url)
r.close()
"""
READER_UPDATE = """\
import sys
from reader import make_reader
r = make_reader(sys.argv[1])
r.update_feeds(workers=int(sys.argv[2]), scheduled=False)
r.close()
"""
FEEDPARSER_LOOP = """\
import json, os, sys
import feedparser
urls = json.load(open(sys.argv[1]))
cache = json.load(open(sys.argv[2])) if os.path.exists(sys.argv[2]) else {}
for url in urls:
    etag, modified = cache.get(url, (None, None))
    d = feedparser.parse(url, etag=etag, modified=modified)
    cache[url] = (d.get("etag") or etag, d.get("modified") or modified)
json.dump(cache, open(sys.argv[2], "w"))
"""


# -- measuring ------------------------------------------------------------------------


class TreeMemory:
    """Samples the summed RSS and PSS of a process and its descendants in a thread."""

    def __init__(self, pid: int, every: float = 0.1) -> None:
        import psutil  # type: ignore[import-untyped]

        self.proc = psutil.Process(pid)
        self.every = every
        self.rss = 0
        self.pss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            rss = pss = 0
            try:
                procs = [self.proc, *self.proc.children(recursive=True)]
            except psutil.Error:
                return
            for p in procs:
                try:
                    info = p.memory_full_info()
                except psutil.Error:
                    continue
                rss += info.rss
                pss += getattr(info, "pss", info.rss)
            self.rss = max(self.rss, rss)
            self.pss = max(self.pss, pss)
            self._stop.wait(self.every)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def measure(cmd: list[str], env: dict[str, str]) -> Run:
    """Run ``cmd`` once: wall, CPU of its process tree, peak summed RSS / PSS, load."""
    load = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    memory = TreeMemory(proc.pid)
    assert proc.stderr is not None
    err = proc.stderr.read()  # drained, so that a chatty process never blocks on the pipe
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    memory.stop()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.stderr.write(err[-4000:])
        raise SystemExit(f"{shlex.join(cmd[:4])}... failed (exit code {proc.returncode})")
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss": memory.rss / 2**20,
        "pss": memory.pss / 2**20,
        "load": load,
    }


def hyperfine(cmd: list[str], env: dict[str, str], runs: int, prepare: str | None) -> Run | None:
    """hyperfine's median wall time and mean user + system time for ``cmd``."""
    with tempfile.TemporaryDirectory(prefix="bench-hf-") as tmp:
        out = Path(tmp) / "hf.json"
        hf = ["hyperfine", "--runs", str(runs), "--export-json", str(out), "--style", "none"]
        hf += ["-N"] if prepare is None else ["--prepare", prepare]
        proc = subprocess.run([*hf, shlex.join(cmd)], env=env, capture_output=True, text=True)
        if proc.returncode != 0:  # a cross-check only: say why, keep the benchmark going
            print(f"hyperfine failed: {proc.stderr.strip()[-500:]}", file=sys.stderr)
            return None
        result = json.loads(out.read_text())["results"][0]
    return {"wall": statistics.median(result["times"]), "cpu": result["user"] + result["system"]}


# -- contenders -----------------------------------------------------------------------


class Contender:
    """A whole-process command with an untimed ``reset`` (back to COLD) before it."""

    name = ""
    phases: tuple[str, ...] = ("cold", "warm")

    def __init__(self, tmp: Path, urls_file: Path, args: argparse.Namespace) -> None:
        self.tmp = tmp
        self.urls_file = urls_file
        self.args = args
        self.env = dict(os.environ)
        # An installed program runs from compiled bytecode.  With PYTHONDONTWRITEBYTECODE
        # (set on the shared machine) a checkout compiles its sources again in every run:
        # about 0.1 s of monitor's start-up.  Bytecode goes to the temporary directory.
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")

    def reset(self) -> None:
        raise NotImplementedError

    def reset_shell(self) -> str:
        raise NotImplementedError

    def command(self, phase: str) -> list[str]:
        raise NotImplementedError


class Monitor(Contender):
    name = "monitor"
    phases = ("cold", "warm", "idle")

    def __init__(self, tmp: Path, urls_file: Path, args: argparse.Namespace) -> None:
        super().__init__(tmp, urls_file, args)
        self.state = tmp / "monitor-state"
        self.feeds = tmp / "feeds.yaml"
        urls = json.loads(urls_file.read_text())
        lines = ["settings:", f"  concurrency: {args.concurrency}", f"  per_host: {args.per_host}"]
        lines += ["defaults:", "  interval: 15m", "  timeout: 30s", "feeds:"]
        lines += [f"  - id: f{i:04d}\n    url: {url}" for i, url in enumerate(urls)]
        self.feeds.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.env["PYTHONPATH"] = str(ROOT)  # this checkout's monitor
        compileall = [PY, "-m", "compileall", "-q", str(ROOT / "monitor")]
        subprocess.run(compileall, env=self.env, check=True, stdout=subprocess.DEVNULL)

    def reset(self) -> None:
        shutil.rmtree(self.state, ignore_errors=True)

    def reset_shell(self) -> str:
        return f"rm -rf {shlex.quote(str(self.state))}"

    def command(self, phase: str) -> list[str]:
        cmd = [PY, "-m", "monitor", "poll", "--no-deliver", "--feeds", str(self.feeds)]
        cmd += ["--keywords", str(ROOT / "keywords.yaml"), "--state", str(self.state)]
        return cmd if phase == "idle" else [*cmd, "--all"]


class Reader(Contender):
    name = "reader"

    def __init__(self, tmp: Path, urls_file: Path, args: argparse.Namespace) -> None:
        super().__init__(tmp, urls_file, args)
        self.name = f"reader w{args.reader_workers}"
        self.template = tmp / "reader-template.sqlite"
        self.db = tmp / "reader.sqlite"
        subprocess.run([PY, "-c", READER_SETUP, str(self.template), str(urls_file)], check=True)

    def reset(self) -> None:
        shutil.copyfile(self.template, self.db)

    def reset_shell(self) -> str:
        return f"cp {shlex.quote(str(self.template))} {shlex.quote(str(self.db))}"

    def command(self, phase: str) -> list[str]:
        return [PY, "-c", READER_UPDATE, str(self.db), str(self.args.reader_workers)]


class Feedparser(Contender):
    name = "feedparser loop"

    def __init__(self, tmp: Path, urls_file: Path, args: argparse.Namespace) -> None:
        super().__init__(tmp, urls_file, args)
        self.cache = tmp / "feedparser-validators.json"

    def reset(self) -> None:
        self.cache.unlink(missing_ok=True)

    def reset_shell(self) -> str:
        return f"rm -f {shlex.quote(str(self.cache))}"

    def command(self, phase: str) -> list[str]:
        return [PY, "-c", FEEDPARSER_LOOP, str(self.urls_file), str(self.cache)]


def bench(c: Contender, args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """COLD runs (each after a reset), then WARM (and IDLE) runs on the warm state."""
    out: dict[str, dict[str, Any]] = {}
    for phase in c.phases:
        runs: list[Run] = []
        for _ in range(args.runs):
            if phase == "cold":
                c.reset()
            runs.append(measure(c.command(phase), c.env))
        summary: dict[str, Any] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        summary["walls"] = [r["wall"] for r in runs]
        if args.hyperfine:
            prepare = c.reset_shell() if phase == "cold" else None
            # Its last COLD run leaves the state warm for the next phase, as ours did.
            checked = hyperfine(c.command(phase), c.env, args.runs, prepare)
            if checked is not None:
                summary["hyperfine"] = checked
        out[phase] = summary
        print(f"{c.name:>16} {phase:<5} {fmt_run(summary)}", flush=True)
    return out


def fmt_run(r: dict[str, Any]) -> str:
    text = (
        f"wall {r['wall']:.2f} s, CPU {r['cpu']:.2f} s, RSS {r['rss']:.0f} MB, "
        f"PSS {r['pss']:.0f} MB, load {r['load']:.1f}"
    )
    if "hyperfine" in r:
        text += f" (hyperfine: wall {r['hyperfine']['wall']:.2f} s)"
    return text


# -- reporting ------------------------------------------------------------------------


def version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def hyperfine_version() -> str:
    if not shutil.which("hyperfine"):
        return "not installed"
    return subprocess.run(["hyperfine", "--version"], capture_output=True, text=True).stdout.strip()


def report(args: argparse.Namespace, res: dict[str, dict[str, dict[str, Any]]]) -> str:
    mon = res["monitor"]
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "## Whole processes on a local farm (`bench/bench_cli.py`)",
        "",
        f"Measured {when} on {cpu_model()}, {os.cpu_count()} cores, Linux "
        f"{platform.release()}, Python {platform.python_version()}; reader "
        f"{version('reader')}, feedparser {version('feedparser')}, "
        f"{hyperfine_version()}. Farm: {args.feeds} feeds x {args.items} items over "
        f"{args.hosts} loopback addresses, no latency. Medians of {args.runs} runs.",
        "",
        "**Provisional: taken on a shared machine under load** (the one-minute load average "
        "at the start of each run is in the table; 2 cores). Wall times are inflated by "
        "the wait for a core; CPU time (user + system of the whole process tree, from "
        "`os.wait4`) is the steadier measure.",
        "",
        "| contender | phase | wall s | CPU s | summed RSS MB | summed PSS MB | load | "
        "hyperfine wall s | monitor faster by wall / CPU |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, phases in res.items():
        for phase, r in phases.items():
            hf = f"{r['hyperfine']['wall']:.2f}" if "hyperfine" in r else "-"
            ratio = "-"
            if name != "monitor" and phase in mon:
                ratio = (
                    f"{r['wall'] / mon[phase]['wall']:.2f}x / {r['cpu'] / mon[phase]['cpu']:.2f}x"
                )
            lines.append(
                f"| {name} | {phase} | {r['wall']:.2f} | {r['cpu']:.2f} | {r['rss']:.0f} | "
                f"{r['pss']:.0f} | {r['load']:.1f} | {hf} | {ratio} |"
            )
    lines += [
        "",
        "Method: every command is a fresh process. monitor: `python -m monitor poll --all "
        "--no-deliver` with the shipped `keywords.yaml` (COLD: empty state directory; WARM: "
        "every feed answers 304); IDLE: `monitor poll --no-deliver` with nothing due, the "
        "start-up cost (issue 15 target: <= 0.15 s, <= 60 MB). reader: "
        f"`update_feeds(workers={args.reader_workers}, scheduled=False)` on a database "
        "holding the feeds (added beforehand, not timed). feedparser: a serial "
        "`feedparser.parse(url, etag=, modified=)` loop keeping its validators in a JSON "
        "file; it stores no entry. Memory: the peak over the run of the sum over the "
        "process and its children (monitor's parser process) of RSS and of PSS, sampled "
        "every 100 ms with psutil (the sampler shares the cores: hyperfine's wall, taken "
        "without it, is the cleaner wall figure). A ratio above 1 means monitor is faster.",
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--feeds", type=int, default=200, help="feeds on the farm")
    ap.add_argument("--items", type=int, default=30, help="items per feed")
    ap.add_argument("--hosts", type=int, default=100, help="loopback addresses the feeds use")
    ap.add_argument("--runs", type=int, default=5, help="runs per contender and phase (medians)")
    ap.add_argument("--concurrency", type=int, default=64, help="monitor settings.concurrency")
    ap.add_argument("--per-host", type=int, default=4, help="monitor settings.per_host")
    ap.add_argument("--reader-workers", type=int, default=20, help="reader's worker threads")
    ap.add_argument("--only", choices=("monitor", "reader", "feedparser"), action="append")
    ap.add_argument("--no-hyperfine", action="store_true", help="skip hyperfine's cross-check")
    ap.add_argument("--seed", type=int, default=1, help="the farm's choice of items")
    ap.add_argument("--replay", type=Path, default=default_replay(), help="replay fixtures")
    ap.add_argument("--no-write", action="store_true", help="print only, leave docs alone")
    args = ap.parse_args(argv)
    args.hyperfine = not args.no_hyperfine and shutil.which("hyperfine") is not None
    return args


CONTENDERS: dict[str, Callable[[Path, Path, argparse.Namespace], Contender]] = {
    "monitor": Monitor,
    "reader": Reader,
    "feedparser": Feedparser,
}


def main() -> int:
    args = parse_args()
    results: dict[str, dict[str, dict[str, Any]]] = {}
    with (
        FeedFarm.start(
            feeds=args.feeds,
            items=args.items,
            hosts=args.hosts,
            latency=(0.0, 0.0),
            seed=args.seed,
            replay=args.replay,
        ) as farm,
        tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp_name,
    ):
        tmp = Path(tmp_name)
        urls_file = tmp / "urls.json"
        urls_file.write_text(json.dumps(farm.urls))
        for key in args.only or list(CONTENDERS):
            contender = CONTENDERS[key](tmp, urls_file, args)
            results[contender.name] = bench(contender, args)
    if "monitor" not in results:
        return 0
    section = report(args, results)
    if args.no_write:
        print(section)
    else:
        write_section("cli", section)
        print(f"wrote the cli section of {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
