"""E-mail digests against a real aiosmtpd server with a size limit and with wrong
settings (issue 10 items 3 and 5): a digest too large is split, never failed whole; a
settings error makes the rows wait until the settings are fixed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.render.email import message_size, render_digest_emails
from monitor.settings import Settings
from monitor.store import DestinationRow
from tests.pipeline.test_deliver import deliver, env_for, outbox_rows
from tests.support.app import App, make_app
from tests.support.feedserver import FeedServer, rss_feed
from tests.support.smtp_server import SmtpServer

MakeServer = Callable[..., SmtpServer]
TOPICS = [
    "trilogue ends",
    "GPAI code published",
    "sandbox rules",
    "fines for providers",
    "the AI Office hires",
    "biometric exemptions",
    "Council text",
    "standards mandate",
    "national authorities",
    "open-source carve-out",
]
ITEMS = [
    (f"g{n}", f"AI Act: {topic} ({'detail ' * 30}{n})", f"https://news.example.eu/{n}")
    for n, topic in enumerate(TOPICS)
]


@pytest.fixture
def app(feed_server: FeedServer, tmp_path: Path) -> App:
    # Two polls: the first poll's backfill limit would keep only the newest three.
    feed_server.feed("/eu.xml", rss_feed("EU news", ITEMS[-1:]))
    app = make_app(tmp_path, {"eu": feed_server.url("/eu.xml")})
    app.poll()
    feed_server.feed("/eu.xml", rss_feed("EU news", ITEMS))
    app.poll()
    assert len(digest_rows(app)) == len(ITEMS)
    return app


def digest_rows(app: App) -> list[dict[str, Any]]:
    return [r for r in outbox_rows(app) if r["kind"] == "digest"]


def email_destination(app: App) -> DestinationRow:
    with app.store() as store:
        [dest] = [d for d in store.destination_rows() if d.channel == "email"]
    return dest


def whole_digest_size(app: App) -> int:
    from monitor.pipeline.runtime import build_deliverer

    with app.store() as store:
        d = build_deliverer(app.configs(), store, settings=Settings.from_env(env_for(None, None)))
        [(_target, [message])] = d.preview_digests()
    return message_size(message)


def test_a_digest_over_the_advertised_size_goes_out_in_parts(
    app: App, smtp_server_factory: MakeServer
) -> None:
    limit = whole_digest_size(app) // 3
    server = smtp_server_factory(size_limit=limit)
    report = deliver(app, env_for(None, server), digests=True, force=True)
    assert (report.failed, report.retried, report.digests) == (0, 0, 1)
    assert report.sent == len(ITEMS)
    assert len(server.messages) >= 3
    assert all(len(m.data) <= limit for m in server.messages)
    n = len(server.messages)
    subjects = [str(m.message["Subject"]) for m in server.messages]
    assert [s.split(" ")[0] for s in subjects] == [f"({i}/{n})" for i in range(1, n + 1)]
    text = "".join(m.message.get_body(("plain",)).get_content() for m in server.messages)
    for _, title, _ in ITEMS:
        assert text.count(title.split(" (")[0]) == 1  # every item once, none lost
    assert {r["status"] for r in digest_rows(app)} == {"sent"}
    assert email_destination(app).healthy is True


def test_a_552_without_advertised_size_splits_and_sends_again(
    app: App, smtp_server_factory: MakeServer
) -> None:
    # Issue 10 item 3: "552 message size exceeds fixed maximum" failed every row for good.
    server = smtp_server_factory(size_limit=None)
    server.fail_next(1, "552 5.3.4 Message size exceeds fixed maximum message size")
    report = deliver(app, env_for(None, server), digests=True, force=True)
    assert (report.failed, report.retried) == (0, 0)
    assert report.sent == len(ITEMS)
    assert len(server.messages) == 2
    assert {r["status"] for r in digest_rows(app)} == {"sent"}


def test_only_an_item_too_large_alone_fails(app: App, smtp_server_factory: MakeServer) -> None:
    from monitor.pipeline.runtime import build_deliverer

    with app.store() as store:
        d = build_deliverer(app.configs(), store, settings=Settings.from_env(env_for(None, None)))
        [(target, _)] = d.preview_digests()
        built = d.build_digest(target)
        assert built is not None
        digest, _ = d.edition(built, app.configs().keywords.destinations["policy-team"])
    # A server that takes nothing larger than the smallest one-item message: every
    # other item is refused on its own; the smallest still goes out.
    singles = render_digest_emails(digest, mail_from=env_for(None, None)["MAIL_FROM"], max_bytes=1)
    sizes = sorted(size for _, size in singles.too_large)
    assert sizes[0] < sizes[-1]
    server = smtp_server_factory(size_limit=int((sizes[0] + sizes[-1]) / 2 / 0.99))
    report = deliver(app, env_for(None, server), digests=True, force=True)
    assert report.retried == 0
    assert report.sent >= 1
    assert report.failed == len(ITEMS) - report.sent
    failed = [r for r in digest_rows(app) if r["status"] == "failed"]
    assert failed
    assert all(
        "alone is" in r["last_error"] and "over the server's limit" in r["last_error"]
        for r in failed
    )
    assert email_destination(app).healthy is True  # the destination is fine


# -- issue 10 item 5: settings errors make rows wait ---------------------------------------


def smtp_env(server: SmtpServer, password: str) -> dict[str, str]:
    return {**env_for(None, server), "SMTP_USERNAME": "bot", "SMTP_PASSWORD": password}


# Past the next 08:00: the digest is due by the clock, as for the service or cron.
DUE = datetime.now(UTC) + timedelta(days=1)


def test_a_rejected_login_keeps_the_rows_and_they_go_out_once_fixed(
    app: App, smtp_server_factory: MakeServer
) -> None:
    server = smtp_server_factory(credentials={"bot": "right"})
    told: list[str] = []
    report = deliver(
        app,
        smtp_env(server, "wrong"),
        digests=True,
        alerts_first=True,
        clock=lambda: DUE,
        on_unhealthy=lambda target, error: told.append(error),
    )
    assert (report.failed, report.digests) == (0, 0)
    assert report.retried == len(ITEMS)
    assert {r["status"] for r in digest_rows(app)} == {"pending"}
    dest = email_destination(app)
    assert dest.healthy is False
    assert "535" in (dest.last_error or "")
    assert "SMTP_PASSWORD" in (dest.last_error or "")
    assert "wrong" not in (dest.last_error or "")
    assert len(told) == 1
    # Still wrong: the rows still wait, and the admins are not told again.
    later = DUE + timedelta(hours=2)
    again = deliver(
        app,
        smtp_env(server, "wrong"),
        digests=True,
        alerts_first=True,
        clock=lambda: later,
        on_unhealthy=lambda target, error: told.append(error),
    )
    assert again.retried == len(ITEMS)
    assert len(told) == 1
    assert {r["status"] for r in digest_rows(app)} == {"pending"}
    # Fixed: the next worker sends the digest at once (as `monitor deliver` does), not
    # after the back-off of the errors, and not "sent 0 digests".
    report = deliver(
        app, smtp_env(server, "right"), digests=True, alerts_first=True, clock=lambda: later
    )
    assert report.digests == 1
    assert report.sent == len(ITEMS)
    assert len(server.messages) == 1
    assert {r["status"] for r in digest_rows(app)} == {"sent"}
    assert email_destination(app).healthy is True


def test_a_server_without_starttls_keeps_the_rows(app: App, smtp_server: SmtpServer) -> None:
    env = {**env_for(None, smtp_server), "SMTP_SECURITY": "starttls"}
    report = deliver(app, env, digests=True, alerts_first=True, clock=lambda: DUE)
    assert report.failed == 0
    assert {r["status"] for r in digest_rows(app)} == {"pending"}
    assert "SMTP_SECURITY" in (email_destination(app).last_error or "")
    report = deliver(
        app, env_for(None, smtp_server), digests=True, alerts_first=True, clock=lambda: DUE
    )
    assert report.digests == 1
    assert {r["status"] for r in digest_rows(app)} == {"sent"}


def test_a_refused_connection_keeps_the_rows(app: App, smtp_server: SmtpServer) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    env = {**env_for(None, smtp_server), "SMTP_PORT": str(closed)}
    report = deliver(app, env, digests=True, alerts_first=True, clock=lambda: DUE)
    assert report.failed == 0
    assert {r["status"] for r in digest_rows(app)} == {"pending"}
    assert email_destination(app).healthy is False
    fixed = deliver(
        app, env_for(None, smtp_server), digests=True, alerts_first=True, clock=lambda: DUE
    )
    assert fixed.digests == 1


def test_a_recipient_refused_still_fails_its_rows(app: App, smtp_server: SmtpServer) -> None:
    smtp_server.reject("policy@example.org")
    report = deliver(app, env_for(None, smtp_server), digests=True, force=True)
    assert report.failed == len(ITEMS)
    assert {r["status"] for r in digest_rows(app)} == {"failed"}
