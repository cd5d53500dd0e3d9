"""The thresholds hold on the held-out half of the labelled pairs (tests/data/dedupe).

Each pair goes through a real index: its earlier article, then the later one, inside a
savepoint that is rolled back afterwards, so pairs do not see each other.  (bench/
bench_dedupe.py runs the same with every other replay article in the index too and
reports the figures in docs/benchmarks.md.)
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from monitor.dedupe import StoryAssignment
from monitor.store.stories import StoryRows
from tests.dedupe.helpers import Stories, doc_article, pairs, stories

Outcome = tuple[dict[str, str], StoryAssignment, StoryAssignment]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> list[Outcome]:
    out: list[Outcome] = []
    with stories(tmp_path_factory.mktemp("quality")) as s:
        for n, pair in enumerate(p for p in pairs()["pairs"] if p["split"] == "test"):
            first, second = sorted(
                (doc_article(pair["a"]), doc_article(pair["b"])), key=lambda x: x[1]
            )
            out.append((pair, *_both(s, n, first, second)))
    return out


def _both(s: Stories, n: int, first: tuple, second: tuple) -> tuple[StoryAssignment, ...]:
    ids = (2 * n + 1, 2 * n + 2)
    conn = s.store.conn
    conn.execute("BEGIN")
    try:
        a = s.index.assign(StoryRows(conn), ids[0], *first)
        b = s.index.assign(StoryRows(conn), ids[1], *second)
    finally:
        conn.execute("ROLLBACK")
        s.index.discard(ids)
    return a, b


def _is_copy(a: StoryAssignment, b: StoryAssignment) -> bool:
    return b.relation == "copy" and b.related_article_id == a.article_id


def test_copies_spun_up_to_40_percent_are_found(outcomes: list[Outcome]):
    spun = [
        (a, b)
        for p, a, b in outcomes
        if p["kind"].startswith("spin-") and p.get("length") == "article"
    ]
    assert len(spun) >= 100
    recall = sum(_is_copy(a, b) for a, b in spun) / len(spun)
    assert recall >= 0.95


def test_copy_precision(outcomes: list[Outcome]):
    said = Counter(p["label"] for p, a, b in outcomes if _is_copy(a, b))
    assert said["copy"] / sum(said.values()) >= 0.98


def test_every_dressing_of_an_article_is_mostly_found(outcomes: list[Outcome]):
    by_kind: dict[str, list[bool]] = {}
    for p, a, b in outcomes:
        if p["label"] == "copy" and p.get("length") == "article":
            by_kind.setdefault(p["kind"], []).append(_is_copy(a, b))
    for kind, found in by_kind.items():
        assert sum(found) / len(found) >= (0.8 if kind == "farm" else 0.95), kind


def test_no_copy_between_different_news(outcomes: list[Outcome]):
    wrong = [p for p, a, b in outcomes if p["label"] == "different" and _is_copy(a, b)]
    assert wrong == []


def test_the_quality_fixture_is_the_one_documented(tmp_path: Path):
    kinds = Counter(p["kind"] for p in pairs()["pairs"])
    assert kinds["spin-40"] == kinds["farm"] == 100
    assert {"story", "related", "template", "same-topic", "random"} <= set(kinds)
