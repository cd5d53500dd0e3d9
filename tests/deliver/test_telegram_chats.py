"""``monitor telegram-chats`` against the local Bot API server: ids, types, titles, and
the pending updates are left unconfirmed for the service."""

from __future__ import annotations

import json
import time

import pytest

from monitor.cli import main
from tests.support.telegram_server import TelegramServer


@pytest.fixture
def bot_env(telegram_server: TelegramServer, monkeypatch: pytest.MonkeyPatch) -> TelegramServer:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", telegram_server.token)
    monkeypatch.setenv("TELEGRAM_API_URL", telegram_server.base_url)
    return telegram_server


def channel_post(server: TelegramServer, chat_ref: str, text: str) -> None:
    chat = server.chat(chat_ref)
    message = {"message_id": 1, "chat": chat.to_json(), "date": int(time.time()), "text": text}
    server.push_update({"channel_post": message})


def test_lists_the_chats_and_confirms_no_update(
    bot_env: TelegramServer, capsys: pytest.CaptureFixture[str]
):
    server = bot_env
    channel = server.add_channel("@eu_ai_watch", title="EU AI watch")
    server.kick(channel)  # queues a my_chat_member update (bot status 'kicked')
    other = server.add_channel(title="Policy team", type="supergroup")
    channel_post(server, "@eu_ai_watch", "hello")
    user = server.add_user("Ada", username="ada")
    server.user_message(user, "/start")
    server.push_update(
        {"message": {"message_id": 9, "chat": other.to_json(), "date": 1, "text": "hi"}}
    )
    before = server.pending_updates

    assert main(["telegram-chats", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["bot"] == "monitor_test_bot"
    assert out["updates"] == 4
    assert [(c["id"], c["type"], c["title"], c["username"]) for c in out["chats"]] == [
        (channel.id, "channel", "EU AI watch", "eu_ai_watch"),
        (other.id, "supergroup", "Policy team", None),
        (user.id, "private", "Ada", "ada"),
    ]
    assert out["chats"][0]["bot_status"] == "kicked"  # from my_chat_member, kept

    assert main(["telegram-chats"]) == 0
    text = capsys.readouterr().out
    assert f"{channel.id}  channel" in text
    assert "EU AI watch (@eu_ai_watch)" in text
    assert f"{user.id}" in text
    assert "Ada (@ada)" in text

    # Nothing was confirmed: the service's bot still gets every update.
    assert server.pending_updates == before
    calls = server.calls_to("getUpdates")
    assert calls
    assert all(not c.params.get("offset") for c in calls)
    assert all("allowed_updates" not in c.params for c in calls)


def test_no_updates_says_what_to_do(bot_env: TelegramServer, capsys: pytest.CaptureFixture[str]):
    assert main(["telegram-chats"]) == 0
    out = capsys.readouterr().out
    assert "no chats" in out
    assert "administrator" in out
    assert "monitor run" in out


def test_conflict_is_explained(bot_env: TelegramServer, capsys: pytest.CaptureFixture[str]):
    bot_env.webhook_url = "https://example.org/hook"  # getUpdates answers 409 Conflict
    assert main(["telegram-chats"]) == 1
    err = capsys.readouterr().err
    assert "webhook is set" in err
    assert "Conflict" in err
    assert bot_env.token not in err


def test_rejected_token_and_missing_token(
    bot_env: TelegramServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "42:wrong")
    assert main(["telegram-chats"]) == 1
    err = capsys.readouterr().err
    assert "rejected the bot token" in err
    assert "42:wrong" not in err
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN")
    assert main(["telegram-chats"]) == 2
    assert "TELEGRAM_BOT_TOKEN: is not set" in capsys.readouterr().err


def test_help_warns_against_running_beside_the_service(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit):
        main(["telegram-chats", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "Do not run it while `monitor run`" in text
    assert "409 Conflict" in text


def test_lists_the_forum_topics_seen_for_topic(
    bot_env: TelegramServer, capsys: pytest.CaptureFixture[str]
):
    # Issue 13: a destination's topic: is the message_thread_id of a forum topic.
    server = bot_env
    forum = server.add_forum(title="Policy forum")
    ai = server.add_topic(forum, "AI Act")
    faces = server.add_topic(forum, "Biometrics")
    ada = server.add_user("Ada")
    server.user_message(ada, "hello", chat=forum, thread=ai)
    server.user_message(ada, "hi", chat=forum, thread=faces)
    server.user_message(ada, "general", chat=forum)

    assert main(["telegram-chats", "--json"]) == 0
    [chat] = [c for c in json.loads(capsys.readouterr().out)["chats"] if c["id"] == forum.id]
    assert chat["topics"] == [{"id": ai, "name": "AI Act"}, {"id": faces, "name": "Biometrics"}]
    assert main(["telegram-chats"]) == 0
    text = capsys.readouterr().out
    assert f"topic: {ai:<6}  AI Act" in text
    assert f"topic: {faces:<6}  Biometrics" in text
