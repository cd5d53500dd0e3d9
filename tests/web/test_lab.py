"""``/lab``: a candidate keywords.yaml backtested against the stored articles, read-only."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from lxml import html

from monitor.config.keywords import keywords_from_source
from monitor.config.source import Source
from monitor.match import compile_matcher
from monitor.web import lab
from tests.support.dashboard import EVIL, KEYWORDS, NOW, seed, serve

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


def test_the_api_twin_answers_the_same_backtest_as_json(client: httpx.Client, state: Path):
    before = (state / "keywords.yaml").read_bytes()
    answer = client.post("/api/lab", json={"yaml": CANDIDATE, "days": 30})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    data = answer.json()
    assert data["errors"] == []
    assert data["days"] == 30
    assert data["limit"] == 20_000
    found = {w["watchlist"]: w for w in data["watchlists"]}
    assert (found["ai-act"]["status"], found["ai-act"]["kept"]) == ("changed", 3)
    assert (len(found["ai-act"]["gained"]), len(found["ai-act"]["lost"])) == (0, 30)
    assert all(c["title"].startswith("AI Act briefing number ") for c in found["ai-act"]["lost"])
    assert all(isinstance(c["article_id"], int) for c in found["ai-act"]["lost"])
    assert found["data-act"]["status"] == "added"
    [gained] = found["data-act"]["gained"]
    assert gained["title"] == "Data Act guidance published"
    assert gained["match"]["watchlist"] == "data-act"
    assert gained["match"]["hits"][0]["text"] == "Data Act"
    assert (found["dma"]["status"], found["dma"]["gained"], found["dma"]["lost"]) == (
        "unchanged",
        [],
        [],
    )
    assert data["explain"] is None
    assert data["articles"] > 30
    assert (state / "keywords.yaml").read_bytes() == before
    # the form's own encoding is taken too (curl -d)
    form = client.post("/api/lab", data={"yaml": CANDIDATE, "days": "30"})
    assert form.json()["watchlists"] == data["watchlists"]


def test_the_api_explains_one_article_by_its_id(client: httpx.Client):
    data = client.post("/api/lab", json={"yaml": CANDIDATE, "days": 30}).json()
    lost = next(w for w in data["watchlists"] if w["watchlist"] == "ai-act")["lost"][0]
    answer = client.post(
        "/api/lab", json={"yaml": CANDIDATE, "days": 30, "explain": lost["article_id"]}
    )
    explain = answer.json()["explain"]
    assert (explain["article_id"], explain["title"]) == (lost["article_id"], lost["title"])
    ai_act = next(e for e in explain["watchlists"] if e["watchlist"] == "ai-act")
    assert ai_act["matched"] is False
    checks = {c["kind"]: (c["ok"], c["detail"]) for c in ai_act["checks"]}
    assert checks["none"] == (False, "vetoed by briefing")


def test_the_api_answers_errors_as_json(client: httpx.Client):
    bad = KEYWORDS.replace("    title: EU AI Act\n", "    title: EU AI Act\n    colour: red\n")
    answer = client.post("/api/lab", json={"yaml": bad})
    assert answer.status_code == 422
    assert "keywords.yaml (lab):9: watchlists.ai-act.colour" in " ".join(answer.json()["errors"])
    assert answer.json()["watchlists"] == []
    for body, message in (
        ({"yaml": CANDIDATE, "days": "many"}, "days: 'many' is not a number"),
        ({"yaml": CANDIDATE, "days": 0}, "days: 0 is not between 1 and 365"),
        ({"yaml": 12}, "yaml: expected the candidate keywords.yaml as a string"),
        ({"yaml": CANDIDATE, "colour": "red"}, "colour: unknown field (yaml, days, explain)"),
        (["yaml"], "body: expected an object"),
    ):
        answer = client.post("/api/lab", json=body)
        assert answer.status_code == 400, body
        assert answer.json()["error"].startswith(message), answer.json()
    answer = client.post("/api/lab", content=b"{yaml", headers={"content-type": "application/json"})
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("body: not JSON")


def test_the_backtest_runs_in_a_process_of_its_own_with_the_same_result(
    client: httpx.Client, state: Path
):
    # The lab runs in a forked child so the memory of its matchers goes back with it
    # (issue 12): what comes back by pickle is what the same run gives in this process.
    since = NOW - timedelta(days=30)
    args = (state / "monitor.sqlite3", None, state / "keywords.yaml", CANDIDATE, since, 100)
    here = lab.run_stored(*args)
    apart = asyncio.run(lab.run_apart(*args))
    assert apart.report == here.report
    assert apart.report is not None
    assert apart.report.changed
    changes = [c.article for d in apart.report.watchlists for c in (*d.gained, *d.lost)]
    assert changes
    assert all(id(a) in apart.ids for a in changes)
    assert sorted(apart.ids.values()) == sorted(here.ids.values())
    assert len(apart.ids) < apart.report.articles  # only the changed articles' ids travel


def test_the_lab_compares_with_the_matcher_in_force_when_the_service_gives_it(
    client: httpx.Client, state: Path
):
    # The forked child inherits the service's compiled matcher instead of compiling
    # keywords.yaml again; given the candidate's own matcher, nothing changes.
    in_force = compile_matcher(keywords_from_source(Source.parse(CANDIDATE, "in force")))
    since = NOW - timedelta(days=30)
    args = (state / "monitor.sqlite3", None, state / "keywords.yaml", CANDIDATE, since, 100)
    result = asyncio.run(lab.run_apart(*args, in_force=in_force))
    assert result.report is not None
    assert result.report.articles > 0
    assert result.report.changed == ()
    assert lab._IN_FORCE is None  # the service keeps no reference to an old matcher
    assert lab.run_stored(*args).report.changed  # type: ignore[union-attr]
