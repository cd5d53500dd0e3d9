"""``monitor telegram-chats``: the chats the bot can see, to find their numeric ids."""

from __future__ import annotations

import argparse
import json
from typing import Any

HELP_DESCRIPTION = (
    "List the chats named in the bot's pending Telegram updates (getUpdates): their "
    "numeric id, type, title and @username, and the bot's membership when Telegram said "
    "it. Use it to find a channel's id for keywords.yaml or a user's id for "
    "TELEGRAM_ADMIN_IDS: add the bot to the channel as an administrator (or send it "
    "/start), post a message, then run this within 24 hours. Nothing is confirmed, so "
    "the service still receives these updates. Do not run it while `monitor run` (or any "
    "other program) polls the same bot: Telegram allows one reader per token (this "
    "command then stops with a 409 Conflict error), and the running service confirms the "
    "updates it reads, so they are no longer there. Needs TELEGRAM_BOT_TOKEN "
    "(TELEGRAM_API_URL for another Bot API server)."
)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "telegram-chats",
        help="list the chats the bot can see (to find chat ids); not while `monitor run` runs",
        description=HELP_DESCRIPTION,
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_telegram_chats)


def cmd_telegram_chats(args: argparse.Namespace) -> int:
    import asyncio

    from monitor.deliver.telegram_chats import seen_chats
    from monitor.errors import ConfigError

    settings = args.settings
    if settings.telegram_token is None:
        raise ConfigError(
            "is not set: create a bot with @BotFather and export its token",
            path="TELEGRAM_BOT_TOKEN",
        )
    token = settings.telegram_token.reveal()
    report = asyncio.run(seen_chats(token, api_url=settings.telegram_api_url))
    if args.json:
        out = {
            "bot": report.bot_username,
            "updates": report.updates,
            "chats": [c.to_json() for c in report.chats],
        }
        print(json.dumps(out, ensure_ascii=False))
        return 0
    if not report.chats:
        print(
            f"no chats: @{report.bot_username} has no pending updates. Add the bot to the "
            "channel as an administrator (or send it /start in a private chat), post a "
            "message, and run this again within 24 hours; stop `monitor run` first, since "
            "it confirms the updates it reads."
        )
        return 0
    width = max(len(str(c.id)) for c in report.chats)
    print(f"{'id':<{width}}  {'type':<10}  {'bot':<13}  title")
    for c in report.chats:
        name = c.title + (f" (@{c.username})" if c.username else "")
        print(f"{c.id:<{width}}  {c.type:<10}  {c.bot_status or '-':<13}  {name}")
        for topic, topic_name in c.topics:
            print(f"{'':<{width}}  topic: {topic:<6}  {topic_name or '(name not seen)'}")
    print(
        f"{len(report.chats)} chats in {report.updates} pending updates of @{report.bot_username}. "
        'In keywords.yaml, quote a chat id: telegram: "-1001234567890". A private chat\'s '
        "id is the user's id (for TELEGRAM_ADMIN_IDS)."
    )
    return 0
