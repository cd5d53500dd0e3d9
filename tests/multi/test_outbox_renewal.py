"""A send round longer than one lease keeps its rows (issue 11): the outbox worker renews
its rows' lease before each message, so another instance never claims them meanwhile and
nothing goes out twice.

Real parts: PostgreSQL, the local feed server, the local Telegram server made slow at
its one seam (``TelegramServer.slow``: every ``sendMessage`` answers a second late, as
when Telegram's per-chat limits hold a backlog back); two deliverers with stores of their
own, as two instances have.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.pipeline.deliver import Deliverer, DeliveryReport
from monitor.pipeline.runtime import build_deliverer
from monitor.settings import Settings
from monitor.store import Store
from tests.support.app import make_app
from tests.support.feedserver import FeedServer, rss_feed
from tests.support.telegram_server import TelegramServer

CHANNEL = "@eu_ai_watch"
KEYWORDS = """\
destinations:
  eu-channel:
    telegram: "@eu_ai_watch"
    explain: button
watchlists:
  ai-act:
    title: EU AI Act
    any: ["AI Act"]
    alert: [eu-channel]
"""
ITEMS = 35
"""With "Why?" buttons a message carries at most 10 items: four messages in a row."""
LEASE = timedelta(seconds=3)
SEND = 1.0
"""Seconds each ``sendMessage`` takes: the round takes four, longer than ``LEASE``."""


def _title(rng: random.Random, n: int) -> str:
    # Titles that share nothing but "AI Act": no two fold into one story.
    words = " ".join(
        "".join(rng.choice("bcdfghklmnprstvz") + rng.choice("aeiou") for _ in range(3))
        for _ in range(5)
    )
    return f"AI Act {words} {n}"


def test_a_round_longer_than_the_lease_is_sent_once(
    postgres_url: str,
    feed_server: FeedServer,
    telegram_server: TelegramServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = random.Random(11)
    tg = telegram_server
    tg.add_channel(CHANNEL)
    titles = [_title(rng, i) for i in range(ITEMS)]
    items = [(f"n{i}", t, f"https://n.example/{i}") for i, t in enumerate(titles)]
    feed_server.feed("/eu.xml", rss_feed("EU", items))
    app = make_app(
        tmp_path, {"eu": feed_server.url("/eu.xml")}, keywords=KEYWORDS, defaults="backfill: 50"
    )
    monkeypatch.setenv("MONITOR_DATABASE_URL", postgres_url)
    app.poll()
    settings = Settings.from_env({"TELEGRAM_BOT_TOKEN": tg.token, "TELEGRAM_API_URL": tg.base_url})
    tg.slow(SEND)

    async def go() -> tuple[DeliveryReport, list[DeliveryReport]]:
        with (
            Store(tmp_path / "a", database_url=postgres_url) as a,
            Store(tmp_path / "b", database_url=postgres_url) as b,
        ):
            cfg = app.configs()
            first, second = (
                build_deliverer(cfg, s, settings=settings, instance=name, lease=LEASE)
                for s, name in ((a, "a"), (b, "b"))
            )
            try:
                round_a = asyncio.create_task(first.deliver_alerts())
                rounds_b = []
                while not round_a.done():  # b's outbox worker, again and again
                    await asyncio.sleep(0.2)
                    rounds_b.append(await second.deliver_alerts())
                return await round_a, rounds_b
            finally:
                await first.aclose()
                await second.aclose()

    report_a, reports_b = asyncio.run(go())
    assert report_a.messages == 4  # a round of four seconds, against a lease of three
    assert report_a.sent == ITEMS
    assert sum(r.sent for r in reports_b) == 0  # b never got a row a was sending
    counts = Counter(t for m in tg.messages(CHANNEL) for t in titles if t in m.text)
    assert counts == Counter(dict.fromkeys(titles, 1))  # each alert once


def test_rows_taken_over_meanwhile_are_left_to_their_new_holder(
    postgres_url: str,
    feed_server: FeedServer,
    telegram_server: TelegramServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The other side of the renewal: rows another instance took over during the round
    (this one's lease ran out in one long send, or its session was gone) are left to it."""
    tg = telegram_server
    tg.add_channel(CHANNEL)
    rng = random.Random(12)
    titles = [_title(rng, i) for i in range(15)]  # two messages
    items = [(f"n{i}", t, f"https://n.example/{i}") for i, t in enumerate(titles)]
    feed_server.feed("/eu.xml", rss_feed("EU", items))
    app = make_app(
        tmp_path, {"eu": feed_server.url("/eu.xml")}, keywords=KEYWORDS, defaults="backfill: 50"
    )
    monkeypatch.setenv("MONITOR_DATABASE_URL", postgres_url)
    app.poll()
    settings = Settings.from_env({"TELEGRAM_BOT_TOKEN": tg.token, "TELEGRAM_API_URL": tg.base_url})

    async def go() -> tuple[DeliveryReport, list[int]]:
        with (
            Store(tmp_path / "a", database_url=postgres_url) as a,
            Store(tmp_path / "b", database_url=postgres_url) as b,
        ):
            taken: list[int] = []

            def sent(*_: object) -> None:
                # After a's first message, b (alive) claims what a's lease no longer
                # covers: as if a's one send had outlasted it.
                later = deliverer.clock() + 2 * LEASE
                taken.extend(r.id for r in b.claim_outbox("alert", "b", later, LEASE))

            deliverer: Deliverer = build_deliverer(
                app.configs(), a, settings=settings, instance="a", lease=LEASE, on_sent=sent
            )
            try:
                return await deliverer.deliver_alerts(), taken
            finally:
                await deliverer.aclose()

    report, taken = asyncio.run(go())
    assert (report.sent, report.messages) == (10, 1)  # the first message only
    assert len(taken) == 5  # the second message's rows, b's now
    [message] = tg.messages(CHANNEL)
    assert sum(t in message.text for t in titles) == 10
