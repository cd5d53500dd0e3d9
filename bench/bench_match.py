"""Matcher benchmark: monitor's compiled matcher against a Python ``re`` alternation.

    .venv/bin/python bench/bench_match.py [--replay DIR] [--runs N] [--sizes 10,100,...]
                                          [--no-write]

Input: every item of the replay fixtures (real RSS titles and HTML descriptions), held in
memory as published.  One pass = for each item, HTML to plain text (``html_to_text``) for
title and description, build an ``Article``, ``Matcher.match`` it.  Throughput is the
UTF-8 size of the title and description *as published* (HTML included) divided by the
median wall time of ``--runs`` passes.

Terms, per size N (seeded, so every run uses the same ones), the "watch" mix: half pairs
of real corpus words (names and phrases that mostly do not occur, although their first
word often does, which is what makes an automaton work), a tenth rare capitalised corpus
words (names that do occur), the rest made-up names; one term in twenty is a ``word*``
prefix, one in fifty an ``=ACRONYM``; ten terms per watchlist (``any:``).  A "stress" mix
at 30,000 terms (a third real word pairs and triples, a third frequent names) shows the
cost of many matches per article.  The default keywords.yaml is measured as well.

The peer is one ``re`` pattern ``\\b(?:t1|t2|...)\\b`` (``re.IGNORECASE``, words joined by
``[\\s-]+``, ``\\w*`` for a ``*``, ``(?-i:...)`` for ``=``) run with ``findall`` over the
same plain text, after the same ``html_to_text``; it folds no accents, so it does less
work.  It is timed on as many items as fit in a few seconds.

Compile time and memory are measured in a fresh subprocess per size: RSS (psutil) after
building the ``KeywordsConfig``, then after ``compile_matcher`` (and, separately, after
``re.compile``).  The section between ``<!-- BEGIN match -->`` and ``<!-- END match -->``
in docs/benchmarks.md is rewritten with the results, the machine and the method.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import cpu_model, shown, write_section  # noqa: E402

from monitor import speedups  # noqa: E402
from monitor.config.keywords import KeywordsConfig, keywords_from_source, load_keywords  # noqa: E402
from monitor.config.source import Source  # noqa: E402
from monitor.match import Matcher, compile_matcher, fold  # noqa: E402
from monitor.match.mend import mend  # noqa: E402
from monitor.match.normalize import fold_for_automaton  # noqa: E402
from monitor.models import Article  # noqa: E402
from monitor.plaintext import html_to_text  # noqa: E402

SIZES = (10, 100, 1000, 30000)
RE_BUDGET = 3.0  # seconds of `re` scanning per run
COMMON_WORDS = 300
TARGETS = {"mbps": 20.0, "ratio": 100.0, "compile": 3.0, "memory": 300.0}

Item = tuple[str, str]


def default_replay() -> Path:
    shared = ROOT.parent / "shared" / "fixtures" / "replay"
    return shared if shared.is_dir() else ROOT / "tests" / "data" / "match" / "replay"


def load(replay: Path) -> list[Item]:
    items = []
    for path in sorted(replay.glob("*/*.xml")):
        for node in ElementTree.parse(path).getroot().iter("item"):
            items.append((node.findtext("title") or "", node.findtext("description") or ""))
    return items


def size_mb(items: list[Item]) -> float:
    return sum(len(t.encode()) + len(d.encode()) for t, d in items) / 1e6


# -- terms --------------------------------------------------------------------------------


def make_terms(
    items: list[Item], count: int, *, heavy: bool = False, seed: int = 20231208
) -> list[str]:
    """``count`` distinct terms built from the corpus vocabulary (see the module docstring).

    The default mix is a watch list: pairs of real words (names and phrases that mostly
    do not occur, though their first word often does), made-up names, and a few rare
    capitalised corpus words.  ``heavy`` is a stress mix whose terms occur all the time.
    """
    rng = random.Random(seed)
    plain = [html_to_text(t) + " . " + html_to_text(d) for t, d in items[:4000]]
    texts = [fold(p) for p in plain]
    words = Counter(w for text in texts for w in text.split() if w.isalpha() and len(w) > 3)
    common = {w for w, _ in words.most_common(COMMON_WORDS)}
    vocab = sorted(w for w in words if w not in common)
    # Keyword lists are mostly names: words that the corpus nearly always capitalises.
    capital = Counter(fold(w) for p in plain for w in re.findall(r"(?<=\w )[A-ZÀ-Ž]\w+", p))
    names = sorted(
        w for w, n in capital.items() if w in words and w not in common and n >= 0.8 * words[w]
    )
    syllables = ["ka", "lo", "vi", "zen", "tor", "mi", "ra", "bel", "qua", "dro", "ski", "nu"]
    if heavy:
        grams = sorted(
            {
                " ".join(ws[i : i + n])
                for ws in (t.split() for t in texts[:1500])
                for n in (2, 3)
                for i in range(len(ws) - n + 1)
                if all(w.isalpha() and w not in common for w in ws[i : i + n])
            }
        )
        picked = rng.sample(grams, min(len(grams), count // 3))
        picked += rng.sample(names, min(len(names), count // 3))
    else:
        rare = sorted(w for w in names if words[w] <= 2)
        picked = rng.sample(rare, min(len(rare), count // 10))
        picked += [f"{rng.choice(vocab)} {rng.choice(vocab)}" for _ in range(count // 2)]
    terms: set[str] = set()
    for term in picked:
        roll = rng.random()
        if roll < 0.05 and len(term.split()[-1]) > 5:
            term = term[:-1] + "*"
        elif roll < 0.07 and " " not in term:
            term = "=" + term.upper()
        terms.add(term)
    while len(terms) < count:  # made-up names: they never occur
        terms.add(
            " ".join(
                "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
                for _ in range(rng.randint(1, 2))
            )
        )
    return sorted(terms)


def config_data(terms: list[str]) -> dict[str, Any]:
    watchlists = {f"w{i // 10:05d}": {"any": terms[i : i + 10]} for i in range(0, len(terms), 10)}
    return {"watchlists": watchlists}


def build_config(terms: list[str]) -> KeywordsConfig:
    return keywords_from_source(Source(name="bench", root=config_data(terms)))


def regex_for(terms: list[str]) -> str:
    parts = []
    for term in terms:
        case = term.startswith("=")
        body = term[1:] if case else term
        star = body.endswith("*")
        body = body.rstrip("*")
        part = r"[\s-]+".join(re.escape(w) for w in body.split()) + (r"\w*" if star else "")
        parts.append(f"(?-i:{part})" if case else part)
    return r"\b(?:" + "|".join(parts) + r")\b"


# -- throughput ---------------------------------------------------------------------------


def article_of(item: Item) -> Article:
    return Article(
        feed_id="bench", key="k", title=html_to_text(item[0]), summary=html_to_text(item[1])
    )


def median_pass(fn: Callable[[Item], object], items: list[Item], runs: int) -> tuple[float, float]:
    """Median wall and CPU seconds of one pass over ``items``."""
    for item in items[:2000]:
        fn(item)  # warm the fold table and the parser
    walls, cpus = [], []
    for _ in range(runs):
        gc.collect()
        w0, c0 = time.perf_counter(), time.process_time()
        for item in items:
            fn(item)
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus)


def regex_mbps(pattern: re.Pattern[str], items: list[Item], runs: int) -> tuple[float, float]:
    """Median wall and CPU MB/s of the ``re`` peer, time-boxed."""
    walls, cpus = [], []
    for r in range(runs):
        done = 0
        w0, c0 = time.perf_counter(), time.process_time()
        i = r * 97
        while time.perf_counter() - w0 < RE_BUDGET / runs or done < 20:
            title, desc = items[i % len(items)]
            pattern.findall(html_to_text(title))
            pattern.findall(html_to_text(desc))
            done += len(title.encode()) + len(desc.encode())
            i += 1
        walls.append(done / 1e6 / (time.perf_counter() - w0))
        cpus.append(done / 1e6 / (time.process_time() - c0))
    return statistics.median(walls), statistics.median(cpus)


def throughput(matcher: Matcher, items: list[Item], mb: float, runs: int) -> dict[str, float]:
    match = matcher.match
    wall, cpu = median_pass(lambda item: match(article_of(item)), items, runs)
    sample = [match(article_of(item)) for item in items[::5]]
    return {
        "mbps": mb / wall,
        "cpu_mbps": mb / cpu,
        "hits_per_item": sum(len(m.hits) for found in sample for m in found) / len(sample),
        "matches_per_item": sum(len(found) for found in sample) / len(sample),
    }


# -- compile time and memory (in a child process) -----------------------------------------


def child(size: int, replay: str, heavy: bool) -> None:
    import psutil  # type: ignore[import-untyped]

    proc = psutil.Process()
    items = load(Path(replay))
    terms = make_terms(items, size, heavy=heavy)
    del items
    gc.collect()
    rss0 = proc.memory_info().rss
    t0 = time.perf_counter()
    cfg = build_config(terms)
    t1 = time.perf_counter()
    rss1 = proc.memory_info().rss
    matcher = compile_matcher(cfg)
    t2 = time.perf_counter()
    gc.collect()
    rss2 = proc.memory_info().rss
    pattern = re.compile(regex_for(terms), re.IGNORECASE)
    t3 = time.perf_counter()
    gc.collect()
    rss3 = proc.memory_info().rss
    print(
        json.dumps(
            {
                "size": size,
                "patterns": matcher.pattern_count,
                "groups": pattern.groups,
                "config_s": t1 - t0,
                "compile_s": t2 - t1,
                "config_mb": (rss1 - rss0) / 1e6,
                "compile_mb": (rss2 - rss1) / 1e6,
                "re_compile_s": t3 - t2,
                "re_mb": (rss3 - rss2) / 1e6,
                "peak_mb": proc.memory_info().rss / 1e6,
            }
        )
    )


def compile_stats(size: int, replay: Path, heavy: bool = False) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", str(size), "--replay", str(replay)]
    out = subprocess.run(
        command + (["--heavy"] if heavy else []), capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


# -- report -------------------------------------------------------------------------------


def stage_rates(items: list[Item], mb: float, runs: int) -> dict[str, tuple[float, float]]:
    """Wall and CPU MB/s of the stages one pass goes through, for the breakdown.

    The normaliser (``mend`` and the fold) is timed apart from the key search; with the
    compiled path (``monitor/_speedups.pyx``) both run in one call, so the key search is
    that call's time minus the fold's.
    """
    plain = [(html_to_text(t), html_to_text(d)) for t, d in items]
    joined = [mend(f"{t} \x01 {d} \x01  \x01 ")[0] for t, d in plain]
    plain_mb = sum(len(j.encode()) for j in joined) / 1e6
    scanner = compile_matcher(build_config(make_terms(items, 30000)))._scanner
    fast = speedups.for_matching() if scanner.compiled else None

    def rate(size: float, fn: Callable[[Any], object], data: list[Any]) -> tuple[float, float]:
        wall, cpu = median_pass(fn, data, runs)
        return size / wall, size / cpu

    rates = {
        "html_to_text (MB/s of input)": rate(
            mb, lambda i: (html_to_text(i[0]), html_to_text(i[1])), items
        ),
    }
    if fast is None:
        automaton = scanner._automaton
        assert automaton is not None
        folded = [fold_for_automaton(j)[0] for j in joined]
        rates["normaliser: mend + fold (MB/s of plain text)"] = rate(
            plain_mb, lambda j: fold_for_automaton(mend(j)[0]), joined
        )
        rates["key search: automaton, 30,000 terms (MB/s of plain text)"] = rate(
            plain_mb, lambda f: automaton.find_matches_as_indexes(f, True), folded
        )
    else:
        fold_rate = rate(plain_mb, lambda j: fast.fold(mend(j)[0]), joined)
        words, residual, shapes = scanner._words, scanner._residual, scanner._shapes
        both = rate(plain_mb, lambda j: fast.scan(mend(j)[0], words, residual, shapes, 3), joined)
        rates["normaliser: mend + fold, compiled (MB/s of plain text)"] = fold_rate
        # Time per MB adds up: search = both - fold.
        rates["key search: words + automaton, 30,000 terms, compiled (MB/s of plain text)"] = (
            1 / (1 / both[0] - 1 / fold_rate[0]),
            1 / (1 / both[1] - 1 / fold_rate[1]),
        )
    rates["_sizes"] = (plain_mb, plain_mb)
    return rates


def report(
    replay: Path,
    items: list[Item],
    mb: float,
    runs: int,
    rows: list[dict[str, Any]],
    stages: dict[str, tuple[float, float]],
    load: tuple[float, float],
) -> str:
    def mark(ok: bool) -> str:
        return "yes" if ok else "**no**"

    big = next((r for r in rows if r.get("size") == 30000), None)
    lines = [
        "Command: `.venv/bin/python bench/bench_match.py` (writes this section).",
        "",
        f"Machine: {len(os.sched_getaffinity(0))} cores, {cpu_model()}, Python "
        f"{platform.python_version()} ({platform.machine()}, {platform.system()}); run "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; load average {load[0]:.1f} at the start, "
        f"{load[1]:.1f} at the end.",
        "",
        "Path: "
        + (
            "compiled (`monitor/_speedups.pyx`: html_to_text, fold and key search in C)."
            if speedups.module() is not None
            else "pure Python (the compiled module is not built, or `MONITOR_MATCH_PURE=1`)."
        ),
        "",
        f"Corpus: {len(items):,} items from `{shown(replay)}`: {mb:.2f} MB of titles and "
        "descriptions as published (HTML included).",
        "",
        "Method: one pass = `html_to_text` on title and description, build the `Article`, "
        f"`Matcher.match` (hits, offsets and snippets included); median of {runs} passes "
        "after a warm-up. MB/s = input size as published / time, given for wall time and "
        "for CPU time (`time.process_time`): the cores are shared and wall time swings "
        "with the neighbours' load. The `re` peer runs the same terms as one "
        "case-insensitive alternation with `findall` after the same `html_to_text`, "
        f"time-boxed to {RE_BUDGET:.0f} s per size. Compile time and memory (RSS growth) "
        "come from a fresh process per size. Terms (watch mix): half pairs of real corpus "
        "words, a tenth rare capitalised corpus words, the rest made-up names; 5 % `word*`, "
        "2 % `=ACRONYM`; ten per watchlist. The stress mix (a third real word pairs and "
        "triples, a third frequent names) shows the cost of many matches per item.",
        "",
        "| terms | patterns | MB/s wall | MB/s CPU | hits/item | matches/item "
        "| `re` MB/s wall | `re` MB/s CPU | ratio (CPU) | compile s | compile MB "
        "| `re` compile s | `re` MB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        peer = r.get("re")
        lines.append(
            f"| {r['label']} | {r['patterns']:,} | {r['mbps']:.1f} | {r['cpu_mbps']:.1f} "
            f"| {r['hits_per_item']:.2f} | {r['matches_per_item']:.2f} | "
            + (
                f"{peer[0]:.3f} | {peer[1]:.3f} | {r['cpu_mbps'] / peer[1]:,.0f}x | "
                if peer
                else "- | - | - | "
            )
            + f"{r['compile_s']:.3f} | {r['compile_mb']:.1f} | "
            + (f"{r['re_compile_s']:.2f} | {r['re_mb']:.1f} |" if peer else "- | - |")
        )
    lines += ["", "Where the time goes (median MB/s, wall / CPU):", ""]
    plain_mb, folded_mb = stages["_sizes"]
    seconds = []
    for (name, (_, cpu)), size in zip(
        ((k, v) for k, v in stages.items() if not k.startswith("_")),
        (mb, plain_mb, folded_mb),
        strict=True,
    ):
        lines.append(f"- {name}: {stages[name][0]:.0f} / {cpu:.0f}")
        seconds.append(size / cpu)
    lines += [
        "",
        f"These three steps alone take {sum(seconds):.2f} s of CPU per pass at 30,000 "
        f"terms, a ceiling of {mb / sum(seconds):.0f} MB/s before the rest of the work per "
        "article and per match (building the `Article`, hits, offsets and snippets); "
        f"html_to_text alone caps a pass at {mb / seconds[0]:.0f} MB/s.",
    ]
    if big:
        pass_cpu = mb / big["cpu_mbps"]
        lines += [
            "",
            f"The normaliser (`mend` and the fold) costs {seconds[1] * 1e3:.0f} ms of CPU per "
            f"pass, {100 * seconds[1] / pass_cpu:.0f} % of a pass at 30,000 terms "
            f"({pass_cpu * 1e3:.0f} ms); html_to_text {seconds[0] * 1e3:.0f} ms "
            f"({100 * seconds[0] / pass_cpu:.0f} %).",
        ]
    if big:
        ratio = big["cpu_mbps"] / big["re"][1]
        lines += [
            "",
            f"Targets at 30,000 terms: >= {TARGETS['mbps']:.0f} MB/s end to end: "
            f"{big['mbps']:.1f} wall ({mark(big['mbps'] >= TARGETS['mbps'])}), "
            f"{big['cpu_mbps']:.1f} CPU ({mark(big['cpu_mbps'] >= TARGETS['mbps'])}); "
            f">= {TARGETS['ratio']:.0f}x `re`: {ratio:,.0f}x ({mark(ratio >= TARGETS['ratio'])}); "
            f"compile <= {TARGETS['compile']:.0f} s: {big['compile_s']:.2f} s "
            f"({mark(big['compile_s'] <= TARGETS['compile'])}); "
            f"<= {TARGETS['memory']:.0f} MB: {big['compile_mb']:.0f} MB "
            f"({mark(big['compile_mb'] <= TARGETS['memory'])}).",
        ]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--replay", type=Path, default=default_replay())
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)))
    ap.add_argument("--no-write", action="store_true", help="print only, leave docs alone")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--heavy", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, str(args.replay), args.heavy)
        return 0
    load_start = os.getloadavg()[0]
    items = load(args.replay)
    mb = size_mb(items)
    rows: list[dict[str, Any]] = []
    default = load_keywords(str(ROOT / "keywords.yaml"))
    t0 = time.perf_counter()
    matcher = compile_matcher(default)
    row: dict[str, Any] = {
        "label": "default keywords.yaml",
        "patterns": matcher.pattern_count,
        "compile_s": time.perf_counter() - t0,
        "compile_mb": 0.0,
    }
    row.update(throughput(matcher, items, mb, args.runs))
    rows.append(row)
    print(row, file=sys.stderr)
    for size in (int(s) for s in args.sizes.split(",")):
        stats = compile_stats(size, args.replay)
        terms = make_terms(items, size)
        matcher = compile_matcher(build_config(terms))
        row = {"label": f"{size:,}", **stats}
        row.update(throughput(matcher, items, mb, args.runs))
        row["re"] = regex_mbps(re.compile(regex_for(terms), re.IGNORECASE), items, 3)
        rows.append(row)
        print(row, file=sys.stderr)
    if args.sizes.split(",")[-1] == "30000":
        terms = make_terms(items, 30000, heavy=True)
        matcher = compile_matcher(build_config(terms))
        row = {
            "label": "30,000 (stress mix)",
            "size": None,
            **compile_stats(30000, args.replay, heavy=True),
        }
        row.update(throughput(matcher, items, mb, args.runs))
        row["re"] = regex_mbps(re.compile(regex_for(terms), re.IGNORECASE), items, 3)
        rows.append(row)
        print(row, file=sys.stderr)
    stages = stage_rates(items, mb, args.runs)
    load_end = os.getloadavg()[0]
    section = report(args.replay, items, mb, args.runs, rows, stages, (load_start, load_end))
    print(section)
    if not args.no_write:
        write_section("match", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
