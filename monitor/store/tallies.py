"""Counts the dashboard shows, kept up to date as the store writes (issue 12).

At 1,000,000 articles, counting on every page view cost more than the page may take:
``COUNT(*)`` walked an index of every article, the feed sparklines read 14 days of it.
So the writers keep two small tables: ``tallies`` (the number of stored articles and of
matched ones) and ``article_days`` (new articles per feed per UTC day).  Every write of
``articles`` and ``matches`` goes through ``monitor.store``, which calls these functions
in the same transaction; ``rebuild`` recounts from the rows (the migration that created
the tables, and tools that rewrite rows directly).  Plain SQL, the same on both engines.
"""

from __future__ import annotations

from collections.abc import Iterable

from monitor.store.engine import Connection

ARTICLES = "articles"
MATCHED = "matched"
"""Articles with at least one match."""


def day_of(stamp: str) -> str:
    """The UTC day of a stored time (``2026-12-07T12:00:00.000000Z`` -> ``2026-12-07``)."""
    return stamp[:10]


def add_articles(conn: Connection, feed_id: str, day: str, count: int) -> None:
    """``count`` new articles of ``feed_id`` first seen on ``day``."""
    if count <= 0:
        return
    conn.execute(
        "INSERT INTO article_days (day, feed_id, articles) VALUES (?, ?, ?)"
        " ON CONFLICT (day, feed_id) DO UPDATE SET articles = article_days.articles + ?",
        (day, feed_id, count, count),
    )
    _bump(conn, ARTICLES, count)


def forget_articles(conn: Connection, gone: Iterable[tuple[str, str, int]]) -> None:
    """Articles deleted: ``(feed_id, day first seen, how many)`` each."""
    total = 0
    for feed_id, day, count in gone:
        conn.execute(
            "UPDATE article_days SET articles = articles - ? WHERE day = ? AND feed_id = ?",
            (count, day, feed_id),
        )
        total += count
    conn.execute("DELETE FROM article_days WHERE articles <= 0")
    _bump(conn, ARTICLES, -total)


def add_matched(conn: Connection, count: int) -> None:
    """``count`` articles got their first match."""
    if count > 0:
        _bump(conn, MATCHED, count)


def recount_matched(conn: Connection) -> None:
    """After matches were deleted (pruning: one index walk of the matches)."""
    conn.execute(
        "UPDATE tallies SET value = (SELECT COUNT(DISTINCT article_id) FROM matches)"
        " WHERE name = ?",
        (MATCHED,),
    )


def _bump(conn: Connection, name: str, by: int) -> None:
    conn.execute("UPDATE tallies SET value = value + ? WHERE name = ?", (by, name))


REBUILD = (
    "DELETE FROM article_days",
    "INSERT INTO article_days (day, feed_id, articles)"
    " SELECT substr(first_seen, 1, 10), feed_id, COUNT(*) FROM articles"
    " GROUP BY substr(first_seen, 1, 10), feed_id",
    "DELETE FROM tallies",
    f"INSERT INTO tallies (name, value) SELECT '{ARTICLES}', COUNT(*) FROM articles",
    f"INSERT INTO tallies (name, value) SELECT '{MATCHED}', COUNT(DISTINCT article_id)"
    " FROM matches",
)
"""Recount both tables from the stored rows (also the migration that made them)."""


def rebuild(conn: Connection) -> None:
    """Recount both tables from the stored rows."""
    for statement in REBUILD:
        conn.execute(statement)


def read(conn: Connection) -> dict[str, int]:
    return {str(n): int(v) for n, v in conn.execute("SELECT name, value FROM tallies")}
