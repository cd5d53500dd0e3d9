"""A restarted instance takes over what its killed predecessor had claimed at once, not
one lease later (issue 11): the dead process's session is gone from
``pg_stat_activity``, and that frees its claims.  The lease stays at its default (five
minutes), so waiting it out would fail every wait below.

Real parts: PostgreSQL, the local feed server (a feed that hangs holds the poll, and so
the feed's claim) and the local Telegram server (a slow ``sendMessage`` holds the send,
and so the outbox row's claim); ``monitor run`` as a subprocess, SIGKILLed.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import psycopg

from tests.support.app import write_feeds
from tests.support.feedserver import FeedServer, rss_feed
from tests.support.instances import KEYWORDS, Instance
from tests.support.telegram_server import TelegramServer
from tests.support.wait import wait_until

CHANNEL = "@eu_ai_watch"
TAKEOVER = 60.0
"""How long a takeover may take here: a fifth of the default lease, and ample for a
process start on a loaded machine."""


def _leases(url: str, sql: str) -> list[tuple[str, object]]:
    with psycopg.connect(url, autocommit=True) as db:
        return [(r[0], r[1]) for r in db.execute(sql).fetchall()]


def test_a_restart_takes_over_its_killed_predecessor_s_feed_and_alert_at_once(
    postgres_url: str,
    feed_server: FeedServer,
    telegram_server: TelegramServer,
    tmp_path: Path,
) -> None:
    tg = telegram_server
    tg.add_channel(CHANNEL)
    feed_server.hang("/eu.xml")  # the first poll hangs: the instance holds the feed
    # A 30 s fetch timeout: the hung poll (and its claim) outlives the kill below.
    write_feeds(
        tmp_path / "feeds.yaml",
        {"eu": feed_server.url("/eu.xml")},
        defaults="interval: 15m\ntimeout: 30s",
    )
    (tmp_path / "keywords.yaml").write_text(KEYWORDS, encoding="utf-8")
    env = {
        **os.environ,
        "MONITOR_DATABASE_URL": postgres_url,
        "TELEGRAM_BOT_TOKEN": tg.token,
        "TELEGRAM_API_URL": tg.base_url,
    }
    inst = Instance("a", tmp_path, env, lease=None)
    try:
        # 1. Killed while it polls: the feed is claimed, for five minutes.
        inst.start()
        assert wait_until(lambda: len(feed_server.requests_for("/eu.xml")) == 1, 60)
        held = _leases(postgres_url, "SELECT lease_owner, lease_until FROM feeds")
        assert held[0][0] is not None, held  # claimed, not released
        inst.kill()
        item = ("n1", "EU AI Act enters into force", "https://n.example/ai-act")
        feed_server.feed("/eu.xml", rss_feed("EU", [item]))
        slow = tg.slow(3600, times=1)  # the alert's send hangs: the row stays claimed
        inst.start()
        restarted = time.monotonic()
        assert wait_until(lambda: len(feed_server.requests_for("/eu.xml")) == 2, TAKEOVER), (
            inst.log.read_text(errors="replace")[-3000:]
        )
        # 2. Killed while it sends: the alert row is claimed, for five minutes.
        assert wait_until(lambda: slow.hits == 1, TAKEOVER), inst.log.read_text()[-3000:]
        rows = _leases(postgres_url, "SELECT lease_owner, status FROM outbox")
        assert [r[1] for r in rows] == ["pending"]
        assert rows[0][0] is not None  # claimed
        inst.kill()
        killed = time.monotonic()
        inst.start()
        assert wait_until(lambda: len(tg.messages(CHANNEL)) >= 1, TAKEOVER), inst.log.read_text(
            errors="replace"
        )[-3000:]
        assert time.monotonic() - restarted < 300  # both within the first lease
        assert time.monotonic() - killed < TAKEOVER
        # The hung send's client died with its process: one message, from the restart.
        assert [m.text.count("EU AI Act enters into force") for m in tg.messages(CHANNEL)] == [1]
        assert wait_until(
            lambda: (
                [r[0] for r in _leases(postgres_url, "SELECT status, id FROM outbox")] == ["sent"]
            ),
            10,
        )
    finally:
        inst.stop()
