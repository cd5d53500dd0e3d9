"""The bot's side of issue 13, through a real python-telegram-bot Application on long
polling against the local Bot API server: the "Why?" button of an alert answered from
the stored matches, and /subscribe and /mysubs inside forum topics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from monitor.deliver.telegram import FloodLimiter, TelegramSender
from monitor.models import Article, Hit, Match, Route, Snippet, Target
from monitor.pipeline.deliver import Deliverer
from monitor.route import route
from monitor.service.bot import CommandRate, unsubscribe_if_gone
from monitor.store import Store
from monitor.store import articles as arts
from monitor.store import outbox as ob
from monitor.store import subscribers as subs
from tests.service.test_bot import FAST_LIMITS, KEYWORDS, Bot, running_bot
from tests.support.telegram_server import Chat, SentMessage, TelegramServer

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
BUTTONS = KEYWORDS.replace(
    '    telegram: "@eu_ai_watch"\n', '    telegram: "@eu_ai_watch"\n    explain: button\n'
)


async def until(check: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + 5
    while not check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.02)


def add_alert(store: Store, key: str, title: str, hits: tuple[Hit, ...], target: Target) -> int:
    """An article matched ai-act, and its alert row for ``target``; returns the row id."""
    with store.transaction() as conn:
        [new] = arts.add_articles(conn, "eu", [Article("eu", key, title, summary=title)], NOW)
        ob.record_matches(conn, new.id, [Match("ai-act", 1.0, hits)], NOW)
        ob.enqueue(conn, [Route("alert", target, new.id, ("ai-act",), NOW)], NOW)
    [row] = [e for e in ob.due_entries(store.conn, "alert", NOW) if e.article_id == new.id]
    return row.id


async def deliver(bot: Bot, failures: int = 0) -> None:
    cfg = bot.config["keywords"]
    sender = TelegramSender(
        bot.server.token, api_url=bot.server.base_url, limiter=FloodLimiter(FAST_LIMITS)
    )
    deliverer = Deliverer(
        store=bot.store,
        senders={"telegram": sender},
        feed_names={"eu": "EU news"},
        watchlist_titles={wl: spec.title for wl, spec in cfg.watchlists.items()},
        destinations=cfg.destinations,
        watchlists=cfg.watchlists,
        clock=lambda: NOW,
        # As in the service: a subscriber that is gone is unsubscribed.
        on_failed=lambda target, n, error: unsubscribe_if_gone(bot.store, target, error, NOW),
    )
    try:
        report = await deliverer.deliver_alerts()
    finally:
        await deliverer.aclose()
    assert report.failed == failures, report.errors


async def press(bot: Bot, user: Chat, message: SentMessage, data: str) -> dict[str, object]:
    query = bot.server.press(user, message, data)
    await until(lambda: query in bot.server.callback_answers, f"no answer to {data}")
    await bot.idle()
    return bot.server.callback_answers[query]


TITLE_HIT = Hit("AI Act", "AI Act", "title", 8, 14, Snippet("Deal on AI Act", ((8, 14),)))


async def test_why_answers_with_the_terms_and_fields_in_a_popup(
    telegram_server: TelegramServer, tmp_path: Path
) -> None:
    channel = telegram_server.add_channel("@eu_ai_watch")
    ada = telegram_server.add_user("Ada")
    (tmp_path / "keywords.yaml").write_text(BUTTONS, encoding="utf-8")
    async with running_bot(telegram_server, tmp_path) as bot:
        target = Target("eu-channel", "telegram", "@eu_ai_watch")
        row = add_alert(bot.store, "a1", "Deal on AI Act", (TITLE_HIT,), target)
        await deliver(bot)
        [alert] = telegram_server.messages(channel)
        assert alert.buttons() == [("Why?", f"why:{row}")]
        answer = await press(bot, ada, alert, f"why:{row}")
        assert answer["text"] == "EU AI Act: “AI Act” in title"
        assert answer["show_alert"] in (True, "true")
        assert len(telegram_server.messages(channel)) == 1  # no reply needed

        # Stale: the row was pruned; a forged button for another chat's row says the same.
        other = add_alert(
            bot.store, "a2", "Deal on AI Act (2)", (TITLE_HIT,), Target("x", "telegram", "123456")
        )
        answer = await press(bot, ada, alert, f"why:{other}")
        assert answer["text"] == "This alert is too old: why it matched is no longer stored."
        with bot.store.transaction() as conn:
            conn.execute("DELETE FROM outbox WHERE id = ?", (row,))
        answer = await press(bot, ada, alert, f"why:{row}")
        assert answer["text"] == "This alert is too old: why it matched is no longer stored."
        answer = await press(bot, ada, alert, "why:" + "9" * 60)  # 64 bytes, not a row
        assert answer["text"] == "This alert is too old: why it matched is no longer stored."


async def test_a_long_explanation_comes_as_a_reply_in_the_alerts_topic(
    telegram_server: TelegramServer, tmp_path: Path
) -> None:
    forum = telegram_server.add_forum(title="Policy")
    topic = telegram_server.add_topic(forum, "AI")
    ada = telegram_server.add_user("Ada")
    keywords = BUTTONS.replace('"@eu_ai_watch"', f'"{forum.id}"\n    topic: {topic}')
    (tmp_path / "keywords.yaml").write_text(keywords, encoding="utf-8")
    text = "The Artificial Intelligence Act, also called the AI Act, " * 3
    hits = tuple(
        Hit(
            term,
            term,
            "summary",
            text.index(term),
            text.index(term) + len(term),
            Snippet(text, ((text.index(term), text.index(term) + len(term)),)),
        )
        for term in ("Artificial Intelligence Act", "AI Act")
    ) + tuple(
        Hit(f"term number {n}", f"term number {n}", "content", 0, 1, Snippet("")) for n in range(8)
    )
    async with running_bot(telegram_server, tmp_path) as bot:
        row = add_alert(
            bot.store, "b1", "Deal", hits, Target("eu-channel", "telegram", str(forum.id))
        )
        await deliver(bot)
        [alert] = telegram_server.messages(forum)
        assert alert.thread == topic
        answer = await press(bot, ada, alert, f"why:{row}")
        assert answer["text"] == "Why it matched is in the reply below."
        await until(lambda: len(telegram_server.messages(forum)) == 2, "no reply")
        reply = telegram_server.messages(forum)[1]
        assert reply.thread == topic
        [call] = [
            c for c in telegram_server.calls_to("sendMessage") if c.params.get("reply_parameters")
        ]
        assert call.params["reply_parameters"]["message_id"] == alert.message_id
        assert reply.text.splitlines()[:2] == [
            "Why this alert:",
            "EU AI Act: “Artificial Intelligence Act” in summary; “AI Act” in summary; "
            + "; ".join(f"“term number {n}” in content" for n in range(8)),
        ]
        assert "summary: The «Artificial Intelligence Act», also called" in reply.text


async def say_in(bot: Bot, user: Chat, forum: Chat, thread: int | None, text: str) -> SentMessage:
    before = len(bot.server.messages(forum))
    bot.server.user_message(user, text, chat=forum, thread=thread)
    await until(lambda: len(bot.server.messages(forum)) >= before + 2, f"no answer to {text}")
    await bot.idle()
    return bot.server.messages(forum)[-1]


async def test_subscribe_and_mysubs_in_forum_topics(
    telegram_server: TelegramServer, tmp_path: Path
) -> None:
    forum = telegram_server.add_forum(title="Policy")
    ai, faces = telegram_server.add_topic(forum, "AI"), telegram_server.add_topic(forum, "Faces")
    boss, ada = telegram_server.add_user("Boss"), telegram_server.add_user("Ada")
    forum.admins.add(boss.id)
    async with running_bot(telegram_server, tmp_path) as bot:
        refused = await say_in(bot, ada, forum, ai, "/subscribe ai-act")
        assert refused.text == "In a group, only its administrators can use /subscribe."
        assert refused.thread == ai  # answered in the topic it was asked in
        done = await say_in(bot, boss, forum, ai, "/subscribe ai-act")
        assert done.text.startswith("✅ Subscribed to ai-act")
        assert done.thread == ai
        await say_in(bot, boss, forum, faces, "/subscribe facial-recognition")
        await say_in(bot, boss, forum, None, "/subscribe dsa")  # the group itself
        found = subs.subscriptions(bot.store.conn, str(forum.id))
        assert [(s.topic, s.watchlist) for s in found] == [
            (None, "dsa"),
            (ai, "ai-act"),
            (faces, "facial-recognition"),
        ]
        mysubs = await say_in(bot, ada, forum, faces, "/mysubs")
        assert mysubs.thread == faces
        assert mysubs.text.splitlines()[:4] == [
            "This group follows 3 watchlists:",
            "• dsa – Digital Services Act (the whole group)",
            f"• ai-act – EU AI Act (topic {ai})",
            f"• facial-recognition – Facial recognition (topic {faces}, here)",
        ]
        gone = await say_in(bot, boss, forum, ai, "/unsubscribe ai-act")
        assert gone.text == "Unsubscribed from ai-act."
        assert [s.watchlist for s in subs.subscriptions(bot.store.conn, str(forum.id))] == [
            "dsa",
            "facial-recognition",
        ]

        # A topic's subscription routes to that topic.
        cfg = bot.config["keywords"]
        routes = route(
            7,
            [Match("facial-recognition", 1.0, ())],
            watchlists=cfg.watchlists,
            destinations={},
            now=NOW,
            subscriptions=subs.subscriptions(bot.store.conn),
        )
        [sub_route] = [r for r in routes if r.target.destination.startswith("sub:")]
        assert sub_route.target.address == f"{forum.id}/{faces}"
        hit = Hit("facial recognition", "facial recognition", "title", 0, 18, Snippet(""))
        with bot.store.transaction() as conn:
            [new] = arts.add_articles(
                conn, "eu", [Article("eu", "f1", "facial recognition ban")], NOW
            )
            ob.record_matches(conn, new.id, [Match("facial-recognition", 1.0, (hit,))], NOW)
            ob.enqueue(
                conn, [Route("alert", sub_route.target, new.id, sub_route.watchlists, NOW)], NOW
            )
        await deliver(bot)
        alert = telegram_server.messages(forum)[-1]
        assert alert.text.startswith("🔔 facial recognition ban")
        assert alert.thread == faces

        # The topic is deleted: its alert fails and the topic is unsubscribed, the rest stays.
        telegram_server.delete_topic(forum, faces)
        with bot.store.transaction() as conn:
            [new] = arts.add_articles(
                conn, "eu", [Article("eu", "f2", "another facial recognition ban")], NOW
            )
            ob.record_matches(conn, new.id, [Match("facial-recognition", 1.0, (hit,))], NOW)
            ob.enqueue(
                conn, [Route("alert", sub_route.target, new.id, sub_route.watchlists, NOW)], NOW
            )
        await deliver(bot, failures=1)
        assert [s.watchlist for s in subs.subscriptions(bot.store.conn, str(forum.id))] == ["dsa"]

        # The group removes the bot: the group's subscriptions go.
        telegram_server.kick(forum)
        await until(lambda: not subs.subscriptions(bot.store.conn), "still subscribed")


async def test_why_presses_share_the_command_rate_limit(
    telegram_server: TelegramServer, tmp_path: Path
) -> None:
    channel = telegram_server.add_channel("@eu_ai_watch")
    ada = telegram_server.add_user("Ada")
    (tmp_path / "keywords.yaml").write_text(BUTTONS, encoding="utf-8")
    rate = CommandRate(burst=2, per_second=0.001)
    async with running_bot(telegram_server, tmp_path, rate=rate) as bot:
        target = Target("eu-channel", "telegram", "@eu_ai_watch")
        row = add_alert(bot.store, "a1", "Deal on AI Act", (TITLE_HIT,), target)
        await deliver(bot)
        [alert] = telegram_server.messages(channel)
        answers = [str((await press(bot, ada, alert, f"why:{row}"))["text"]) for _ in range(3)]
        assert answers[:2] == ["EU AI Act: “AI Act” in title"] * 2
        assert answers[2].startswith("Slow down, please")
