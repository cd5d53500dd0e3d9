"""``monitor run`` serves the dashboard beside /healthz and /metrics: a feed polled by the
real service shows up on /articles, found by search, with its hits."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from monitor.errors import ServiceError
from monitor.service.runner import Service, ServiceOptions
from monitor.settings import Settings
from tests.support.app import KEYWORDS, make_app
from tests.support.engines import engine_url
from tests.support.feedserver import FeedServer, rss_feed
from tests.support.wait import until

EVIL = "<img src=x onerror=alert(1)>"


def service_for(app_tmp: Path, feeds: dict[str, str], http: str, **environ: str) -> Service:
    app = make_app(app_tmp, feeds, keywords=KEYWORDS)
    return Service(
        ServiceOptions(
            database_url=engine_url(),
            feeds_path=str(app.feeds_path),
            keywords_path=str(app.keywords_path),
            state_dir=app.state,
            settings=Settings.from_env(dict(environ)),
            http=http,
            bot=False,
        )
    )


def test_the_service_serves_what_it_polled(feed_server: FeedServer, tmp_path: Path):
    feed_server.feed(
        "/eu.xml",
        rss_feed(
            "EU",
            [
                ("a", "AI Act deal reached in trilogue", "https://n.example/a"),
                ("b", f"{EVIL} facial recognition ban", "https://n.example/b"),
                ("c", "Weather in Brussels", "https://n.example/c"),
            ],
        ),
    )
    service = service_for(tmp_path, {"eu": feed_server.url("/eu.xml")}, "127.0.0.1:0")

    async def scenario() -> dict[str, httpx.Response]:
        task = asyncio.create_task(service.run())
        try:
            assert await until(lambda: service.http_address is not None, 10)
            assert await until(lambda: service.metrics.matches._value.get() >= 2, 10)
            async with httpx.AsyncClient(base_url=f"http://{service.http_address}") as client:
                return {
                    path: await client.get(path)
                    for path in (
                        "/",
                        "/articles?q=trilogue",
                        "/api/articles",
                        "/feeds",
                        "/api/trends?days=7",
                        "/healthz",
                    )
                }
        finally:
            service.stop()
            await asyncio.wait_for(task, 15)

    got = asyncio.run(scenario())
    assert all(r.status_code == 200 for r in got.values()), {
        p: r.status_code for p, r in got.items()
    }
    assert "AI Act deal reached in <mark>trilogue</mark>" in got["/articles?q=trilogue"].text
    titles = {a["title"] for a in got["/api/articles"].json()["items"]}
    assert titles == {"AI Act deal reached in trilogue", f"{EVIL} facial recognition ban"}
    assert "&lt;img src=x onerror=alert(1)&gt; facial recognition ban" in got["/"].text
    assert "<img" not in got["/"].text
    assert "eu" in got["/feeds"].text
    series = {s["name"]: sum(s["counts"]) for s in got["/api/trends?days=7"].json()["series"]}
    assert series == {"ai-act": 1, "facial-recognition": 1}
    assert got["/healthz"].json()["ok"] is True


def test_a_public_address_without_a_token_stops_the_start(tmp_path: Path):
    service = service_for(tmp_path, {"eu": "http://127.0.0.1:9/feed.xml"}, "0.0.0.0:0")
    with pytest.raises(ServiceError, match="MONITOR_WEB_TOKEN is not set"):
        asyncio.run(service.run())
