"""The dashboard through HTTP: a real uvicorn on 127.0.0.1 reading a real SQLite database
holding feeds, matched articles, stories and sent alerts (tests/support/dashboard.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from lxml import html

from monitor.errors import ServiceError
from monitor.models import Article, Match
from monitor.service.metrics import HttpEndpoint, Metrics
from monitor.store import Store
from monitor.store import outbox as ob
from monitor.store.articles import add_articles
from monitor.web.app import CSP, Site
from tests.support.dashboard import EVIL, KEYWORDS, NOW, seed, serve
from tests.support.engines import engine_url

PAGES = ("/", "/articles", "/feeds", "/stories", "/trends", "/digests", "/lab")


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("state")
    seed(path)
    return path


@pytest.fixture(scope="module")
def client(state: Path) -> Iterator[httpx.Client]:
    with serve(state) as served, httpx.Client(base_url=served.url, timeout=30) as c:
        yield c


def text_of(response: httpx.Response) -> str:
    return " ".join(html.fromstring(response.text).text_content().split())


@pytest.mark.parametrize("path", PAGES)
def test_every_page_answers_with_a_csp_and_no_inline_script(client: httpx.Client, path: str):
    page = client.get(path)
    assert page.status_code == 200, page.text
    assert page.headers["content-security-policy"] == CSP
    assert "script-src 'self'" in CSP
    assert "unsafe-inline" not in CSP
    assert page.headers["x-content-type-options"] == "nosniff"
    tree = html.fromstring(page.text)
    for script in tree.iter("script"):
        assert script.get("src", "").startswith("/static/")
        assert not (script.text or "").strip()
    assert not [e for e in tree.iter() if any(a.startswith("on") for a in e.attrib)]


@pytest.mark.parametrize("path", [*PAGES, "/articles?q=markup"])
def test_a_title_with_markup_shows_as_text(client: httpx.Client, path: str):
    page = client.get(path)
    assert page.status_code == 200
    tree = html.fromstring(page.text)
    assert not tree.xpath("//img"), "feed text became an element"
    if path in ("/", "/articles", "/stories", "/articles?q=markup", "/digests"):
        assert EVIL in text_of(page)
        assert "&lt;img src=x onerror=alert(1)&gt;" in page.text
    assert "<img src=x" not in page.text


def test_feeds_page_escapes_feed_errors_and_marks_failing_and_silent_feeds(client: httpx.Client):
    page = client.get("/feeds")
    text = text_of(page)
    assert EVIL in text  # the last error of lemonde
    tree = html.fromstring(page.text)
    rows = {r.xpath("string(td[1]/strong)"): r for r in tree.xpath("//tbody/tr")}
    assert rows["lemonde"].get("class") == "failing"
    assert rows["quiet"].get("class") == "silent"
    assert "nothing new for 20d" in rows["quiet"].text_content()
    assert rows["eu-parliament"].get("class") == "ok"
    assert rows["eu-parliament"].xpath(".//svg/polyline/@points")


def test_overview_counts_and_the_last_alerts(client: httpx.Client):
    data = client.get("/api/overview").json()
    o = data["overview"]
    assert o["articles"] == 37
    assert o["matched"] == 36
    assert o["feeds_failing"] == 1
    assert o["alerts_pending"] == 1
    assert o["alerts_sent_today"] == 35
    assert len(o["recent_alerts"]) == 20
    page = text_of(client.get("/"))
    assert "35 alerts sent today" in page
    assert "edit rejected" in page


def test_articles_newest_first_paginated(client: httpx.Client):
    first = client.get("/api/articles").json()
    assert first["total"] == 36
    assert first["pages"] == 2
    seen = [a["first_seen"] for a in first["items"]]
    assert seen == sorted(seen, reverse=True)
    second = client.get("/api/articles", params={"page": 2}).json()
    assert len(first["items"]) + len(second["items"]) == 36
    assert not {a["id"] for a in first["items"]} & {a["id"] for a in second["items"]}
    page = client.get("/articles")
    assert html.fromstring(page.text).xpath("//a[@rel='next']/@href") == [
        "/articles?q=&watchlist=&feed=&language=&since=&until=&page=2"
    ]


def test_filters_by_watchlist_feed_language_and_date(client: httpx.Client):
    def titles(**params: str) -> list[str]:
        return [a["title"] for a in client.get("/api/articles", params=params).json()["items"]]

    assert titles(watchlist="dma") == ["Digital Markets Act: Apple fined"]
    assert titles(language="fr") == ["Règlement sur l'IA : le AI Act entre en vigueur"]
    assert titles(feed="lemonde", watchlist="ai-act") == [
        "Règlement sur l'IA : le AI Act entre en vigueur"
    ]
    assert "Data Act guidance published" in titles(since="2026-11-28", until="2026-11-28")
    assert "Data Act guidance published" not in titles(since="2026-11-29")


def test_search_finds_words_across_accents_and_highlights_them(client: httpx.Client):
    found = client.get("/api/articles", params={"q": "reglement europeen"}).json()
    assert [a["title"] for a in found["items"]] == [
        "Règlement sur l'IA : le AI Act entre en vigueur"
    ]
    page = client.get("/articles", params={"q": "Apple"})
    tree = html.fromstring(page.text)
    assert tree.xpath("//p[@class='extract']/mark/text()") == ["Apple"]
    assert "1 article for" in text_of(page)
    # the explanation of the match: watchlist, term, the hit marked in its text
    match = tree.xpath("//details[@class='match']")[0]
    assert "dma" in match.text_content()
    assert match.xpath(".//mark/text()") == ["Digital Markets Act"]


def test_search_finds_a_word_only_in_the_page_body(tmp_path: Path):
    seed(tmp_path)
    with Store(tmp_path, database_url=engine_url()) as store, store.transaction() as conn:
        article = Article(
            "euractiv",
            "guid:body-only",
            "Council meeting",
            summary="Ministers met.",
            body="The full page: gatekeepers must open their messaging services.",
        )
        (new,) = add_articles(conn, "euractiv", [article], NOW)
        ob.record_matches(conn, new.id, [Match("dma", 1.0, ())], NOW)
    with serve(tmp_path) as served, httpx.Client(base_url=served.url, timeout=30) as client:
        page = client.get("/articles", params={"q": "gatekeepers"})
    tree = html.fromstring(page.text)
    assert "1 article for" in text_of(page)
    assert tree.xpath("//p[@class='extract']/mark/text()") == ["gatekeepers"]
    assert "messaging services" in tree.xpath("string(//p[@class='extract'])")


@pytest.mark.parametrize("q", ["AI AND", '"unclosed', "title:x", "*", "NEAR(a b)", ")(", "^a"])
def test_search_syntax_from_the_box_is_never_an_error(client: httpx.Client, q: str):
    assert client.get("/articles", params={"q": q}).status_code == 200


def test_bad_parameters_are_a_clear_400(client: httpx.Client):
    answer = client.get("/api/articles", params={"page": "x"})
    assert answer.status_code == 400
    assert answer.json() == {"error": "page: 'x' is not a number"}
    page = client.get("/articles", params={"since": "yesterday"})
    assert page.status_code == 400
    assert "since: 'yesterday' is not a date (YYYY-MM-DD)" in text_of(page)
    assert client.get("/api/trends", params={"days": "12"}).status_code == 400


def test_trends_per_watchlist_language_and_feed(client: httpx.Client):
    data = client.get("/api/trends", params={"days": "7"}).json()
    assert len(data["days"]) == 7
    assert data["days"][-1] == "2026-12-07"
    series = {s["name"]: s["counts"] for s in data["series"]}
    assert data["series"][0]["name"] == "ai-act"
    assert series["dma"] == [0, 0, 0, 0, 0, 1, 0]
    assert "data-act" not in series  # nine days ago
    by_lang = client.get("/api/trends", params={"days": "30", "by": "language"}).json()
    assert {s["name"] for s in by_lang["series"]} == {"en", "fr"}
    page = html.fromstring(client.get("/trends", params={"days": "90", "by": "feed"}).text)
    assert len(page.xpath("//svg[@class='chart']/polyline")) == 3
    assert "euractiv" in page.xpath("string(//ul[@class='legend'])")


def test_stories_show_their_sources_on_a_timeline(client: httpx.Client):
    data = client.get("/api/stories").json()
    story = next(s for s in data if s["title"] == EVIL)
    assert [(m["feed_id"], m["relation"]) for m in story["members"]] == [
        ("euractiv", "first"),
        ("eu-parliament", "same-story"),
    ]
    page = client.get("/stories")
    assert EVIL + " story" in text_of(page)


def test_digests_preview_each_recipient_as_it_will_be_sent(client: httpx.Client):
    data = client.get("/api/digests").json()["digests"]
    assert [(d["destination"], d["channel"], d["address"]) for d in data] == [
        ("policy", "email", "policy@example.org")
    ]
    (message,) = data[0]["messages"]
    assert "AI Act briefing number 0" in message["text"]
    assert EVIL in message["text"]
    page = html.fromstring(client.get("/digests").text)
    assert page.xpath("//iframe[@class='email']/@src") == ["/digests/0/email.html"]
    assert page.xpath("//iframe[@class='email']/@sandbox") == [""]
    framed = client.get("/digests/0/email.html")
    assert framed.status_code == 200
    assert framed.headers["content-security-policy"].startswith("sandbox; default-src 'none'")
    assert "script" not in framed.headers["content-security-policy"]
    assert framed.headers["x-frame-options"] == "SAMEORIGIN"
    assert not html.fromstring(framed.text).xpath("//img[@onerror]")
    assert EVIL in " ".join(html.fromstring(framed.text).text_content().split())
    assert client.get("/digests/7/email.html").status_code == 404


def test_healthz_and_metrics_beside_the_dashboard(client: httpx.Client):
    assert client.get("/healthz").json() == {"ok": True}
    assert client.get("/metrics").status_code == 200
    assert client.post("/healthz").status_code == 405
    assert client.get("/nope").status_code == 404
    assert client.get("/static/style.css").status_code == 200


# -- access ---------------------------------------------------------------------------------


def test_a_public_bind_without_a_token_refuses_to_start(state: Path):
    refused = r"0\.0\.0\.0:0 is not a loopback address and MONITOR_WEB_TOKEN is not set"
    with pytest.raises(ServiceError, match=refused), serve(state, address="0.0.0.0:0"):
        pass


def test_healthz_alone_may_listen_anywhere(state: Path):
    import asyncio

    async def scenario() -> None:
        ep = HttpEndpoint(Metrics(), lambda: {"ok": True}, lambda: None)
        address = await ep.start("0.0.0.0:0")
        await ep.stop()
        assert address.startswith("0.0.0.0:")

    asyncio.run(scenario())
    assert Site(database=state).token is None


def test_with_a_token_pages_need_a_login_and_the_api_a_bearer_token(state: Path):
    token = "s3cret-token-for-tests"
    with serve(state, token=token, address="0.0.0.0:0") as served:
        url = f"http://127.0.0.1:{served.address.rpartition(':')[2]}"
        with httpx.Client(base_url=url, timeout=30) as c:
            assert c.get("/healthz").status_code == 200
            assert c.get("/metrics").status_code == 200
            page = c.get("/articles?q=AI")
            assert page.status_code == 303
            assert page.headers["location"] == "/login?next=/articles%3Fq%3DAI"
            assert c.get("/api/articles").status_code == 401
            nope = c.get("/api/articles", headers={"Authorization": "Bearer nope"})
            assert nope.status_code == 401
            ok = c.get("/api/articles", headers={"Authorization": f"Bearer {token}"})
            assert ok.status_code == 200
            assert c.post("/api/lab", json={"yaml": KEYWORDS}).status_code == 401
            bearer = {"Authorization": f"Bearer {token}"}
            assert c.post("/api/lab", json={"yaml": KEYWORDS}, headers=bearer).status_code == 200
            wrong = c.post("/login", data={"token": "nope", "next": "/articles"})
            assert wrong.status_code == 401
            assert "not the token" in wrong.text
            evil_next = c.post("/login", data={"token": token, "next": "//evil.example/"})
            assert evil_next.headers["location"] == "/"
            login = c.post("/login", data={"token": token, "next": "/articles?q=AI"})
            assert login.status_code == 303
            assert login.headers["location"] == "/articles?q=AI"
            cookie = login.headers["set-cookie"]
            assert "HttpOnly" in cookie
            assert "SameSite=strict" in cookie
            assert token not in cookie
            assert c.get("/articles?q=AI").status_code == 200
            assert c.get("/api/articles").status_code == 200  # the cookie works for /api too
            c.post("/logout")
            assert c.get("/articles").status_code == 303


def test_the_dashboard_shares_the_connection_limits(state: Path):
    import socket

    from monitor.service.metrics import HttpLimits

    limits = HttpLimits(request_deadline=30, max_connections=4)
    with serve(state, limits=limits) as served:
        host, _, port = served.address.rpartition(":")
        held = [socket.create_connection((host, int(port))) for _ in range(12)]
        try:
            with httpx.Client(base_url=served.url, timeout=30) as c:
                page = c.get("/articles", params={"q": "Apple"})
                assert page.status_code == 200
                assert re.search(r"1 article\b", text_of(page))
        finally:
            for s in held:
                s.close()


@pytest.mark.parametrize(
    "path",
    ["/api/overview", "/api/articles", "/api/feeds", "/api/stories", "/api/trends", "/api/digests"],
)
def test_every_api_answers_json(client: httpx.Client, path: str):
    answer = client.get(path)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() is not None


def test_pages_change_nothing_on_other_methods(client: httpx.Client):
    assert client.head("/articles").status_code == 200
    for path in ("/", "/articles", "/api/articles", "/feeds"):
        assert client.post(path).status_code == 405
        assert client.delete(path).status_code == 405
