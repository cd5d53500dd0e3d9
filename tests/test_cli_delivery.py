"""`monitor digest`, `monitor send-test` and `monitor deliver` from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.cli import main
from tests.support.app import App, make_app
from tests.support.feedserver import FeedServer, rss_feed
from tests.support.smtp_server import SmtpServer
from tests.support.telegram_server import TelegramServer

ITEMS = [
    ("g2", "EU agrees AI Act deal & more", "https://n.example/ai-act"),
    ("g1", "Weather in Brussels", "https://n.example/weather"),
]


@pytest.fixture
def app(feed_server: FeedServer, tmp_path: Path) -> App:
    feed_server.feed("/eu.xml", rss_feed("EU", ITEMS))
    app = make_app(tmp_path, {"eu": feed_server.url("/eu.xml")})
    app.poll()
    return app


def args(app: App) -> list[str]:
    return [
        "--feeds",
        str(app.feeds_path),
        "--keywords",
        str(app.keywords_path),
        "--state",
        str(app.state),
    ]


def test_digest_preview_writes_html_and_sends_nothing(
    app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("SMTP_HOST", raising=False)
    html = tmp_path / "digest.html"
    assert (
        main(["digest", "--preview", "--to", "policy@example.org", "--html", str(html), *args(app)])
        == 0
    )
    out = capsys.readouterr().out
    assert "email digest for policy-team (policy@example.org)" in out
    assert "Subject: EU agrees AI Act deal & more — 1 story" in out
    assert "EU agrees AI Act deal & more" in out
    assert "EU agrees AI Act deal &amp; more" in html.read_text()
    assert not (app.state / "outbox").exists()  # nothing written, nothing sent
    assert main(["digest", "--preview", "--to", "nobody@example.org", *args(app)]) == 0
    assert "no pending digest items for nobody@example.org" in capsys.readouterr().out


def test_digest_send_now_over_smtp(
    app: App,
    smtp_server: SmtpServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
):
    for key, value in {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_server.port),
        "SMTP_SECURITY": "none",
        "MAIL_FROM": "watch@example.org",
    }.items():
        monkeypatch.setenv(key, value)
    assert main(["digest", "--send", *args(app)]) == 0  # not due yet: 08:00 tomorrow
    assert smtp_server.messages == []
    capsys.readouterr()
    assert main(["digest", "--send", "--now", *args(app)]) == 0
    assert "sent 1 digests" in capsys.readouterr().out
    [mail] = smtp_server.messages
    assert mail.message["To"] == "policy@example.org"
    assert main(["digest", "--send", "--now", *args(app)]) == 0  # nothing new: nothing sent
    assert len(smtp_server.messages) == 1


def test_send_test_to_telegram_and_unknown_destination(
    app: App,
    telegram_server: TelegramServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
):
    telegram_server.add_channel("@eu_ai_watch")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", telegram_server.token)
    monkeypatch.setenv("TELEGRAM_API_URL", telegram_server.base_url)
    assert main(["send-test", "eu-channel", *args(app)]) == 0
    assert "sent telegram @eu_ai_watch" in capsys.readouterr().out
    [message] = telegram_server.messages("@eu_ai_watch")
    assert "monitor test message" in message.text
    assert main(["send-test", "no-such", *args(app)]) == 2
    assert "unknown destination 'no-such'" in capsys.readouterr().err
    telegram_server.kick("@eu_ai_watch")
    assert main(["send-test", "eu-channel", *args(app)]) == 1
    assert "FAILED telegram @eu_ai_watch" in capsys.readouterr().out


def test_deliver_sends_due_alerts_once(
    app: App,
    telegram_server: TelegramServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
):
    telegram_server.add_channel("@eu_ai_watch")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", telegram_server.token)
    monkeypatch.setenv("TELEGRAM_API_URL", telegram_server.base_url)
    assert main(["deliver", *args(app)]) == 0
    assert "delivered 1 rows in 1 messages" in capsys.readouterr().out
    assert main(["deliver", *args(app)]) == 0
    assert "delivered 0 rows" in capsys.readouterr().out
    assert len(telegram_server.messages("@eu_ai_watch")) == 1
