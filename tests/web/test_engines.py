"""The dashboard over HTTP on each storage engine (issue 12 with issue 11): the same
archive, written through the store, read by the web's own reader connection."""

from __future__ import annotations

from pathlib import Path

import httpx
from lxml import html

from tests.support.dashboard import EVIL, KEYWORDS, seed, serve


def test_every_page_and_api_on_each_engine(store_engine: str, tmp_path: Path):
    ids = seed(tmp_path)
    with serve(tmp_path) as served, httpx.Client(base_url=served.url, timeout=60) as c:
        for path in ("/", "/articles", "/feeds", "/stories", "/trends", "/digests", "/lab"):
            page = c.get(path)
            assert page.status_code == 200, (store_engine, path, page.text[:300])
            assert EVIL not in page.text  # always escaped
        overview = c.get("/api/overview").json()["overview"]
        assert (overview["articles"], overview["matched"]) == (37, 36)
        found = c.get("/api/articles", params={"q": "plenary"}).json()
        assert [a["title"] for a in found["items"]] == ["AI Act: Parliament adopts the rules"]
        assert "\x02plenary\x03" in found["items"][0]["highlight"]
        page = c.get("/articles", params={"q": "plenary"})
        marks = html.fromstring(page.text).xpath("//mark/text()")
        assert "plenary" in marks
        listed = c.get("/api/articles", params={"watchlist": "dma"}).json()
        assert [a["id"] for a in listed["items"]] == [ids["Digital Markets Act: Apple fined"]]
        by_feed = c.get("/api/trends", params={"days": "30", "by": "feed"}).json()
        assert {s["name"]: s["total"] for s in by_feed["series"]}["lemonde"] == 1
        feeds = {f["feed_id"]: f for f in c.get("/api/feeds").json()}
        assert feeds["lemonde"]["per_day"][-3:] == [1, 1, 0]
        lab = c.post("/api/lab", json={"yaml": KEYWORDS, "days": 30}).json()
        assert lab["errors"] == []
        assert lab["articles"] == 37
