"""/healthz, /metrics, the health report and logs without secrets."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from monitor.logs import JsonFormatter, RedactSecrets
from monitor.models import FeedSpec, FeedState
from monitor.service.health import health_report
from monitor.service.runner import Service, ServiceOptions
from monitor.settings import Settings
from monitor.store import DestinationRow
from tests.support.app import KEYWORDS, make_app
from tests.support.engines import engine_url
from tests.support.feedserver import FeedServer, rss_feed
from tests.support.wait import until

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def test_healthz_and_metrics(
    feed_server: FeedServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    feed_server.feed("/eu.xml", rss_feed("EU", [("a", "AI Act deal", "https://n.example/a")]))
    feed_server.status("/down.xml", 500)
    app = make_app(
        tmp_path,
        {"eu": feed_server.url("/eu.xml"), "down": feed_server.url("/down.xml")},
        keywords=KEYWORDS,
    )
    service = Service(
        ServiceOptions(
            database_url=engine_url(),
            feeds_path=str(app.feeds_path),
            keywords_path=str(app.keywords_path),
            state_dir=app.state,
            settings=Settings(),
            http="127.0.0.1:0",
            bot=False,
        )
    )

    async def scenario() -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        task = asyncio.create_task(service.run())
        try:
            assert await until(lambda: service.http_address is not None, 10)
            assert await until(lambda: len(feed_server.requests_for("/down.xml")) >= 1, 10)
            assert await until(
                lambda: service.metrics.delivered.labels("telegram")._value.get() >= 1, 10
            )
            async with httpx.AsyncClient(base_url=f"http://{service.http_address}") as client:
                health = await client.get("/healthz")
                metrics = await client.get("/metrics")
                missing = await client.get("/nope")
            return health, metrics, missing
        finally:
            service.stop()
            await asyncio.wait_for(task, 10)

    health, metrics, missing = asyncio.run(scenario())
    assert health.status_code == 200
    body = health.json()
    assert body["ok"] is True
    assert body["feeds"] == 2
    assert body["feeds_failing"] == 1
    assert body["last_successful_poll"]
    text = metrics.text
    assert 'monitor_feed_polls_total{status="ok"} 1.0' in text
    assert 'monitor_feed_polls_total{status="error"} 1.0' in text
    assert "monitor_articles_new_total 1.0" in text
    assert "monitor_articles_matched_total 1.0" in text
    assert 'monitor_outbox_pending{kind="digest"} 1.0' in text
    assert 'monitor_outbox_sent_total{channel="telegram"} 1.0' in text
    assert "monitor_delivery_latency_seconds_count 1.0" in text
    assert "monitor_feeds_failing 1.0" in text
    assert missing.status_code == 404
    assert "AI Act deal" in capsys.readouterr().out  # console delivery without a token


def spec(feed_id: str) -> FeedSpec:
    return FeedSpec(id=feed_id, url=f"https://{feed_id}.example/feed")


def test_health_report_names_failing_silent_feeds_and_destinations():
    states = {
        "ok": FeedState(
            "ok",
            "u",
            "u",
            last_attempt=NOW,
            last_success=NOW,
            articles_seen=100,
            last_new=NOW - timedelta(hours=2),
        ),
        "down": FeedState(
            "down",
            "u",
            "u",
            last_attempt=NOW,
            last_success=NOW - timedelta(hours=5),
            consecutive_failures=7,
            last_error="fetcher: https://down.example/feed: HTTP 503",
        ),
        "blip": FeedState(
            "blip",
            "u",
            "u",
            last_attempt=NOW,
            last_success=NOW - timedelta(minutes=20),
            consecutive_failures=1,
            last_error="timeout",
        ),
        "quiet": FeedState(
            "quiet",
            "u",
            "u",
            last_attempt=NOW,
            last_success=NOW,
            articles_seen=60,
            last_new=NOW - timedelta(days=9),
        ),
    }
    created = {k: NOW - timedelta(days=30) for k in states}
    dests = [
        DestinationRow(
            destination="eu-channel",
            address="@eu",
            channel="telegram",
            first_seen=NOW - timedelta(days=30),
            healthy=False,
            last_error="delivery: eu-channel: bot was kicked",
            last_success=None,
            last_failure=NOW,
            last_digest=None,
            digests_sent=0,
            via=None,
        )
    ]
    report = health_report([spec(k) for k in states], states, dests, NOW, created)
    assert len(report.failing) == 1
    assert report.failing[0].startswith("down: failing for 5h")
    assert "HTTP 503" in report.failing[0]
    assert len(report.silent) == 1
    assert report.silent[0].startswith("quiet: nothing new for 9d")
    assert report.destinations == (
        "eu-channel (telegram @eu): delivery: eu-channel: bot was kicked",
    )
    assert "Feeds failing (1)" in report.text()
    fine = health_report([spec("ok")], {"ok": states["ok"]}, [], NOW, created)
    assert fine.ok
    assert "all feeds and destinations are fine" in fine.text()


def test_secrets_are_redacted_from_logs(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "987654321:AAH-very-secret-token")
    monkeypatch.setenv("SMTP_PASSWORD", "hunter2-smtp")
    record = logging.LogRecord(
        "x",
        logging.WARNING,
        __file__,
        1,
        "POST https://api.telegram.org/bot%s/sendMessage failed, login %s",
        ("987654321:AAH-very-secret-token", "hunter2-smtp"),
        None,
    )
    assert RedactSecrets(Settings.from_env().secret_values()).filter(record)
    line = JsonFormatter().format(record)
    assert "very-secret" not in line
    assert "hunter2" not in line
    assert json.loads(line)["message"] == (
        "POST https://api.telegram.org/bot***/sendMessage failed, login ***"
    )
