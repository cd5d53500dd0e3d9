"""The bot commands, driven through a real python-telegram-bot Application on long
polling against the local Bot API server, with real SQLite and real matches."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.config.keywords import KeywordsConfig, load_keywords
from monitor.deliver.telegram import FloodLimiter, TelegramLimits, TelegramSender
from monitor.errors import ConfigError, PermanentDeliveryError, TransientDeliveryError
from monitor.models import OutgoingMessage, Target
from monitor.pipeline.build import Configs
from monitor.render.telegram import MAX_LENGTH, utf16_len
from monitor.route import SUBSCRIBER_PREFIX
from monitor.service.bot import (
    BotApp,
    BotContext,
    CommandRate,
    admin_ids_from_env,
    build_bot,
    is_paused,
    start_bot,
    start_for_service,
    stop_bot,
    stop_for_service,
    unsubscribe_if_gone,
)
from monitor.service.bot_limits import CommandLimiter
from monitor.service.bot_text import (
    COMMANDS,
    help_text,
    resolve,
    split_text,
    unknown_command,
    unknown_watchlists,
)
from monitor.settings import Settings
from monitor.store import Store
from monitor.store import outbox as ob
from monitor.store import subscribers as subs
from tests.support.app import App, make_app
from tests.support.engines import engine_url
from tests.support.feedserver import FeedServer
from tests.support.telegram_server import Chat, SentMessage, TelegramServer

KEYWORDS = """\
destinations:
  eu-channel:
    telegram: "@eu_ai_watch"
watchlists:
  ai-act:
    title: EU AI Act
    any: ["AI Act", "Artificial Intelligence Act"]
    alert: [eu-channel]
  facial-recognition:
    title: Facial recognition
    any: ["facial recognition"]
    alert: [eu-channel]
  dsa:
    title: Digital Services Act
    any: ["Digital Services Act"]
    priority: digest
    digest: [eu-channel]
"""
ADMIN_ID = 4242
HOSTILE = 'AI Act: 3 < 5 & "quotes" <finally> </b> 🇪🇺 Ωμέγα 👩‍👩‍👧'
GENEROUS = CommandRate(burst=1000, per_second=1000.0)
FAST_LIMITS = TelegramLimits(overall=(1000, 1.0), group=(1000, 1.0), private=(1000, 1.0))


def rss(items: list[tuple[str, str, str, datetime]]) -> bytes:
    """RSS with explicit dates: ``(guid, title, description, published)``."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>',
        "<title>EU news</title><link>https://news.example.eu/</link>",
        "<description>EU news</description>",
    ]
    for guid, title, description, published in items:
        parts.append(
            f"<item><guid>{escape(guid)}</guid><title>{escape(title)}</title>"
            f"<link>https://news.example.eu/{escape(guid)}</link>"
            f"<pubDate>{format_datetime(published, usegmt=True)}</pubDate>"
            f"<description>{escape(description)}</description></item>"
        )
    parts.append("</channel></rss>\n")
    return "".join(parts).encode()


@dataclass
class Bot:
    """A running bot, its server, its store and a switchable configuration."""

    server: TelegramServer
    app: BotApp
    store: Store
    config: dict[str, KeywordsConfig]
    tmp: Path

    async def idle(self) -> None:
        """Every update fetched, queued and handled (three quiet checks in a row)."""
        processor = self.app.update_processor
        deadline = time.monotonic() + 5
        quiet = 0
        while quiet < 3:
            assert time.monotonic() < deadline, "the bot did not settle"
            busy = (
                self.server.pending_updates
                or not self.app.update_queue.empty()
                or processor.current_concurrent_updates
            )
            quiet = 0 if busy else quiet + 1
            await asyncio.sleep(0.02)

    async def say(self, user: Chat, text: str, replies: int = 1) -> list[SentMessage]:
        """``user`` sends ``text``; returns what the bot answered (after it settled)."""
        before = len(self.server.messages(user))
        self.server.user_message(user, text)
        deadline = time.monotonic() + 5
        while len(self.server.messages(user)) < before + 1 + replies:
            assert time.monotonic() < deadline, f"no answer to {text!r}"
            await asyncio.sleep(0.02)
        await self.idle()
        return self.server.messages(user)[before + 1 :]

    async def text(self, user: Chat, command: str) -> str:
        [answer] = await self.say(user, command)
        return answer.text


