"""Issue 12, end to end: a digest sent over SMTP carries the one-click link (RFC 8058);
POSTing it to the running dashboard unsubscribes that recipient, whose next digest is not
sent while the other recipient still gets theirs; a resubscribe brings the digests back."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from monitor.models import Route, Target
from monitor.pipeline.build import load_configs
from monitor.pipeline.runtime import build_deliverer
from monitor.settings import Settings
from monitor.store import Store
from monitor.store import outbox as ob
from tests.support.dashboard import DIGEST, KEYWORDS, NOW, SECRET, seed, serve
from tests.support.engines import engine_url
from tests.support.smtp_server import SmtpServer

OTHER = Target("policy", "email", "other@example.org")
PUBLIC = "https://watch.example.org"


def body(message: EmailMessage, kind: str) -> str:
    part = message.get_body((kind,))
    assert part is not None
    return str(part.get_content())


def digest_round(state: Path, smtp: SmtpServer, article_ids: list[int]) -> list[str]:
    """Route ``article_ids`` to both recipients, send the digests; who received one."""
    before = len(smtp.messages)
    with Store(state, database_url=engine_url()) as store:
        with store.transaction() as conn:
            ob.enqueue(
                conn,
                [
                    Route("digest", t, a, ("ai-act",), NOW)
                    for t in (DIGEST, OTHER)
                    for a in article_ids
                ],
                NOW,
            )
        env = {
            "MAIL_FROM": "watch@example.org",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(smtp.port),
            "SMTP_SECURITY": "none",
            "MONITOR_PUBLIC_URL": PUBLIC,
            "MONITOR_SECRET": SECRET,
        }
        cfg = load_configs(str(state / "feeds.yaml"), str(state / "keywords.yaml"))

        async def go() -> None:
            deliverer = build_deliverer(cfg, store, settings=Settings.from_env(env))
            try:
                await deliverer.deliver_digests(force=True)
            finally:
                await deliverer.aclose()

        asyncio.run(go())
    return sorted(r for m in smtp.messages[before:] for r in m.rcpt_tos)


def test_one_click_from_a_digest_then_resubscribe(tmp_path: Path, smtp_server: SmtpServer) -> None:
    ids = seed(tmp_path)
    (tmp_path / "keywords.yaml").write_text(
        KEYWORDS.replace(
            "email: [policy@example.org]", "email: [policy@example.org, other@example.org]"
        ),
        encoding="utf-8",
    )
    briefings = [ids[f"AI Act briefing number {n}"] for n in range(6)]
    with serve(tmp_path) as served, httpx.Client(base_url=served.url, timeout=30) as client:
        assert digest_round(tmp_path, smtp_server, briefings[:2]) == [
            "other@example.org",
            "policy@example.org",
        ]
        [mine] = [m.message for m in smtp_server.messages if m.rcpt_tos == ("policy@example.org",)]
        header = str(mine["List-Unsubscribe"])
        assert header.startswith(f"<{PUBLIC}/unsubscribe?t=")
        assert mine["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        link = header[1:-1]
        assert f"Unsubscribe: {link}" in body(mine, "plain")
        html = body(mine, "html")
        assert f'href="{link.replace("&", "&amp;")}"' in html
        # The public URL is the proxy in front of the dashboard: the same path and token.
        parts = urlsplit(link)
        one_click = client.post(
            f"{parts.path}?{parts.query}",
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert one_click.status_code == 200
        assert 'value="resubscribe"' in one_click.text
        listed = client.get("/api/digests").json()
        assert [(o["destination"], o["address"]) for o in listed["unsubscribed"]] == [
            ("policy", "policy@example.org")
        ]
        assert "policy@example.org" not in [d["address"] for d in listed["digests"]]
        assert 'id="overrides"' in client.get("/digests").text

        assert digest_round(tmp_path, smtp_server, briefings[2:4]) == ["other@example.org"]

        back = client.post("/unsubscribe", data={"t": parts.query[2:], "action": "resubscribe"})
        assert back.status_code == 200
        assert digest_round(tmp_path, smtp_server, briefings[4:6]) == [
            "other@example.org",
            "policy@example.org",
        ]
        # the resubscribed digest holds what matched since, not what matched meanwhile
        last = smtp_server.messages[-2:]
        [again] = [m.message for m in last if m.rcpt_tos == ("policy@example.org",)]
        text = body(again, "plain")
        assert "briefing number 4" in text
        assert "briefing number 2" not in text
