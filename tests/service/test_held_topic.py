"""`monitor run` with a forum topic that was deleted (issue 13): the alerts wait and the
admins are told once, in their chat, with the destination and the fix."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from monitor.service.runner import Service, ServiceOptions
from monitor.settings import Settings
from monitor.store import outbox as ob
from tests.support.app import make_app
from tests.support.engines import engine_url
from tests.support.feedserver import FeedServer, rss_feed
from tests.support.telegram_server import TelegramServer
from tests.support.wait import until


def test_a_deleted_topic_is_reported_to_the_admins_and_nothing_is_lost(
    feed_server: FeedServer, telegram_server: TelegramServer, tmp_path: Path
) -> None:
    forum = telegram_server.add_forum(title="Policy")
    topic = telegram_server.add_topic(forum, "AI")
    telegram_server.delete_topic(forum, topic)
    admin = telegram_server.add_user("Admin")
    feed_server.feed("/eu.xml", rss_feed("EU", [("a", "AI Act deal", "https://n.example/a")]))
    keywords = (
        f'destinations:\n  forum:\n    telegram: "{forum.id}"\n    topic: {topic}\n'
        'watchlists:\n  ai-act:\n    any: ["AI Act"]\n    alert: [forum]\n'
    )
    app = make_app(tmp_path, {"eu": feed_server.url("/eu.xml")}, keywords=keywords)
    env = {
        "TELEGRAM_BOT_TOKEN": telegram_server.token,
        "TELEGRAM_API_URL": telegram_server.base_url,
        "TELEGRAM_ADMIN_IDS": str(admin.id),
    }
    service = Service(
        ServiceOptions(
            database_url=engine_url(),
            feeds_path=str(app.feeds_path),
            keywords_path=str(app.keywords_path),
            state_dir=app.state,
            settings=Settings.from_env(env),
            http=None,
            bot=False,
        )
    )

    async def scenario() -> None:
        task = asyncio.create_task(service.run())
        try:
            assert await until(lambda: telegram_server.messages(admin), 10)
        finally:
            service.stop()
            assert await asyncio.wait_for(task, 10) == 0

    asyncio.run(scenario())
    [notice] = telegram_server.messages(admin)
    assert notice.text.startswith("⚠️ monitor: 1 alert is waiting for forum:")
    assert f"forum topic {topic} of {forum.id} is deleted or closed" in notice.text
    assert "topic: names another one" in notice.text
    assert telegram_server.messages(forum) == []
    with app.store() as store:
        [row] = ob.due_entries(store.conn, "alert", datetime(9999, 1, 1, tzinfo=UTC))
    assert row.status == "pending"
