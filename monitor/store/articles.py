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

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

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


def _json_list(values: Sequence[str]) -> str | None:
    # Most feeds give no authors or tags: no encoder, and NULL (no bytes) for the empty
    # list (``row_to_article`` reads it as "[]").
    return json.dumps(list(values), ensure_ascii=False) if values else None


T = TypeVar("T")


def _chunks(items: Sequence[T], size: int = 400) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


# -- the lean row (issue 15: 2,100 bytes an article, target 1,200) -------------------------
#
# An entry's URL used to be stored six times: in its key ("guid:" + URL), ``url``,
# ``canonical_url`` and ``url_key`` of ``articles``, the ``articles_url_key`` index, and
# twice more in ``seen_keys`` (its table and its primary key index).  What is stored now:
#
# * ``seen_keys.key_hash`` and ``articles.url_hash``: 64-bit hashes (``key_hash``) of the
#   entry key and of the URL key, looked up, never shown.  A false match needs two keys
#   of one feed (or two URL keys of the whole archive) to share 64 bits: about 1 in
#   4 * 10^6 for 3 million URL keys;
# * ``articles.key``: "guid:" alone when the key is "guid:" + url, "link:" alone when it
#   is "link:" + the canonical URL (the usual cases), else the key;
# * ``articles.canonical_url``: NULL when it equals ``url``, '' when there is none;
# * ``articles.content_hash``: the text hash's 16 bytes, not its 32 hex digits.


def key_hash(text: str) -> int:
    """A signed 64-bit hash of an entry key or URL key (BLAKE2b; an SQL INTEGER/BIGINT)."""
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def pack_key(key: str, url: str | None, canonical: str | None) -> str:
    if url is not None and key == "guid:" + url:
        return "guid:"
    if canonical is not None and key == "link:" + canonical:
        return "link:"
    return key


def unpack_key(stored: str, url: str | None, canonical: str | None) -> str:
    # An empty guid or link never makes a key (monitor.parse.identity), so "guid:" and
    # "link:" alone can only be packed ones.
    if stored == "guid:":
        return "guid:" + (url or "")
    if stored == "link:":
        return "link:" + (canonical or "")
    return stored


def pack_canonical(url: str | None, canonical: str | None) -> str | None:
    if canonical is None:
        return ""
    return None if canonical == url else canonical


def unpack_canonical(url: str | None, stored: str | None) -> str | None:
    if stored is None:
        return url
    return stored or None


def _hex(stored: bytes | None) -> str | None:
    return None if stored is None else bytes(stored).hex()


def known_keys(conn: Connection, feed_id: str, keys: Sequence[str]) -> frozenset[str]:
    """Which of ``keys`` were seen in this feed before."""
    by_hash = {key_hash(k): k for k in keys}
    if dialect(conn) == "postgresql":
        rows = conn.execute(
            "SELECT key_hash FROM seen_keys WHERE feed_id = ? AND key_hash = ANY(?)",
            (feed_id, list(by_hash)),
        )
        return frozenset(by_hash[row[0]] for row in rows)
    known: set[str] = set()
    for hashed in _chunks(list(by_hash)):
        marks = ",".join("?" * len(hashed))
        known.update(
            by_hash[row[0]]
            for row in conn.execute(
                f"SELECT key_hash FROM seen_keys WHERE feed_id = ? AND key_hash IN ({marks})",
                (feed_id, *hashed),
            )
        )
    return frozenset(known)


