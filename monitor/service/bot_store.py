"""Reads the bot needs that ``monitor.store`` does not offer yet.

SQL belongs in the storage package: this module is a staging place, to be moved into
``monitor/store/outbox.py`` as it stands (it only reads ``matches`` and ``articles``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

from monitor.store.db import to_db


def recent_matched_articles(
    conn: sqlite3.Connection,
    watchlists: Sequence[str],
    *,
    matched_since: datetime,
    published_since: datetime | None = None,
    limit: int = 10,
) -> tuple[list[int], int]:
    """Ids of the articles that matched any of ``watchlists`` at or after
    ``matched_since`` (and, if given, were published at or after ``published_since``),
    newest publication first, at most ``limit``; and how many there are in all."""
    if not watchlists:
        return [], 0
    marks = ",".join("?" * len(watchlists))
    where = (
        f"a.id IN (SELECT article_id FROM matches WHERE matched_at >= ? AND watchlist IN ({marks}))"
    )
    params: list[object] = [to_db(matched_since), *watchlists]
    if published_since is not None:
        where += " AND a.published >= ?"
        params.append(to_db(published_since))
    total = int(conn.execute(f"SELECT COUNT(*) FROM articles a WHERE {where}", params).fetchone()[0])
    rows = conn.execute(
        f"SELECT a.id FROM articles a WHERE {where} ORDER BY a.published DESC, a.id DESC LIMIT ?",
        [*params, limit],
    )
    return [int(r[0]) for r in rows], total
