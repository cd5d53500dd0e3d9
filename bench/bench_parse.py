"""Parser benchmark: feedparser against monitor's parse stage on the replay fixtures.

    .venv/bin/python bench/bench_parse.py [--replay DIR] [--runs N] [--no-write]

Every replay file (597 real RSS documents, 13,716 items) is loaded into memory first;
each contender then parses all of them, ``--runs`` times, and the median pass is
reported.  Contenders:

- ``feedparser.parse(body)``: the library alone, default settings (sanitising on);
- ``parse_feed(engine="feedparser")``: monitor's stage on its fallback engine, i.e.
  feedparser plus decoding, plain text, dates, canonical URLs and identity keys;
- ``parse_feed()``: monitor's stage as shipped (lxml fast engine, same builder);
- fastfeedparser / feedparser-rs, raw, when installed: reference points only, their
  output is not what monitor needs (see docs/design.md).

The run also checks that both engines give identical ``ParsedFeed`` values on every
file.  The section between ``<!-- BEGIN parse -->`` and ``<!-- END parse -->`` in
docs/benchmarks.md is rewritten with the results, the machine and the method.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import importlib.metadata
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import feedparser  # noqa: E402
from common import DOC, cpu_model, shown, write_section  # noqa: E402

from monitor.parse import Engine, parse_feed  # noqa: E402

NOW = datetime(2024, 1, 1, tzinfo=UTC)
COLD_ITEMS = 1000 * 30


def default_replay() -> Path:
    shared = ROOT.parent / "shared" / "fixtures" / "replay"
    return shared if shared.is_dir() else ROOT / "tests" / "data" / "parse" / "replay"


def load(replay: Path) -> list[tuple[str, bytes]]:
    files = sorted(replay.glob("*/*.xml")) or sorted(replay.glob("*.xml"))
    return [(str(p.relative_to(replay)), p.read_bytes()) for p in files]


def contenders() -> dict[str, Callable[[bytes], int]]:
    def monitor(engine: Engine) -> Callable[[bytes], int]:
        def run(body: bytes) -> int:
            parsed = parse_feed(
                body, feed_id="b", url="https://ex.example/", now=NOW, engine=engine
            )
            return len(parsed.articles)

        return run

    found: dict[str, Callable[[bytes], int]] = {
        "feedparser.parse (library alone)": lambda b: len(feedparser.parse(b).entries),
        'parse_feed(engine="feedparser")': monitor("feedparser"),
        "parse_feed() (lxml fast engine)": monitor("auto"),
    }
    peers = (
        ("fastfeedparser", "fastfeedparser.parse (raw, reference)"),
        ("feedparser_rs", "feedparser_rs.parse (raw, reference)"),
    )
    for module, label in peers:
        try:
            lib = importlib.import_module(module)
        except ImportError:
            continue

        def raw(b: bytes, lib: object = lib) -> int:
            try:
                return len(lib.parse(b).entries)  # type: ignore[attr-defined]
            except Exception:
                return 0

        found[label] = raw
    return found


def measure(fn: Callable[[bytes], int], bodies: list[bytes], runs: int) -> tuple[float, float, int]:
    """Median wall and CPU seconds of one pass over every body, and the items parsed."""
    items = sum(fn(b) for b in bodies)  # warm-up pass, also counts the items
    walls, cpus = [], []
    for _ in range(runs):
        gc.collect()
        w0, c0 = time.perf_counter(), time.process_time()
        for b in bodies:
            fn(b)
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus), items


def agreement(files: list[tuple[str, bytes]]) -> tuple[int, list[str]]:
    differ = []
    for name, body in files:
        fast, slow = (
            parse_feed(body, feed_id="b", url="https://ex.example/", now=NOW, engine=engine)
            for engine in ("lxml", "feedparser")
        )
        if fast != slow:
            differ.append(name)
    return len(files) - len(differ), differ


def version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "-"


def report(
    replay: Path,
    files: int,
    runs: int,
    rows: list[tuple[str, float, float, int]],
    same: int,
    differ: list[str],
    load_avg: float,
) -> str:
    base = rows[0][2]
    lines = [
        "## Parser",
        "",
        "Command: `.venv/bin/python bench/bench_parse.py` (writes this section).",
        "",
        f"Machine: {os.cpu_count()} cores ({cpu_model()}), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}; feedparser {version('feedparser')}, "
        f"lxml {version('lxml')}, selectolax {version('selectolax')}, "
        f"courlan {version('courlan')}.",
        "",
        f"Method: the {files} replay files in `{shown(replay)}` are read into "
        f"memory; each contender parses all of them once to warm up, then {runs} more times; "
        "the table shows the median pass. Rates use CPU time (process time, one thread), "
        "which leaves out the time other processes held the core. "
        "`parse_feed` includes charset decoding, HTML to plain text, dates, canonical URLs "
        "and identity keys; the raw libraries only parse. The machine is shared: its load "
        f"average was {load_avg:.1f} when the run started; under load both wall and "
        "CPU times rise (shared caches), the ratios move less than the rates. "
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        "",
        "| contender | items | wall | CPU | items/s | ms/item | vs feedparser |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, wall, cpu, items in rows:
        lines.append(
            f"| {label} | {items} | {wall:.3f} s | {cpu:.3f} s | {items / cpu:,.0f} | "
            f"{cpu / items * 1000:.4f} | {base / cpu:.1f}x |"
        )
    fast = next(r for r in rows if r[0].startswith("parse_feed()"))
    slow = next(r for r in rows if r[0].startswith('parse_feed(engine="feedparser")'))
    lines += [
        "",
        f"Cold cycle of the poll benchmark (1,000 feeds x 30 items = {COLD_ITEMS:,} items), "
        f"parse stage alone on one core: {COLD_ITEMS * fast[2] / fast[3]:.2f} s of CPU with the "
        f"fast engine, {COLD_ITEMS * slow[2] / slow[3]:.2f} s with feedparser.",
        "",
        f"Equivalence: both engines return identical `ParsedFeed` values on {same} of {files} "
        "files" + (f" (differ: {', '.join(differ[:5])})." if differ else "."),
    ]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--replay", type=Path, default=default_replay(), help="replay fixture folder")
    ap.add_argument("--runs", type=int, default=5, help="timed passes per contender (median)")
    ap.add_argument("--no-write", action="store_true", help="print only, leave docs alone")
    args = ap.parse_args()
    files = load(args.replay.resolve())
    if not files:
        raise SystemExit(f"no *.xml under {args.replay}")
    bodies = [b for _, b in files]
    load_avg = os.getloadavg()[0]
    rows = []
    for label, fn in contenders().items():
        wall, cpu, items = measure(fn, bodies, args.runs)
        rows.append((label, wall, cpu, items))
        rate = items / cpu
        print(f"{label:42s} {items:6d} items {cpu:7.3f} s CPU {rate:9,.0f} items/s", flush=True)
    same, differ = agreement(files)
    print(f"engines agree on {same}/{len(files)} files")
    section = report(args.replay.resolve(), len(files), args.runs, rows, same, differ, load_avg)
    if args.no_write:
        print(section)
    else:
        write_section("parse", section)
        print(f"wrote the parse section of {DOC.relative_to(ROOT)}")
    return 0 if not differ else 1


if __name__ == "__main__":
    raise SystemExit(main())
