"""The Telegram bot's ``getUpdates`` (one reader per token) on one of two instances, and
taken over when that instance dies (issue 11 item 4).  Real PostgreSQL, the local Telegram
server, two ``monitor run`` processes."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.support.app import write_feeds
from tests.support.feedserver import FeedServer, rss_feed
from tests.support.instances import KEYWORDS, Instance
from tests.support.telegram_server import TelegramServer
from tests.support.wait import wait_until

ELECTED = "now runs the singleton job bot"


def test_one_instance_reads_getupdates_and_another_takes_over_when_it_dies(
    postgres_url: str,
    feed_server: FeedServer,
    telegram_server: TelegramServer,
    tmp_path: Path,
) -> None:
    tg = telegram_server
    tg.add_channel("@eu_ai_watch")
    feed_server.feed("/eu.xml", rss_feed("EU", [("q", "Weather", "https://n.example/q")]))
    write_feeds(tmp_path / "feeds.yaml", {"eu": feed_server.url("/eu.xml")})
    (tmp_path / "keywords.yaml").write_text(KEYWORDS, encoding="utf-8")
    env = {
        **os.environ,
        "MONITOR_DATABASE_URL": postgres_url,
        "TELEGRAM_BOT_TOKEN": tg.token,
        "TELEGRAM_API_URL": tg.base_url,
    }
    a, b = (
        Instance("a", tmp_path, env, lease=8, bot=True),
        Instance("b", tmp_path, env, lease=8, bot=True),
    )
    try:
        a.start()
        b.start()
        assert wait_until(lambda: a.up() and b.up(), 60)

        def leaders() -> list[Instance]:
            return [i for i in (a, b) if ELECTED in i.log.read_text(errors="replace")]

        assert wait_until(lambda: len(leaders()) == 1, 30)
        assert wait_until(lambda: len(tg.calls_to("getUpdates")) >= 2, 30)
        leader = leaders()[0]
        other = b if leader is a else a
        assert ELECTED not in other.log.read_text(errors="replace")
        assert [c for c in tg.calls_to("getUpdates") if c.status == 409] == []  # one reader
        leader.kill()
        killed = time.monotonic()
        # The dead leader's session ends, its lock is free; the other asks every 5 s.
        assert wait_until(lambda: ELECTED in other.log.read_text(errors="replace"), 30)
        assert wait_until(
            lambda: any(c.at > killed and c.status == 200 for c in tg.calls_to("getUpdates")),
            30,
        )
    finally:
        codes = [i.stop() for i in (a, b)]
    assert 0 in codes