@asynccontextmanager
async def running_bot(
    server: TelegramServer, tmp: Path, *, rate: CommandRate = GENEROUS, **context: Any
) -> AsyncIterator[Bot]:
    kw_path = tmp / "keywords.yaml"
    if not kw_path.exists():
        kw_path.write_text(KEYWORDS, encoding="utf-8")
    config = {"keywords": load_keywords(str(kw_path))}
    store = Store(tmp / "state", database_url=engine_url())
    ctx = BotContext(
        store=store,
        keywords=lambda: config["keywords"],
        admin_ids=frozenset({ADMIN_ID}),
        rate=rate,
        **context,
    )
    app = build_bot(
        token=server.token,
        api_url=server.base_url,
        context=ctx,
        limiter=FloodLimiter(FAST_LIMITS),
    )
    await start_bot(app, poll_timeout=1)
    try:
        yield Bot(server, app, store, config, tmp)
    finally:
        await asyncio.wait_for(stop_bot(app), 5)
        store.close()


@pytest.fixture
async def bot(telegram_server: TelegramServer, tmp_path: Path) -> AsyncIterator[Bot]:
    telegram_server.add_user("Admin", username="boss", id=ADMIN_ID)
    async with running_bot(telegram_server, tmp_path) as running:
        yield running


@pytest.fixture
def ada(bot: Bot) -> Chat:
    return bot.server.add_user("Ada <&>", username="ada")


def subscribed(store: Store, user: Chat) -> list[str]:
    return [s.watchlist for s in subs.subscriptions(store.conn, str(user.id))]


# --- everyone -----------------------------------------------------------------------


async def test_start_help_and_the_command_menu(
    bot: Bot, ada: Chat, caplog: pytest.LogCaptureFixture
) -> None:
    for name in (None, "httpx", "telegram"):  # other code may have quietened these
        caplog.set_level(logging.DEBUG, logger=name)
    start = await bot.text(ada, "/start")
    assert start.startswith("Hello Ada <&>!")
    assert "/subscribe WATCHLIST" in start
    user_help = await bot.text(ada, "/help")
    assert "/latest [WATCHLIST]" in user_help
    assert "/status" not in user_help
    admin = bot.server.chat(ADMIN_ID)
    admin_help = await bot.text(admin, "/help")
    assert "/status – feeds, outbox and recent errors" in admin_help
    assert "/pause" in admin_help
    menus = {scope: [c["command"] for c in cmds] for scope, cmds in bot.server.commands.items()}
    public = [c.name for c in COMMANDS if not c.admin]
    assert public in menus.values()
    assert [c.name for c in COMMANDS] in menus.values()  # the admin's chat menu
    # The token is in every request URL; it must never reach a log record.
    assert "/bot***/getUpdates" in caplog.text
    assert bot.server.token not in caplog.text


async def test_subscribe_mysubs_watchlists_unsubscribe(bot: Bot, ada: Chat) -> None:
    assert "You follow no watchlist yet" in await bot.text(ada, "/mysubs")
    answer = await bot.text(ada, "/subscribe ai-act")
    assert answer == "✅ Subscribed to ai-act – EU AI Act. New matches will arrive here."
    assert subscribed(bot.store, ada) == ["ai-act"]
    assert await bot.text(ada, "/subscribe AI-Act") == "You already follow ai-act."
    answer = await bot.text(ada, "/subscribe Digital Services Act")  # a title works too
    assert "Subscribed to dsa" in answer
    assert "no instant alerts" in answer
    assert subscribed(bot.store, ada) == ["ai-act", "dsa"]
    row = bot.store.conn.execute(
        "SELECT username FROM subscribers WHERE chat_id = ?", (str(ada.id),)
    ).fetchone()
    assert row[0] == "ada"

    mysubs = await bot.text(ada, "/mysubs")
    assert mysubs.splitlines()[:3] == [
        "You follow 2 watchlists:",
        "• ai-act – EU AI Act",
        "• dsa – Digital Services Act (no instant alerts: see /digest)",
    ]
    listing = await bot.text(ada, "/watchlists")
    assert "✅ ai-act – EU AI Act" in listing
    assert "• facial-recognition – Facial recognition" in listing

    assert await bot.text(ada, "/unsubscribe ai-act") == "Unsubscribed from ai-act."
    assert await bot.text(ada, "/unsubscribe ai-act") == "You don't follow ai-act."
    assert subscribed(bot.store, ada) == ["dsa"]
    await bot.text(ada, "/subscribe ai-act, facial-recognition")
    assert subscribed(bot.store, ada) == ["ai-act", "dsa", "facial-recognition"]
    assert await bot.text(ada, "/unsubscribe all") == "Unsubscribed from 3 watchlists."
    assert subscribed(bot.store, ada) == []


