"""Issue 18 targets on the adversarial corpus: precision >= 0.97 and recall >= 0.95."""

from __future__ import annotations

import importlib.util
import json

from tests.match.adversarial import CASES, load, score
from tests.match.helpers import default_matcher


def test_the_corpus_meets_the_targets_in_every_class() -> None:
    cases = load()
    assert len(cases) >= 150
    scores, wrong = score(default_matcher(), cases)
    assert set(scores) == {
        "all",
        "escaping",
        "acronyms",
        "invisible",
        "cut",
        "ambiguous",
        "prominence",
    }
    assert all(s.cases >= 25 for s in scores.values())
    assert scores["all"].precision >= 0.97, wrong
    assert scores["all"].recall >= 0.95, wrong
    assert all(s.precision >= 0.9 and s.recall >= 0.9 for s in scores.values()), wrong


def test_the_corpus_file_is_what_its_generator_builds() -> None:
    spec = importlib.util.spec_from_file_location("make_cases", CASES.with_name("make_cases.py"))
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built = [{"id": n, **case} for n, case in enumerate(module.build(), start=1)]
    assert built == load(), "run tests/data/match/adversarial/make_cases.py"
    assert json.loads(CASES.read_text(encoding="utf-8").splitlines()[0])["id"] == 1
