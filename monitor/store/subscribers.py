"""Telegram subscribers (private chats with the bot, groups and their forum topics) and
service flags such as pause.  ``topic`` None (stored as 0) is the chat itself."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from monitor.route import Subscription
from monitor.store.db import to_db
from monitor.store.engine import Connection


def subscribe(
    conn: Connection,
    chat_id: str,
    watchlist: str,
    now: datetime,
    username: str | None = None,
    topic: int | None = None,
) -> bool:
    """Returns False when the chat (topic) was already subscribed to the watchlist."""
    conn.execute(
        "INSERT INTO subscribers (chat_id, username, first_seen) VALUES (?,?,?)"
        " ON CONFLICT (chat_id) DO UPDATE SET blocked = 0, blocked_at = NULL,"
        " username = COALESCE(excluded.username, subscribers.username)",
        (chat_id, username, to_db(now)),
    )
    cur = conn.execute(
        "INSERT INTO subscriptions (chat_id, topic, watchlist, created) VALUES (?,?,?,?)"
        " ON CONFLICT (chat_id, topic, watchlist) DO NOTHING",
        (chat_id, topic or 0, watchlist, to_db(now)),
    )
    return cur.rowcount > 0


def unsubscribe(
    conn: Connection,
    chat_id: str,
    watchlist: str | None = None,
    topic: int | Literal["all"] | None = "all",
) -> int:
    """Remove the chat's subscriptions (one ``watchlist``, or all; in one ``topic``, or
    in every topic of the chat); returns how many."""
    sql = "DELETE FROM subscriptions WHERE chat_id = ?"
    params: list[object] = [chat_id]
    if watchlist is not None:
        sql += " AND watchlist = ?"
        params.append(watchlist)
    if topic != "all":
        sql += " AND topic = ?"
        params.append(topic or 0)
    return conn.execute(sql, params).rowcount


def mark_blocked(conn: Connection, chat_id: str, now: datetime) -> int:
    """A user who blocked the bot is unsubscribed from everything; returns how many."""
    conn.execute(
        "UPDATE subscribers SET blocked = 1, blocked_at = ? WHERE chat_id = ?",
        (to_db(now), chat_id),
    )
    return unsubscribe(conn, chat_id)


def subscriptions(
    conn: Connection,
    chat_id: str | None = None,
    topic: int | Literal["all"] | None = "all",
) -> list[Subscription]:
    """Subscriptions of every chat, or of ``chat_id`` (in one ``topic``, or in all)."""
    sql = "SELECT chat_id, watchlist, topic FROM subscriptions"
    params: list[object] = []
    if chat_id is not None:
        sql += " WHERE chat_id = ?"
        params.append(chat_id)
        if topic != "all":
            sql += " AND topic = ?"
            params.append(topic or 0)
    return [
        Subscription(r[0], r[1], int(r[2]) or None)
        for r in conn.execute(sql + " ORDER BY chat_id, topic, watchlist", params)
    ]


def set_flag(conn: Connection, name: str, value: str, now: datetime) -> None:
    conn.execute(
        "INSERT INTO service_flags (name, value, updated) VALUES (?,?,?)"
        " ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated = excluded.updated",
        (name, value, to_db(now)),
    )


def get_flag(conn: Connection, name: str) -> str | None:
    row = conn.execute("SELECT value FROM service_flags WHERE name = ?", (name,)).fetchone()
    return None if row is None else str(row[0])