def snapshot(conn: Connection, feed_id: str, identities: Sequence[EntryIdentity]) -> FeedSnapshot:
    """What the database knows about one poll's entries (see ``FeedSnapshot``).

    URL keys and text hashes are looked up only for entries whose key is not known.
    """
    if dialect(conn) == "postgresql":
        return _pg_snapshot(conn, feed_id, identities)
    keys = {key_hash(i.key): i.key for i in identities}
    known: dict[str, StoredEntry] = {}
    for hashed in _chunks(list(keys)):
        marks = ",".join("?" * len(hashed))
        for row in conn.execute(
            "SELECT s.key_hash, s.article_id, a.content_hash FROM seen_keys s"
            " LEFT JOIN articles a ON a.id = s.article_id"
            f" WHERE s.feed_id = ? AND s.key_hash IN ({marks})",
            (feed_id, *hashed),
        ):
            known[keys[row[0]]] = StoredEntry(row[1], _hex(row[2]))
    fresh = [i for i in identities if i.key not in known]
    url_keys = {key_hash(u): u for u in sorted({i.url_key for i in fresh if i.url_key})}
    urls: dict[str, int] = {}
    for hashed in _chunks(list(url_keys)):
        marks = ",".join("?" * len(hashed))
        for row in conn.execute(
            f"SELECT url_hash, MIN(id) FROM articles WHERE url_hash IN ({marks}) GROUP BY url_hash",
            tuple(hashed),
        ):
            urls[url_keys[row[0]]] = row[1]
    hashes: dict[str, int] = {}
    for chunk in _chunks(sorted({i.text_hash for i in fresh})):
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(
            f"SELECT content_hash, MIN(id) FROM articles WHERE feed_id = ? "
            f"AND content_hash IN ({marks}) GROUP BY content_hash",
            (feed_id, *(bytes.fromhex(h) for h in chunk)),
        ):
            hashes[bytes(row[0]).hex()] = row[1]
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
    keys = {key_hash(i.key): i.key for i in identities}
    url_keys = {key_hash(u): u for u in sorted({i.url_key for i in identities if i.url_key})}
    with pipelined(conn):
        by_key = conn.execute(
            "SELECT s.key_hash, s.article_id, a.content_hash FROM seen_keys s"
            " LEFT JOIN articles a ON a.id = s.article_id"
            " WHERE s.feed_id = ? AND s.key_hash = ANY(?)",
            (feed_id, list(keys)),
        )
        # One index lookup per URL key, whatever the planner believes: without statistics
        # (a new database, until autovacuum's first ANALYZE) it takes "= ANY" of 30 keys
        # for a quarter of the table and scans all of it, in every poll of a first cycle.
        # A lateral subquery with OFFSET 0 is planned for one key at a time.
        by_url = conn.execute(
            "SELECT a.url_hash, a.id FROM unnest(?::bigint[]) AS k(u), LATERAL"
            " (SELECT url_hash, id FROM articles WHERE url_hash = k.u OFFSET 0) AS a",
            (list(url_keys),),
        )
        by_hash = conn.execute(
            "SELECT content_hash, MIN(id) FROM articles WHERE feed_id = ?"
            " AND content_hash = ANY(?::bytea[]) GROUP BY content_hash",
            (feed_id, [bytes.fromhex(h) for h in sorted({i.text_hash for i in identities})]),
        )
        known = {keys[row[0]]: StoredEntry(row[1], _hex(row[2])) for row in by_key.fetchall()}
        urls: dict[str, int] = {}
        for row in by_url.fetchall():
            url_key = url_keys[row[0]]
            if url_key not in urls or row[1] < urls[url_key]:
                urls[url_key] = row[1]
        hashes = {bytes(row[0]).hex(): row[1] for row in by_hash.fetchall()}
    return FeedSnapshot(feed_id, known, urls, hashes)


