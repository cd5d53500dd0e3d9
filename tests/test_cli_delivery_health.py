"""What `monitor status` says after console delivery and after SMTP settings errors
(issue 10 items 5 and 10)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from monitor.cli import main
from tests.support.app import App, make_app
from tests.support.feedserver import FeedServer, rss_feed
from tests.support.smtp_server import SmtpServer
from tests.support.telegram_server import TelegramServer

ITEMS = [("g2", "EU agrees AI Act deal", "https://n.example/ai-act")]


@pytest.fixture
def app(feed_server: FeedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> App:
    for name in (
        "TELEGRAM_BOT_TOKEN",
        "TELEGRAM_API_URL",
        "SMTP_HOST",
        "SMTP_USERNAME",
        "SMTP_PASSWORD",
        "SMTP_PORT",
        "SMTP_SECURITY",
        "MAIL_FROM",
    ):
        monkeypatch.delenv(name, raising=False)
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


def healthy(line: str) -> bool:
    """The health column of a `monitor status` line says "ok"."""
    return re.search(r"\sok\s+last ok", line) is not None


def status(app: App, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """destination -> its line in `monitor status`."""
    capsys.readouterr()
    assert main(["status", *args(app)]) == 0
    out = capsys.readouterr().out
    health = {}
    for line in out.splitlines():
        for name in ("eu-channel", "policy-team"):
            if line.strip().startswith(name):
                health[name] = line
    return health


def test_console_delivery_is_reported_as_console_not_ok(
    app: App,
    feed_server: FeedServer,
    telegram_server: TelegramServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert main(["deliver", "--no-digests", *args(app)]) == 0
    assert "EU agrees AI Act deal" in capsys.readouterr().out  # printed, not sent
    line = status(app, capsys)["eu-channel"]
    assert "console (no TELEGRAM_BOT_TOKEN)" in line
    assert not healthy(line)
    assert main(["status", "--json", *args(app)]) == 0
    [dest] = [
        d
        for d in json.loads(capsys.readouterr().out)["destinations"]
        if d["destination"] == "eu-channel"
    ]
    assert dest["via"] == "console (no TELEGRAM_BOT_TOKEN)"

    # With a token set, what went to the console stays delivered: it is not sent again.
    channel = telegram_server.add_channel("@eu_ai_watch")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", telegram_server.token)
    monkeypatch.setenv("TELEGRAM_API_URL", telegram_server.base_url)
    assert main(["deliver", "--no-digests", *args(app)]) == 0
    assert "delivered 0 rows" in capsys.readouterr().out
    assert telegram_server.messages(channel) == []
    # The next alert goes to Telegram, and the destination is then "ok".
    items = [("g3", "AI Act: Council signs", "https://n.example/sign"), *ITEMS]
    feed_server.publish("/eu.xml", rss_feed("EU", items))
    app.poll()
    assert main(["deliver", "--no-digests", *args(app)]) == 0
    [message] = telegram_server.messages(channel)
    assert "AI Act: Council signs" in message.text
    line = status(app, capsys)["eu-channel"]
    assert healthy(line)
    assert "console" not in line


def test_a_wrong_smtp_password_shows_in_status_and_the_digest_goes_once_fixed(
    app: App,
    smtp_server_factory: Callable[..., SmtpServer],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = smtp_server_factory(credentials={"bot": "right"})
    for key, value in {
        "SMTP_HOST": server.host,
        "SMTP_PORT": str(server.port),
        "SMTP_SECURITY": "none",
        "MAIL_FROM": "watch@example.org",
        "SMTP_USERNAME": "bot",
        "SMTP_PASSWORD": "wrong",
    }.items():
        monkeypatch.setenv(key, value)
    assert main(["digest", "--send", "--now", *args(app)]) == 0
    out = capsys.readouterr().out
    assert "sent 0 digests" in out
    assert "1 to retry, 0 failed" in out
    line = status(app, capsys)["policy-team"]
    assert "UNHEALTHY" in line
    capsys.readouterr()
    main(["status", *args(app)])
    assert "535" in capsys.readouterr().out
    monkeypatch.setenv("SMTP_PASSWORD", "right")
    assert main(["digest", "--send", "--now", *args(app)]) == 0
    assert "sent 1 digests" in capsys.readouterr().out
    [mail] = server.messages
    assert "EU agrees AI Act deal" in mail.message.get_body(("plain",)).get_content()
    assert healthy(status(app, capsys)["policy-team"])