async def test_deep_link_start_subscribes(bot: Bot, ada: Chat) -> None:
    welcome, done = await bot.say(ada, "/start ai-act", replies=2)
    assert welcome.text.startswith("Hello")
    assert done.text.startswith("✅ Subscribed to ai-act")
    assert subscribed(bot.store, ada) == ["ai-act"]


async def test_bad_arguments_and_unknown_commands_get_help(bot: Bot, ada: Chat) -> None:
    assert await bot.text(ada, "/subscribe ai-akt") == (
        "No watchlist 'ai-akt'. Did you mean ai-act? Available: ai-act, dsa, facial-recognition."
    )
    assert (await bot.text(ada, "/subscribe ,")).startswith("Usage: /subscribe WATCHLIST")
    assert await bot.text(ada, "/subscribe") == (
        "Usage: /subscribe WATCHLIST, for example /subscribe ai-act. "
        "Available: ai-act, dsa, facial-recognition."
    )
    answer = await bot.text(ada, "/subscribe ai-act nonsense")
    assert answer.splitlines()[0].startswith("✅ Subscribed to ai-act")
    assert "No watchlist 'nonsense'." in answer
    assert subscribed(bot.store, ada) == ["ai-act"]
    assert await bot.text(ada, "/subscibe ai-act") == (
        "I don't know the command /subscibe. Did you mean /subscribe? "
        "/help lists what I understand."
    )
    # Admin commands are not suggested to others.
    assert "/status" not in await bot.text(ada, "/statsu")
    assert "/pause" not in await bot.text(ada, "/paus")
    assert await bot.text(ada, "hello there") == "I only understand commands. /help lists them."
    assert "No watchlist 'facial'" in await bot.text(ada, "/unsubscribe facial")
    long_arg = "x" * 5000
    answer = await bot.text(ada, f"/latest {long_arg}")
    assert len(answer) < 500


async def test_a_group_member_who_is_not_its_admin_cannot_subscribe_it(bot: Bot, ada: Chat) -> None:
    group = bot.server.add_channel(title="Policy <team>", type="group")
    command = "/subscribe@monitor_test_bot"
    bot.server.push_update(
        {
            "message": {
                "message_id": 1,
                "date": int(time.time()),
                "chat": group.to_json(),
                "from": ada.user_json(),
                "text": f"{command} ai-act",
                "entities": [{"type": "bot_command", "offset": 0, "length": len(command)}],
            }
        }
    )
    deadline = time.monotonic() + 5
    while not bot.server.messages(group):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    await bot.idle()
    [answer] = bot.server.messages(group)
    assert answer.text == "In a group, only its administrators can use /subscribe."
    assert subs.subscriptions(bot.store.conn) == []


