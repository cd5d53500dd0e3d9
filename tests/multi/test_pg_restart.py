"""PostgreSQL restarted under a running service (issue 11, "Tests"): it reconnects, loses
nothing, and says so in the log and in ``/healthz``.

The server is a throw-away cluster of this test's own (``initdb``/``pg_ctl``, as
``tests/support/postgres.py`` makes one), since restarting a shared server would cut
every other test's connections.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.app import write_feeds
from tests.support.ci import missing
from tests.support.feedserver import FeedServer, rss_feed
from tests.support.instances import KEYWORDS  # one alerting watchlist
from tests.support.postgres import PostgresUnavailable, ThrowawayCluster, _binary
from tests.support.telegram_server import TelegramServer
from tests.support.wait import wait_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cluster() -> Iterator[ThrowawayCluster]:
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if not (initdb and pg_ctl):
        missing("initdb/pg_ctl not found: the test restarts a PostgreSQL of its own")
    server = ThrowawayCluster(initdb, pg_ctl)
    try:
        server.start()
    except PostgresUnavailable as exc:
        server.stop()
        missing(str(exc))
    try:
        yield server
    finally:
        server.stop()


def test_the_service_reconnects_after_postgresql_restarts(
    cluster: ThrowawayCluster,
    feed_server: FeedServer,
    telegram_server: TelegramServer,
    tmp_path: Path,
) -> None:
    tg = telegram_server
    tg.add_channel("@eu_ai_watch")
    quiet = [("q", "Weather in Brussels", "https://n.example/q")]
    feed_server.feed("/eu.xml", rss_feed("EU", quiet))
    feeds = {"eu": feed_server.url("/eu.xml")}
    write_feeds(tmp_path / "feeds.yaml", feeds, defaults="interval: 1s")
    (tmp_path / "keywords.yaml").write_text(KEYWORDS, encoding="utf-8")
    env = {
        **os.environ,
        "MONITOR_DATABASE_URL": cluster.url,
        "TELEGRAM_BOT_TOKEN": tg.token,
        "TELEGRAM_API_URL": tg.base_url,
    }
    log = tmp_path / "run.log"
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "monitor", "run",
            "--feeds", str(tmp_path / "feeds.yaml"),
            "--keywords", str(tmp_path / "keywords.yaml"),
            "--state", str(tmp_path / "state"),
            "--http", "127.0.0.1:0",
            "--no-bot",
        ],
        cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )  # fmt: skip

    def text() -> str:
        return log.read_text(errors="replace")

    def health() -> dict[str, object]:
        address = re.search(r"metrics on http://([^/]+)/metrics", text())
        assert address is not None
        try:
            with urllib.request.urlopen(f"http://{address[1]}/healthz", timeout=5) as r:
                return dict(json.load(r))
        except urllib.error.HTTPError as exc:  # 503: not ok, same body
            return dict(json.load(exc))

    try:
        assert wait_until(lambda: "monitor running" in text(), 30), text()
        assert wait_until(lambda: len(feed_server.requests_for("/eu.xml")) >= 2, 15), text()
        before = health()
        assert before["database"] == {
            "engine": "postgresql",
            "where": f"PostgreSQL at 127.0.0.1:{cluster.port}",
            "reconnects": 0,
        }
        cluster.restart()
        item = ("n1", "AI Act published after the restart", "https://n.example/n1")
        feed_server.publish("/eu.xml", rss_feed("EU", [item, *quiet]))
        assert wait_until(
            lambda: any(item[1] in m.text for m in tg.messages("@eu_ai_watch")), 30
        ), text()
        assert wait_until(
            lambda: f"reconnected to PostgreSQL at 127.0.0.1:{cluster.port}" in text(), 10
        ), text()
        after = health()
        database = after["database"]
        assert isinstance(database, dict), after
        assert database["reconnects"] >= 1, after
        assert after["ok"] is True, after
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # Nothing lost, nothing twice: the alert went out once.
    assert sum(item[1] in m.text for m in tg.messages("@eu_ai_watch")) == 1
