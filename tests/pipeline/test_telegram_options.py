"""Per-destination Telegram options end to end: feed -> poll -> outbox -> the local Bot
API server, through python-telegram-bot, checking each request as the Bot API expects it
(issue 13): forum topics, silent and quiet hours, link previews, hashtags, "Why?"
buttons, templates, and a deleted or closed topic that holds alerts instead of losing them.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.deliver.telegram import FloodLimiter, TelegramSender
from monitor.models import Alert, OutgoingMessage, Target
from monitor.pipeline.deliver import DeliveryReport
from monitor.pipeline.runtime import build_deliverer
from monitor.render.schedule import in_quiet_hours
from monitor.render.telegram import MAX_LENGTH, render_alert, render_story_update, utf16_len
from monitor.render.telegram_explain import MAX_BUTTONS
from monitor.settings import Settings
from tests.support.app import App, make_app
from tests.support.feedserver import FeedServer, rss_feed
from tests.support.telegram_samples import item
from tests.support.telegram_server import Chat, TelegramServer

ITEMS = [
    ("g2", "EU agrees AI Act deal <finally> & more", "https://news.example.eu/ai-act"),
    ("g1", "Parliament debates facial recognition ban", "https://news.example.eu/frt"),
]
WATCHLISTS = """\
watchlists:
  ai-act:
    title: EU AI Act
    any: ["AI Act"]
    alert: [forum]
  facial-recognition:
    title: Facial recognition
    any: ["facial recognition"]
    alert: [forum]
    hashtag: "#Gesichtserkennung_é"
