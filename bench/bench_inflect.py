"""Matcher with inflection expansion (issue 14): automaton size, compile time, throughput.

    python3 bench/bench_inflect.py [--replay DIR] [--runs N] [--size 30000] [--no-write]

The same input and pass as bench/bench_match.py (replay items, ``html_to_text``, one
``Article`` per item, ``Matcher.match``), for two term sets, each compiled without and
with expansion:

- the default keywords.yaml: its terms in a language (``by_language:``) expand from the
  forms shipped in the package; "off" compiles with an empty inflector;
- the default keywords.yaml plus the 30,000-term "watch" mix of bench_match.py (plain
  English terms, not expanded): the realistic case, its 24-language terms expanded;
- the 30,000-term "watch" mix alone, with every watchlist given
  ``languages: [en]`` so that every plain term of it expands in English (the replay is
  English news; simplemma's English dictionary).  The forms are computed once (timed as
  "forms, cold": the dictionary load and pass) and written to a cache file; the compile
  is then timed in a fresh process that reads that cache, as a service start would.
  The worst case: every term expanded, and in the language of the corpus.

Compile time is wall time of ``compile_matcher`` in a fresh process (the median of three);
throughput is the median of ``--runs`` passes.  The section between
``<!-- BEGIN inflect -->`` and ``<!-- END inflect -->`` in docs/benchmarks.md is rewritten.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_match import config_data, default_replay, load, make_terms, size_mb, throughput  # noqa: E402
from common import cpu_model, write_section  # noqa: E402

from monitor.config.keywords import KeywordsConfig, keywords_from_source, load_keywords  # noqa: E402
from monitor.config.source import Source  # noqa: E402
from monitor.match import compile_matcher  # noqa: E402
from monitor.match.inflect import Inflector  # noqa: E402
from monitor.match.matcher import inflected_terms  # noqa: E402

TARGETS = {"mbps": 20.0, "compile": 3.0}


def watch_config(items: list[tuple[str, str]], size: int) -> KeywordsConfig:
    data = config_data(make_terms(items, size))
    for watchlist in data["watchlists"].values():
        watchlist["languages"] = ["en"]
    return keywords_from_source(Source(name="bench", root=data))


def mixed_config(items: list[tuple[str, str]], size: int) -> KeywordsConfig:
    """The default keywords.yaml plus the watch mix (plain terms, as bench_match.py)."""
    data = Source.load(str(ROOT / "keywords.yaml")).plain()
    data["watchlists"].update(config_data(make_terms(items, size))["watchlists"])
    return keywords_from_source(Source(name="bench", root=data))


def build(which: str, items: list[tuple[str, str]], size: int) -> KeywordsConfig:
    if which == "default":
        return load_keywords(str(ROOT / "keywords.yaml"))
    return (mixed_config if which == "mixed" else watch_config)(items, size)


def inflector(mode: str, cache: str) -> Inflector:
    if mode == "off":
        return Inflector(shipped=False, compute=False)
    if mode == "shipped":
        return Inflector(compute=False)
    return Inflector(Path(cache), shipped=False, compute=False)


def child(which: str, mode: str, cache: str, replay: str, size: int) -> None:
    cfg = build(which, load(Path(replay)) if which != "default" else [], size)
    t0, c0 = time.perf_counter(), time.process_time()
    matcher = compile_matcher(cfg, inflector(mode, cache))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({"compile_s": wall, "compile_cpu_s": cpu, "patterns": matcher.pattern_count}))


def compile_in_child(which: str, mode: str, cache: Path, replay: Path, size: int) -> dict[str, Any]:
    runs = []
    options = ["--replay", str(replay), "--size", str(size)]
    for _ in range(3):
        out = subprocess.run(
            [sys.executable, __file__, "--child", which, mode, str(cache), *options],
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(json.loads(out.stdout))
    return {
        "compile_s": statistics.median(r["compile_s"] for r in runs),
        "compile_cpu_s": statistics.median(r["compile_cpu_s"] for r in runs),
        "patterns": runs[0]["patterns"],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--replay", type=Path, default=default_replay())
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--size", type=int, default=30000)
    ap.add_argument("--no-write", action="store_true", help="print only, leave docs alone")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child, str(args.replay), args.size)
        return 0
    items = load(args.replay)
    mb = size_mb(items)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "inflections.json"
        # Cold: the English dictionary loaded and searched once for every word.
        t0 = time.perf_counter()
        Inflector(cache, shipped=False).prepare(
            ("en", term.text)
            for term, _ in inflected_terms(watch_config(items, args.size))
            if term.inflects
        )
        cold = time.perf_counter() - t0
        cases = [
            ("default keywords.yaml", "default", "off"),
            ("default keywords.yaml", "default", "shipped"),
            (f"default keywords.yaml + {args.size:,} watch-mix terms", "mixed", "off"),
            (f"default keywords.yaml + {args.size:,} watch-mix terms", "mixed", "shipped"),
            (f"{args.size:,} terms, languages: [en]", "watch", "off"),
            (f"{args.size:,} terms, languages: [en]", "watch", "cache"),
        ]
        for label, which, mode in cases:
            row: dict[str, Any] = {"label": label, "expansion": "off" if mode == "off" else "on"}
            row.update(compile_in_child(which, mode, cache, args.replay, args.size))
            cfg = build(which, items, args.size)
            matcher = compile_matcher(cfg, inflector(mode, str(cache)))
            row.update(throughput(matcher, items, mb, args.runs))
            rows.append(row)
            print(row, file=sys.stderr)
    lines = [
        f"Inflection expansion (issue 14), `bench/bench_inflect.py` on {cpu_model()}, "
        f"{len(items):,} replay items ({mb:.1f} MB), median of {args.runs} passes; compile "
        "in a fresh process (median of 3), forms read from the cache. The cores are shared: "
        "compare CPU figures, and the off/on pairs with each other. Targets: "
        f">= {TARGETS['mbps']:g} MB/s, compile < {TARGETS['compile']:g} s with expansion on.",
        "",
        "| terms | expansion | automaton keys | compile s wall | compile s CPU | MB/s wall "
        "| MB/s CPU | hits/item |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['label']} | {r['expansion']} | {r['patterns']:,} | {r['compile_s']:.2f} "
            f"| {r['compile_cpu_s']:.2f} | {r['mbps']:.1f} | {r['cpu_mbps']:.1f} "
            f"| {r['hits_per_item']:.2f} |"
        )
    lines += [
        "",
        f"Forms of the {args.size:,} terms' words, cold (English dictionary loaded and "
        f"searched once, then written to the cache): {cold:.1f} s; a later start reads "
        "the cache.",
    ]
    section = "\n".join(lines)
    print(section)
    if not args.no_write:
        write_section("inflect", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