_PG_INSERT_ARTICLES = (
    "INSERT INTO articles (feed_id, key, url, canonical_url, url_hash, content_hash,"
    " title, summary, content, published, date_from_feed, language, authors, tags, body,"
    " first_seen, last_seen)"
    " SELECT ?::text, n.*, ?::text, ?::text FROM unnest(?::text[], ?::text[], ?::text[],"
    " ?::bigint[], ?::bytea[], ?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[],"
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
            "UPDATE seen_keys SET last_seen = ? WHERE feed_id = ? AND key_hash = ANY(?)",
            (stamp, feed_id, [key_hash(k.key) for k in intent.known]),
        )
        conn.execute(
            "UPDATE articles SET last_seen = ? WHERE id = ANY(?)",
            (stamp, sorted({k.article_id for k in intent.known})),
        )
    elif intent.known:
        conn.executemany(
            "UPDATE seen_keys SET last_seen = ? WHERE feed_id = ? AND key_hash = ?",
            [(stamp, feed_id, key_hash(k.key)) for k in intent.known],
        )
        conn.executemany(
            "UPDATE articles SET last_seen = ? WHERE id = ?",
            [(stamp, aid) for aid in {k.article_id for k in intent.known}],
        )
    columns = (
        "INSERT INTO articles (feed_id, key, url, canonical_url, url_hash, content_hash,"
        " title, summary, content, published, date_from_feed, language, authors, tags,"
        " first_seen, last_seen, body) VALUES "
    )
    marks = "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
    rows = [
        (
            feed_id,
            pack_key(e.article.key, e.article.url, e.article.canonical_url),
            e.article.url,
            pack_canonical(e.article.url, e.article.canonical_url),
            key_hash(e.url_key) if e.url_key else None,
            bytes.fromhex(e.text_hash),
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
    ids: list[int] = []
    if postgresql:
        # One INSERT ... SELECT FROM unnest: its identity column numbers the rows in the
        # arrays' order, so the ids sorted are the rows' ids in the intent's order; the
        # same statement text for any number of rows, prepared once (issue 11).
        if rows:
            arrays = [[row[c] for row in rows] for c in (*range(1, 14), 16)]
            cur = conn.execute(_PG_INSERT_ARTICLES, [feed_id, stamp, stamp, *arrays])
            ids = sorted(int(r[0]) for r in cur.fetchall())
    else:
        # One multi-row INSERT: SQLite's rowid (the largest plus one) numbers the VALUES
        # rows in order.  One statement for a feed's articles also means one flush of the
        # full-text index's pending terms (FTS5 flushes at every statement savepoint, and
        # an INSERT whose trigger writes the index opens one): 30 % of the insert's CPU
        # (issue 15).  50 rows of 17 parameters: an SQLite older than 3.32 takes 999.
        for i in range(0, len(rows), 50):
            chunk = rows[i : i + 50]
            cur = conn.execute(
                columns + ",".join([marks] * len(chunk)) + " RETURNING id",
                [value for row in chunk for value in row],
            )
            ids += sorted(int(r[0]) for r in cur.fetchall())
    new = [
        NewArticle(article_id, entry.article, first_seen=now, baseline=entry.baseline)
        for article_id, entry in zip(ids, intent.new, strict=True)
    ]
    if new and stamp is not None:
        tallies.add_articles(conn, feed_id, tallies.day_of(stamp), len(new))
    if intent.keys and postgresql:
        conn.execute(
            "INSERT INTO seen_keys (feed_id, key_hash, article_id, last_seen)"
            " SELECT ?::text, k, a, ?::text FROM unnest(?::bigint[], ?::bigint[]) AS n(k, a)"
            " ON CONFLICT (feed_id, key_hash) DO NOTHING",
            (
                feed_id,
                stamp,
                [key_hash(k.key) for k in intent.keys],
                [k.article_id if k.new_index is None else new[k.new_index].id for k in intent.keys],
            ),
        )
    elif intent.keys:
        conn.executemany(
            "INSERT INTO seen_keys (feed_id, key_hash, article_id, last_seen)"
            " VALUES (?,?,?,?) ON CONFLICT (feed_id, key_hash) DO NOTHING",
            [
                (
                    feed_id,
                    key_hash(k.key),
                    k.article_id if k.new_index is None else new[k.new_index].id,
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
    url = row["url"]
    canonical = unpack_canonical(url, row["canonical_url"])
    article = Article(
        feed_id=row["feed_id"],
        key=unpack_key(row["key"], url, canonical),
        title=row["title"],
        url=url,
        canonical_url=canonical,
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
