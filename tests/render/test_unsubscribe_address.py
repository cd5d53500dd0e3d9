"""The digest's unsubscribe address is a valid mailto (RFC 6068: a bare addr-spec), or
is left out; never ``mailto:monitor <monitor@localhost>?...`` (issue 10, item 11)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from monitor.pipeline.runtime import build_deliverer
from monitor.render.email import render_digest_email, unsubscribe_mailto
from monitor.settings import Settings
from tests.support.app import make_app
from tests.support.digest_sample import sample_digest
from tests.support.feedserver import FeedServer, rss_feed
from tests.support.smtp_server import SmtpServer


@pytest.mark.parametrize(
    ("mail_from", "expected"),
    [
        ("monitor <monitor@localhost>", "mailto:monitor@localhost?subject=unsubscribe%20team"),
        (
            '"Policy, Watch" <watch@example.org>',
            "mailto:watch@example.org?subject=unsubscribe%20team",
        ),
        ("watch@example.org", "mailto:watch@example.org?subject=unsubscribe%20team"),
        ("not an address", None),
    ],
)
def test_mailto_holds_the_bare_address(mail_from: str, expected: str | None) -> None:
    assert unsubscribe_mailto(mail_from, "team") == expected


@pytest.mark.parametrize(
    "uri",
    [
        "mailto:monitor <monitor@localhost>?subject=unsubscribe%20team",
        "mailto:monitor%20%3Cmonitor@localhost%3E?subject=x",
        "mailto:?subject=x",
    ],
)
def test_an_invalid_mailto_is_left_out(uri: str) -> None:
    message = render_digest_email(sample_digest(unsubscribe=uri), mail_from="m@example.org")
    assert "List-Unsubscribe" not in dict(message.headers)
    assert "Unsubscribe:" not in message.text
    assert "Unsubscribe</a>" not in (message.html or "")


@pytest.mark.parametrize("public", [False, True])
def test_digest_over_smtp_has_a_valid_unsubscribe_or_none(
    feed_server: FeedServer, smtp_server: SmtpServer, tmp_path: Path, public: bool
) -> None:
    """Issue 12: the one-click https link with MONITOR_PUBLIC_URL and MONITOR_SECRET;
    without them no unsubscribe header and no link (never an invalid mailto)."""
    feed_server.feed(
        "/eu.xml", rss_feed("EU news", [("g1", "EU agrees AI Act deal", "https://n.example/a")])
    )
    app = make_app(tmp_path, {"eu": feed_server.url("/eu.xml")})
    app.poll()
    env = {
        "MAIL_FROM": "EU watch <watch@example.org>",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_server.port),
        "SMTP_SECURITY": "none",
    }
    if public:
        env.update(MONITOR_PUBLIC_URL="https://watch.example.org", MONITOR_SECRET="s3cret")

    async def go() -> int:
        with app.store() as store:
            d = build_deliverer(app.configs(), store, settings=Settings.from_env(env))
            try:
                return (await d.deliver_digests(force=True)).digests
            finally:
                await d.aclose()

    assert asyncio.run(go()) == 1
    [received] = smtp_server.messages
    msg = received.message
    text = msg.get_body(("plain",)).get_content()
    if not public:
        assert msg["List-Unsubscribe"] is None
        assert msg["List-Unsubscribe-Post"] is None
        assert "Unsubscribe" not in text
        return
    header = str(msg["List-Unsubscribe"])
    assert header.startswith("<https://watch.example.org/unsubscribe?t=")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f"Unsubscribe: {header[1:-1]}" in text
