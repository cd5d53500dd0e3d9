"""Issue 18 item 6: a passing mention in a round-up is not the article's main topic."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from monitor import speedups
from monitor.errors import ConfigError
from monitor.match.prominence import _ROUNDUP_TITLE, MAIN_TOPIC, is_roundup
from monitor.match.report import explanation_json, explanation_text
from monitor.models import Match
from monitor.route import route
from tests.match.helpers import article, config, default_matcher, matcher

KEYWORDS = """
destinations:
  chan: {telegram: "@eu_watch"}
  team: {email: [a@example.org]}
watchlists:
  frt:
    any: [facial recognition]
    min_prominence: 0.5
    alert: [chan]
    digest: [team]
"""
FILLER = "The committee met on Tuesday to discuss a long list of other files. " * 6
ROUNDUP = (
    "Morning Tech: farm subsidies, fish quotas and more",
    "• Farm subsidies: a deal in sight\n• Fish quotas for 2027\n• Rail freight corridors\n"
    "• A new 5G auction\n• Ministers also touched on facial recognition in stations\n"
    "• Satellite launch delayed",
)


@pytest.mark.parametrize(
    ("title", "summary", "score", "label"),
    [
        ("Ban on facial recognition", "MEPs voted.", 1.0, "main topic"),
        ("MEPs vote", "A ban on facial recognition in public spaces passed.", 0.9, "main topic"),
        ("MEPs vote", "A ban on facial recognition passed. " + FILLER, 0.7, "main topic"),
        ("MEPs vote", FILLER + "They also mentioned facial recognition once.", 0.3, "mentioned"),
        (*ROUNDUP, 0.3, "mentioned"),
        ("Weekly digest: facial recognition", "News.", 0.3, "mentioned"),
        (
            "MEPs vote",
            FILLER + "facial recognition, facial recognition and facial recognition.",
            0.5,
            "main topic",
        ),
    ],
)
def test_prominence_from_place_count_and_round_ups(
    title: str, summary: str, score: float, label: str
) -> None:
    m = matcher(KEYWORDS)
    (found,) = m.match(article(title, summary))
    assert found.prominence == score
    (explained,) = m.explain(article(title, summary))
    assert explained.prominence is not None
    assert (explained.prominence.score, explained.prominence.label) == (score, label)
    assert f"prominence {score:g} ({label})" in explanation_text(article(title), [explained])
    assert (
        explanation_json(article(title), [explained])["watchlists"][0]["prominence"]["label"]
        == label
    )


def test_a_passing_mention_goes_to_the_digest_only() -> None:
    cfg = config(KEYWORDS)
    m = matcher(KEYWORDS)
    now = datetime(2026, 12, 7, tzinfo=UTC)

    def kinds(found: list[Match]) -> list[str]:
        return [
            r.kind
            for r in route(
                1, found, watchlists=cfg.watchlists, destinations=cfg.destinations, now=now
            )
        ]

    assert kinds(m.match(article("Ban on facial recognition"))) == ["alert", "digest"]
    assert kinds(m.match(article(*ROUNDUP))) == ["digest"]


def test_min_prominence_is_checked_at_load() -> None:
    with pytest.raises(ConfigError, match=r"keywords.yaml:5: watchlists.w.min_prominence: "):
        config("watchlists:\n  w:\n    any: [x]\n\n    min_prominence: 2\n")


def test_the_shipped_watchlists_alert_on_main_topics_only() -> None:
    cfg = default_matcher().config
    for wl in cfg.watchlists.values():
        if wl.priority == "instant":
            assert wl.min_prominence == MAIN_TOPIC, wl.id


FAST = speedups.built()
"""The compiled module (tests/match/test_speedups.py fails when it is not built)."""


def _roundup_reference(title: str, body: str) -> bool:
    # is_roundup as first written: one case-insensitive search, every mark counted.
    if _ROUNDUP_TITLE.search(title) or (
        ":" in title and re.search(r":[^:]*,[^:,]*,[^:]*(?:\band\b|&|\+|…)", title)
    ):
        return True
    marks = ("•", "·", "▪", "►", "■", "\n- ", "\n* ", " | ")
    return sum(body.count(mark) for mark in marks) >= 5


_WORDS = st.sampled_from(
    [
        "In Brief",
        "ın brıef",
        "İN BRİEF",
        "Newſletter",
        "NEWSLETTER",
        "Überblick",
        "daily",
        "digeſt",
        "the Download",
        "week in review",
        "EU",
        ":",
        ",",
        " and ",
        "•",
        "\n- ",
        " | ",
        "\n* ",
        "é",
        "Ⅰ",
        "ﬅ",
        "K",
        "rassegna",
        "What we’re reading",
        "what we're reading",
        "Round-up",
        "roundup",
        "_",
        "x",
        "3",
        "-",
        "|",
        " ",
    ]
)


@given(st.lists(_WORDS, max_size=12).map("".join), st.lists(_WORDS, max_size=12).map("".join))
@example("İn brief: news", "")
@example("Daily ſummary", "• a\n- b | c")
@example("Weekly newſletter", "")
@example("Round-up_", "")
@example("xdaily roundup3", "")
@example("roundup", "\n- | \n- | x •")
@example("", " | | | | | | | | ")
def test_the_round_up_shortcuts_find_what_the_case_insensitive_search_finds(
    title: str, summary: str
) -> None:
    # The lower-cased search for most titles, the skipped counts for ASCII text, and
    # the marks counted by the compiled module in one pass.
    expected = _roundup_reference(title, summary)
    assert is_roundup(article(title, summary)) == expected
    if FAST is not None:
        assert is_roundup(article(title, summary), FAST) == expected
