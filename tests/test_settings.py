"""The environment is read once, into ``Settings``; secrets never show."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from monitor.cli import build_parser, with_settings
from monitor.logs import JsonFormatter, RedactSecrets
from monitor.settings import Secret, Settings

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456789:AAH-the-bot-token"
ENV = {
    "MONITOR_FEEDS": "/etc/monitor/feeds.yaml",
    "MONITOR_STATE_DIR": "/var/lib/monitor",
    "MONITOR_HTTP": "",
    "MONITOR_DATABASE_URL": "postgresql://monitor:db-password@db:5432/monitor",
    "TELEGRAM_BOT_TOKEN": f" {TOKEN}\n",
    "TELEGRAM_ADMIN_IDS": "12, 34",
    "SMTP_HOST": "smtp.example.org",
    "SMTP_USERNAME": "watch-login",
    "SMTP_PASSWORD": "smtp-password",
    "MAIL_FROM": "watch@example.org",
    "MONITOR_WEB_TOKEN": "web-token-value",
    "MONITOR_SECRET": "signing-secret",
}
SECRETS = ("AAH-the-bot-token", "db-password", "smtp-password", "watch-login", "web-token-value",
           "signing-secret")  # fmt: skip


def test_settings_are_read_from_the_given_environment() -> None:
    s = Settings.from_env(ENV)
    assert s.feeds_path == "/etc/monitor/feeds.yaml"
    assert s.keywords_path == "keywords.yaml"
    assert s.state_dir == Path("/var/lib/monitor")
    assert s.http == ""  # empty: the endpoint is off
    assert s.telegram_token is not None
    assert s.telegram_token.reveal() == TOKEN
    assert s.admin_ids() == frozenset({12, 34})
    assert s.admin_chats() == ["12", "34"]
    smtp = s.smtp()
    assert smtp is not None
    assert (smtp.host, smtp.password) == ("smtp.example.org", "smtp-password")
    assert Settings.from_env({}) == Settings()


def test_secrets_never_show_in_repr_str_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    s = Settings.from_env(ENV)
    shown = [repr(s), str(s), f"{s}", repr(s.telegram_token), f"{s.database_url}"]
    with caplog.at_level(logging.WARNING):
        logging.getLogger("monitor.test").warning("settings: %s %r", s, s)
    for text in [*shown, caplog.text]:
        for secret in SECRETS:
            assert secret not in text
    assert "***" in repr(s)
    assert str(Secret("x")) == "***"


def test_the_log_filter_redacts_the_settings_secrets() -> None:
    s = Settings.from_env(ENV)
    record = logging.LogRecord(
        "x", logging.WARNING, __file__, 1, "POST /bot%s/send as %s", (TOKEN, "smtp-password"), None
    )
    assert RedactSecrets(s.secret_values()).filter(record)
    line = JsonFormatter().format(record)
    assert "AAH" not in line
    assert "smtp-password" not in line


def test_command_line_options_win_over_the_environment() -> None:
    parser = build_parser()
    s = Settings.from_env(ENV)
    args = with_settings(parser.parse_args(["check", "--feeds", "mine.yaml"]), s)
    given = (args.feeds, args.keywords, args.state)
    assert given == ("mine.yaml", "keywords.yaml", "/var/lib/monitor")
    assert args.settings is s


ENV_READ = re.compile(r"\bos\.environ\b|\bgetenv\b|from os import .*\benviron\b")
ALLOWED = {"monitor/settings.py"}  # the one place


def test_no_module_but_settings_reads_the_environment() -> None:
    offenders = []
    for path in sorted((ROOT / "monitor").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel in ALLOWED:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if ENV_READ.search(line):
                offenders.append(f"{rel}:{number}: {line.strip()}")
    assert offenders == [], "read the environment in monitor/settings.py only:\n" + "\n".join(
        offenders
    )
