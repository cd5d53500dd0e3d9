"""Two ``monitor run`` processes on one PostgreSQL, one of them SIGKILLed again and again
(issue 11, "Tests"): every matching item is delivered, a duplicate only in the ambiguous
window, and no feed is fetched twice for one due time.

Real parts only: PostgreSQL (``postgres_url``), the local feed server and the local
Telegram Bot API server; the instances are subprocesses as deployed.  ``FEEDS`` and
``KILLS`` (environment ``MONITOR_FAILOVER_FEEDS`` / ``_KILLS``) size it; the counts found
are printed (``pytest -s``) for the notes.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from monitor.store.db import to_db
from tests.support.app import write_feeds
from tests.support.feedserver import FeedServer, rss_feed
from tests.support.instances import KEYWORDS, Instance
from tests.support.telegram_server import TelegramServer
from tests.support.wait import wait_until

FEEDS = int(os.environ.get("MONITOR_FAILOVER_FEEDS", "100"))
KILLS = int(os.environ.get("MONITOR_FAILOVER_KILLS", "10"))
"""The issue asks for 200 feeds and 20 kills: ``MONITOR_FAILOVER_FEEDS=200
MONITOR_FAILOVER_KILLS=20``.  The defaults keep the test near a minute on a loaded 2-core
CI machine (docs/testing.md)."""
HOSTS = 4
"""Feed servers, each a host (``127.0.0.1:port``) with ``per_host`` slots."""
INTERVAL = 8.0
LEASE = 8.0
TIMEOUT = 3
CHANNEL = "@eu_ai_watch"


def _words(rng: random.Random, n: int) -> str:
    # Titles that share nothing but "AI Act": the near-duplicate detector must not fold
    # two items into one story (one alert per story).
    return " ".join(
        "".join(rng.choice("bcdfghklmnprstvz") + rng.choice("aeiou") for _ in range(3))
        for _ in range(n)
    )


def _ambiguous(url: str, sent_text: str, killed_wall: float) -> set[str]:
    """Titles Telegram shows whose alert row the killed instance did not commit: still
    pending, or marked sent only after the kill (the other instance took the row over at
    once, since the killed one's session is gone, and sent it again before this looks).
    The ambiguous window.  An upper bound: a row the other instance sent and committed
    itself after the kill counts too."""
    since = to_db(datetime.fromtimestamp(killed_wall, UTC))
    with psycopg.connect(url, autocommit=True) as db:
        rows = db.execute(
            "SELECT a.title FROM outbox o JOIN articles a ON a.id = o.article_id"
            " WHERE o.kind = 'alert' AND (o.status = 'pending' OR o.sent_at >= %s)",
            (since,),
        ).fetchall()
    return {r[0] for r in rows if r[0] in sent_text}


def test_two_instances_one_killed_again_and_again_lose_nothing(
    postgres_url: str,
    feed_server: FeedServer,
    telegram_server: TelegramServer,
    tmp_path: Path,
) -> None:
    rng = random.Random(20261207)
    tg = telegram_server
    tg.add_channel(CHANNEL)
    hosts = contextlib.ExitStack()
    servers = [feed_server, *(hosts.enter_context(FeedServer()) for _ in range(HOSTS - 1))]
    paths = [f"/f{i:03d}.xml" for i in range(FEEDS)]
    server_of = {p: servers[i % HOSTS] for i, p in enumerate(paths)}
    items: dict[str, list[tuple[str, str, str]]] = {}
    for i, path in enumerate(paths):
        items[path] = [(f"q{i}", f"Weather {_words(rng, 4)}", f"https://n.example/q{i}")]
        server_of[path].feed(path, rss_feed(f"F{i}", items[path]))
    write_feeds(
        tmp_path / "feeds.yaml",
        {f"f{i:03d}": server_of[p].url(p) for i, p in enumerate(paths)},
        defaults=f"interval: {INTERVAL:g}s\ntimeout: {TIMEOUT}s",
    )
    (tmp_path / "keywords.yaml").write_text(KEYWORDS, encoding="utf-8")
    env = {
        **os.environ,
        "MONITOR_DATABASE_URL": postgres_url,
        "TELEGRAM_BOT_TOKEN": tg.token,
        "TELEGRAM_API_URL": tg.base_url,
    }
    instances = [
        Instance("a", tmp_path, env, lease=LEASE),
        Instance("b", tmp_path, env, lease=LEASE),
    ]
    published: list[str] = []
    kills: list[float] = []
    window: set[str] = set()
    stop = threading.Event()

    def publish() -> None:
        n = 0
        while not stop.wait(rng.uniform(0.1, 0.4)):
            path = rng.choice(paths)
            title = f"AI Act {_words(rng, 5)} {n}"
            items[path].insert(0, (f"n{n}", title, f"https://n.example/{n}"))
            server_of[path].publish(path, rss_feed(path, items[path]))
            published.append(title)
            n += 1

    def sent_text() -> str:
        return "\n".join(m.text for m in tg.messages(CHANNEL))

    try:
        for inst in instances:
            inst.start()
        # Every feed polled once before anything is published: a first poll alerts only
        # the newest few items (backfill), later ones all.
        assert wait_until(lambda: all(server_of[p].requests_for(p) for p in paths), 60), (
            [p for p in paths if not server_of[p].requests_for(p)],
            (tmp_path / "a.log").read_text()[-3000:],
        )
        publisher = threading.Thread(target=publish)
        publisher.start()
        for run in range(KILLS):
            victim = rng.choice(instances)
            if run % 4 == 3 and not victim.up():
                time.sleep(rng.uniform(0.05, 0.6))  # during its start
            else:
                wait_until(victim.up, 30)  # then while it works
                time.sleep(rng.uniform(0.3, 2.0))
            victim.kill()
            kills.append(time.monotonic())
            killed_wall = time.time()
            time.sleep(0.2)  # requests in flight at the kill may still arrive
            window |= _ambiguous(postgres_url, sent_text(), killed_wall)
            victim.start()
        stop.set()
        publisher.join()
        expected = set(published)
        assert wait_until(lambda: expected <= set(_titles(sent_text(), expected)), 40), _explain(
            postgres_url, expected - set(_titles(sent_text(), expected))
        )
    finally:
        stop.set()
        codes = [inst.stop() for inst in instances]
        hosts.close()
    assert codes == [0, 0]
    counts = Counter(t for m in tg.messages(CHANNEL) for t in _titles(m.text, set(published)))
    assert set(counts) == set(published)  # every matching item delivered
    duplicated = {t for t, n in counts.items() if n > 1}
    assert duplicated <= window, (duplicated, window)
    refetches = _refetches(server_of, kills)
    fetches = sum(len(server.requests) for server in servers)
    print(
        f"\nfailover: {FEEDS} feeds, {len(kills)} kills, {len(published)} items published,"
        f" {len(duplicated)} duplicates (ambiguous window {len(window)}),"
        f" {refetches} re-fetches after a kill, {fetches} fetches"
    )
    for inst in instances:
        text = inst.log.read_text(errors="replace")
        assert "instance " in text
        assert "Traceback" not in text, text[-3000:]


def _explain(url: str, missing: set[str]) -> list[object]:
    """What the database holds for titles never delivered (the failure message)."""
    with psycopg.connect(url, autocommit=True) as db:
        return [
            (
                title,
                db.execute(
                    "SELECT a.id, a.feed_id, o.status, o.due, o.lease_owner, o.lease_until,"
                    " o.last_error FROM articles a LEFT JOIN outbox o ON o.article_id = a.id"
                    " WHERE a.title = %s",
                    (title,),
                ).fetchall(),
            )
            for title in sorted(missing)
        ]


def _titles(text: str, titles: set[str]) -> list[str]:
    return [t for t in titles if t in text]


def _refetches(server_of: dict[str, FeedServer], kills: list[float]) -> int:
    """Fetches of one feed sooner than half an interval after the previous one: each must
    follow a kill (the killed instance fetched, died before writing the poll, and its lease
    ran out).  Returns how many there were.

    Raises:
        AssertionError: a feed fetched twice for one due time with no kill between.
    """
    count = 0
    for path, server in server_of.items():
        times = [r.at for r in server.requests_for(path)]
        for earlier, later in itertools.pairwise(times):
            if later - earlier >= INTERVAL / 2:
                continue
            assert any(earlier <= k <= later for k in kills), (path, earlier, later)
            count += 1
    return count