async def test_configuration_reloads_between_commands(bot: Bot, ada: Chat) -> None:
    (bot.tmp / "keywords.yaml").write_text(
        KEYWORDS + "  gdpr:\n    title: Data protection\n    any: [GDPR]\n", encoding="utf-8"
    )
    bot.config["keywords"] = load_keywords(str(bot.tmp / "keywords.yaml"))
    assert "• gdpr – Data protection" in await bot.text(ada, "/watchlists")
    assert "Subscribed to gdpr" in await bot.text(ada, "/subscribe gdpr")
    # A watchlist removed from keywords.yaml stays visible (and removable) to its followers.
    (bot.tmp / "keywords.yaml").write_text(KEYWORDS, encoding="utf-8")
    bot.config["keywords"] = load_keywords(str(bot.tmp / "keywords.yaml"))
    assert "• gdpr (no longer available: /unsubscribe gdpr)" in await bot.text(ada, "/mysubs")
    assert await bot.text(ada, "/unsubscribe gdpr") == "Unsubscribed from gdpr."


# --- admins -------------------------------------------------------------------------


async def test_admin_commands_are_refused_to_others(bot: Bot, ada: Chat) -> None:
    for command in ("/status", "/pause", "/resume"):
        assert await bot.text(ada, command) == (f"{command} is only for the operators of this bot.")
    assert not is_paused(bot.store)


async def test_pause_resume_and_status_for_admins(bot: Bot, ada: Chat) -> None:
    admin = bot.server.chat(ADMIN_ID)
    await bot.text(ada, "/subscribe ai-act")
    status = await bot.text(admin, "/status")
    assert "▶ Delivering" in status
    assert "Subscribers: 1 (1 subscription)" in status
    assert "Outbox: 0 alerts pending" in status

    answer = await bot.text(admin, "/pause")
    assert answer.startswith("⏸ Paused")
    assert is_paused(bot.store)
    assert (await bot.text(admin, "/pause")).startswith("Already paused")
    status = await bot.text(admin, "/status")
    assert f"⏸ PAUSED 0s ago by {ADMIN_ID} (@boss): deliveries held" in status

    assert (await bot.text(admin, "/resume")).startswith("▶ Resumed")
    assert not is_paused(bot.store)
    assert (await bot.text(admin, "/resume")).startswith("Not paused")


async def test_status_names_failing_feeds_destinations_and_extra_lines(
    telegram_server: TelegramServer, feed_server: FeedServer, tmp_path: Path
) -> None:
    feed_server.status("/down.xml", 503)
    app = make_app(tmp_path, {"down": feed_server.url("/down.xml")}, keywords=KEYWORDS)
    await app.apoll()
    telegram_server.add_user("Admin", id=ADMIN_ID)
    lines = ["Scheduler: 1 feed job, next digest 08:00"]
    async with running_bot(telegram_server, tmp_path, status=[lambda: lines]) as bot:
        with bot.store.transaction() as conn:
            ob.record_delivery(
                conn,
                Target("eu-channel", "telegram", "@eu_ai_watch"),
                datetime.now(UTC),
                "telegram: forbidden: bot was kicked from the channel chat",
                permanent=True,
            )
        status = await bot.text(telegram_server.chat(ADMIN_ID), "/status")
    assert "Feeds: 1 enabled, 0 ok, 1 failing, 0 not polled yet" in status
    assert "✗ down: 1 failures, last ok never: " in status
    assert "503" in status
    assert "Destinations: 1 unhealthy" in status
    assert "eu-channel (telegram @eu_ai_watch): telegram: forbidden: bot was kicked" in status
    assert status.endswith("Scheduler: 1 feed job, next digest 08:00")


# --- blocking -----------------------------------------------------------------------


async def test_a_user_who_blocks_the_bot_is_unsubscribed(bot: Bot, ada: Chat) -> None:
    await bot.text(ada, "/subscribe ai-act, dsa")
    assert subscribed(bot.store, ada) == ["ai-act", "dsa"]
    bot.server.block(ada)  # my_chat_member: member -> kicked
    await bot.idle()
    assert subscribed(bot.store, ada) == []
    row = bot.store.conn.execute(
        "SELECT blocked FROM subscribers WHERE chat_id = ?", (str(ada.id),)
    ).fetchone()
    assert row[0] == 1


