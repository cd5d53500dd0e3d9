"""Stories and the near-duplicate index behind them (the SQL of ``monitor.dedupe``).

* ``story_articles``: which story each article joined, how (``first``, ``copy``,
  ``same-story``) and through which earlier article.  While the article is inside the
  dedupe window its row also holds its fingerprint (``sketch``, the bytes
  ``monitor.dedupe`` compares a later article with) and its index ``keys``; the
  in-memory candidate index is rebuilt from these after a restart.
* ``stories``: one row per story, named by its first article's id and title.

Every writing function must run inside the caller's transaction, so an article, its
matches, its outbox rows and its story commit together.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from monitor.store.db import from_db, to_db
from monitor.store.engine import Connection
from monitor.update import StoryChoice, resolve


@dataclass(frozen=True, slots=True)
class IndexedRow:
    """An article inside the index window, as a candidate for a new article."""

    article_id: int
    story_id: int
    feed_id: str
    seen: datetime
    sketch: bytes


@dataclass(frozen=True, slots=True)
class AssignmentRow:
    article_id: int
    story_id: int
    relation: str
    related_id: int | None
    score: float


@dataclass(frozen=True, slots=True)
class StoryMember:
    article_id: int
    feed_id: str
    title: str
    url: str | None
    published: datetime | None
    relation: str
    related_id: int | None
    score: float
    seen: datetime


@dataclass(frozen=True, slots=True)
class StoryRow:
    id: int
    title: str
    first_seen: datetime
    last_seen: datetime
    members: tuple[StoryMember, ...]


def indexed(conn: Connection, article_ids: Sequence[int]) -> list[IndexedRow]:
    """The index rows of these articles (those still inside the window)."""
    if not article_ids:
        return []
    marks = ",".join("?" * len(article_ids))
    rows = conn.execute(
        f"SELECT article_id, story_id, feed_id, seen, sketch FROM story_articles"
        f" WHERE article_id IN ({marks}) AND sketch IS NOT NULL",
        list(article_ids),
    ).fetchall()
    return [IndexedRow(r[0], r[1], r[2], _time(r[3]), r[4]) for r in rows]


def assignment(conn: Connection, article_id: int) -> AssignmentRow | None:
    row = conn.execute(
        "SELECT article_id, story_id, relation, related_id, score FROM story_articles"
        " WHERE article_id = ?",
        (article_id,),
    ).fetchone()
    return AssignmentRow(row[0], row[1], row[2], row[3], row[4]) if row else None


def add(
    conn: Connection,
    row: AssignmentRow,
    *,
    feed_id: str,
    title: str,
    seen: datetime,
    sketch: bytes,
    keys: bytes,
) -> None:
    """Record an article's story with its fingerprint and keys; start or extend the story."""
    stamp = to_db(seen)
    conn.execute(
        "INSERT INTO story_articles (article_id, story_id, feed_id, relation, related_id, score,"
        " seen, sketch, keys) VALUES (?,?,?,?,?,?,?,?,?)",
        (
            row.article_id,
            row.story_id,
            feed_id,
            row.relation,
            row.related_id,
            row.score,
            stamp,
            sketch,
            keys,
        ),
    )
    if row.relation == "first":
        conn.execute(
            "INSERT INTO stories (id, title, first_seen, last_seen) VALUES (?,?,?,?)",
            (row.story_id, title, stamp, stamp),
        )
    else:
        conn.execute(
            # CASE, not SQLite's max(a, b): PostgreSQL's is GREATEST (issue 11)
            "UPDATE stories SET last_seen = CASE WHEN last_seen < ? THEN ? ELSE last_seen END,"
            " articles = articles + 1 WHERE id = ?",
            (stamp, stamp, row.story_id),
        )


def record(
    conn: Connection,
    article_id: int,
    choice: StoryChoice,
    ids: Sequence[int],
    *,
    feed_id: str,
    title: str,
    seen: datetime,
) -> tuple[int, tuple[int, ...]]:
    """Write the story ``choice`` of the stored article ``article_id`` (its merges, then
    its row); ``ids``: the new articles' ids, for the choice's ``PENDING`` refs.  Returns
    its story id and the merged stories' ids as stored.

    Raises:
        ValueError: the article id does not fit the dedupe index's 32 bits.
    """
    if not 0 <= article_id <= 0xFFFFFFFF:
        raise ValueError(f"dedupe: article id {article_id} does not fit 32 bits")
    story_id = resolve(choice.story_id, ids)
    merged = tuple(resolve(m, ids) for m in choice.merged)
    if merged:
        merge(conn, story_id, merged)
    related = choice.related_id
    row = AssignmentRow(
        article_id=article_id,
        story_id=story_id,
        relation=choice.relation,
        related_id=resolve(related, ids) if related is not None else None,
        score=choice.score,
    )
    add(
        conn,
        row,
        feed_id=feed_id,
        title=title,
        seen=seen,
        sketch=choice.sketch,
        keys=struct.pack(f"<{len(choice.keys)}I", *choice.keys),
    )
    return story_id, merged


