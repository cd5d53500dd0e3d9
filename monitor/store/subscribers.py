"""Telegram subscribers (private chats with the bot) and service flags such as pause."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from monitor.route import Subscription
from monitor.store.db import to_db


def subscribe(
    conn: sqlite3.Connection,
    chat_id: str,
    watchlist: str,
    now: datetime,
    username: str | None = None,
) -> bool:
    """Returns False when the chat was already subscribed to the watchlist."""
    conn.execute(
        "INSERT INTO subscribers (chat_id, username, first_seen) VALUES (?,?,?)"
        " ON CONFLICT (chat_id) DO UPDATE SET blocked = 0, blocked_at = NULL,"
        " username = COALESCE(excluded.username, subscribers.username)",
        (chat_id, username, to_db(now)),
    )
    cur = conn.execute(
        "INSERT INTO subscriptions (chat_id, watchlist, created) VALUES (?,?,?)"
        " ON CONFLICT (chat_id, watchlist) DO NOTHING",
        (chat_id, watchlist, to_db(now)),
    )
    return cur.rowcount > 0


def unsubscribe(conn: sqlite3.Connection, chat_id: str, watchlist: str | None = None) -> int:
    if watchlist is None:
        return conn.execute("DELETE FROM subscriptions WHERE chat_id = ?", (chat_id,)).rowcount
    return conn.execute(
        "DELETE FROM subscriptions WHERE chat_id = ? AND watchlist = ?", (chat_id, watchlist)
    ).rowcount


def mark_blocked(conn: sqlite3.Connection, chat_id: str, now: datetime) -> int:
    """A user who blocked the bot is unsubscribed from everything; returns how many."""
    conn.execute(
        "UPDATE subscribers SET blocked = 1, blocked_at = ? WHERE chat_id = ?",
        (to_db(now), chat_id),
    )
    return unsubscribe(conn, chat_id)


def subscriptions(conn: sqlite3.Connection, chat_id: str | None = None) -> list[Subscription]:
    sql = "SELECT chat_id, watchlist FROM subscriptions"
    params: tuple[str, ...] = ()
    if chat_id is not None:
        sql += " WHERE chat_id = ?"
        params = (chat_id,)
    return [Subscription(r[0], r[1]) for r in conn.execute(sql + " ORDER BY 1, 2", params)]


def set_flag(conn: sqlite3.Connection, name: str, value: str, now: datetime) -> None:
    conn.execute(
        "INSERT INTO service_flags (name, value, updated) VALUES (?,?,?)"
        " ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated = excluded.updated",
        (name, value, to_db(now)),
    )


def get_flag(conn: sqlite3.Connection, name: str) -> str | None:
    row = conn.execute("SELECT value FROM service_flags WHERE name = ?", (name,)).fetchone()
    return None if row is None else str(row[0])