async def test_a_403_when_sending_unsubscribes(
    telegram_server: TelegramServer, tmp_path: Path
) -> None:
    """What the outbox worker's failure hook does with the real sender's error."""
    user = telegram_server.add_user("Bo")
    with Store(tmp_path / "state", database_url=engine_url()) as store:
        with store.transaction() as conn:
            subs.subscribe(conn, str(user.id), "ai-act", datetime.now(UTC))
        telegram_server.block(user, notify=False)
        target = Target(SUBSCRIBER_PREFIX + str(user.id), "telegram", str(user.id))
        async with TelegramSender(telegram_server.token, api_url=telegram_server.base_url) as tg:
            with pytest.raises(PermanentDeliveryError) as failure:
                await tg.send(OutgoingMessage(target, "<b>x</b>", "x", (1,)))
        channel = Target("eu-channel", "telegram", "@eu_ai_watch")
        assert unsubscribe_if_gone(store, channel, str(failure.value), datetime.now(UTC)) == 0
        assert unsubscribe_if_gone(store, target, str(failure.value), datetime.now(UTC)) == 1
        assert subs.subscriptions(store.conn) == []


# --- rate limiting ------------------------------------------------------------------


async def test_a_flood_gets_one_slow_down_and_is_otherwise_ignored(
    telegram_server: TelegramServer, tmp_path: Path
) -> None:
    flooder = telegram_server.add_user("Flo")
    other = telegram_server.add_user("Olga")
    rate = CommandRate(burst=3, per_second=0.001)
    async with running_bot(telegram_server, tmp_path, rate=rate) as bot:
        for _ in range(10):
            telegram_server.user_message(flooder, "/help")
        await bot.idle()
        answers = [m.text for m in telegram_server.messages(flooder) if m.text != "/help"]
        assert len(answers) == 4
        assert all(a.startswith("I watch EU tech-policy news") for a in answers[:3])
        assert answers[3].startswith("Slow down, please")
        # Others are not affected.
        assert (await bot.text(other, "/help")).startswith("I watch EU")


def test_token_bucket_refills_and_warns_once() -> None:
    now = [0.0]
    limiter = CommandLimiter(CommandRate(burst=2, per_second=0.5), clock=lambda: now[0])
    assert [limiter.check(1) for _ in range(5)] == ["answer", "answer", "warn", "ignore", "ignore"]
    assert limiter.check(2) == "answer"
    assert limiter.wait(1) == pytest.approx(2.0)
    now[0] = 2.0
    assert limiter.check(1) == "answer"
    assert limiter.check(1) == "warn"  # a new flood earns a new warning


# --- matches ------------------------------------------------------------------------


@pytest.fixture
async def matched(feed_server: FeedServer, tmp_path: Path) -> App:
    now = datetime.now(UTC)
    body = " ".join(["The Artificial Intelligence Act & <its> rules for 🤖 providers."] * 40)
    items = [
        (f"long-{i}", f"AI Act update {i} «{'é' * 50}»", body, now - timedelta(minutes=i))
        for i in range(1, 30)
    ]
    items.insert(0, ("hostile", HOSTILE, "The AI Act <script>alert(1)</script> & more", now))
    items.append(("frt", "Police use facial recognition", "facial recognition", now))
    items.append(("old", "AI Act from last year", "AI Act", now - timedelta(days=400)))
    feed_server.feed("/eu.xml", rss(items))
    app = make_app(tmp_path, {"eu": feed_server.url("/eu.xml")}, keywords=KEYWORDS)
    await app.apoll()
    return app


