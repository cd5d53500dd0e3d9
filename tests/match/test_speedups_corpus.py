"""The compiled path (monitor/_speedups.pyx) and the pure-Python one give the same
matches and explanations on real feed text: every item of the replay copy in
tests/data/match and every case of the adversarial corpus (issue 18), with the shipped
keywords.yaml and with a few thousand terms drawn from the replay itself, so that many
items have several hits, acronym keys and word* prefixes.

The hypothesis tests in test_speedups.py reach the corners; this one checks the texts
the matcher meets.  It compares the two paths directly, so it runs (and compares) also
when ``MONITOR_MATCH_PURE=1`` forces the rest of the suite onto the Python path.
"""

from __future__ import annotations

import json
import re
from itertools import pairwise

import pytest

from monitor import speedups
from monitor.config.keywords import load_keywords
from monitor.match import Matcher, compile_matcher
from monitor.match.inflect import Inflector
from monitor.models import Article
from tests.match import adversarial
from tests.match.helpers import DEFAULT_KEYWORDS, config, replay_articles

if speedups.for_matching(force=True) is None:
    pytest.fail("the compiled matcher is not built (see test_speedups.py)", pytrace=False)

REPLAY = [article for _, article in replay_articles()]
CASES = [
    Article(
        feed_id="adversarial",
        key=str(case["id"]),
        title=case["title"],
        summary=case["summary"],
        content=case["content"],
        language=case["language"],
    )
    for case in adversarial.load()
]


def _replay_terms() -> list[str]:
    """Word pairs of the replay's titles, its capitalised words, a ``word*`` prefix and an
    ``=ACRONYM`` now and then: terms that occur, as a watch list's names do."""
    terms: set[str] = set()
    for number, article in enumerate(REPLAY):
        words = re.findall(r"[^\W\d_]{3,}", article.title)
        for i, (first, second) in enumerate(pairwise(words)):
            if (number + i) % 2 == 0:
                terms.add(f"{first} {second}")
        for i, word in enumerate(words):
            if word[0].isupper() and (number + i) % 4 == 0:
                terms.add(word)
            elif len(word) > 6 and (number + i) % 23 == 0:
                terms.add(word[:-2] + "*")
            elif word.isupper() and len(word) <= 5:
                terms.add("=" + word)
    return sorted(terms)


def _both(cfg_text: str | None) -> tuple[Matcher, Matcher]:
    cfg = load_keywords(str(DEFAULT_KEYWORDS)) if cfg_text is None else config(cfg_text)
    compiled = compile_matcher(cfg, Inflector(compute=False), compiled=True)
    pure = compile_matcher(cfg, Inflector(compute=False), compiled=False)
    assert compiled._scanner.compiled
    assert not pure._scanner.compiled
    return compiled, pure


def _replay_config() -> str:
    terms = _replay_terms()
    lists = {f"w{i // 10:04d}": {"any": terms[i : i + 10]} for i in range(0, len(terms), 10)}
    return json.dumps({"watchlists": lists})


@pytest.fixture(scope="module")
def shipped() -> tuple[Matcher, Matcher]:
    return _both(None)


@pytest.fixture(scope="module")
def drawn() -> tuple[Matcher, Matcher]:
    return _both(_replay_config())


def test_the_corpora_are_what_this_test_expects() -> None:
    assert len(REPLAY) > 400
    assert len(CASES) >= 150
    assert len(_replay_terms()) > 1500


@pytest.mark.parametrize("corpus", ["replay", "adversarial"])
def test_both_paths_give_the_same_matches_and_explanations_with_the_shipped_keywords(
    shipped: tuple[Matcher, Matcher], corpus: str
) -> None:
    compiled, pure = shipped
    articles = REPLAY if corpus == "replay" else CASES
    matched = 0
    for article in articles:
        found = compiled.match(article)
        assert found == pure.match(article), article.title
        assert compiled.explain(article) == pure.explain(article), article.title
        matched += bool(found)
    assert matched > 10  # else the comparison says little


def test_both_paths_give_the_same_matches_with_terms_drawn_from_the_replay(
    drawn: tuple[Matcher, Matcher],
) -> None:
    compiled, pure = drawn
    hits = 0
    for article in REPLAY + CASES:
        found = compiled.match(article)
        assert found == pure.match(article), article.title
        hits += sum(len(m.hits) for m in found)
    assert hits > 2 * len(REPLAY)  # several hits an item: sorting, nesting, marks