def merge(conn: Connection, keep: int, absorbed: Sequence[int]) -> None:
    """Make stories ``absorbed`` part of story ``keep`` (their articles move, rows go)."""
    for sid in absorbed:
        row = conn.execute(
            "SELECT first_seen, last_seen, articles FROM stories WHERE id = ?", (sid,)
        ).fetchone()
        if row is None or sid == keep:
            continue
        conn.execute("UPDATE story_articles SET story_id = ? WHERE story_id = ?", (keep, sid))
        conn.execute(
            "UPDATE stories SET first_seen = CASE WHEN first_seen > ? THEN ? ELSE first_seen END,"
            " last_seen = CASE WHEN last_seen < ? THEN ? ELSE last_seen END,"
            " articles = articles + ? WHERE id = ?",
            (row[0], row[0], row[1], row[1], row[2], keep),
        )
        conn.execute("DELETE FROM stories WHERE id = ?", (sid,))


def window(conn: Connection, since: datetime) -> Iterator[tuple[int, datetime, bytes]]:
    """``(article_id, seen, keys)`` of every article still indexed and seen since ``since``."""
    for aid, seen, keys in conn.execute(
        "SELECT article_id, seen, keys FROM story_articles"
        " WHERE sketch IS NOT NULL AND seen >= ? ORDER BY article_id",
        (to_db(since),),
    ):
        yield aid, _time(seen), keys


def unindex(conn: Connection, before: datetime) -> int:
    """Drop the fingerprints and keys of articles seen before ``before``; their story
    membership stays.  Returns how many rows changed."""
    return int(
        conn.execute(
            "UPDATE story_articles SET sketch = NULL, keys = NULL"
            " WHERE sketch IS NOT NULL AND seen < ?",
            (to_db(before),),
        ).rowcount
    )


def forget(conn: Connection, before: datetime) -> int:
    """Delete story memberships, and stories, last seen before ``before`` (already unindexed)."""
    stamp = to_db(before)
    gone = conn.execute(
        "DELETE FROM story_articles WHERE sketch IS NULL AND seen < ?", (stamp,)
    ).rowcount
    conn.execute(
        "DELETE FROM stories WHERE last_seen < ?"
        " AND NOT EXISTS (SELECT 1 FROM story_articles s WHERE s.story_id = stories.id)",
        (stamp,),
    )
    return int(gone)


def members(conn: Connection, story_id: int) -> list[tuple[int, str, str]]:
    """``(article_id, feed_id, relation)`` of a story's articles, in the order they came."""
    return [
        (r[0], r[1], r[2])
        for r in conn.execute(
            "SELECT article_id, feed_id, relation FROM story_articles WHERE story_id = ?"
            " ORDER BY seen, article_id",
            (story_id,),
        )
    ]


def stories_since(conn: Connection, since: datetime) -> list[StoryRow]:
    """Stories with an article seen at or after ``since``, newest first, with all members."""
    stories = conn.execute(
        "SELECT id, title, first_seen, last_seen FROM stories WHERE last_seen >= ?"
        " ORDER BY last_seen DESC, id DESC",
        (to_db(since),),
    ).fetchall()
    out: list[StoryRow] = []
    for sid, title, first, last in stories:
        members = conn.execute(
            "SELECT s.article_id, s.feed_id, a.title, a.url, a.published, s.relation,"
            " s.related_id, s.score, s.seen FROM story_articles s"
            " LEFT JOIN articles a ON a.id = s.article_id"
            " WHERE s.story_id = ? ORDER BY s.seen, s.article_id",
            (sid,),
        ).fetchall()
        out.append(
            StoryRow(
                id=sid,
                title=title,
                first_seen=_time(first),
                last_seen=_time(last),
                members=tuple(
                    StoryMember(
                        m[0], m[1], m[2] or "", m[3], from_db(m[4]), m[5], m[6], m[7], _time(m[8])
                    )
                    for m in members
                ),
            )
        )
    return out


def _time(text: str) -> datetime:
    # fromisoformat reads to_db's fixed format ("...Z") about twenty times faster than
    # from_db's strptime, and this runs for every candidate of every new article.
    return datetime.fromisoformat(text)


class StoryRows:
    """The story tables inside one transaction of the store: what ``monitor.dedupe`` reads
    and writes, without holding a connection itself (``Store.apply``, ``Store.story_rows``).
    """

    __slots__ = ("_conn",)

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def indexed(self, article_ids: Sequence[int]) -> list[IndexedRow]:
        return indexed(self._conn, article_ids)

    def assignment(self, article_id: int) -> AssignmentRow | None:
        return assignment(self._conn, article_id)

    def add(
        self,
        row: AssignmentRow,
        *,
        feed_id: str,
        title: str,
        seen: datetime,
        sketch: bytes,
        keys: bytes,
    ) -> None:
        add(self._conn, row, feed_id=feed_id, title=title, seen=seen, sketch=sketch, keys=keys)

    def merge(self, keep: int, absorbed: Sequence[int]) -> None:
        merge(self._conn, keep, absorbed)

    def record(
        self,
        article_id: int,
        choice: StoryChoice,
        ids: Sequence[int],
        *,
        feed_id: str,
        title: str,
        seen: datetime,
    ) -> tuple[int, tuple[int, ...]]:
        return record(self._conn, article_id, choice, ids, feed_id=feed_id, title=title, seen=seen)

    def window(self, since: datetime) -> Iterator[tuple[int, datetime, bytes]]:
        return window(self._conn, since)

    def unindex(self, before: datetime) -> int:
        return unindex(self._conn, before)