async def test_latest_and_digest_render_hostile_titles_within_limits(
    matched: App, telegram_server: TelegramServer, tmp_path: Path
) -> None:
    user = telegram_server.add_user("Ada")
    with matched.store() as store:
        [title] = [
            r[0]
            for r in store.conn.execute("SELECT title FROM articles WHERE key LIKE '%hostile%'")
        ]
    assert "<" in title
    assert "&" in title
    async with running_bot(telegram_server, tmp_path) as bot:
        latest = await bot.say(user, "/latest ai-act", replies=2)
        *parts, note = latest
        assert note.text == (
            "Showing the 10 newest of 31 articles. /latest WATCHLIST narrows it down."
        )
        assert parts[0].parse_mode == "HTML"
        assert parts[0].text.startswith("📰 Latest matches")
        assert title in parts[0].text
        assert "AI Act from last year" not in "".join(p.text for p in parts)
        assert all(utf16_len(m.text) <= MAX_LENGTH for m in latest)

        everything = await bot.say(user, "/latest", replies=2)  # no subscriptions: all
        assert "Police use facial recognition" in "".join(m.text for m in everything)

        assert (await bot.text(user, "/digest")).startswith("You follow no watchlist")
        await bot.text(user, "/subscribe ai-act")
        digest = await bot.say(user, "/digest", replies=2)
        *parts, note = digest
        assert parts[0].text.startswith("📰 Your digest so far")
        assert len(parts) > 1  # split between items ...
        assert all(utf16_len(m.text) <= MAX_LENGTH for m in digest)  # ... within the limit
        assert title in "".join(p.text for p in parts)
        assert "AI Act from last year" not in "".join(p.text for p in parts)
        assert note.text.startswith("Showing the 25 newest of 30 articles.")
        # Own subscriptions only: facial recognition is not in ai-act's digest.
        assert "Police use facial recognition" not in "".join(p.text for p in parts)


async def test_latest_and_digest_are_the_digests_edition(
    feed_server: FeedServer, telegram_server: TelegramServer, tmp_path: Path
) -> None:
    """Issue 17: /latest and /digest show each story once, the most important first
    (two outlets and two watchlists outrank a newer single match), with its sources."""
    now = datetime.now(UTC)
    big = "Police use facial recognition under the AI Act"
    body = "Police forces use facial recognition; the AI Act restricts it in public spaces."
    feed_server.feed(
        "/eu.xml",
        rss(
            [
                (
                    "guidance",
                    "AI Act guidance published",
                    "Guidance on the AI Act for providers.",
                    now,
                ),
                (
                    "consult",
                    "AI Act consultation opens",
                    "A consultation on the AI Act.",
                    now - timedelta(hours=1),
                ),
                ("police", big, body, now - timedelta(hours=3)),
            ]
        ),
    )
    feed_server.feed("/wire.xml", rss([("wire-police", big, body, now - timedelta(hours=2))]))
    app = make_app(
        tmp_path,
        {"eu": feed_server.url("/eu.xml"), "wire": feed_server.url("/wire.xml")},
        keywords=KEYWORDS,
    )
    await app.apoll()
    user = telegram_server.add_user("Ada")
    async with running_bot(telegram_server, tmp_path) as bot:
        await bot.text(user, "/subscribe ai-act facial-recognition")
        for command, head in (("/latest", "📰 Latest matches"), ("/digest", "📰 Your digest")):
            [answer] = await bot.say(user, command)
            shown = answer.text
            assert shown.startswith(head)
            assert utf16_len(shown) <= MAX_LENGTH
            assert "Top stories" in shown
            assert shown.count(big) == 1  # one story, two outlets, two watchlists: once
            assert "wire and eu · " in shown  # the newest copy, then the other outlet
            order = [shown.index(t) for t in (big, "AI Act guidance", "AI Act consultation")]
            assert order == sorted(order)


async def test_html_that_telegram_rejects_is_sent_as_plain_text(
    matched: App, telegram_server: TelegramServer, tmp_path: Path
) -> None:
    user = telegram_server.add_user("Ada")
    telegram_server.fail(
        400, "Bad Request: can't parse entities: Unsupported start tag", chat=user, times=1
    )
    async with running_bot(telegram_server, tmp_path) as bot:
        first, *rest = await bot.say(user, "/latest facial-recognition")
    assert first.parse_mode is None
    assert "Police use facial recognition\nhttps://news.example.eu/frt" in first.text
    assert rest == []


async def test_latest_without_matches_and_with_a_typo(bot: Bot, ada: Chat) -> None:
    assert await bot.text(ada, "/latest dsa") == "No matches for dsa in the last 7d."
    assert (await bot.text(ada, "/latest facial-recogniton")).startswith(
        "No watchlist 'facial-recogniton'. Did you mean facial-recognition?"
    )
    await bot.text(ada, "/subscribe dsa")
    assert (await bot.text(ada, "/digest")).startswith("Nothing matched your watchlists today")


# --- start and stop -----------------------------------------------------------------


