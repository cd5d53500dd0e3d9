"""Scorer of the adversarial corpus (``tests/data/match/adversarial/cases.jsonl``).

A case predicts positive when its watchlist matches; for the ``prominence`` class, when
it matches prominently enough for an instant alert (``min_prominence``).  Run
``python -m tests.match.adversarial`` for the table in docs/benchmarks.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from monitor.match import Matcher
from monitor.models import Article
from tests.match.helpers import DATA, default_matcher

CASES = DATA / "adversarial" / "cases.jsonl"


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def cases(self) -> int:
        return self.tp + self.fp + self.fn + self.tn


def load(path: Path = CASES) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def predict(m: Matcher, case: dict) -> bool:
    article = Article(
        feed_id="adversarial",
        key=str(case["id"]),
        title=case["title"],
        summary=case["summary"],
        content=case["content"],
        language=case["language"],
    )
    for match in m.match(article):
        if match.watchlist == case["watchlist"]:
            if case["class"] != "prominence":
                return True
            spec = m.config.watchlists[match.watchlist]
            return match.prominence >= spec.min_prominence
    return False


def score(m: Matcher, cases: list[dict]) -> tuple[dict[str, Score], list[dict]]:
    """Scores per class (and ``all``), and the cases predicted wrongly."""
    out: dict[str, Score] = {"all": Score()}
    wrong = []
    for case in cases:
        got = predict(m, case)
        for key in (case["class"], "all"):
            s = out.setdefault(key, Score())
            if got and case["expected"]:
                s.tp += 1
            elif got:
                s.fp += 1
            elif case["expected"]:
                s.fn += 1
            else:
                s.tn += 1
        if got != case["expected"]:
            wrong.append(case)
    return out, wrong


def main() -> None:
    scores, wrong = score(default_matcher(), load())
    print("| class | cases | precision | recall |")
    print("|---|---|---|---|")
    for name, s in scores.items():
        print(f"| {name} | {s.cases} | {s.precision:.3f} | {s.recall:.3f} |")
    for case in wrong:
        print("wrong:", json.dumps(case, ensure_ascii=False))


if __name__ == "__main__":
    main()
