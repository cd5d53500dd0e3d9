"""The outbox end to end: poll -> outbox -> Telegram / SMTP servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.pipeline.deliver import DeliveryReport
from monitor.pipeline.runtime import build_deliverer
from monitor.settings import Settings
from monitor.store.db import from_db
from tests.support.app import App, make_app
from tests.support.feedserver import FeedServer, rss_feed
from tests.support.smtp_server import SmtpServer
from tests.support.telegram_server import TelegramServer

ITEMS = [
    ("g3", "EU agrees AI Act deal <finally> & more", "https://news.example.eu/ai-act"),
    ("g2", "Parliament debates facial recognition ban 🇪🇺", "https://news.example.eu/frt"),
    ("g1", "Weather in Brussels", "https://news.example.eu/weather"),
]


def env_for(tg: TelegramServer | None, smtp: SmtpServer | None) -> dict[str, str]:
    env: dict[str, str] = {"MAIL_FROM": "monitor <monitor@example.org>"}
    if tg is not None:
        env["TELEGRAM_BOT_TOKEN"] = tg.token
        env["TELEGRAM_API_URL"] = tg.base_url
    if smtp is not None:
        env.update(SMTP_HOST="127.0.0.1", SMTP_PORT=str(smtp.port), SMTP_SECURITY="none")
    return env


def deliver(
    app: App,
    env: dict[str, str],
    *,
    digests: bool = False,
    force: bool = False,
    clock: Any = None,
    alerts_first: bool = False,
    **kwargs: Any,
) -> DeliveryReport:
    """One worker's round; ``alerts_first`` with ``digests``: alerts then the due digests,
    as ``monitor deliver`` does."""

    async def go() -> DeliveryReport:
        with app.store() as store:
            if clock:
                kwargs["clock"] = clock
            d = build_deliverer(app.configs(), store, settings=Settings.from_env(env), **kwargs)
            try:
                if digests and alerts_first:
                    report = await d.deliver_alerts()
                    report.add(await d.deliver_digests(force=force))
                    return report
                if digests:
                    return await d.deliver_digests(force=force)
                return await d.deliver_alerts()
            finally:
                await d.aclose()

    return asyncio.run(go())


def outbox_rows(app: App) -> list[dict[str, Any]]:
    with app.store() as store:
        return [dict(r) for r in store.conn.execute("SELECT * FROM outbox ORDER BY id")]


@pytest.fixture
def app(feed_server: FeedServer, tmp_path: Path) -> App:
    feed_server.feed("/eu.xml", rss_feed("EU news", ITEMS))
    app = make_app(tmp_path, {"eu": feed_server.url("/eu.xml")})
    app.poll()
    return app


def test_alerts_arrive_once_grouped_and_escaped(app: App, telegram_server: TelegramServer):
    telegram_server.add_channel("@eu_ai_watch")
    rows = outbox_rows(app)
    assert sorted((r["kind"], r["destination"]) for r in rows) == [
        ("alert", "eu-channel"),
        ("alert", "eu-channel"),
        ("digest", "policy-team"),
        ("digest", "policy-team"),
    ]
    report = deliver(app, env_for(telegram_server, None))
    assert (report.sent, report.messages, report.failed) == (2, 1, 0)
    [message] = telegram_server.messages("@eu_ai_watch")
    assert "EU agrees AI Act deal <finally> & more" in message.text
    assert "🇪🇺" in message.text
    # Nothing twice: a second round finds nothing due.
    again = deliver(app, env_for(telegram_server, None))
    assert again.sent == 0
    assert len(telegram_server.messages("@eu_ai_watch")) == 1
    assert {r["status"] for r in outbox_rows(app) if r["kind"] == "alert"} == {"sent"}


def test_retry_after_is_honoured_exactly(app: App, telegram_server: TelegramServer):
    channel = telegram_server.add_channel("@eu_ai_watch")
    telegram_server.rate_limit(42, chat=channel)
    before = datetime.now(UTC)
    report = deliver(app, env_for(telegram_server, None))
    assert report.retried == 2
    alerts = [r for r in outbox_rows(app) if r["kind"] == "alert"]
    for row in alerts:
        assert row["status"] == "pending"
        due = from_db(row["due"])
        assert due is not None
        assert before + timedelta(seconds=42) <= due <= datetime.now(UTC) + timedelta(seconds=42)
        assert "retry" in row["last_error"].lower()
    # Not due yet: nothing is sent, nothing is lost.
    assert deliver(app, env_for(telegram_server, None)).sent == 0
    later = datetime.now(UTC) + timedelta(seconds=43)
    assert deliver(app, env_for(telegram_server, None), clock=lambda: later).sent == 2
    assert len(telegram_server.messages("@eu_ai_watch")) == 1


def test_kicked_bot_marks_rows_failed_and_destination_unhealthy(
    app: App, telegram_server: TelegramServer
):
    channel = telegram_server.add_channel("@eu_ai_watch")
    telegram_server.kick(channel)
    report = deliver(app, env_for(telegram_server, None))
    assert report.failed == 2
    alerts = [r for r in outbox_rows(app) if r["kind"] == "alert"]
    assert {r["status"] for r in alerts} == {"failed"}
    assert all("403" in r["last_error"] or "kicked" in r["last_error"] for r in alerts)
    with app.store() as store:
        [dest] = [d for d in store.destination_rows() if d.destination == "eu-channel"]
    assert dest.healthy is False
    assert "kicked" in (dest.last_error or "")


def test_server_error_then_recovery(app: App, telegram_server: TelegramServer):
    telegram_server.add_channel("@eu_ai_watch")
    telegram_server.server_error(times=1)
    report = deliver(app, env_for(telegram_server, None))
    assert report.retried == 2
    later = datetime.now(UTC) + timedelta(hours=2)
    assert deliver(app, env_for(telegram_server, None), clock=lambda: later).sent == 2
    assert len(telegram_server.messages("@eu_ai_watch")) == 1


def test_without_credentials_console_and_eml(app: App, capsys: pytest.CaptureFixture[str]):
    report = deliver(app, {})
    assert report.sent == 2
    out = capsys.readouterr().out
    assert "telegram to eu-channel (@eu_ai_watch)" in out
    assert "EU agrees AI Act deal <finally> & more" in out
    digest = deliver(app, {}, digests=True, force=True)
    assert digest.digests == 1
    [eml] = list((app.state / "outbox").glob("*.eml"))
    text = eml.read_text()
    assert "policy@example.org" in text
    # issue 12: without MONITOR_PUBLIC_URL and MONITOR_SECRET, no unsubscribe header
    assert "List-Unsubscribe" not in text


def test_digest_by_smtp_due_at_local_time_once(app: App, smtp_server: SmtpServer):
    env = env_for(None, smtp_server)
    with app.store() as store:
        created = from_db(store.conn.execute("SELECT MIN(created) FROM outbox").fetchone()[0])
    assert created is not None
    # Next 08:00 Europe/Brussels after the rows were created (07:00 UTC in winter).
    local = created.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Brussels"))
    slot = local.replace(hour=8, minute=0, second=0, microsecond=0)
    if slot <= local:
        slot += timedelta(days=1)
    slot_utc = slot.astimezone(UTC)
    assert (
        deliver(app, env, digests=True, clock=lambda: slot_utc - timedelta(minutes=1)).digests == 0
    )
    assert smtp_server.messages == []
    report = deliver(app, env, digests=True, clock=lambda: slot_utc + timedelta(minutes=5))
    assert report.digests == 1
    [received] = smtp_server.messages
    msg = received.message
    assert "2 stories" in msg["Subject"]
    assert msg["List-Unsubscribe"] is None  # no MONITOR_PUBLIC_URL (issue 12)
    assert msg.get_body(("html",)) is not None
    # The same day again: nothing new, nothing sent.
    again = deliver(app, env, digests=True, clock=lambda: slot_utc + timedelta(hours=3))
    assert again.digests == 0
    assert len(smtp_server.messages) == 1


def test_smtp_451_then_success_and_550_failure(app: App, smtp_server: SmtpServer):
    env = env_for(None, smtp_server)
    smtp_server.fail_next(1)
    first = deliver(app, env, digests=True, force=True)
    assert first.retried == 2
    assert smtp_server.messages == []
    later = datetime.now(UTC) + timedelta(hours=1)
    second = deliver(app, env, digests=True, force=True, clock=lambda: later)
    assert second.digests == 1
    assert len(smtp_server.messages) == 1


def test_smtp_550_is_permanent(app: App, smtp_server: SmtpServer):
    smtp_server.reject("policy@example.org")
    report = deliver(app, env_for(None, smtp_server), digests=True, force=True)
    assert report.failed == 2
    with app.store() as store:
        [dest] = [d for d in store.destination_rows() if d.channel == "email"]
    assert dest.healthy is False
    assert "550" in (dest.last_error or "")
