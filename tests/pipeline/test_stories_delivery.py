"""One story, one alert: later sources edit the alert; digests group them."""

from __future__ import annotations

import asyncio
from email.utils import formatdate
from pathlib import Path
from xml.sax.saxutils import escape

from monitor.pipeline.runtime import build_deliverer
from monitor.settings import Settings
from tests.support.app import App, make_app
from tests.support.feedserver import FeedServer
from tests.support.smtp_server import SmtpServer
from tests.support.telegram_server import TelegramServer

BODY = (
    "European Union negotiators reached a provisional agreement late on Friday on the "
    "Artificial Intelligence Act, the first comprehensive rules for artificial intelligence "
    "in the world, after a marathon of talks that lasted more than thirty six hours in "
    "Brussels. The deal bans some uses of remote biometric identification in public spaces, "
    "with exceptions for the police, and sets obligations for general purpose models. "
    "Commissioner Thierry Breton said the agreement was historic, while Dragoș Tudorache "
    "and Brando Benifei, who led the talks for the European Parliament, said that the text "
    "still had to be finalised by experts in the coming weeks before a vote in 2024."
)
FARM = BODY + " This article is part of our AI coverage. Leave a Reply. By admin."


def feed(title: str, items: list[tuple[str, str, str, str]]) -> bytes:
    parts = [
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>https://x.example/</link>"
        f"<description>x</description>"
    ]
    for guid, item_title, link, text in items:
        parts.append(
            f"<item><guid>{guid}</guid><title>{escape(item_title)}</title>"
            f"<link>{escape(link)}</link><pubDate>{formatdate(usegmt=True)}</pubDate>"
            f"<description>{escape(text)}</description></item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode()


def deliver(app: App, env: dict[str, str], digests: bool = False) -> None:
    async def go() -> None:
        with app.store() as store:
            d = build_deliverer(app.configs(), store, settings=Settings.from_env(env))
            try:
                if digests:
                    await d.deliver_digests(force=True)
                else:
                    await d.deliver_alerts()
            finally:
                await d.aclose()

    asyncio.run(go())


def setup(feed_server: FeedServer, tmp_path: Path) -> App:
    feed_server.feed("/politico.xml", feed("POLITICO", []))
    feed_server.feed("/farm.xml", feed("Farm", []))
    app = make_app(
        tmp_path,
        {"politico": feed_server.url("/politico.xml"), "farm": feed_server.url("/farm.xml")},
        defaults="backfill: null",
    )
    text = (
        app.feeds_path.read_text()
        .replace("  - id: politico\n", "  - id: politico\n    name: POLITICO Europe\n")
        .replace("  - id: farm\n", "  - id: farm\n    name: Content Farm\n")
    )
    app.feeds_path.write_text(text)
    app.poll()  # both feeds known and empty: what comes next is news
    return app


def test_a_copy_edits_the_sent_alert(
    feed_server: FeedServer, telegram_server: TelegramServer, tmp_path: Path
):
    telegram_server.add_channel("@eu_ai_watch")
    env = {
        "TELEGRAM_BOT_TOKEN": telegram_server.token,
        "TELEGRAM_API_URL": telegram_server.base_url,
    }
    app = setup(feed_server, tmp_path)
    feed_server.publish(
        "/politico.xml",
        feed(
            "POLITICO",
            [
                (
                    "p1",
                    "EU negotiators strike political deal on AI Act",
                    "https://www.politico.eu/article/ai-act-deal/",
                    BODY,
                )
            ],
        ),
    )
    app.poll()
    deliver(app, env)
    [alert] = telegram_server.messages("@eu_ai_watch")
    assert "EU negotiators strike political deal on AI Act" in alert.text
    assert "Content Farm" not in alert.text

    feed_server.publish(
        "/farm.xml",
        feed(
            "Farm",
            [
                (
                    "f1",
                    "Europe agrees landmark AI law",
                    "https://farm.example/ai-law?utm_source=x",
                    FARM,
                )
            ],
        ),
    )
    report = app.poll()
    assert report.new == 1
    deliver(app, env)
    messages = telegram_server.messages("@eu_ai_watch")
    assert len(messages) == 1  # no second alert for the same story
    assert messages[0].edits == 1
    assert "Content Farm" in messages[0].text  # "also: Content Farm"
    with app.store() as store:
        rows = store.conn.execute("SELECT kind, status FROM outbox ORDER BY id").fetchall()
    assert [tuple(r) for r in rows if r[0] != "digest"] == [("alert", "sent"), ("update", "sent")]


def test_story_sources_arriving_together_make_one_alert_and_one_digest_item(
    feed_server: FeedServer,
    telegram_server: TelegramServer,
    smtp_server: SmtpServer,
    tmp_path: Path,
):
    telegram_server.add_channel("@eu_ai_watch")
    env = {
        "TELEGRAM_BOT_TOKEN": telegram_server.token,
        "TELEGRAM_API_URL": telegram_server.base_url,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_server.port),
        "SMTP_SECURITY": "none",
        "MAIL_FROM": "monitor@example.org",
    }
    app = setup(feed_server, tmp_path)
    feed_server.publish(
        "/politico.xml",
        feed(
            "POLITICO",
            [
                (
                    "p1",
                    "EU negotiators strike political deal on AI Act",
                    "https://www.politico.eu/article/ai-act-deal/",
                    BODY,
                )
            ],
        ),
    )
    feed_server.publish(
        "/farm.xml",
        feed(
            "Farm", [("f1", "Europe agrees landmark AI law", "https://farm.example/ai-law", FARM)]
        ),
    )
    app.poll()
    deliver(app, env)
    [alert] = telegram_server.messages("@eu_ai_watch")  # one alert for the story ...
    titles = ["EU negotiators strike political deal on AI Act", "Europe agrees landmark AI law"]
    assert sum(t in alert.text for t in titles) == 1
    assert "Content Farm" in alert.text  # ... naming the other source
    assert "POLITICO Europe" in alert.text
    deliver(app, env, digests=True)
    [mail] = smtp_server.messages
    text = mail.message.get_body(("plain",)).get_content()
    assert sum(f". {t}" in text for t in titles) == 1  # one digest item per story
    # Both outlets on the story's sources line (issue 17: "A and B", "A, B and 3 more").
    assert "POLITICO Europe and Content Farm" in text or "Content Farm and POLITICO Europe" in text
    assert "1 story" in mail.message["Subject"]
    with app.store() as store:
        pending = store.conn.execute(
            "SELECT COUNT(*) FROM outbox WHERE status = 'pending'"
        ).fetchone()[0]
    assert pending == 0  # the folded digest row went out with its story
