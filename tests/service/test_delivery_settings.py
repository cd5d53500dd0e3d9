"""A wrong SMTP password in the running service (issue 10 item 5): the alert e-mails
wait, /healthz names the destination and the reason, the admins are told once, and a
restart with the right password sends them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from monitor.service.runner import Service, ServiceOptions
from monitor.settings import Settings
from tests.support.app import make_app
from tests.support.engines import engine_url
from tests.support.feedserver import FeedServer, rss_feed
from tests.support.smtp_server import SmtpServer
from tests.support.telegram_server import TelegramServer
from tests.support.wait import until

KEYWORDS = """\
destinations:
  mailbox:
    email: [policy@example.org]
watchlists:
  ai-act:
    title: EU AI Act
    any: ["AI Act"]
    alert: [mailbox]
"""


def test_wrong_smtp_password_waits_reports_once_and_sends_after_the_fix(
    feed_server: FeedServer,
    telegram_server: TelegramServer,
    smtp_server_factory: object,
    tmp_path: Path,
) -> None:
    assert callable(smtp_server_factory)
    smtp: SmtpServer = smtp_server_factory(credentials={"bot": "right"})
    admin = telegram_server.add_user("Admin")
    feed_server.feed("/eu.xml", rss_feed("EU", [("a", "AI Act deal", "https://n.example/a")]))
    app = make_app(tmp_path, {"eu": feed_server.url("/eu.xml")}, keywords=KEYWORDS)

    def service(password: str) -> Service:
        env = {
            "TELEGRAM_BOT_TOKEN": telegram_server.token,
            "TELEGRAM_API_URL": telegram_server.base_url,
            "TELEGRAM_ADMIN_IDS": str(admin.id),
            "SMTP_HOST": smtp.host,
            "SMTP_PORT": str(smtp.port),
            "SMTP_SECURITY": "none",
            "SMTP_USERNAME": "bot",
            "SMTP_PASSWORD": password,
            "MAIL_FROM": "monitor@example.org",
        }
        return Service(
            ServiceOptions(
                database_url=engine_url(),
                feeds_path=str(app.feeds_path),
                keywords_path=str(app.keywords_path),
                state_dir=app.state,
                settings=Settings.from_env(env),
                http="127.0.0.1:0",
                bot=False,
            )
        )

    async def wrong() -> dict[str, object]:
        svc = service("wrong")
        task = asyncio.create_task(svc.run())
        try:
            assert await until(lambda: len(telegram_server.messages(admin)) >= 1, 10)
            async with httpx.AsyncClient(base_url=f"http://{svc.http_address}") as client:
                body: dict[str, object] = (await client.get("/healthz")).json()
            return body
        finally:
            svc.stop()
            await asyncio.wait_for(task, 10)

    health = asyncio.run(wrong())
    [notice] = telegram_server.messages(admin)
    assert "cannot deliver to mailbox" in notice.text
    assert "535" in notice.text
    assert "wrong" not in notice.text
    unhealthy = health["destinations_unhealthy"]
    assert isinstance(unhealthy, list)
    assert len(unhealthy) == 1
    assert "mailbox (email policy@example.org)" in unhealthy[0]
    assert "SMTP_PASSWORD" in unhealthy[0]
    assert smtp.messages == []

    async def fixed() -> None:
        svc = service("right")
        task = asyncio.create_task(svc.run())
        try:
            assert await until(lambda: len(smtp.messages) >= 1, 10)
        finally:
            svc.stop()
            await asyncio.wait_for(task, 10)

    asyncio.run(fixed())
    [mail] = smtp.messages
    assert "AI Act deal" in str(mail.message["Subject"])
    assert len(telegram_server.messages(admin)) == 1  # told once, not at every retry
