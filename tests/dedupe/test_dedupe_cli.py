"""``monitor stories``: the JSON shape of issue 6 and the text listing, on a real state."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.dedupe import StoryIndex
from monitor.models import Article
from monitor.store import Store
from tests.support.engines import engine_url
from tests.support.records import record

FEEDS = """\
feeds:
  - id: politico-eu
    url: https://www.politico.eu/feed
    name: POLITICO Europe
  - id: farm
    url: https://farm.example/feed
"""
TEXT = (
    "A growing majority in the European Parliament wants to ban facial recognition that "
    "scans crowds in real time. The Council, where France wants exemptions for the police, "
    "has yet to agree on its position before the end of the year, two EU diplomats said."
)


def _state(tmp_path: Path, now: datetime) -> Path:
    state = tmp_path / "state"
    original = Article(
        feed_id="politico-eu",
        key="guid:1",
        title="Parliament backs a ban",
        url="https://www.politico.eu/a/1/",
        summary=TEXT,
        published=now,
    )
    copy = Article(
        feed_id="farm",
        key="guid:9",
        title="Parliament backs a ban (Update)",
        url="https://farm.example/9",
        summary="Advertisement " + TEXT + " By admin",
        published=now,
    )
    index = StoryIndex()
    with Store(state, database_url=engine_url()) as store:
        for art in (original, copy):
            record(store, [art], now, stories=index)
    return state


def test_json_lists_stories_with_their_articles_and_sources(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    now = datetime.now(UTC) - timedelta(hours=1)
    state = _state(tmp_path, now)
    (tmp_path / "feeds.yaml").write_text(FEEDS)
    code = main(
        [
            "stories",
            "--json",
            "--since",
            "2d",
            "--state",
            str(state),
            "--feeds",
            str(tmp_path / "feeds.yaml"),
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out) == ["stories"]
    [story] = out["stories"]
    assert list(story) == ["id", "title", "first_seen", "sources", "articles"]
    assert story["title"] == "Parliament backs a ban"
    assert story["sources"] == ["POLITICO Europe", "farm"]
    assert [list(a) for a in story["articles"]] == [
        ["id", "feed", "title", "url", "published", "relation"]
    ] * 2
    assert [(a["feed"], a["relation"]) for a in story["articles"]] == [
        ("politico-eu", "first"),
        ("farm", "copy"),
    ]
    assert story["articles"][0]["url"] == "https://www.politico.eu/a/1/"
    assert datetime.fromisoformat(story["first_seen"]) == now


def test_text_listing_and_the_since_window(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    state = _state(tmp_path, datetime.now(UTC) - timedelta(days=3))
    assert main(["stories", "--state", str(state), "--feeds", str(tmp_path / "none.yaml")]) == 0
    assert "no stories" in capsys.readouterr().out
    assert (
        main(
            [
                "stories",
                "--since",
                "4d",
                "--state",
                str(state),
                "--feeds",
                str(tmp_path / "none.yaml"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "Parliament backs a ban" in out
    assert "copy" in out
    assert "politico-eu, farm" in out


def test_a_bad_since_is_a_configuration_error(tmp_path: Path):
    assert main(["stories", "--since", "soon", "--state", str(tmp_path)]) == 2
