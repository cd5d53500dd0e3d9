"""Operational commands while the service runs (issue 10 item 8): `monitor poll --feed X`
and `monitor deliver` are done by the running service on request; admins get `/poll FEED`."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.errors import ServiceError, StateLockedError
from monitor.service import requests
from monitor.service.runner import Service, ServiceOptions
from monitor.settings import Settings
from monitor.store import StateLock
from tests.support.app import App, make_app
from tests.support.engines import engine_url
from tests.support.feedserver import FeedServer, rss_feed
from tests.support.telegram_server import TelegramServer
from tests.support.wait import until

QUIET = [("q", "Weather in Brussels", "https://n.example/q")]
NEWS = ("n1", "The AI Act enters into force", "https://n.example/n1")


def service_for(app: App, **options: object) -> Service:
    settings: dict[str, object] = {
        "feeds_path": str(app.feeds_path),
        "keywords_path": str(app.keywords_path),
        "state_dir": app.state,
        "settings": Settings(),
        "database_url": engine_url(),
        "http": None,
        "bot": False,
        "requests_every": 0.1,
        "console": io.StringIO(),
    }
    settings.update(options)
    return Service(ServiceOptions(**settings))  # type: ignore[arg-type]


def test_poll_and_deliver_beside_the_running_service(
    feed_server: FeedServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    feed_server.feed("/eu.xml", rss_feed("EU", QUIET))
    app = make_app(tmp_path, {"eu": feed_server.url("/eu.xml")}, defaults="interval: 1h")
    service = service_for(app)
    common = ["--feeds", str(app.feeds_path), "--keywords", str(app.keywords_path)]
    common += ["--state", str(app.state)]

    async def scenario() -> None:
        task = asyncio.create_task(service.run())
        try:
            assert await until(lambda: len(feed_server.requests_for("/eu.xml")) == 1, 10)
            feed_server.publish("/eu.xml", rss_feed("EU", [NEWS, *QUIET]))
            # The next scheduled poll is an hour away: the command has it done now.
            code = await asyncio.to_thread(main, ["poll", "--feed", "eu", *common])
            assert code == 0
            out, err = capsys.readouterr()
            assert "the running service polls" in err
            assert "polled 1 feeds" in out
            assert "1 new articles, 1 matched" in out
            assert len(feed_server.requests_for("/eu.xml")) == 2
            code = await asyncio.to_thread(main, ["deliver", "--no-digests", *common])
            assert code == 0
            out, err = capsys.readouterr()
            assert "the running service delivers" in err
            assert out.startswith("delivered ")
            # Read commands open the database beside the service, as before.
            assert await asyncio.to_thread(main, ["feeds", *common]) == 0
            assert "eu" in capsys.readouterr().out
        finally:
            service.stop()
            assert await asyncio.wait_for(task, 10) == 0
        assert not list((app.state / requests.DIR).iterdir())  # nothing left behind

    asyncio.run(scenario())


def test_a_lock_holder_that_takes_no_requests_is_reported(tmp_path: Path):
    # Another `monitor poll` (not the service) holds the state directory.
    with StateLock(tmp_path) as lock:
        assert lock is not None
        busy = StateLockedError("storage: state: another monitor process (pid 1) is using it")
        with pytest.raises(StateLockedError, match="only a running `monitor run` does"):
            requests.ask(tmp_path, requests.Request("poll", feeds=("eu",)), busy, taken_within=0.2)
    assert not list((tmp_path / requests.DIR).iterdir())  # the request was withdrawn


def test_admins_poll_a_feed_from_telegram(
    feed_server: FeedServer, telegram_server: TelegramServer, tmp_path: Path
):
    admin = telegram_server.add_user("Admin", username="boss")
    ada = telegram_server.add_user("Ada")
    telegram_server.add_channel("@eu_ai_watch")
    feed_server.feed("/eu.xml", rss_feed("EU", QUIET))
    app = make_app(tmp_path, {"eu": feed_server.url("/eu.xml")}, defaults="interval: 1h")
    env = {
        "TELEGRAM_BOT_TOKEN": telegram_server.token,
        "TELEGRAM_API_URL": telegram_server.base_url,
        "TELEGRAM_ADMIN_IDS": str(admin.id),
    }
    service = service_for(app, settings=Settings.from_env(env), bot=True)

    def answers(user: object) -> list[str]:
        return [m.text for m in telegram_server.messages(user)]  # type: ignore[arg-type]

    async def scenario() -> None:
        task = asyncio.create_task(service.run())
        try:
            assert await until(lambda: len(feed_server.requests_for("/eu.xml")) == 1, 10)
            feed_server.publish("/eu.xml", rss_feed("EU", [NEWS, *QUIET]))
            telegram_server.user_message(ada, "/poll eu")
            assert await until(lambda: len(answers(ada)) >= 2, 10)
            assert answers(ada)[-1] == "/poll is only for the operators of this bot."
            telegram_server.user_message(admin, "/poll nope")
            assert await until(lambda: len(answers(admin)) >= 2, 10)
            assert "I don't know the feed" in answers(admin)[-1]
            assert len(feed_server.requests_for("/eu.xml")) == 1
            telegram_server.user_message(admin, "/poll eu")
            assert await until(lambda: len(answers(admin)) >= 4, 15)
            assert answers(admin)[-1].startswith("✓ eu: 1 new article, 1 matched; next poll ")
            assert len(feed_server.requests_for("/eu.xml")) == 2
            # ...and the alert it found goes out as usual.
            channel = lambda: " ".join(m.text for m in telegram_server.messages("@eu_ai_watch"))  # noqa: E731
            assert await until(lambda: "The AI Act enters into force" in channel(), 10)
        finally:
            service.stop()
            assert await asyncio.wait_for(task, 10) == 0

    asyncio.run(scenario())


def test_a_service_that_stops_before_answering_is_reported(tmp_path: Path):
    lock = StateLock(tmp_path)
    lock.acquire()
    busy = StateLockedError("storage: state: another monitor process (pid 1) is using it")
    now = {"t": 0.0}

    def sleep(seconds: float) -> None:
        # The service's side, driven by the sender's clock: it claims the request, then
        # dies (SIGKILL) without answering, which frees the lock.
        now["t"] += seconds
        if requests.claim(tmp_path):
            lock.release()

    with pytest.raises(ServiceError, match="stopped before it answered the poll request"):
        requests.ask(
            tmp_path,
            requests.Request("poll", feeds=("eu",)),
            busy,
            sleep=sleep,
            clock=lambda: now["t"],
        )
    assert now["t"] < 5  # not the ten-minute answer timeout
