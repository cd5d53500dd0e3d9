"""Articles and their identity keys: an article is new exactly once.

This module reads what is known (``snapshot``) and writes what ``monitor.update.decide``
decided (``write_articles``; ``add_articles`` does both for tools and tests); the
decision itself is not made in SQL.  An entry is
*known* when any of these was seen before:

* its identity key in the same feed (``seen_keys``: survives the entry dropping out of
  the feed and coming back, a re-dated entry, a title edit);
* its URL key (``monitor.identity.url_key``) in any feed (the same story syndicated or
  linked with other tracking parameters, http vs https, the AMP page);
* its text hash (``monitor.identity.text_hash`` of title and summary) in the same feed
  (a publisher that regenerated both GUID and URL).

Every key that maps to a known article is recorded too, so the next poll answers from
``seen_keys`` alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from monitor.models import Article, NewArticle, ParsedFeed
from monitor.store import tallies
from monitor.store.db import from_db, to_db
from monitor.store.engine import Connection, Row, dialect, pipelined
from monitor.update import (
    EntryIdentity,
    FeedIntent,
    FeedSnapshot,
    StoredEntry,
    decide,
    prepare,
)


def _json_list(values: Sequence[str]) -> str:
    # Most feeds give no authors or tags: skip the encoder for the empty list.
    return json.dumps(list(values), ensure_ascii=False) if values else "[]"


def _chunks(items: Sequence[str], size: int = 400) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def known_keys(conn: Connection, feed_id: str, keys: Sequence[str]) -> frozenset[str]:
    """Which of ``keys`` were seen in this feed before."""
    if dialect(conn) == "postgresql":
        rows = conn.execute(
            "SELECT key FROM seen_keys WHERE feed_id = ? AND key = ANY(?)", (feed_id, list(keys))
        )
        return frozenset(row[0] for row in rows)
    known: set[str] = set()
    for chunk in _chunks(keys):
        marks = ",".join("?" * len(chunk))
        known.update(
            row[0]
            for row in conn.execute(
                f"SELECT key FROM seen_keys WHERE feed_id = ? AND key IN ({marks})",
                (feed_id, *chunk),
            )
        )
    return frozenset(known)


def snapshot(conn: Connection, feed_id: str, identities: Sequence[EntryIdentity]) -> FeedSnapshot:
    """What the database knows about one poll's entries (see ``FeedSnapshot``).

    URL keys and text hashes are looked up only for entries whose key is not known.
    """
    if dialect(conn) == "postgresql":
        return _pg_snapshot(conn, feed_id, identities)
    keys = [i.key for i in identities]
    known: dict[str, StoredEntry] = {}
    for chunk in _chunks(keys):
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(
            "SELECT s.key, s.article_id, a.content_hash FROM seen_keys s"
            " LEFT JOIN articles a ON a.id = s.article_id"
            f" WHERE s.feed_id = ? AND s.key IN ({marks})",
            (feed_id, *chunk),
        ):
            known[row[0]] = StoredEntry(row[1], row[2])
    fresh = [i for i in identities if i.key not in known]
    urls: dict[str, int] = {}
    for chunk in _chunks(sorted({i.url_key for i in fresh if i.url_key})):
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(
            f"SELECT url_key, MIN(id) FROM articles WHERE url_key IN ({marks}) GROUP BY url_key",
            tuple(chunk),
        ):
            urls[row[0]] = row[1]
    hashes: dict[str, int] = {}
    for chunk in _chunks(sorted({i.text_hash for i in fresh})):
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(
            f"SELECT content_hash, MIN(id) FROM articles WHERE feed_id = ? "
            f"AND content_hash IN ({marks}) GROUP BY content_hash",
            (feed_id, *chunk),
        ):
            hashes[row[0]] = row[1]
    return FeedSnapshot(feed_id, known, urls, hashes)


def _pg_snapshot(
    conn: Connection, feed_id: str, identities: Sequence[EntryIdentity]
) -> FeedSnapshot:
    """``snapshot`` on PostgreSQL: each lookup one statement with one array parameter
    (``= ANY(?)``), whatever the number of entries.  A list of ``?`` per entry made a new
    statement text for every length, and psycopg re-parses a statement of more than 50
    parameters at every run (issue 11)."""
    # The three lookups go out together, one round trip (``pipelined``): URL keys and
    # text hashes of every entry, not only of those whose key is unknown (the decider
    # consults them for those alone), rather than a second round trip.
    with pipelined(conn):
        by_key = conn.execute(
            "SELECT s.key, s.article_id, a.content_hash FROM seen_keys s"
            " LEFT JOIN articles a ON a.id = s.article_id"
            " WHERE s.feed_id = ? AND s.key = ANY(?)",
            (feed_id, [i.key for i in identities]),
        )
        # One index lookup per URL key, whatever the planner believes: without statistics
        # (a new database, until autovacuum's first ANALYZE) it takes "url_key = ANY" of
        # 30 keys for a quarter of the table and scans all of it, in every poll of a
        # first cycle.  A lateral subquery with OFFSET 0 is planned for one key at a time.
        by_url = conn.execute(
            "SELECT a.url_key, a.id FROM unnest(?::text[]) AS k(u), LATERAL"
            " (SELECT url_key, id FROM articles WHERE url_key = k.u OFFSET 0) AS a",
            (sorted({i.url_key for i in identities if i.url_key}),),
        )
        by_hash = conn.execute(
            "SELECT content_hash, MIN(id) FROM articles WHERE feed_id = ?"
            " AND content_hash = ANY(?) GROUP BY content_hash",
            (feed_id, sorted({i.text_hash for i in identities})),
        )
        known = {row[0]: StoredEntry(row[1], row[2]) for row in by_key.fetchall()}
        urls: dict[str, int] = {}
        for row in by_url.fetchall():
            if row[0] not in urls or row[1] < urls[row[0]]:
                urls[row[0]] = row[1]
        hashes = {row[0]: row[1] for row in by_hash.fetchall()}
    return FeedSnapshot(feed_id, known, urls, hashes)


_PG_INSERT_ARTICLES = (
    "INSERT INTO articles (feed_id, key, url, canonical_url, url_key, content_hash,"
    " title, summary, content, published, date_from_feed, language, authors, tags, body,"
    " first_seen, last_seen)"
    " SELECT ?::text, n.*, ?::text, ?::text FROM unnest(?::text[], ?::text[], ?::text[],"
    " ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[],"
    " ?::text[], ?::text[], ?::text[], ?::text[]) AS n"
    " RETURNING id"
)
"""A poll's new articles in one statement of 17 parameters, one array per column: the
same statement text for any number of rows, prepared once (issue 11: a ``VALUES`` row
of 17 ``?`` per article was a new text of up to 17,000 parameters that psycopg parsed
again at every run and the server planned again)."""


def write_articles(conn: Connection, intent: FeedIntent) -> list[NewArticle]:
    """Write an intent's identity part: seen keys and articles refreshed, new articles and
    new keys inserted.  Returns the new articles with their ids, in the intent's order.

    Must run inside a transaction.
    """
    feed_id = intent.feed_id
    now = intent.now
    stamp = to_db(now)
    postgresql = dialect(conn) == "postgresql"
    if intent.known and postgresql:
        # One statement each, not one per entry (issue 11: PostgreSQL pays for every
        # statement a round trip and an executor start).
        conn.execute(
            "UPDATE seen_keys SET last_seen = ? WHERE feed_id = ? AND key = ANY(?)",
            (stamp, feed_id, [k.key for k in intent.known]),
        )
        conn.execute(
            "UPDATE articles SET last_seen = ? WHERE id = ANY(?)",
            (stamp, sorted({k.article_id for k in intent.known})),
        )
    elif intent.known:
        conn.executemany(
            "UPDATE seen_keys SET last_seen = ? WHERE feed_id = ? AND key = ?",
            [(stamp, feed_id, k.key) for k in intent.known],
        )
        conn.executemany(
            "UPDATE articles SET last_seen = ? WHERE id = ?",
            [(stamp, aid) for aid in {k.article_id for k in intent.known}],
        )
    columns = (
        "INSERT INTO articles (feed_id, key, url, canonical_url, url_key, content_hash,"
        " title, summary, content, published, date_from_feed, language, authors, tags,"
        " first_seen, last_seen, body) VALUES "
    )
    marks = "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
    rows = [
        (
            feed_id,
            e.article.key,
            e.article.url,
            e.article.canonical_url,
            e.url_key,
            e.text_hash,
            e.article.title,
            e.article.summary,
            e.article.content,
            to_db(e.article.published or now),
            int(e.article.date_from_feed),
            e.article.language,
            _json_list(e.article.authors),
            _json_list(e.article.tags),
            stamp,
            stamp,
            e.article.body or None,
        )
        for e in intent.new
    ]
    # RETURNING on both engines (no lastrowid on PostgreSQL); fetchall completes the
    # statement, so SQLite can commit after it.
    if postgresql:
        # One INSERT ... SELECT FROM unnest: its identity column numbers the rows in the
        # arrays' order, so the ids sorted are the rows' ids in the intent's order.
        ids: list[int] = []
        if rows:
            arrays = [[row[c] for row in rows] for c in (*range(1, 14), 16)]
            cur = conn.execute(_PG_INSERT_ARTICLES, [feed_id, stamp, stamp, *arrays])
            ids = sorted(int(r[0]) for r in cur.fetchall())
    else:
        insert = columns + marks + " RETURNING id"
        ids = [int(conn.execute(insert, row).fetchall()[0][0]) for row in rows]
    new = [
        NewArticle(article_id, entry.article, first_seen=now, baseline=entry.baseline)
        for article_id, entry in zip(ids, intent.new, strict=True)
    ]
    if new and stamp is not None:
        tallies.add_articles(conn, feed_id, tallies.day_of(stamp), len(new))
    if intent.keys and postgresql:
        conn.execute(
            "INSERT INTO seen_keys (feed_id, key, article_id, first_seen, last_seen)"
            " SELECT ?::text, k, a, ?::text, ?::text FROM unnest(?::text[], ?::bigint[]) AS n(k, a)"
            " ON CONFLICT (feed_id, key) DO NOTHING",
            (
                feed_id,
                stamp,
                stamp,
                [k.key for k in intent.keys],
                [k.article_id if k.new_index is None else new[k.new_index].id for k in intent.keys],
            ),
        )
    elif intent.keys:
        conn.executemany(
            "INSERT INTO seen_keys (feed_id, key, article_id, first_seen, last_seen)"
            " VALUES (?,?,?,?,?) ON CONFLICT (feed_id, key) DO NOTHING",
            [
                (
                    feed_id,
                    k.key,
                    k.article_id if k.new_index is None else new[k.new_index].id,
                    stamp,
                    stamp,
                )
                for k in intent.keys
            ],
        )
    return new


def add_articles(
    conn: Connection, feed_id: str, articles: Sequence[Article], now: datetime
) -> list[NewArticle]:
    """Record a feed's entries without matching or routing (tools and tests); return the
    new ones in feed order.  The decision is the update decider's, as in a poll.

    Must run inside a transaction.
    """
    prepared = prepare(ParsedFeed(feed_id, tuple(articles)), None)
    known = snapshot(conn, feed_id, prepared.identities)
    return write_articles(conn, decide(prepared, known, now))


@dataclass(frozen=True, slots=True)
class StoredArticle:
    id: int
    article: Article
    first_seen: datetime
    last_seen: datetime
    pruned: bool


def row_to_article(row: Row) -> StoredArticle:
    published = from_db(row["published"])
    article = Article(
        feed_id=row["feed_id"],
        key=row["key"],
        title=row["title"],
        url=row["url"],
        canonical_url=row["canonical_url"],
        summary=row["summary"] or "",
        content=row["content"] or "",
        published=published,
        date_from_feed=bool(row["date_from_feed"]),
        language=row["language"],
        authors=tuple(json.loads(row["authors"] or "[]")),
        tags=tuple(json.loads(row["tags"] or "[]")),
        body=row["body"] or "",
    )
    first = from_db(row["first_seen"])
    last = from_db(row["last_seen"])
    assert first is not None
    assert last is not None
    return StoredArticle(
        id=row["id"], article=article, first_seen=first, last_seen=last, pruned=bool(row["pruned"])
    )


def iter_articles(
    conn: Connection, since: datetime | None = None, feed_id: str | None = None
) -> Iterator[StoredArticle]:
    """Stored articles first seen at or after ``since``, oldest first."""
    sql = "SELECT * FROM articles WHERE first_seen >= ?"
    params: list[object] = [to_db(since) if since else ""]
    if feed_id:
        sql += " AND feed_id = ?"
        params.append(feed_id)
    sql += " ORDER BY first_seen, id"
    for row in conn.execute(sql, params):
        yield row_to_article(row)


def get_articles(conn: Connection, ids: Sequence[int]) -> dict[int, StoredArticle]:
    out: dict[int, StoredArticle] = {}
    for chunk in _chunks([str(i) for i in ids]):
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(
            f"SELECT * FROM articles WHERE id IN ({marks})", [int(i) for i in chunk]
        ):
            out[row["id"]] = row_to_article(row)
    return out


def prune(
    conn: Connection, now: datetime, keep_text_before: datetime, keep_keys_before: datetime
) -> tuple[int, int]:
    """Drop article text last seen before ``keep_text_before``; forget identities last
    seen before ``keep_keys_before``.  Returns (texts pruned, identities forgotten).

    An entry still present in its feed keeps refreshing ``last_seen``, so it is never
    forgotten while it can still come back.
    """
    del now
    texts = conn.execute(
        "UPDATE articles SET summary = NULL, content = NULL, body = NULL, pruned = 1"
        " WHERE pruned = 0 AND last_seen < ?",
        (to_db(keep_text_before),),
    ).rowcount
    cutoff = to_db(keep_keys_before)
    conn.execute("DELETE FROM seen_keys WHERE last_seen < ?", (cutoff,))
    forgotten = (
        "last_seen < ? AND NOT EXISTS (SELECT 1 FROM seen_keys s WHERE s.article_id = articles.id)"
    )
    tallies.forget_articles(
        conn,
        conn.execute(
            "SELECT feed_id, substr(first_seen, 1, 10), COUNT(*) FROM articles"
            f" WHERE {forgotten} GROUP BY feed_id, substr(first_seen, 1, 10)",
            (cutoff,),
        ).fetchall(),
    )
    gone = conn.execute(f"DELETE FROM articles WHERE {forgotten}", (cutoff,)).rowcount
    return texts, gone
