"""The dashboard's queries (``monitor.store.dashboard``) on the archive of the web tests,
one function at a time, on each storage engine (issue 12 with issue 11)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.store import Store
from monitor.store import dashboard as dash
from tests.support.dashboard import EVIL, NOW, seed
from tests.support.engines import engine_url

BRIEFINGS = 30


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    seed(tmp_path)
    with Store(tmp_path, database_url=engine_url()) as opened:
        yield opened


def titles(page: dash.ArticlePage) -> list[str]:
    return [a.title for a in page.items]


def test_overview_counts(store: Store):
    o = dash.overview(store.conn, NOW)
    assert (o.articles, o.matched) == (7 + BRIEFINGS, 6 + BRIEFINGS)
    assert o.feeds_failing == 1
    assert (o.alerts_pending, o.digests_pending) == (1, 3)
    assert len(o.recent_alerts) == 20
    assert o.recent_alerts[0].sent_at >= o.recent_alerts[-1].sent_at
    assert o.oldest_pending_alert is not None


def test_articles_newest_first_filtered_and_paged(store: Store):
    conn = store.conn
    first = dash.articles(conn, dash.ArticleQuery())
    assert first.total == 6 + BRIEFINGS
    assert len(first.items) == 25
    seen = [a.first_seen for a in first.items]
    assert seen == sorted(seen, reverse=True)
    assert "Météo : un hiver doux" not in titles(first)  # stored but never matched
    second = dash.articles(conn, dash.ArticleQuery(page=2))
    assert len(second.items) == 6 + BRIEFINGS - 25
    assert not set(titles(first)) & set(titles(second))
    assert titles(dash.articles(conn, dash.ArticleQuery(watchlist="dma"))) == [
        "Digital Markets Act: Apple fined"
    ]
    french = dash.articles(conn, dash.ArticleQuery(language="fr"))
    assert titles(french) == ["Règlement sur l'IA : le AI Act entre en vigueur"]
    assert dash.articles(conn, dash.ArticleQuery(feed="lemonde")).total == 1
    month_ago = NOW.date() - timedelta(days=30)
    assert titles(dash.articles(conn, dash.ArticleQuery(until=month_ago))) == []
    today = dash.articles(conn, dash.ArticleQuery(since=NOW.date(), until=NOW.date()))
    assert {a.first_seen.date() for a in today.items} == {NOW.date()}
    assert today.total == 4  # two news items and briefings 0 and 20
    [item] = dash.articles(conn, dash.ArticleQuery(watchlist="dma")).items
    assert [m.watchlist for m in item.matches] == ["dma"]
    assert item.matches[0].hits[0].text == "Digital Markets Act"


def test_search_finds_words_and_phrases_and_marks_them(store: Store):
    conn = store.conn
    found = dash.articles(conn, dash.ArticleQuery(q="plenary"))
    assert titles(found) == ["AI Act: Parliament adopts the rules"]
    highlight = found.items[0].highlight
    assert highlight is not None
    assert f"{dash.MARK_START}plenary{dash.MARK_END}" in highlight
    briefings = dash.articles(conn, dash.ArticleQuery(q="briefing"))
    assert briefings.total == BRIEFINGS
    assert not briefings.capped
    assert len(dash.articles(conn, dash.ArticleQuery(q="briefing", page=2)).items) == 5
    assert titles(dash.articles(conn, dash.ArticleQuery(q='"Digital Markets"'))) == [
        "Digital Markets Act: Apple fined"
    ]
    assert titles(dash.articles(conn, dash.ArticleQuery(q='"Markets Digital"'))) == []
    both = dash.articles(conn, dash.ArticleQuery(q="Apple Commission"))  # every word
    assert titles(both) == ["Digital Markets Act: Apple fined"]
    assert dash.articles(conn, dash.ArticleQuery(q="Apple zebra")).total == 0
    # the search engine's own syntax typed in the box is searched for, never an error
    for typed in ("AI AND NOT", "title:x*", 'a "b', "-(x) | y <-> !z"):
        assert dash.articles(conn, dash.ArticleQuery(q=typed)).total >= 0
    filtered = dash.articles(conn, dash.ArticleQuery(q="markup", watchlist="ai-act"))
    assert titles(filtered) == [EVIL]


def test_search_ignores_accents_on_both_engines(store: Store):
    # FTS5's remove_diacritics 2 on SQLite, the unaccent dictionary on PostgreSQL
    french = ["Règlement sur l'IA : le AI Act entre en vigueur"]
    for typed in ("reglement", "règlement", "REGLEMENT", '"reglement sur"'):
        found = dash.articles(store.conn, dash.ArticleQuery(q=typed))
        assert titles(found) == french, typed
    highlight = dash.articles(store.conn, dash.ArticleQuery(q="reglement")).items[0].highlight
    assert highlight is not None
    assert f"{dash.MARK_START}Règlement{dash.MARK_END}" in highlight  # the text as written


def test_facets_feeds_trends_and_stories(store: Store):
    conn = store.conn
    facets = dash.facets(conn)
    assert facets.watchlists == ("ai-act", "chat-control", "data-act", "dma")
    assert facets.feeds == ("eu-parliament", "euractiv", "lemonde", "quiet")
    assert facets.languages == ("en", "fr")
    health = {f.feed_id: f for f in dash.feed_health(conn, NOW)}
    assert health["lemonde"].per_day[-3:] == (1, 1, 0)
    assert health["lemonde"].consecutive_failures == 3
    assert sum(health["quiet"].per_day) == 0
    by_list = dash.trends(conn, NOW, 7, "watchlist")
    assert [s.name for s in by_list.series][:1] == ["ai-act"]
    assert by_list.days[-1] == NOW.date()
    by_language = {s.name: s.total for s in dash.trends(conn, NOW, 30, "language").series}
    assert by_language == {"en": 5 + BRIEFINGS, "fr": 1}
    by_feed = {s.name: s.total for s in dash.trends(conn, NOW, 30, "feed").series}
    assert by_feed == {"eu-parliament": 2 + BRIEFINGS, "euractiv": 3, "lemonde": 1}
    [story, lone] = dash.stories(conn, NOW)
    assert story.title == EVIL
    assert [m.relation for m in story.members] == ["first", "same-story"]
    assert [m.relation for m in lone.members] == ["first"]


def test_lab_reads_kept_articles(store: Store):
    kept = dash.lab_articles(store.conn, NOW - timedelta(days=30), 100)
    assert len(kept) == 7 + BRIEFINGS
    assert kept[0].first_seen <= kept[-1].first_seen
    found = dash.stored_article(store.conn, kept[0].id)
    assert found is not None
    assert found.article.title == kept[0].article.title
    assert dash.stored_article(store.conn, 10**9) is None
