"""Copies are found however a content farm dresses them; look-alikes that are news are not."""

from __future__ import annotations

import difflib
import random
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.dedupe.fingerprint import Fingerprint, url_key
from monitor.match import fold
from tests.data.dedupe.spinner import despin, spin, tokens
from tests.dedupe.helpers import NOW, article, doc_article, pairs, seed_text, stories

FARM_FOOTER = "\n\nBy admin\n\nLeave a Reply\n\nYour email address will not be published."


def seed_pair() -> tuple[str, str, str, str]:
    """(original title, original body, spun title, spun body) of the seed article."""
    spun_title, spun_body = seed_text().split("\n", 1)
    original_title, original_body = despin(seed_text()).split("\n", 1)
    return original_title, original_body, spun_title, spun_body


def test_the_reconstructed_original_really_differs_from_the_seed():
    # Guards the next test: undoing the spinner changes about a quarter of the words.
    original, spun = fold(despin(seed_text())).split(), fold(seed_text()).split()
    same = difflib.SequenceMatcher(a=original, b=spun, autojunk=False).ratio()
    assert 0.6 < same < 0.85


def test_the_spun_seed_is_a_copy_of_its_reconstructed_original(tmp_path: Path):
    o_title, o_body, s_title, s_body = seed_pair()
    with stories(tmp_path) as s:
        first = s.add(article(o_title, o_body, "politico-eu", "https://www.politico.eu/a/"))
        copy = s.add(
            article(s_title, s_body, "farm", "https://farm.example/x"), NOW + timedelta(days=2)
        )
    assert first.relation == "first"
    assert copy.relation == "copy"
    assert copy.related_article_id == first.article_id
    assert copy.story_id == first.story_id


@pytest.mark.parametrize("rate", [0.2, 0.3, 0.4])
def test_the_seed_original_spun_again_is_a_copy(tmp_path: Path, rate: float):
    o_title, o_body, _, _ = seed_pair()
    rng = random.Random(rate)
    vocab = sorted({w.lower() for w in tokens(o_body) if w.isalpha() and len(w) > 3})
    spun = spin(o_body, rate, rng, vocab) + FARM_FOOTER
    with stories(tmp_path) as s:
        first = s.add(article(o_title, o_body, "politico-eu"))
        copy = s.add(article(spin(o_title, 0.6, rng, vocab), spun, "farm"))
    assert (copy.relation, copy.related_article_id) == ("copy", first.article_id)


def test_truncation_boilerplate_and_a_new_title_together(tmp_path: Path):
    # A real replay article; the copy keeps 60 % of it, under a farm title and footer.
    pair = next(p for p in pairs()["pairs"] if p["kind"] == "farm" and p.get("length") == "article")
    original, when = doc_article(pair["a"])
    words = original.summary.split()
    copy = article(
        "Breaking: " + original.title.upper(),
        "Advertisement\n" + " ".join(words[: len(words) * 6 // 10]) + FARM_FOOTER,
        "farm",
    )
    with stories(tmp_path) as s:
        first = s.add(original, when)
        found = s.add(copy, when + timedelta(hours=5))
    assert (found.relation, found.related_article_id) == ("copy", first.article_id)


def test_the_same_link_with_tracking_parameters_is_a_copy(tmp_path: Path):
    # Hacker News links the clean URL of an Engadget article the feed gave with ?src=rss.
    pair = next(
        p
        for p in pairs()["pairs"]
        if p["kind"] == "aggregator" and "engadget" in pairs()["docs"][p["a"]]["feed"]
    )
    (a, ta), (b, tb) = doc_article(pair["a"]), doc_article(pair["b"])
    assert a.url != b.url
    assert url_key(a.url) == url_key(b.url)
    with stories(tmp_path) as s:
        first = s.add(a, ta)
        second = s.add(b, max(ta, tb))
    assert (second.relation, second.related_article_id) == ("copy", first.article_id)


@pytest.mark.parametrize("prefix", ["Kurs EUR/PLN", "Koronawirus w Polsce", "Le Monde's top 10"])
def test_issues_of_a_templated_series_are_not_copies(tmp_path: Path, prefix: str):
    pair = next(
        p
        for p in pairs()["pairs"]
        if p["kind"] == "template" and pairs()["docs"][p["a"]]["title"].startswith(prefix)
    )
    (a, ta), (b, tb) = sorted([doc_article(pair["a"]), doc_article(pair["b"])], key=lambda x: x[1])
    with stories(tmp_path) as s:
        s.add(a, ta)
        second = s.add(b, tb)
    assert second.relation != "copy"


def test_a_feeds_shared_boilerplate_does_not_make_a_copy(tmp_path: Path):
    pair = next(
        p
        for p in pairs()["pairs"]
        if p["kind"] == "template" and pairs()["docs"][p["a"]]["feed"] == "guardian-world"
    )
    (a, _ta), (b, _tb) = doc_article(pair["a"]), doc_article(pair["b"])
    assert "Follow our Australia news live blog" in a.summary
    assert "Follow our Australia news live blog" in b.summary
    with stories(tmp_path) as s:
        s.add(a, NOW)
        assert s.add(b, NOW + timedelta(hours=1)).relation == "first"


def test_different_numbers_veto_a_copy():
    base = (
        "The ministry said on Monday that {n} people were infected and {d} died, "
        "according to figures published on the government website in the morning."
    )
    a = Fingerprint.of(article("Daily figures", base.format(n=2217, d=27)))
    b = Fingerprint.of(article("Daily figures", base.format(n=2026, d=30)))
    same = Fingerprint.of(article("Daily figures", base.format(n=2217, d=27) + " Read more"))
    from monitor.dedupe.decide import Settings, copy_score

    assert copy_score(a, b, Settings()) == 0.0
    assert copy_score(a, same, Settings()) > 0.9
