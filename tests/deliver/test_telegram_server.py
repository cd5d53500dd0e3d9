"""The local Bot API server itself: Telegram's parsing rules, error bodies, updates.

Other tests trust this server to behave like api.telegram.org; these pin that down,
with the error texts of tdlib's own tests and through the real python-telegram-bot.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from telegram import Bot, Update
from telegram.error import Conflict
from telegram.ext import ApplicationBuilder, ChatMemberHandler, CommandHandler, ContextTypes

from tests.support.telegram_html import EntityParseError, entity_texts, parse_html
from tests.support.telegram_server import TelegramServer


@pytest.mark.parametrize(
    ("source", "error"),
    [  # from tdlib's test/message_entities.cpp
        ("🏟 🏟&lt;<abacaba", "Unclosed start tag at byte offset 13"),
        ("🏟 🏟&lt;<abac aba>", 'Unsupported start tag "abac" at byte offset 13'),
        ("🏟 🏟&lt;<i   =aba>", 'Empty attribute name in the tag "i" at byte offset 13'),
        (
            "🏟 🏟&lt;<i    aba>",
            'Expected equal sign in declaration of an attribute of the tag "i" at byte offset 13',
        ),
        ("🏟 🏟&lt;<i    aba  =  ", 'Unclosed start tag "i" at byte offset 13'),
        ("🏟 🏟&lt;<i    aba  =  190azAz-.,", "Unexpected end of name token at byte offset 27"),
        ("🏟 🏟&lt;</", "Unexpected end tag at byte offset 13"),
        ("🏟 🏟&lt;<i>a</i   ", "Unclosed end tag at byte offset 17"),
        (
            "🏟 🏟&lt;<i>a</em   >",
            'Unmatched end tag at byte offset 17, expected "</i>", found "</em>"',
        ),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("<p>x</p>", 'Unsupported start tag "p" at byte offset 0'),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
    ],
)
def test_html_errors_are_telegrams(source: str, error: str) -> None:
    with pytest.raises(EntityParseError) as err:
        parse_html(source)
    assert str(err.value) == error


def test_html_entities_and_utf16_offsets() -> None:
    parsed = parse_html(
        '🏟 <b>&lt;x&gt;</b> <a href="https://e.eu/?a=1&amp;b=2">l</a> '
        '&laquo;&#169;&#x1F680; <span class="tg-spoiler">s</span>'
    )
    assert parsed.text == "🏟 <x> l &laquo;©🚀 s"
    assert [(e.type, e.offset, e.length) for e in parsed.entities] == [
        ("bold", 3, 3),
        ("text_link", 7, 1),
        ("spoiler", 20, 1),
    ]
    assert parsed.entities[1].url == "https://e.eu/?a=1&b=2"
    assert entity_texts(parsed.text, parsed.entities, "bold") == ["<x>"]
    with pytest.raises(EntityParseError, match="Unsupported HTML entity"):
        parse_html("&laquo;", strict_entities=True)
    with pytest.raises(EntityParseError, match="Unescaped"):
        parse_html("R & D", strict_entities=True)


async def test_error_bodies_are_exactly_telegrams(telegram_server: TelegramServer) -> None:
    telegram_server.add_channel("@c")
    telegram_server.rate_limit(5)
    url = f"{telegram_server.bot_url}{telegram_server.token}/sendMessage"
    async with httpx.AsyncClient() as client:
        limited = await client.post(url, json={"chat_id": "@c", "text": "x"})
        bad = await client.post(url, data={"chat_id": "@c", "text": "<p>", "parse_mode": "HTML"})
        ok = await client.post(url, data={"chat_id": "@c", "text": "  hi  "})
        missing = await client.post(url, data={"chat_id": "@nope", "text": "x"})
        wrong = await client.post(url.replace(telegram_server.token, "1:bad"), data={})
    assert (limited.status_code, limited.json()) == (
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 5",
            "parameters": {"retry_after": 5},
        },
    )
    assert bad.json() == {
        "ok": False,
        "error_code": 400,
        "description": 'Bad Request: can\'t parse entities: Unsupported start tag "p" at byte '
        "offset 0",
    }
    assert ok.json()["result"]["text"] == "hi"
    assert missing.json()["description"] == "Bad Request: chat not found"
    assert (wrong.status_code, wrong.json()["description"]) == (401, "Unauthorized")


async def test_commands_and_member_updates_reach_an_application(
    telegram_server: TelegramServer,
) -> None:
    """What the bot-commands service needs: long polling, commands, my_chat_member."""
    user = telegram_server.add_user("Ada", username="ada")
    channel = telegram_server.add_channel("@eu_ai_watch")
    seen: list[Any] = []

    async def subscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(context.args)
        assert update.effective_message is not None
        await update.effective_message.reply_text("subscribed")

    async def member(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.my_chat_member is not None
        seen.append(update.my_chat_member.new_chat_member.status)

    app = (
        ApplicationBuilder().token(telegram_server.token).base_url(telegram_server.bot_url).build()
    )
    app.add_handler(CommandHandler("subscribe", subscribe))
    app.add_handler(ChatMemberHandler(member, ChatMemberHandler.MY_CHAT_MEMBER))
    async with app:
        await app.bot.set_my_commands([("subscribe", "Follow a watchlist")])
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        telegram_server.user_message(user, "/subscribe ai-act")
        telegram_server.kick(channel)
        for _ in range(100):
            if len(seen) == 2:
                break
            await asyncio.sleep(0.02)
        await app.updater.stop()
        await app.stop()
    assert seen == [["ai-act"], "kicked"]
    assert [m.text for m in telegram_server.messages(user)] == ["/subscribe ai-act", "subscribed"]
    assert telegram_server.commands  # setMyCommands was stored
    assert telegram_server.calls_to("deleteWebhook")


async def test_a_second_poller_gets_409(telegram_server: TelegramServer) -> None:
    """Two instances of the service polling one bot: Telegram stops the older poll."""
    url = telegram_server.bot_url
    async with (
        Bot(telegram_server.token, base_url=url) as one,
        Bot(telegram_server.token, base_url=url) as two,
    ):
        first = asyncio.create_task(one.get_updates(timeout=2))
        await asyncio.sleep(0.2)
        second = asyncio.create_task(two.get_updates(timeout=0))
        with pytest.raises(Conflict, match="terminated by other getUpdates"):
            await first
        assert await second == ()
