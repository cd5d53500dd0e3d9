"""Golden test over real feed items (replay of Nov-Dec 2023, GPL-3.0; see SOURCE.md there).

``expected.jsonl`` lists every matched item with its watchlists and the texts that hit.
``UPDATE_GOLDEN=1 pytest tests/match`` rewrites it after a deliberate change; review the diff.
"""

from __future__ import annotations

import json
import os

import pytest

from monitor.match import Matcher
from tests.match.helpers import DATA, default_matcher, replay_articles

GOLDEN = DATA / "replay" / "expected.jsonl"


@pytest.fixture(scope="module")
def m() -> Matcher:
    return default_matcher()


def _run(m: Matcher) -> list[dict[str, object]]:
    rows = []
    for item, art in replay_articles():
        found = m.match(art)
        if found:
            rows.append(
                {
                    "item": item,
                    "title": art.title,
                    "matches": {x.watchlist: sorted({h.text for h in x.hits}) for x in found},
                }
            )
    return rows


def test_replay_matches_the_golden_file(m: Matcher) -> None:
    rows = _run(m)
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")


def test_the_ai_act_deal_is_found_in_every_outlet_that_told_it(m: Matcher) -> None:
    titles = {
        art.title
        for _, art in replay_articles()
        if any(x.watchlist == "ai-act" for x in m.match(art))
    }
    for title in (
        "EU negotiators strike political deal on AI Act",
        "EU reaches provisional agreement on AI Act, paving way for landmark law",
        "The EU has reached a historic regulatory agreement over AI development",
        "EU agrees to landmark rules on artificial intelligence",
        '"Jest umowa!". Unia chce okiełznać AI',
        "Negocjacje ws. AI Act toczyły się całą noc. Po 20 godzinach rozmowy wciąż trwają",
        "EU’s provisional AI Act deal limits remote biometrics use after marathon negotiation",
        "Power grab by France, Germany and Italy threatens to kill EU’s AI bill",
    ):
        assert title in titles


def test_no_replay_item_names_the_edpb_edps_or_tudorache(m: Matcher) -> None:
    # SOURCES.md: no item of the period mentions them; any hit is a false positive.
    for _, art in replay_articles():
        assert not {x.watchlist for x in m.match(art)} & {"edpb", "edps", "tudorache"}
