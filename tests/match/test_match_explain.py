"""Explanations (what matched, what was missing) and the backtest of two matchers."""

from __future__ import annotations

from monitor.match import Explanation, backtest
from monitor.match.report import explanation_json, explanation_text
from tests.match.helpers import article, matcher

YAML = """
actors:
  tudorache: {name: Dragoș Tudorache, aliases: [Tudorache]}
watchlists:
  all-of:
    all: [facial recognition, {actor: tudorache}, police]
  close:
    near:
      - terms: [facial recognition, ban]
        within: 3
  scored:
    weights: {biometric*: 1, facial recognition: 2}
    threshold: 4
  vetoed:
    any: [facial recognition]
    none: [movie]
  german:
    any: [facial recognition]
    languages: [de]
  masked:
    any: [AI Act]
    ignore: [Colorado AI Act]
"""
TEXT = (
    "Tudorache wants a ban on cars. Other news: Facial recognition is the subject of this "
    "movie about biometric data and the Colorado AI Act"
)


def explain() -> dict[str, Explanation]:
    return {e.watchlist: e for e in matcher(YAML).explain(article(TEXT, language="en"))}


def test_explain_lists_every_watchlist_sorted() -> None:
    assert list(explain()) == ["all-of", "close", "german", "masked", "scored", "vetoed"]


def test_explain_says_what_was_missing() -> None:
    e = explain()
    assert not any(x.matched for x in e.values())
    (check,) = e["all-of"].checks
    assert (check.kind, check.ok, check.missing) == ("all", False, ("police",))
    assert check.found == ("facial recognition", "Dragoș Tudorache (actor tudorache)")
    (check,) = e["close"].checks
    assert check.detail == (
        "missing: near(facial recognition; ban; within 3): closest are 4 words apart"
    )
    (check,) = e["scored"].checks
    assert check.detail == "score 3 of 4 needed: biometric* (1), facial recognition (2)"
    any_check, none_check = e["vetoed"].checks
    assert any_check.ok
    assert not none_check.ok
    assert none_check.detail == "vetoed by movie"
    assert e["german"].checks[0].detail == "article language 'en' is not one of de"
    assert [h.text for h in e["masked"].ignored] == ["AI Act"]
    assert e["masked"].checks[0].detail == "none of 1 found: AI Act"


def test_explain_agrees_with_match() -> None:
    m = matcher(YAML)
    art = article(TEXT.replace("movie", "film"), language="de")
    explained = {e.watchlist for e in m.explain(art) if e.matched}
    assert explained == {x.watchlist for x in m.match(art)} == {"vetoed", "german"}


def test_text_and_json_reports() -> None:
    m = matcher(YAML)
    art = article(TEXT.replace("movie", "film"), language="de")
    text = explanation_text(art, m.explain(art))
    assert "MATCH vetoed:" in text
    assert "FAIL all: missing: police" in text
    assert "[Facial recognition]" in text
    assert "\x1b[" not in text
    assert "\x1b[1;32mMATCH" in explanation_text(art, m.explain(art), color=True)
    data = explanation_json(art, m.explain(art))
    vetoed = next(w for w in data["watchlists"] if w["watchlist"] == "vetoed")
    assert vetoed["matched"]
    assert vetoed["hits"][0]["text"] == "Facial recognition"


def test_backtest_lists_gained_and_lost_matches_per_watchlist() -> None:
    old = matcher("""
watchlists:
  ai-act: {any: [AI Act]}
  gone: {any: [privacy]}
""")
    new = matcher("""
watchlists:
  ai-act: {any: [AI Act, Artificial Intelligence Act], ignore: [Colorado AI Act]}
  fresh: {any: [privacy]}
""")
    articles = [
        article("EU AI Act", key="1"),
        article("Colorado AI Act", key="2"),
        article("Artificial Intelligence Act", key="3"),
        article("privacy", key="4"),
    ]
    report = backtest(old, new, articles)
    assert report.articles == 4
    diffs = {d.watchlist: d for d in report.watchlists}
    act = diffs["ai-act"]
    assert (act.status, act.kept) == ("changed", 1)
    assert [c.article.key for c in act.gained] == ["3"]
    assert [c.article.key for c in act.lost] == ["2"]
    assert act.lost[0].match.hits[0].text == "AI Act"
    assert (diffs["gone"].status, len(diffs["gone"].lost)) == ("removed", 1)
    assert (diffs["fresh"].status, len(diffs["fresh"].gained)) == ("added", 1)
    assert "ai-act (changed): +1 -1 =1" in report.render()
    assert "  - Colorado AI Act [AI Act]" in report.render()
