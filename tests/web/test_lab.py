"""``/lab``: a candidate keywords.yaml backtested against the stored articles, read-only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from lxml import html

from tests.support.dashboard import EVIL, KEYWORDS, seed, serve

CANDIDATE = (
    KEYWORDS.replace('any: ["AI Act"]', 'any: ["AI Act"]\n    none: ["briefing"]')
    + """\
  data-act:
    title: Data Act
    any: ["Data Act"]
    alert: [newsroom]
"""
)


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lab")
    seed(path)
    return path


@pytest.fixture(scope="module")
def client(state: Path) -> Iterator[httpx.Client]:
    with serve(state) as served, httpx.Client(base_url=served.url, timeout=60) as c:
        yield c


def sections(page: httpx.Response) -> dict[str, str]:
    tree = html.fromstring(page.text)
    return {
        s.xpath("string(h3/text())").strip(): " ".join(s.text_content().split())
        for s in tree.xpath("//section[contains(@class, 'diff')]")
    }


def test_the_form_shows_the_current_file(client: httpx.Client):
    page = client.get("/lab")
    assert page.status_code == 200
    assert html.fromstring(page.text).xpath("string(//textarea)") == KEYWORDS


def test_a_backtest_lists_gains_and_losses_and_never_writes(client: httpx.Client, state: Path):
    before = (state / "keywords.yaml").read_bytes()
    page = client.post("/lab", data={"yaml": CANDIDATE, "days": "30"})
    assert page.status_code == 200, page.text
    found = sections(page)
    assert found["ai-act"].startswith("ai-act (changed): +0 −30 =3")  # the briefings go
    assert "AI Act briefing number 0" in found["ai-act"]
    assert found["data-act"].startswith("data-act (added): +1 −0 =0")
    assert "Data Act guidance published" in found["data-act"]
    assert found["dma"].startswith("dma (unchanged)")
    assert (state / "keywords.yaml").read_bytes() == before
    assert html.fromstring(page.text).xpath("string(//textarea)") == CANDIDATE


def test_explain_one_article_under_the_candidate(client: httpx.Client):
    page = client.post("/lab", data={"yaml": CANDIDATE, "days": "30"})
    button = html.fromstring(page.text).xpath("//button[@name='explain']/@value")[0]
    page = client.post("/lab", data={"yaml": CANDIDATE, "days": "30", "explain": button})
    explain = html.fromstring(page.text).xpath("//section[@id='explain']")[0]
    text = " ".join(" ".join(explain.itertext()).split())
    assert text.startswith("Explain: AI Act briefing number")
    assert "no ai-act ok any: found AI Act FAIL none: vetoed by briefing" in text


def test_an_invalid_candidate_is_a_located_error(client: httpx.Client):
    bad = KEYWORDS.replace("    title: EU AI Act\n", "    title: EU AI Act\n    colour: red\n")
    page = client.post("/lab", data={"yaml": bad})
    assert page.status_code == 422
    error = " ".join(html.fromstring(page.text).xpath("string(//div[@role='alert'])").split())
    assert "keywords.yaml (lab):9: watchlists.ai-act.colour" in error


def test_feed_text_in_the_lab_is_escaped(client: httpx.Client):
    candidate = KEYWORDS.replace('any: ["AI Act"]', 'any: ["AI Act"]\n    none: ["markup"]')
    page = client.post("/lab", data={"yaml": candidate, "days": "30"})
    assert page.status_code == 200
    assert EVIL in " ".join(html.fromstring(page.text).text_content().split())
    assert not html.fromstring(page.text).xpath("//img")
