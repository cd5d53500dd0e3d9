"""TelegramSender against the local Bot API server, through the real python-telegram-bot.

The server parses HTML with Telegram's rules, counts length after parsing in UTF-16,
answers 429/403/400/5xx as Telegram does and can simulate the flood limits; nothing
here touches the internet, and no part of the sender is mocked.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest

from monitor.deliver.base import Sender
from monitor.deliver.telegram import FloodLimiter, TelegramLimits, TelegramSender, chat_id
from monitor.errors import PermanentDeliveryError, TransientDeliveryError
from monitor.models import Alert, OutgoingMessage, SendReceipt
from monitor.render.telegram import render_alert, render_story_update
from tests.support.telegram_samples import burst, item, target
from tests.support.telegram_server import FloodLimits, TelegramServer, max_in_window

# python-telegram-bot warns from inside RetryAfter() itself; retry_after_seconds() copes
# with both the int and the future timedelta.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after:DeprecationWarning")

NOW = datetime(2026, 11, 29, 15, 0, tzinfo=UTC)
CHANNEL = "@eu_ai_watch"


@asynccontextmanager
async def sender_for(
    server: TelegramServer, limits: TelegramLimits | None = None, token: str | None = None
) -> AsyncIterator[TelegramSender]:
    sender = TelegramSender(
        token or server.token, api_url=server.base_url, limiter=FloodLimiter(limits), timeout=5.0
    )
    try:
        yield sender
    finally:
        await sender.aclose()


def message(
    text: str,
    plain: str = "",
    address: str = CHANNEL,
    ids: tuple[int, ...] = (1,),
    edit_of: str | None = None,
) -> OutgoingMessage:
    return OutgoingMessage(target(address), text, plain or text, ids, edit_of=edit_of)


async def test_sends_html_without_link_previews(telegram_server: TelegramServer) -> None:
    telegram_server.add_channel(CHANNEL)
    (alert,) = render_alert(Alert(target(), (item(1, "Deal on the [[AI Act]]"),)), now=NOW)
    async with sender_for(telegram_server) as sender:
        transport: Sender = sender  # the Protocol the outbox worker relies on
        receipt = await transport.send(alert)
    (sent,) = telegram_server.messages(CHANNEL)
    assert receipt == SendReceipt(remote_id=str(sent.message_id))
    assert sent.parse_mode == "HTML"
    assert sent.link_preview_disabled
    assert sent.bold() == ["AI Act"]
    assert sent.links() == ["https://www.euractiv.com/section/tech/news/x/"]


async def test_titles_with_markup_emoji_and_non_latin_arrive_intact(
    telegram_server: TelegramServer,
) -> None:
    telegram_server.add_channel(CHANNEL)
    titles = [
        "<script>x</script> & <b>not bold</b> &amp; a < b > c",
        "🇪🇺🚀 👩‍💻 Κανονισμός για την τεχνητή νοημοσύνη",
        "Закон об ИИ · 欧盟人工智能法案 · قانون الذكاء الاصطناعي · e\u0301te\u0301 𝒜𝒾",
    ]
    items = tuple(item(n, t, snippets=(f"{t} [[AI Act]] & <i>",)) for n, t in enumerate(titles))
    async with sender_for(telegram_server) as sender:
        for m in render_alert(Alert(target(), items), now=NOW):
            await sender.send(m)
    (sent,) = telegram_server.messages(CHANNEL)
    assert sent.parse_mode == "HTML"  # no plain fallback was needed
    for title in titles:
        assert title in sent.text
        assert f"{title} AI Act & <i>" in sent.text
    assert sent.bold() == ["3 new matches"] + ["AI Act"] * 3


async def test_429_is_transient_with_telegrams_retry_after(
    telegram_server: TelegramServer,
) -> None:
    channel = telegram_server.add_channel(CHANNEL)
    telegram_server.rate_limit(7, chat=channel)
    async with sender_for(telegram_server) as sender:
        with pytest.raises(TransientDeliveryError) as err:
            await sender.send(message("one"))
        assert err.value.retry_after == 7
        assert err.value.destination == "eu-channel"
        assert len(telegram_server.calls_to("sendMessage")) == 1  # the outbox retries, not us
        await sender.send(message("one"))
    assert [m.text for m in telegram_server.messages(CHANNEL)] == ["one"]


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        ("kick", "bot was kicked from the channel chat"),
        ("block", "bot was blocked by the user"),
        ("unknown", "chat not found"),
    ],
)
async def test_forbidden_and_unknown_chats_are_permanent(
    telegram_server: TelegramServer, setup: str, reason: str
) -> None:
    if setup == "kick":
        telegram_server.kick(telegram_server.add_channel(CHANNEL))
        address = CHANNEL
    elif setup == "block":
        user = telegram_server.add_user("Ada")
        telegram_server.block(user)
        address = str(user.id)
    else:
        address = "-100999"
    async with sender_for(telegram_server) as sender:
        with pytest.raises(PermanentDeliveryError, match=reason):
            await sender.send(message("hello", address=address))


@pytest.mark.parametrize("fault", ["500", "502", "drop"])
async def test_server_errors_and_dropped_connections_are_transient(
    telegram_server: TelegramServer, fault: str
) -> None:
    telegram_server.add_channel(CHANNEL)
    if fault == "drop":
        telegram_server.drop_connection()
    else:
        telegram_server.server_error(int(fault))
    async with sender_for(telegram_server) as sender:
        with pytest.raises(TransientDeliveryError) as err:
            await sender.send(message("hello"))
        assert err.value.retry_after is None
        await sender.send(message("hello"))
    assert len(telegram_server.messages(CHANNEL)) == 1


async def test_unparsable_html_falls_back_to_plain_text(
    telegram_server: TelegramServer, caplog: pytest.LogCaptureFixture
) -> None:
    telegram_server.add_channel(CHANNEL)
    broken = message("<p>Deal & <b>AI Act</p>", plain="Deal & AI Act")
    async with sender_for(telegram_server) as sender:
        receipt = await sender.send(broken)
    first, second = telegram_server.calls_to("sendMessage")
    assert first.status == 400
    assert "can't parse entities" in (first.description or "")
    assert second.ok
    assert second.parse_mode is None
    (sent,) = telegram_server.messages(CHANNEL)
    assert sent.text == "Deal & AI Act"
    assert receipt.remote_id == str(sent.message_id)
    assert "html rejected" in caplog.text


async def test_over_long_message_is_refused_by_telegram_and_never_rendered(
    telegram_server: TelegramServer,
) -> None:
    telegram_server.add_channel(CHANNEL)
    async with sender_for(telegram_server) as sender:
        # 4096 after parsing is fine even though the HTML source is much longer.
        await sender.send(message("<b>" + "🚀" * 2048 + "</b>"))
        with pytest.raises(PermanentDeliveryError, match="message is too long"):
            await sender.send(message("&amp;" * 4097))
        words = " ".join(f"word{n}" for n in range(4000))
        huge = item(2, "Huge", snippets=(f"[[AI Act]] {words}",))
        for m in render_alert(Alert(target(), (huge,) * 3), now=NOW):
            await sender.send(m)
    assert all(c.ok for c in telegram_server.calls_to("sendMessage")[2:])


async def test_story_update_edits_the_sent_alert(telegram_server: TelegramServer) -> None:
    telegram_server.add_channel(CHANNEL)
    first = item(1, "Deal on the [[AI Act]]")
    async with sender_for(telegram_server) as sender:
        (alert,) = render_alert(Alert(target(), (first,)), now=NOW)
        receipt = await sender.send(alert)
        assert receipt.remote_id is not None
        update = render_story_update(
            Alert(target(), (item(1, "Deal on the [[AI Act]]", also=("Euractiv", "EUobserver")),)),
            now=NOW,
            edit_of=receipt.remote_id,
        )
        assert await sender.send(update) == receipt
        # The same edit again (a retry after a lost answer) is not an error.
        assert await sender.send(update) == receipt
        with pytest.raises(PermanentDeliveryError, match="message to edit not found"):
            await sender.send(message("x", edit_of="999"))
    (sent,) = telegram_server.messages(CHANNEL)
    assert sent.edits == 1
    assert sent.text.endswith("also: Euractiv, EUobserver")
    assert len(telegram_server.calls_to("sendMessage")) == 1


async def test_token_is_never_logged(
    telegram_server: TelegramServer, caplog: pytest.LogCaptureFixture
) -> None:
    telegram_server.add_channel(CHANNEL)
    caplog.set_level(logging.DEBUG)
    # `monitor` CLI runs earlier in the session quiet httpx to WARNING; open it up here.
    caplog.set_level(logging.DEBUG, logger="httpx")
    async with sender_for(telegram_server) as sender:
        await sender.send(message("hi"))
    assert "/bot***/sendMessage" in caplog.text  # httpx did log the URL
    assert telegram_server.token not in caplog.text


async def test_rejected_token_waits_instead_of_failing_rows(
    telegram_server: TelegramServer,
) -> None:
    telegram_server.add_channel(CHANNEL)
    async with sender_for(telegram_server, token="1:wrong") as sender:
        with pytest.raises(TransientDeliveryError, match="TELEGRAM_BOT_TOKEN") as err:
            await sender.send(message("hi"))
    assert "1:wrong" not in str(err.value)


async def test_send_test(telegram_server: TelegramServer) -> None:
    user = telegram_server.add_user("Ada")
    async with sender_for(telegram_server) as sender:
        await sender.send_test(str(user.id), destination="me")
    (sent,) = telegram_server.messages(user)
    assert sent.text.startswith("✅ monitor test message")
    assert "me (" in sent.text


def test_chat_ids() -> None:
    assert chat_id("-1001234567890") == -1001234567890
    assert chat_id(" 42 ") == 42
    assert chat_id("@eu_ai_watch") == "@eu_ai_watch"


# --- flood limits -----------------------------------------------------------------------

SMALL = TelegramLimits(overall=(100, 1.0), group=(3, 0.4), private=(1, 0.25))
SMALL_FLOOD = FloodLimits(overall=(100, 1.0), group=(3, 0.4), private=(1, 0.25))


async def test_limiter_keeps_a_channel_inside_its_window() -> None:
    with TelegramServer(flood=SMALL_FLOOD) as server:
        server.add_channel(CHANNEL)
        started = time.monotonic()
        async with sender_for(server, SMALL) as sender:
            await asyncio.gather(*(sender.send(message(f"m{n}")) for n in range(9)))
        elapsed = time.monotonic() - started
        times = server.send_times(CHANNEL)
    assert len(times) == 9  # no 429: every message was accepted first time
    assert max_in_window(times, 0.4) <= 3
    assert elapsed >= 0.8  # 9 messages at 3 per 0.4 s need two full windows


async def test_limiter_spaces_a_private_chat() -> None:
    with TelegramServer(flood=SMALL_FLOOD) as server:
        user = server.add_user("Ada")
        async with sender_for(server, SMALL) as sender:
            await asyncio.gather(
                *(sender.send(message(f"m{n}", address=str(user.id))) for n in range(3))
            )
        times = server.send_times(user)
    assert len(times) == 3
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.25


async def test_without_the_limiter_the_server_floods() -> None:
    """The control for the two tests above: the flood simulation does bite."""
    with TelegramServer(flood=SMALL_FLOOD) as server:
        server.add_channel(CHANNEL)
        unlimited = TelegramLimits(overall=(1000, 1.0), group=(1000, 1.0), private=(1000, 1.0))
        async with sender_for(server, unlimited) as sender:
            results = await asyncio.gather(
                *(sender.send(message(f"m{n}")) for n in range(9)), return_exceptions=True
            )
    floods = [r for r in results if isinstance(r, TransientDeliveryError)]
    assert len(floods) == 6
    assert all(r.retry_after == 1 for r in floods)


async def test_a_sixty_item_burst_is_a_few_messages_within_telegrams_limits() -> None:
    assert TelegramLimits().group == (20, 60.0)  # the default is Telegram's per-channel limit
    with TelegramServer(flood=FloodLimits()) as server:
        server.add_channel(CHANNEL)
        messages = render_alert(burst(60), now=NOW)
        assert len(messages) <= 8
        async with sender_for(server) as sender:
            for m in messages:
                await sender.send(m)
        times = server.send_times(CHANNEL)
    assert len(times) == len(messages)
    assert max_in_window(times, 60.0) <= 20
