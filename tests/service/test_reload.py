"""Hot reload: a valid edit takes effect without a restart; an invalid one is rejected,
reported to the admins, and the service keeps running on the last good configuration."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

from monitor.service.reload import FileWatch, fingerprint
from monitor.service.runner import Service, ServiceOptions
from monitor.settings import Settings
from tests.support.app import App, make_app, write_feeds
from tests.support.engines import engine_url
from tests.support.feedserver import FeedServer, rss_feed
from tests.support.hostile import alias_bomb
from tests.support.instances import KEYWORDS  # one alerting watchlist
from tests.support.telegram_server import TelegramServer
from tests.support.wait import until, wait_until

ROOT = Path(__file__).resolve().parents[2]

WITH_EDPB = (
    KEYWORDS
    + """\
  edpb:
    title: EDPB
    any: ["EDPB"]
    alert: [eu-channel]
"""
)
BROKEN = (
    KEYWORDS
    + """\
  edpb:
    title: EDPB
    any: ["EDPB"]
    alert: [no-such-channel]
"""
)


def test_valid_and_invalid_edits(
    feed_server: FeedServer, telegram_server: TelegramServer, tmp_path: Path
):
    telegram_server.add_channel("@eu_ai_watch")
    admin = telegram_server.add_user("Admin")
    items = [("q", "Weather", "https://n.example/q")]
    feed_server.feed("/eu.xml", rss_feed("EU", items))
    app = make_app(
        tmp_path, {"eu": feed_server.url("/eu.xml")}, keywords=KEYWORDS, defaults="interval: 1s"
    )
    env = {
        "TELEGRAM_BOT_TOKEN": telegram_server.token,
        "TELEGRAM_API_URL": telegram_server.base_url,
        "TELEGRAM_ADMIN_IDS": str(admin.id),
    }
    service = Service(
        ServiceOptions(
            database_url=engine_url(),
            feeds_path=str(app.feeds_path),
            keywords_path=str(app.keywords_path),
            state_dir=app.state,
            settings=Settings.from_env(env),
            http=None,
            bot=False,
            reload_every=0.2,
        )
    )

    def channel_text() -> str:
        return " ".join(m.text for m in telegram_server.messages("@eu_ai_watch"))

    async def scenario() -> None:
        task = asyncio.create_task(service.run())
        try:
            assert await until(lambda: len(feed_server.requests_for("/eu.xml")) >= 1, 10)
            # 1. A valid edit: a new watchlist, used for the next article.
            app.keywords_path.write_text(WITH_EDPB, encoding="utf-8")
            assert await until(lambda: "edpb" in service.config.keywords.watchlists, 5)
            items.insert(0, ("e1", "EDPB adopts guidelines", "https://n.example/e1"))
            feed_server.publish("/eu.xml", rss_feed("EU", items))
            assert await until(lambda: "EDPB adopts guidelines" in channel_text(), 10)
            # 2. An invalid edit: rejected with its precise error, old configuration kept.
            app.keywords_path.write_text(BROKEN, encoding="utf-8")
            assert await until(lambda: len(telegram_server.messages(admin)) >= 1, 5)
            notice = telegram_server.messages(admin)[-1].text
            assert "configuration edit rejected" in notice
            assert "keywords.yaml:" in notice
            assert "no-such-channel" in notice
            assert "edpb" in service.config.keywords.watchlists
            items.insert(0, ("e2", "EDPB and AI Act news", "https://n.example/e2"))
            feed_server.publish("/eu.xml", rss_feed("EU", items))
            assert await until(lambda: "EDPB and AI Act news" in channel_text(), 10)
            # 3. A feeds.yaml edit: a new feed is polled without a restart.
            feed_server.feed(
                "/new.xml",
                rss_feed("New", [("x", "AI Act in Polish press", "https://pl.example/x")]),
            )
            text = (
                app.feeds_path.read_text()
                + f"  - id: new\n    url: {feed_server.url('/new.xml')}\n"
            )
            app.feeds_path.write_text(text, encoding="utf-8")
            assert await until(lambda: "AI Act in Polish press" in channel_text(), 10)
        finally:
            service.stop()
            assert await asyncio.wait_for(task, 10) == 0

    asyncio.run(scenario())


def scheduled(app: App) -> bool:
    with app.store() as store:
        state = store.feed_state("eu")
    return state is not None and state.next_poll is not None


def test_a_shortened_interval_takes_effect_at_once_not_after_the_old_slot(
    feed_server: FeedServer, tmp_path: Path
):
    # Issue 10 item 8: the old next poll (an hour away) used to stand after the edit.
    feed_server.feed("/eu.xml", rss_feed("EU", [("q", "Weather", "https://n.example/q")]))
    feeds = {"eu": feed_server.url("/eu.xml")}
    app = make_app(tmp_path, feeds, keywords=KEYWORDS, defaults="interval: 1h")
    service = Service(
        ServiceOptions(
            database_url=engine_url(),
            feeds_path=str(app.feeds_path),
            keywords_path=str(app.keywords_path),
            state_dir=app.state,
            settings=Settings(),
            http=None,
            bot=False,
            reload_every=0.1,
        )
    )

    async def scenario() -> None:
        task = asyncio.create_task(service.run())
        try:
            assert await until(lambda: len(feed_server.requests_for("/eu.xml")) >= 1, 10)
            # the poll commits its feed state just after the fetch (later on PostgreSQL)
            assert await until(lambda: scheduled(app), 10)
            with app.store() as store:
                before = store.feed_state("eu")
            assert before is not None
            assert before.next_poll is not None
            assert before.last_attempt is not None
            assert before.next_poll - before.last_attempt > timedelta(minutes=50)
            write_feeds(app.feeds_path, feeds, defaults="interval: 1s")
            assert await until(lambda: len(feed_server.requests_for("/eu.xml")) >= 3, 10)
            with app.store() as store:
                after = store.feed_state("eu")
            assert after is not None
            assert after.next_poll is not None
            assert after.last_attempt is not None
            assert after.next_poll - after.last_attempt <= timedelta(seconds=1)
        finally:
            service.stop()
            assert await asyncio.wait_for(task, 10) == 0

    asyncio.run(scenario())


def test_a_file_unreadable_for_a_moment_is_no_edit(tmp_path: Path):
    # Out of file descriptors (EMFILE), every open fails for a moment; that used to read
    # as an edit and send a false "configuration edit rejected ... cannot read" notice.
    path = tmp_path / "keywords.yaml"
    path.write_text(KEYWORDS, encoding="utf-8")
    assert fingerprint(str(tmp_path)) is None  # an OSError other than "gone": no news
    assert fingerprint(str(tmp_path / "gone.yaml")) == ""
    failing = {"now": False}

    def read(name: str) -> str | None:
        # The seam: while failing, reading gives what an open() failure gives.
        return fingerprint(str(tmp_path)) if failing["now"] else fingerprint(name)

    watch = FileWatch([str(path)], read=read)
    failing["now"] = True
    assert [watch.changed() for _ in range(5)] == [[]] * 5
    failing["now"] = False
    assert watch.changed() == []
    path.write_text(WITH_EDPB, encoding="utf-8")
    assert watch.changed() == []  # an edit is reported once it has settled
    assert watch.changed() == [str(path)]
    path.unlink()  # a deleted file is an edit (it is then rejected as unreadable)
    assert watch.changed() == []
    assert watch.changed() == [str(path)]


def test_healthz_answers_while_hostile_edits_are_rejected(feed_server: FeedServer, tmp_path: Path):
    # Issue 10 item 1: a 500-byte alias bomb in keywords.yaml froze `monitor run` (no
    # /healthz for 150 s, 6 GB, SIGTERM ignored).  Now it is refused at its first anchor,
    # a file over 1 MiB is refused unread, and loading runs off the event loop.
    feed_server.feed("/eu.xml", rss_feed("EU", [("q", "Weather", "https://n.example/q")]))
    app = make_app(
        tmp_path, {"eu": feed_server.url("/eu.xml")}, keywords=KEYWORDS, defaults="interval: 1h"
    )
    log = tmp_path / "run.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "SMTP_"))}
    command = [sys.executable, "-m", "monitor", "run", "--no-bot", "--http", "127.0.0.1:0"]
    command += ["--feeds", str(app.feeds_path), "--keywords", str(app.keywords_path)]
    command += ["--state", str(app.state)]
    with log.open("ab") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)

    def healthz(address: str) -> int:
        with urllib.request.urlopen(f"http://{address}/healthz", timeout=5) as answer:
            return int(answer.status)

    try:
        assert wait_until(lambda: "monitor running" in log.read_text(), 30), log.read_text()
        found = re.search(r"metrics on http://(\S+)/metrics", log.read_text())
        assert found, log.read_text()
        address = found[1]
        huge = KEYWORDS + "# padding\n" * (2 * 1024 * 1024 // 10)
        for rejected, text in enumerate((alias_bomb(), huge), start=1):
            app.keywords_path.write_text(text, encoding="utf-8")
            deadline = time.monotonic() + 30
            while log.read_text().count("configuration edit rejected") < rejected:
                assert healthz(address) == 200  # answers all along the reload
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        assert healthz(address) == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert f"{app.keywords_path}:1: YAML anchor '&a0' refused" in text
    assert f"{app.keywords_path}: the file is 2,097," in text
    assert "configuration reloaded" not in text


def test_the_watch_does_not_open_a_fifo(tmp_path: Path):
    # A FIFO in place of a configuration file would block open() (on the event loop).
    path = tmp_path / "keywords.yaml"
    os.mkfifo(path)
    seen: list[str | None] = []
    worker = threading.Thread(target=lambda: seen.append(fingerprint(str(path))), daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive()
    assert seen != [None]  # an edit: loading it is then refused as "not a regular file"


def test_reloads_leave_no_dead_objects_frozen(tmp_path: Path):
    """Every reload freezes what it loaded (no collection walks it afterwards); the
    load's own garbage cycles (ruamel's loader, exceptions) must be collected before,
    or each reload keeps them in the frozen generation for good (~850 objects each)."""
    import gc

    from monitor.pipeline.build import load_configs
    from monitor.service.reload import load_edited

    feeds = write_feeds(tmp_path / "feeds.yaml", {"eu": "http://127.0.0.1:9/feed.xml"})
    keywords = tmp_path / "keywords.yaml"
    keywords.write_text(WITH_EDPB, encoding="utf-8")
    old = load_configs(str(feeds), str(keywords))
    counts = []
    try:
        for number in range(8):
            # A valid edit and a rejected one in turn: both paths build garbage.
            keywords.write_text(BROKEN if number % 2 else WITH_EDPB, encoding="utf-8")
            loaded = load_edited([str(keywords)], old, str(feeds))
            assert bool(loaded.errors) == bool(number % 2)
            old = type(old)(feeds=loaded.feeds, keywords=loaded.keywords)
            del loaded
            counts.append(gc.get_freeze_count())
    finally:
        gc.unfreeze()
    # The first reload may freeze what it imported; after it, the frozen generation
    # holds the configuration in force and nothing more.
    grown = counts[-1] - counts[1]
    assert grown < 100, f"frozen objects grew by {grown} over 6 reloads: {counts}"
