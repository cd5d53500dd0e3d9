"""Real feeds replayed day by day: new exactly once, re-dated items included."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.app import make_app
from tests.support.feedserver import FeedServer

DAYS = ["2023-11-27", "2023-11-28", "2023-11-29"]


def links(body: bytes) -> list[str]:
    return re.findall(r"<link>([^<]+)</link>", body.decode())[1:]  # [0] is the channel's


def rolling(bodies: list[bytes]) -> bytes:
    """The live feed on a day shows that day's items and the previous day's."""
    head, _, _ = bodies[-1].partition(b"<item>")
    items = b"".join(
        b"<item>" + part.split(b"</channel>")[0]
        for body in reversed(bodies)
        for part in body.split(b"<item>")[1:]
    )
    return head + items + b"</channel></rss>"


def test_rolling_window_of_real_days_reports_each_item_once(
    feed_server: FeedServer, data_dir: Path, tmp_path: Path
):
    files = [(data_dir / "pipeline" / "replay" / f"theverge-{d}.xml").read_bytes() for d in DAYS]
    unique = {link for body in files for link in links(body)}
    total_listed = sum(len(links(b)) for b in files)
    assert total_listed > len(unique)  # the Uber story is listed on two days, re-dated
    feed_server.feed("/verge.xml", rolling(files[:1]))
    app = make_app(tmp_path, {"verge": feed_server.url("/verge.xml")})
    new = app.poll().new
    for day in range(1, len(files)):
        feed_server.publish("/verge.xml", rolling(files[max(0, day - 1) : day + 1]))
        new += app.poll().new
    assert new == len(unique)
    assert app.poll().new == 0


def test_outlet_and_aggregator_linking_the_same_article(
    feed_server: FeedServer, data_dir: Path, tmp_path: Path
):
    replay = data_dir / "parse" / "replay"
    engadget = (replay / "engadget-2023-11-22.xml").read_bytes()
    hn = (replay / "hn-frontpage-2023-11-22.xml").read_bytes()
    feed_server.feed("/engadget.xml", engadget)
    feed_server.feed("/hn.xml", hn)
    app = make_app(
        tmp_path, {"engadget": feed_server.url("/engadget.xml"), "hn": feed_server.url("/hn.xml")}
    )
    report = app.poll()
    # Engadget's feed adds ?src=rss (and www.) to the URL that Hacker News links bare.
    clean = {
        u.removesuffix("?src=rss").replace("://www.", "://") for u in links(engadget) + links(hn)
    }
    assert len(links(engadget)) + len(links(hn)) > len(clean)  # some overlap
    assert report.new == len(clean)
