"""Full text end to end: a teaser feed, its article pages and robots.txt on the local
feed server, a real SQLite file, alerts to the local Telegram Bot API server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.match import compile_matcher
from monitor.service.metrics import Metrics
from tests.pipeline.test_deliver import deliver, env_for
from tests.support.app import App, make_app
from tests.support.feedserver import MIB, FeedServer, rss_feed
from tests.support.telegram_server import TelegramServer

KEYWORDS = """\
destinations:
  eu-channel:
    telegram: "@eu_ai_watch"
watchlists:
  edpb:
    title: EDPB
    any: ["EDPB", "European Data Protection Board"]
    alert: [eu-channel]
  ai-act:
    title: EU AI Act
    any: ["AI Act"]
    alert: [eu-channel]
"""

BODY = [
    "Member states spent the morning on the definitions chapter, and diplomats said the "
    "text on remote biometric identification was still open after three rounds.",
    "In the afternoon the European Data Protection Board sent a letter to the negotiators. "
    "The EDPB asked for a ban on live identification in publicly accessible spaces.",
    "A vote in the committee is expected before the end of the month, officials said, "
    "although the calendar has slipped twice already this autumn.",
]


def teaser_app(server: FeedServer, tmp_path: Path, items: list[tuple[str, str, str]], **kw: str):
    teasers = {guid: f"{title}: negotiators met again in Brussels …" for guid, title, _ in items}
    server.feed("/teasers.xml", rss_feed("Brussels Wire", items, summaries=teasers))
    kw.setdefault("defaults", "fulltext: auto")
    return make_app(tmp_path, {"wire": server.url("/teasers.xml")}, keywords=KEYWORDS, **kw)


def matched(app: App) -> dict[str, set[str]]:
    """Watchlists matched per article title."""
    with app.store() as store:
        rows = store.conn.execute(
            "SELECT a.title, o.watchlists FROM outbox o JOIN articles a ON a.id = o.article_id"
        ).fetchall()
    out: dict[str, set[str]] = {}
    for title, watchlists in rows:
        out.setdefault(title, set()).update(json.loads(watchlists))
    return out


def test_a_name_only_in_the_page_body_raises_an_alert_with_a_body_snippet(
    feed_server: FeedServer, tmp_path: Path, telegram_server: TelegramServer
):
    telegram_server.add_channel("@eu_ai_watch")
    feed_server.article("/news/biometrics", "Biometrics talks drag on", BODY)
    items = [("w1", "Biometrics talks drag on", feed_server.url("/news/biometrics"))]
    app = teaser_app(feed_server, tmp_path, items)

    report = app.poll()

    [feed] = report.feeds
    assert (feed.status, feed.new, feed.matches) == ("ok", 1, 1)
    assert (feed.pages_fetched, feed.page_failures) == (1, 0)
    with app.store() as store:
        [stored] = list(store.iter_articles())
        assert "European Data Protection Board sent a letter" in stored.article.body
        assert "Sign up to our newsletter" not in stored.article.body  # boilerplate gone
        [m] = compile_matcher(app.configs().keywords).match(stored.article)
    assert m.watchlist == "edpb"
    assert {h.field for h in m.hits} == {"body"}
    assert deliver(app, env_for(telegram_server, None)).sent == 1
    [message] = telegram_server.messages("@eu_ai_watch")
    assert "The EDPB asked for a ban" in message.text
    assert len(feed_server.requests_for("/robots.txt")) == 1


def test_each_page_is_fetched_once_and_only_for_new_articles(
    feed_server: FeedServer, tmp_path: Path
):
    feed_server.article("/news/1", "One", BODY)
    feed_server.article("/news/2", "Two", BODY)
    first = [("w1", "One", feed_server.url("/news/1"))]
    app = teaser_app(feed_server, tmp_path, first)
    assert app.poll().feeds[0].pages_fetched == 1
    both = [("w2", "Two", feed_server.url("/news/2")), *first]
    feed_server.publish("/teasers.xml", rss_feed("Brussels Wire", both))
    assert app.poll().feeds[0].pages_fetched == 1
    assert len(feed_server.requests_for("/news/1")) == 1
    assert len(feed_server.requests_for("/news/2")) == 1
    assert len(feed_server.requests_for("/robots.txt")) == 2  # one per poll (per Poller)


def test_robots_txt_disallow_is_honoured(feed_server: FeedServer, tmp_path: Path):
    feed_server.robots("User-agent: *\nDisallow: /private/\n")
    feed_server.article("/private/edpb", "AI Act: EDPB letter", BODY)
    feed_server.article("/news/edpb", "AI Act: the EDPB writes", BODY)
    items = [
        ("p1", "AI Act: EDPB letter", feed_server.url("/private/edpb")),
        ("n1", "AI Act: the EDPB writes", feed_server.url("/news/edpb")),
    ]
    app = teaser_app(feed_server, tmp_path, items)

    [feed] = app.poll().feeds

    assert feed_server.requests_for("/private/edpb") == []
    assert len(feed_server.requests_for("/news/edpb")) == 1
    assert (feed.new, feed.pages_fetched, feed.page_failures) == (2, 1, 1)
    assert matched(app)["AI Act: EDPB letter"] == {"ai-act", "edpb"}  # on its teaser


def test_robots_txt_for_our_agent_only(feed_server: FeedServer, tmp_path: Path):
    feed_server.robots("User-agent: monitor\nDisallow: /\n\nUser-agent: *\nAllow: /\n")
    feed_server.article("/news/1", "One", BODY)
    app = teaser_app(feed_server, tmp_path, [("w1", "One", feed_server.url("/news/1"))])
    assert app.poll().feeds[0].page_failures == 1
    assert feed_server.requests_for("/news/1") == []


def test_404_timeout_and_20mb_page_leave_the_article_matched_on_its_teaser(
    feed_server: FeedServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    feed_server.status("/news/gone", 404)
    feed_server.hang("/news/hang")
    feed_server.huge("/news/huge", 20 * MIB)
    items = [
        ("g", "AI Act: gone", feed_server.url("/news/gone")),
        ("h", "AI Act: hanging", feed_server.url("/news/hang")),
        ("b", "AI Act: big", feed_server.url("/news/huge")),
    ]
    app = teaser_app(feed_server, tmp_path, items, extra="page_timeout: 1s")

    [feed] = app.poll().feeds

    assert (feed.status, feed.new, feed.matches) == ("ok", 3, 3)
    assert (feed.pages_fetched, feed.page_failures) == (0, 3)
    assert matched(app) == {t: {"ai-act"} for _, t, _ in items}
    with app.store() as store:
        state = store.feed_state("wire")
        assert state is not None
        assert (state.pages_fetched, state.page_failures) == (0, 3)
        assert all(s.article.body == "" for s in store.iter_articles())
    args = ["--feeds", str(app.feeds_path), "--state", str(app.state)]
    assert main(["feeds", *args]) == 0
    table = capsys.readouterr().out
    assert "pages" in table.splitlines()[0]
    assert " 0/3 " in table.splitlines()[1]
    assert main(["feeds", "--json", *args]) == 0
    [row] = json.loads(capsys.readouterr().out)["feeds"]
    assert (row["pages_fetched"], row["page_failures"]) == (0, 3)
    metrics = Metrics()
    metrics.observe_poll(feed, 0.0)
    assert 'monitor_page_failures_total{feed="wire"} 3.0' in metrics.render().decode()


@pytest.mark.sqlite_only  # several state dirs in one test (one database on PostgreSQL)
def test_never_fetches_no_page_and_always_fetches_long_texts(
    feed_server: FeedServer, tmp_path: Path
):
    feed_server.article("/news/1", "One", BODY)
    long_text = "A full article text in the feed. " * 40
    feed_server.feed(
        "/full.xml",
        rss_feed("Full", [("w1", "One", feed_server.url("/news/1"))], summaries={"w1": long_text}),
    )
    (tmp_path / "auto").mkdir()
    auto = make_app(
        tmp_path / "auto",
        {"f": feed_server.url("/full.xml")},
        keywords=KEYWORDS,
        defaults="fulltext: auto",
    )
    assert auto.poll().feeds[0].pages_fetched == 0  # not a teaser
    for mode, pages in (("never", 0), ("always", 1)):
        (tmp_path / mode).mkdir()
        app = make_app(
            tmp_path / mode,
            {"f": feed_server.url("/full.xml")},
            keywords=KEYWORDS,
            defaults=f"fulltext: {mode}",
        )
        assert app.poll().feeds[0].pages_fetched == pages
    assert len(feed_server.requests_for("/news/1")) == 1


def test_an_unreadable_robots_txt_fetches_nothing(feed_server: FeedServer, tmp_path: Path):
    feed_server.status("/robots.txt", 503)
    feed_server.article("/news/1", "AI Act: one", BODY)
    app = teaser_app(feed_server, tmp_path, [("w1", "AI Act: one", feed_server.url("/news/1"))])
    [feed] = app.poll().feeds
    assert (feed.matches, feed.pages_fetched, feed.page_failures) == (1, 0, 1)
    assert feed_server.requests_for("/news/1") == []


def test_a_page_that_is_not_html_is_a_failure(feed_server: FeedServer, tmp_path: Path):
    feed_server.raw("/news/report.pdf", b"%PDF-1.7 EDPB", "application/pdf")
    items = [("w1", "AI Act: the report", feed_server.url("/news/report.pdf"))]
    app = teaser_app(feed_server, tmp_path, items)
    [feed] = app.poll().feeds
    assert (feed.matches, feed.pages_fetched, feed.page_failures) == (1, 0, 1)
    assert matched(app) == {"AI Act: the report": {"ai-act"}}


def test_articles_matched_in_the_parser_process_are_matched_again_with_their_body(
    feed_server: FeedServer, tmp_path: Path
):
    feed_server.article("/news/biometrics", "Biometrics talks drag on", BODY)
    items = [("w1", "Biometrics talks drag on", feed_server.url("/news/biometrics"))]
    app = teaser_app(feed_server, tmp_path, items)
    # parse_pool_min=1: this one feed is parsed and matched in the pool
    [feed] = app.cycle(parse_workers=1, parse_pool_min=1).feeds
    assert (feed.new, feed.pages_fetched, feed.matches) == (1, 1, 1)
    assert matched(app) == {"Biometrics talks drag on": {"edpb"}}


def test_page_fetches_never_wait_behind_feeds_waiting_for_the_backlog(
    feed_server: FeedServer, tmp_path: Path
):
    # A cold cycle of 200 teaser feeds hung for ever (bench/bench_cli.py, issue 15): a feed
    # fetching its pages held its backlog slot while the pages waited for a fetch slot, and
    # the fetch slots were held by feeds waiting, body unread, for a backlog slot.  With one
    # of each, the second feed takes the lane as soon as the first has read its body.
    feeds = {}
    for i in range(3):
        feed_server.article(f"/news/{i}", f"Biometrics talks, day {i}", BODY)
        item = (f"w{i}", f"Biometrics talks, day {i}", feed_server.url(f"/news/{i}"))
        teaser = {f"w{i}": "negotiators met again in Brussels …"}
        feed_server.feed(f"/t{i}.xml", rss_feed(f"Wire {i}", [item], summaries=teaser))
        feeds[f"t{i}"] = feed_server.url(f"/t{i}.xml")
    app = make_app(tmp_path, feeds, keywords=KEYWORDS, defaults="fulltext: auto")
    text = app.feeds_path.read_text(encoding="utf-8")
    text = text.replace("per_host: 8", "per_host: 1").replace("concurrency: 32", "concurrency: 1")
    app.feeds_path.write_text(text, encoding="utf-8")
    cfg = app.configs()
    assert (cfg.feeds.settings.concurrency, cfg.feeds.settings.per_host) == (1, 1)

    # hang_guard: a guard against the hang, not a timing: the cycle takes well under 1 s.
    report = app.cycle(parse_workers=0, max_backlog=1, hang_guard=60)

    assert sorted((r.feed_id, r.status, r.new, r.pages_fetched) for r in report.feeds) == [
        (f"t{i}", "ok", 1, 1) for i in range(3)
    ]
