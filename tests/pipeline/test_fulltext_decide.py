"""Which new articles need their page (pure: no network, no storage)."""

from __future__ import annotations

import functools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.config.keywords import load_keywords
from monitor.match import Matcher, compile_matcher
from monitor.models import FIELDS, Article, FeedSpec, Field, FullText
from monitor.pipeline.fulltext import TEASER_CHARS, is_teaser, usual_length, wanted

LONG = "The committee adopted its report on the data act by a large majority. " * 8


def art(key: str, summary: str, url: str | None = "https://x.eu/a") -> Article:
    return Article(
        feed_id="f", key=key, title=f"Title {key}", url=url and f"{url}/{key}", summary=summary
    )


@pytest.mark.parametrize(
    ("summary", "teaser"),
    [
        ("Short line.", True),
        ("x" * (TEASER_CHARS - 1), True),
        (LONG, False),
        (LONG + " and then …", True),
        (LONG + " [...]", True),
        (LONG + " Read more »", True),
        (LONG + " Continue reading", True),
        (LONG + " Czytaj więcej", True),
    ],
)
def test_short_or_cut_texts_are_teasers(summary: str, teaser: bool) -> None:
    assert is_teaser(art("a", summary), None) is teaser


def test_much_shorter_than_the_feeds_usual_is_a_teaser() -> None:
    full = [art(str(i), LONG * 5) for i in range(5)]
    usual = usual_length([*full, art("t", LONG)])
    assert usual is not None
    assert is_teaser(art("t", LONG), usual)
    assert not is_teaser(art("t", LONG), None)
    assert usual_length(full[:3]) is None  # too few entries to say what is usual


@pytest.mark.parametrize(("mode", "keys"), [("always", ["1", "2"]), ("auto", ["1"]), ("never", [])])
def test_wanted_by_mode(mode: FullText, keys: list[str]) -> None:
    spec = FeedSpec(id="f", url="https://x.eu/feed", fulltext=mode)
    articles = [art("1", "A teaser …"), art("2", LONG)]
    assert [a.key for a in wanted(spec, articles, known=set())] == keys


def test_only_new_articles_with_a_url_each_url_once() -> None:
    spec = FeedSpec(id="f", url="https://x.eu/feed", fulltext="always")
    twin = Article(feed_id="f", key="twin", title="t", url="https://x.eu/a/1", summary="s")
    articles = [art("1", "s"), art("2", "s"), art("3", "s", url=None), twin]
    assert [a.key for a in wanted(spec, articles, known={"2"})] == ["1"]


def test_fields_name_the_body_or_leave_it_out(tmp_path: Path) -> None:
    path = tmp_path / "keywords.yaml"
    path.write_text(
        "watchlists:\n"
        "  everywhere:\n    any: [EDPB]\n"
        "  page-only:\n    any: [EDPB]\n    fields: [body]\n"
        "  feed-only:\n    any: [EDPB]\n    fields: [title, summary, content]\n",
        encoding="utf-8",
    )
    matcher = compile_matcher(load_keywords(str(path)))
    teaser = art("1", "A letter arrived …")
    full = replace(teaser, body="In the afternoon the EDPB asked for a ban.")
    assert matcher.match(teaser) == []
    found = {m.watchlist: m for m in matcher.match(full)}
    assert sorted(found) == ["everywhere", "page-only"]
    [hit] = found["page-only"].hits
    assert (hit.field, hit.text, full.body[hit.start : hit.end]) == ("body", "EDPB", "EDPB")
    assert hit.snippet.marked() == "In the afternoon the **EDPB** asked for a ban."


WORDS = st.text(alphabet="abcdeéß \u0001\n-", max_size=30)


@settings(max_examples=200, deadline=None)
@given(texts=st.tuples(WORDS, WORDS, WORDS, WORDS), where=st.sampled_from(FIELDS))
def test_a_hit_is_in_the_field_it_was_found_in(
    tmp_path_factory: pytest.TempPathFactory, texts: tuple[str, str, str, str], where: Field
) -> None:
    path = tmp_path_factory.mktemp("kw") / "keywords.yaml"
    path.write_text("watchlists:\n  w:\n    any: [EDPB]\n", encoding="utf-8")
    matcher = _matcher(str(path))
    values = dict(zip(FIELDS, texts, strict=True))
    values[where] = values[where] + " EDPB " + values[where]
    article = Article(feed_id="f", key="k", **values)
    [m] = matcher.match(article)
    assert {h.field for h in m.hits} == {where}
    for h in m.hits:
        assert article.text(h.field)[h.start : h.end] == "EDPB"


@functools.cache
def _matcher(path: str) -> Matcher:
    return compile_matcher(load_keywords(path))


def test_first_poll_fetches_only_what_can_alert_or_enter_a_digest() -> None:
    spec = FeedSpec(id="f", url="https://x.eu/feed", fulltext="auto")
    now = datetime(2026, 12, 7, 12, tzinfo=UTC)
    ages = {"recent": 2, "old1": 30, "old2": 40, "old3": 50}  # hours
    articles = [
        replace(art(key, "A teaser …"), published=now - timedelta(hours=h))
        for key, h in ages.items()
    ]
    since = now - timedelta(days=1)
    picked = wanted(spec, articles, known=set(), since=since, keep_newest=2)
    assert [a.key for a in picked] == ["recent", "old1"]  # the last day, and the newest 2
    assert len(wanted(spec, articles, known=set())) == 4  # later polls: every new teaser