async def test_start_reports_a_rejected_token_and_an_unreachable_server(
    telegram_server: TelegramServer, tmp_path: Path
) -> None:
    with Store(tmp_path / "state", database_url=engine_url()) as store:
        kw = load_keywords(_write(tmp_path / "keywords.yaml", KEYWORDS))
        ctx = BotContext(store=store, keywords=lambda: kw)
        wrong = build_bot(token="1:wrong", api_url=telegram_server.base_url, context=ctx)
        with pytest.raises(PermanentDeliveryError, match="token was rejected"):
            await start_bot(wrong)
        nowhere = build_bot(
            token=telegram_server.token, api_url="http://127.0.0.1:9", context=ctx, timeout=1
        )
        with pytest.raises(TransientDeliveryError) as err:
            await start_bot(nowhere)
        assert telegram_server.token not in str(err.value)
        await stop_bot(nowhere)  # safe after a failed start


@dataclass
class _Service:
    """The two things start_for_service reads from monitor.service.runner.Service."""

    store: Store
    config: Configs


async def test_the_service_bot_connects_when_telegram_comes_back(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token = "123456789:TEST-token-for-local-server"
    app = make_app(tmp_path, {"eu": feed_server.url("/eu.xml")}, keywords=KEYWORDS)
    env = {
        "TELEGRAM_BOT_TOKEN": token,
        "TELEGRAM_API_URL": f"http://127.0.0.1:{port}",
        "TELEGRAM_ADMIN_IDS": str(ADMIN_ID),
    }
    with app.store() as store:
        service = _Service(store, app.configs())
        handle = await start_for_service(service, Settings.from_env(env), retry_first=0.05)
        assert handle.app is None  # nothing listens yet: the service runs on without it
        with TelegramServer(token, port=port) as server:
            user = server.add_user("Ada")
            for _ in range(200):
                if handle.app is not None:
                    break
                await asyncio.sleep(0.02)
            assert handle.app is not None
            server.user_message(user, "/subscribe ai-act")
            for _ in range(200):
                if subs.subscriptions(store.conn):
                    break
                await asyncio.sleep(0.02)
            await stop_for_service(handle)
        assert [s.watchlist for s in subs.subscriptions(store.conn)] == ["ai-act"]
        assert handle.app is None


def test_admin_ids_from_the_environment() -> None:
    assert admin_ids_from_env({"TELEGRAM_ADMIN_IDS": "12, 34 56"}) == frozenset({12, 34, 56})
    assert admin_ids_from_env({}) == frozenset()
    with pytest.raises(ConfigError, match="TELEGRAM_ADMIN_IDS: '@boss' is not a numeric"):
        admin_ids_from_env({"TELEGRAM_ADMIN_IDS": "12,@boss"})


def _write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


# --- pure parts ---------------------------------------------------------------------


def test_every_command_is_in_the_help() -> None:
    full = help_text(is_admin=True)
    for command in COMMANDS:
        if command.name != "start":
            assert f"{command.usage} – {command.summary}" in full


def test_resolve_ids_titles_and_unknowns() -> None:
    known = {"ai-act": "EU AI Act", "dsa": "Digital Services Act"}
    assert resolve(["AI-ACT", "dsa,ai-act"], known).found == ("ai-act", "dsa")
    assert resolve(["Digital", "Services", "act"], known).found == ("dsa",)
    assert resolve(["ai-akt"], known).unknown == ("ai-akt",)
    assert unknown_watchlists(["Digital Servces Act"], known).startswith(
        "No watchlist 'Digital Servces Act'. Did you mean dsa?"
    )
    assert "Did you mean" not in unknown_command("/zzzz", is_admin=False)


@given(
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=3000),
    st.integers(min_value=8, max_value=400),
)
def test_split_text_keeps_every_line_within_the_limit(text: str, limit: int) -> None:
    parts = split_text(text, limit)
    assert all(0 < utf16_len(p) <= limit for p in parts)
    squeeze: Callable[[str], str] = lambda s: "".join(s.split())  # noqa: E731
    assert squeeze("".join(parts)) == squeeze(text)