"""


def keywords(chat: Chat, options: str, watchlists: str = WATCHLISTS) -> str:
    return f'destinations:\n  forum:\n    telegram: "{chat.id}"\n{options}{watchlists}'


def env_for(tg: TelegramServer) -> dict[str, str]:
    return {"TELEGRAM_BOT_TOKEN": tg.token, "TELEGRAM_API_URL": tg.base_url}


def deliver(
    app: App, tg: TelegramServer, clock: Any = None, held: list[str] | None = None
) -> DeliveryReport:
    async def go() -> DeliveryReport:
        with app.store() as store:
            kwargs: dict[str, Any] = {"clock": clock} if clock else {}
            if held is not None:
                kwargs["on_held"] = lambda target, n, error: held.append(f"{n} {error}")
            settings = Settings.from_env(env_for(tg))
            d = build_deliverer(app.configs(), store, settings=settings, **kwargs)
            try:
                return await d.deliver_alerts()
            finally:
                await d.aclose()

    return asyncio.run(go())


def alert_rows(app: App) -> list[dict[str, Any]]:
    with app.store() as store:
        return [
            dict(r)
            for r in store.conn.execute("SELECT * FROM outbox WHERE kind = 'alert' ORDER BY id")
        ]


@pytest.fixture
def feed(feed_server: FeedServer) -> str:
    feed_server.feed("/eu.xml", rss_feed("EU news", ITEMS))
    return feed_server.url("/eu.xml")


def test_every_option_arrives_as_the_bot_api_expects(
    feed: str, telegram_server: TelegramServer, tmp_path: Path
) -> None:
    forum = telegram_server.add_forum(title="Policy team")
    topic = telegram_server.add_topic(forum, "AI Act")
    options = (
        f"    topic: {topic}\n    silent: true\n    link_preview: small\n"
        "    hashtags: true\n    explain: button\n"
    )
    app = make_app(tmp_path, {"eu": feed}, keywords(forum, options))
    app.poll()
    report = deliver(app, telegram_server)
    assert (report.sent, report.messages, report.failed) == (2, 1, 0)
    [call] = telegram_server.calls_to("sendMessage", ok=True)
    rows = alert_rows(app)
    assert str(call.params["message_thread_id"]) == str(topic)
    assert call.params["disable_notification"] in (True, "true")
    assert call.params["link_preview_options"] == {"prefer_small_media": True}
    keyboard = call.params["reply_markup"]["inline_keyboard"]
    assert [b["callback_data"] for row in keyboard for b in row] == [f"why:{r['id']}" for r in rows]
    assert all(len(row) == 1 for row in keyboard)
    [message] = telegram_server.messages(forum)
    assert message.thread == topic
    assert message.silent
    assert "#AIAct" in message.text.split()
    assert "#Gesichtserkennung_é" in message.text.split()
    assert {r["remote_id"] for r in rows} == {str(message.message_id)}


def test_defaults_send_no_topic_no_silence_no_preview_no_keyboard(
    feed: str, telegram_server: TelegramServer, tmp_path: Path
) -> None:
    forum = telegram_server.add_forum()
    app = make_app(tmp_path, {"eu": feed}, keywords(forum, ""))
    app.poll()
    assert deliver(app, telegram_server).sent == 2
    [call] = telegram_server.calls_to("sendMessage", ok=True)
    for key in ("message_thread_id", "disable_notification", "reply_markup"):
        assert key not in call.params
    assert call.params["link_preview_options"] == {"is_disabled": True}
    [message] = telegram_server.messages(forum)
    assert "#" not in message.text


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("false", {"is_disabled": True}),
        ("true", {"is_disabled": False}),
        ("above", {"show_above_text": True}),
        ("small", {"prefer_small_media": True}),
    ],
)
def test_link_preview_maps_to_link_preview_options(
    feed: str, telegram_server: TelegramServer, tmp_path: Path, setting: str, expected: Any
) -> None:
    forum = telegram_server.add_forum()
    app = make_app(tmp_path, {"eu": feed}, keywords(forum, f"    link_preview: {setting}\n"))
    app.poll()
    assert deliver(app, telegram_server).sent == 2
    [call] = telegram_server.calls_to("sendMessage", ok=True)
    assert call.params["link_preview_options"] == expected


# --- quiet hours ----------------------------------------------------------------------

# Europe/Brussels moves to summer time on Sunday 28 March 2027 (02:00 CET -> 03:00 CEST).
BEFORE_DST = datetime(2027, 3, 27, 5, 30, tzinfo=UTC)  # 06:30 CET: inside 22:00-07:00
AFTER_DST = datetime(2027, 3, 28, 5, 30, tzinfo=UTC)  # 07:30 CEST: outside


def test_quiet_hours_follow_the_wall_clock_across_a_dst_change() -> None:
    start, end = time(22, 0), time(7, 0)
    zone = "Europe/Brussels"
    assert in_quiet_hours(BEFORE_DST, start, end, zone)
    assert not in_quiet_hours(AFTER_DST, start, end, zone)
    # 07:00 local is 06:00 UTC in winter and 05:00 UTC in summer.
    assert not in_quiet_hours(datetime(2027, 3, 27, 6, 0, tzinfo=UTC), start, end, zone)
    assert in_quiet_hours(datetime(2027, 3, 28, 4, 59, tzinfo=UTC), start, end, zone)
    assert not in_quiet_hours(datetime(2027, 3, 28, 5, 0, tzinfo=UTC), start, end, zone)
    # Over midnight, and a window inside one day.
    assert in_quiet_hours(datetime(2027, 3, 27, 23, 30, tzinfo=UTC), start, end, zone)
    assert not in_quiet_hours(datetime(2027, 3, 27, 20, 30, tzinfo=UTC), start, end, zone)
    assert in_quiet_hours(datetime(2027, 3, 27, 12, 0, tzinfo=UTC), time(12), time(14), zone)


@pytest.mark.parametrize(("now", "silent"), [(BEFORE_DST, True), (AFTER_DST, False)])
def test_alerts_in_quiet_hours_are_sent_silently(
    feed: str, telegram_server: TelegramServer, tmp_path: Path, now: datetime, silent: bool
) -> None:
    forum = telegram_server.add_forum()
    options = '    quiet_hours: "22:00-07:00"\n    timezone: Europe/Brussels\n'
    app = make_app(tmp_path, {"eu": feed}, keywords(forum, options))
    app.poll()
    assert deliver(app, telegram_server, clock=lambda: now).sent == 2
    [message] = telegram_server.messages(forum)
    assert message.silent is silent


def test_an_instant_watchlist_can_ring_through_quiet_hours(
    feed: str, telegram_server: TelegramServer, tmp_path: Path
) -> None:
    forum = telegram_server.add_forum()
    options = '    quiet_hours: "22:00-07:00"\n'
    loud = WATCHLISTS.replace('    any: ["AI Act"]\n', '    any: ["AI Act"]\n    silent: false\n')
    app = make_app(tmp_path, {"eu": feed}, keywords(forum, options, loud))
    app.poll()
    assert deliver(app, telegram_server, clock=lambda: BEFORE_DST).sent == 2
    [message] = telegram_server.messages(forum)
    assert not message.silent  # the AI Act item rings; the message is loud


# --- topics that cannot take messages -----------------------------------------------


@pytest.mark.parametrize("fault", ["deleted", "closed"])
def test_a_deleted_or_closed_topic_holds_alerts_and_tells_the_admins(
    feed: str, telegram_server: TelegramServer, tmp_path: Path, fault: str
) -> None:
    forum = telegram_server.add_forum(title="Policy team")
    topic = telegram_server.add_topic(forum, "AI Act")
    if fault == "deleted":
        telegram_server.delete_topic(forum, topic)
    else:
        telegram_server.close_topic(forum, topic)
    app = make_app(tmp_path, {"eu": feed}, keywords(forum, f"    topic: {topic}\n"))
    app.poll()
    held: list[str] = []
    report = deliver(app, telegram_server, held=held)
    assert (report.sent, report.retried, report.failed) == (0, 2, 0)
    rows = alert_rows(app)
    assert {r["status"] for r in rows} == {"pending"}
    [error] = {r["last_error"] for r in rows}
    assert f"forum topic {topic} of {forum.id} is deleted or closed" in error
    assert "alerts wait until it is reopened or topic: names another one" in error
    with app.store() as store:
        [health] = store.destination_rows()
    assert not health.healthy  # /status and `monitor status` list it
    assert health.last_error == error
    assert held == [f"2 {error}"]  # the service sends this to the admin chats
    retry = datetime.now(UTC) + timedelta(hours=1)
    assert deliver(app, telegram_server, clock=lambda: retry, held=held).retried == 2
    assert len(held) == 1  # told once, not at every retry
    # The admins fix it: another topic (deleted) or the topic reopened (closed).
    if fault == "deleted":
        topic = telegram_server.add_topic(forum, "AI Act (new)")
        app.keywords_path.write_text(keywords(forum, f"    topic: {topic}\n"), encoding="utf-8")
    else:
        telegram_server.reopen_topic(forum, topic)
    later = datetime.now(UTC) + timedelta(hours=2)
    assert deliver(app, telegram_server, clock=lambda: later).sent == 2
    [message] = telegram_server.messages(forum)
    assert message.thread == topic
    with app.store() as store:
        [health] = store.destination_rows()
    assert health.healthy


# --- splitting with hashtags and buttons ----------------------------------------------


async def test_a_long_burst_with_hashtags_and_buttons_stays_within_every_limit(
    telegram_server: TelegramServer,
) -> None:
    forum = telegram_server.add_forum()
    topic = telegram_server.add_topic(forum, "news")
    long_title = "AI Act " + "Verordnung über künstliche Intelligenz 🇪🇺 " * 8
    items = tuple(
        item(
            n,
            f"[[{long_title}]] {n}",
            snippets=("… the [[AI Act]] " + "text " * 200,),
            watchlists=("AI Act", "Facial recognition"),
        )
        for n in range(1, 40)
    )
    items = tuple(replace(i, hashtags=("AIAct",)) for i in items)
    target = Target("forum", "telegram", str(forum.id))
    now = datetime(2026, 11, 29, 15, 0, tzinfo=UTC)
    messages = render_alert(Alert(target, items, explain="button"), now=now)
    assert len(messages) >= 4
    seen: list[int] = []
    for m in messages:
        assert 1 <= len(m.buttons) <= MAX_BUTTONS
        assert [b.data for b in m.buttons] == [f"why:{i}" for i in m.outbox_ids]
        assert all(len(b.data.encode()) <= 64 for b in m.buttons)
        assert m.text.count("#AIAct") == len(m.outbox_ids)
        seen += m.outbox_ids
    assert seen == [i.outbox_id for i in items]
    sender = TelegramSender(
        telegram_server.token, api_url=telegram_server.base_url, limiter=FloodLimiter()
    )
    async with sender:
        for m in messages:
            await sender.send(_in_topic(m, topic))
    sent = telegram_server.messages(forum)
    assert len(sent) == len(messages)
    for message, rendered in zip(sent, messages, strict=True):
        assert utf16_len(message.text) <= MAX_LENGTH  # the server counts after parsing
        assert [d for _, d in message.buttons()] == [b.data for b in rendered.buttons]
        assert message.thread == topic


def _in_topic(message: OutgoingMessage, topic: int) -> OutgoingMessage:
    return replace(message, thread=topic)


# --- templates --------------------------------------------------------------------------


def test_a_template_lays_out_the_alert_escaped_for_telegram(
    feed: str, telegram_server: TelegramServer, tmp_path: Path
) -> None:
    forum = telegram_server.add_forum()
    options = (
        "    hashtags: true\n"
        "    template: |\n"
        "      {{ title_html }} ({{ source }})\n"
        '      <a href="{{ url }}">read</a> · {{ watchlists | join(", ") }}\n'
        "      {{ hashtags }}\n"
    )
    app = make_app(tmp_path, {"eu": feed}, keywords(forum, options))
    app.poll()
    assert deliver(app, telegram_server).sent == 2
    [message] = telegram_server.messages(forum)
    assert message.parse_mode == "HTML"  # the HTML was accepted, not the plain fallback
    assert "EU agrees AI Act deal <finally> & more (eu)" in message.text
    assert "AI Act" in message.bold()
    assert "https://news.example.eu/ai-act" in message.links()
    assert "read · EU AI Act" in message.text
    assert "#AIAct" in message.text


# --- explain: where the explanation goes ------------------------------------------------

NOW = datetime(2026, 11, 29, 15, 0, tzinfo=UTC)
SNIPPET_ITEM = item(1, "Deal on the [[AI Act]]", snippets=("… the [[AI Act]] was agreed …",))


@pytest.mark.parametrize(
    ("explain", "snippet", "buttons"),
    [("inline", True, []), ("button", False, [("Why?", "why:1")]), ("none", False, [])],
)
def test_explain_puts_the_snippets_inline_behind_a_button_or_nowhere(
    explain: Any, snippet: bool, buttons: list[tuple[str, str]]
) -> None:
    target = Target("c", "telegram", "@eu_ai_watch")
    [message] = render_alert(Alert(target, (SNIPPET_ITEM,), explain=explain), now=NOW)
    assert ("was agreed" in message.plain) is snippet
    assert [(b.text, b.data) for b in message.buttons] == buttons


def test_a_story_update_keeps_the_why_buttons() -> None:
    target = Target("c", "telegram", "@eu_ai_watch")
    items = (replace(SNIPPET_ITEM, also=("EUobserver",)), item(2, "Second [[AI Act]] story"))
    update = render_story_update(Alert(target, items, explain="button"), now=NOW, edit_of="7")
    # Telegram drops the keyboard of a message edited without reply_markup.
    assert [b.data for b in update.buttons] == ["why:1", "why:2"]
    assert [b.text for b in update.buttons] == [
        "Why? Deal on the AI Act",
        "Why? Second AI Act story",
    ]


def test_digests_and_send_test_go_to_the_topic_too(
    feed: str, telegram_server: TelegramServer, tmp_path: Path
) -> None:
    forum = telegram_server.add_forum()
    topic = telegram_server.add_topic(forum, "digest")
    digest = WATCHLISTS.replace("    alert: [forum]\n", "    digest: [forum]\n")
    app = make_app(tmp_path, {"eu": feed}, keywords(forum, f"    topic: {topic}\n", digest))
    app.poll()

    async def go() -> list[str]:
        with app.store() as store:
            settings = Settings.from_env(env_for(telegram_server))
            d = build_deliverer(app.configs(), store, settings=settings)
            try:
                assert (await d.deliver_digests(force=True)).sent == 2
                return await d.send_test("forum")
            finally:
                await d.aclose()

    [line] = asyncio.run(go())
    assert line.startswith("sent telegram")
    digest_message, test_message = telegram_server.messages(forum)
    assert digest_message.text.startswith("📰 EU watch digest")
    assert digest_message.thread == topic
    assert test_message.text.startswith("✅ monitor test message")
    assert test_message.thread == topic
