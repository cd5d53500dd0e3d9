"""Read-only queries of the web dashboard (issue 12), as typed values.

Every SQL statement the dashboard runs is here, so that a second storage engine only
adds its own version of this module.  Each function takes a connection and an explicit
``now``; none writes.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from monitor.models import Match
from monitor.store import tallies
from monitor.store.articles import StoredArticle, row_to_article
from monitor.store.db import from_db, storage_error, to_db
from monitor.store.engine import Connection, Row, dialect
from monitor.store.migrations import SEARCH_CONFIG
from monitor.store.outbox import PENDING, matches_for
from monitor.store.stories import StoryMember, StoryRow

MARK_START = "\x02"
MARK_END = "\x03"
"""Around each search hit in ``ArticleView.highlight`` (never in feed text: the parser
drops control characters)."""

COUNT_CAP = 1000
"""Searches and filtered lists count their results up to this many (then "over 1,000")."""
_TERM = re.compile(r'"([^"]+)"|(\w+)', re.UNICODE)
HEADLINE = f"StartSel={MARK_START}, StopSel={MARK_END}, MaxWords=24, MinWords=12, MaxFragments=1"
"""PostgreSQL's ts_headline options: FTS5's snippet of 24 tokens, hits marked alike."""


@dataclass(frozen=True, slots=True)
class AlertLine:
    sent_at: datetime
    destination: str
    channel: str
    article_id: int
    title: str
    url: str | None
    watchlists: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Overview:
    articles: int
    matched: int
    feeds_failing: int
    alerts_pending: int
    digests_pending: int
    oldest_pending_alert: datetime | None
    alerts_sent_today: int
    digests_sent_today: int
    recent_alerts: tuple[AlertLine, ...]


@dataclass(frozen=True, slots=True)
class ArticleQuery:
    """What ``/articles`` asks for; empty strings mean "any"."""

    q: str = ""
    watchlist: str = ""
    feed: str = ""
    language: str = ""
    since: date | None = None
    until: date | None = None
    page: int = 1
    per_page: int = 25


@dataclass(frozen=True, slots=True)
class ArticleView:
    id: int
    feed_id: str
    title: str
    url: str | None
    published: datetime | None
    first_seen: datetime
    language: str | None
    summary: str
    matches: tuple[Match, ...]
    highlight: str | None
    """With ``?q=``: an extract of the text with each hit between MARK_START and MARK_END."""


@dataclass(frozen=True, slots=True)
class ArticlePage:
    query: ArticleQuery
    fts_query: str | None
    total: int
    items: tuple[ArticleView, ...]
    capped: bool = False
    """``total`` stopped counting at COUNT_CAP + 1: there are more."""

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.per_page))


@dataclass(frozen=True, slots=True)
class FeedHealth:
    feed_id: str
    url: str
    last_attempt: datetime | None
    last_success: datetime | None
    last_status: int | None
    last_error: str | None
    consecutive_failures: int
    next_poll: datetime | None
    articles_seen: int
    last_new: datetime | None
    created: datetime | None
    per_day: tuple[int, ...]
    """New articles per day, oldest first, ending today."""


@dataclass(frozen=True, slots=True)
class TrendSeries:
    name: str
    counts: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True, slots=True)
class Trends:
    by: str
    days: tuple[date, ...]
    series: tuple[TrendSeries, ...]


@dataclass(frozen=True, slots=True)
class Facets:
    """The values the filters of ``/articles`` offer."""

    watchlists: tuple[str, ...]
    feeds: tuple[str, ...]
    languages: tuple[str, ...]


def _postgresql(conn: Connection) -> bool:
    """The engine differs where SQLite has its own syntax: FTS5, INDEXED BY."""
    return dialect(conn) == "postgresql"


def _day_start(now: datetime) -> str:
    start = to_db(now.replace(hour=0, minute=0, second=0, microsecond=0))
    assert start is not None
    return start


def overview(conn: Connection, now: datetime, recent: int = 20) -> Overview:
    today = _day_start(now)
    pending = {
        r[0]: r[1]
        for r in conn.execute(
            "SELECT kind, COUNT(*) FROM outbox WHERE status = ? GROUP BY kind", (PENDING,)
        )
    }
    sent_today = {
        kind: int(
            conn.execute(
                "SELECT COUNT(*) FROM outbox WHERE kind = ? AND sent_at >= ?", (kind, today)
            ).fetchone()[0]
        )
        for kind in ("alert", "digest")
    }
    # INDEXED BY (SQLite's own): with statistics saying nearly every row is sent, SQLite
    # scanned them all
    hint = "" if _postgresql(conn) else " INDEXED BY outbox_due"
    oldest = conn.execute(
        f"SELECT MIN(created) FROM outbox{hint} WHERE status = ? AND kind = 'alert'",
        (PENDING,),
    ).fetchone()[0]
    alerts = conn.execute(
        "SELECT o.sent_at, o.destination, o.channel, o.article_id, o.watchlists, a.title, a.url"
        " FROM outbox o LEFT JOIN articles a ON a.id = o.article_id"
        " WHERE o.kind = 'alert' AND o.sent_at IS NOT NULL ORDER BY o.sent_at DESC LIMIT ?",
        (recent,),
    ).fetchall()
    counted = tallies.read(conn)  # kept on write: a COUNT(*) walked every article
    return Overview(
        articles=counted.get(tallies.ARTICLES, 0),
        matched=counted.get(tallies.MATCHED, 0),
        feeds_failing=int(
            conn.execute("SELECT COUNT(*) FROM feeds WHERE consecutive_failures > 0").fetchone()[0]
        ),
        alerts_pending=pending.get("alert", 0),
        digests_pending=pending.get("digest", 0),
        oldest_pending_alert=from_db(oldest),
        alerts_sent_today=sent_today.get("alert", 0),
        digests_sent_today=sent_today.get("digest", 0),
        recent_alerts=tuple(
            AlertLine(
                sent_at=_when(r[0]),
                destination=r[1],
                channel=r[2],
                article_id=r[3],
                title=r[5] or "(forgotten article)",
                url=r[6],
                watchlists=tuple(json.loads(r[4] or "[]")),
            )
            for r in alerts
        ),
    )


def fts_query(text: str) -> str | None:
    """The words and "quoted phrases" of a search box as an FTS5 query (every one must
    occur); None when there is nothing to search for.  Quoting each term keeps FTS5's
    own syntax (``AND``, ``*``, ``:``, ``^``) from turning user input into an error."""
    terms = []
    for phrase, word in _TERM.findall(text):
        term = phrase.strip() or word
        if term:
            terms.append('"' + term.replace('"', "") + '"')
    return " ".join(terms) if terms else None


def articles(conn: Connection, query: ArticleQuery) -> ArticlePage:
    """Matched articles, newest first, filtered and searched; one page of them."""
    # Matched articles are a small share of the stored ones: start from matches.
    where = ["a.id IN (SELECT article_id FROM matches{})"]
    params: list[object] = []
    inner = ""
    if query.watchlist:
        inner = " WHERE watchlist = ?"
        params.append(query.watchlist)
    where[0] = where[0].format(inner)
    if query.feed:
        where.append("a.feed_id = ?")
        params.append(query.feed)
    if query.language:
        where.append("a.language = ?")
        params.append(query.language)
    if query.since:
        where.append("a.first_seen >= ?")
        params.append(query.since.isoformat())
    if query.until:
        where.append("a.first_seen < ?")
        params.append((query.until + timedelta(days=1)).isoformat())
    match = fts_query(query.q)
    page = max(1, query.page)
    window = [query.per_page, (page - 1) * query.per_page]
    if match is not None and _postgresql(conn):
        # articles_search holds each article's tsvector (monitor_search: 'simple', no
        # stemming, like unicode61, behind unaccent, like remove_diacritics 2);
        # websearch_to_tsquery reads the same "phrase" word syntax, every term
        # required.  ts_headline marks the hits in the text of the page's rows only.
        where.append(f"s.search @@ websearch_to_tsquery('{SEARCH_CONFIG}', ?)")
        params.append(match)
        clause = " AND ".join(where)
        source = "articles_search s JOIN articles a ON a.id = s.article_id"
        total = _count(conn, f"SELECT 1 FROM {source} WHERE {clause}", params)
        text = " || ' ' || ".join(
            f"coalesce(a.{c}, '')" for c in ("title", "summary", "content", "body")
        )
        rows = conn.execute(
            f"SELECT a.*, ts_headline('{SEARCH_CONFIG}', {text},"
            f" websearch_to_tsquery('{SEARCH_CONFIG}', ?),"
            " ?) AS extract"
            f" FROM {source} WHERE {clause} ORDER BY s.article_id DESC LIMIT ? OFFSET ?",
            [match, HEADLINE, *params, *window],
        ).fetchall()
    elif match is not None:
        # FTS5 walks its index newest rowid first and stops at the LIMIT; a count of every
        # hit of a common word would read its whole posting list, so it stops at COUNT_CAP.
        where.append("articles_fts MATCH ?")
        params.append(match)
        clause = " AND ".join(where)
        source = "articles_fts f JOIN articles a ON a.id = f.rowid"
        total = _count(conn, f"SELECT 1 FROM {source} WHERE {clause} ORDER BY f.rowid DESC", params)
        rows = conn.execute(
            f"SELECT a.*, snippet(articles_fts, -1, '{MARK_START}', '{MARK_END}', '…', 24)"
            f" AS extract FROM {source} WHERE {clause} ORDER BY f.rowid DESC LIMIT ? OFFSET ?",
            [*params, *window],
        ).fetchall()
    else:
        total, rows = _listed(conn, query, window)
    found = matches_for(conn, [r["id"] for r in rows])
    items = tuple(
        ArticleView(
            id=r["id"],
            feed_id=r["feed_id"],
            title=r["title"],
            url=r["url"],
            published=from_db(r["published"]),
            first_seen=_when(r["first_seen"]),
            language=r["language"],
            summary=r["summary"] or "",
            matches=tuple(found.get(r["id"], ())),
            highlight=r["extract"],
        )
        for r in rows
    )
    capped = total > COUNT_CAP and (match is not None or len(where) > 1)
    return ArticlePage(query=query, fts_query=match, total=total, items=items, capped=capped)


def _listed(conn: Connection, query: ArticleQuery, window: list[int]) -> tuple[int, list[Row]]:
    """The count and one page of the matched articles (or one watchlist's), newest first,
    filtered by feed, language and first-seen date.

    Each match row carries its article's feed, language and ``first_seen``, and the
    indexes ``matches_newest`` and ``matches_listed`` (with a watchlist) hold them in
    list order: the page is a walk of one index that stops at its LIMIT, filters read in
    the index, then the page's article rows by id.  Walking the articles and probing
    ``matches`` for each took PostgreSQL 400 ms at 1,000,000 articles, a feed's list
    SQLite a second (issue 12).  Without a watchlist an article matched by several has
    a row each, side by side in the index: DISTINCT keeps one.
    """
    where = ["first_seen IS NOT NULL"]
    params: list[object] = []
    for column, value in (
        ("watchlist", query.watchlist),
        ("feed_id", query.feed),
        ("language", query.language),
    ):
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    if query.since:
        where.append("first_seen >= ?")
        params.append(query.since.isoformat())
    if query.until:
        where.append("first_seen < ?")
        params.append((query.until + timedelta(days=1)).isoformat())
    distinct = "" if query.watchlist else "DISTINCT "
    pick = f"SELECT {distinct}first_seen, article_id FROM matches WHERE {' AND '.join(where)}"
    if len(params) == 1 and query.watchlist:  # a match row is one article's
        total = int(
            conn.execute(
                "SELECT COUNT(*) FROM matches WHERE watchlist = ?", (query.watchlist,)
            ).fetchone()[0]
        )
    elif not params:  # every matched article: kept on write
        total = tallies.read(conn).get(tallies.MATCHED, 0)
    else:
        total = _count(conn, pick, params)
    rows = conn.execute(
        f"SELECT a.*, NULL AS extract FROM ({pick}"
        " ORDER BY first_seen DESC, article_id DESC LIMIT ? OFFSET ?) AS p"
        " JOIN articles a ON a.id = p.article_id"
        " ORDER BY p.first_seen DESC, p.article_id DESC",
        [*params, *window],
    ).fetchall()
    return total, rows


def _count(conn: Connection, select: str, params: list[object]) -> int:
    """Rows of ``select``, counted up to COUNT_CAP + 1 (the page says "over 1,000")."""
    sql = f"SELECT COUNT(*) FROM ({select} LIMIT {COUNT_CAP + 1}) AS counted"
    return int(conn.execute(sql, params).fetchone()[0])


def article(conn: Connection, article_id: int) -> ArticleView | None:
    row = conn.execute("SELECT * FROM articles WHERE id = ?", (article_id,)).fetchone()
    if row is None:
        return None
    found = matches_for(conn, [article_id])
    return ArticleView(
        id=row["id"],
        feed_id=row["feed_id"],
        title=row["title"],
        url=row["url"],
        published=from_db(row["published"]),
        first_seen=_when(row["first_seen"]),
        language=row["language"],
        summary=row["summary"] or "",
        matches=tuple(found.get(article_id, ())),
        highlight=None,
    )


def facets(conn: Connection) -> Facets:
    return Facets(
        watchlists=_distinct(conn, "matches", "watchlist"),
        feeds=tuple(r[0] for r in conn.execute("SELECT id FROM feeds ORDER BY id")),
        languages=_distinct(conn, "articles", "language"),
    )


def _distinct(conn: Connection, table: str, column: str) -> tuple[str, ...]:
    """The values of an indexed ``column``, in order: one index seek per value (a skip
    scan), not a walk of every row as ``SELECT DISTINCT`` is on both engines."""
    return tuple(
        r[0]
        for r in conn.execute(
            f"WITH RECURSIVE d(v) AS (SELECT MIN({column}) FROM {table} UNION ALL"
            f" SELECT (SELECT MIN({column}) FROM {table} WHERE {column} > d.v) FROM d"
            " WHERE d.v IS NOT NULL) SELECT v FROM d WHERE v IS NOT NULL"
        )
    )


def feed_health(conn: Connection, now: datetime, days: int = 14) -> list[FeedHealth]:
    """Every feed the database knows, with new articles per day over the last ``days``."""
    first = (now - timedelta(days=days - 1)).date()
    per_day: dict[str, list[int]] = {}
    for feed_id, day, count in conn.execute(
        # counted on write (monitor.store.tallies): 14 days of articles were 38,000 index
        # entries at 1,000,000 articles
        "SELECT feed_id, day, articles FROM article_days WHERE day >= ?",
        (first.isoformat(),),
    ):
        offset = (date.fromisoformat(day) - first).days
        if 0 <= offset < days:
            per_day.setdefault(feed_id, [0] * days)[offset] = count
    out = []
    for r in conn.execute("SELECT * FROM feeds ORDER BY id"):
        out.append(
            FeedHealth(
                feed_id=r["id"],
                url=r["url"],
                last_attempt=from_db(r["last_attempt"]),
                last_success=from_db(r["last_success"]),
                last_status=r["last_status"],
                last_error=r["last_error"],
                consecutive_failures=r["consecutive_failures"],
                next_poll=from_db(r["next_poll"]),
                articles_seen=r["articles_seen"],
                last_new=from_db(r["last_new"]),
                created=from_db(r["created"]),
                per_day=tuple(per_day.get(r["id"], [0] * days)),
            )
        )
    return out


TREND_GROUPS = {
    "watchlist": "watchlist",
    "language": "COALESCE(language, '?')",
    "feed": "COALESCE(feed_id, '?')",
}


def trends(conn: Connection, now: datetime, days: int, by: str = "watchlist") -> Trends:
    """Matches per day over the last ``days`` (ending today), one series per watchlist,
    language or feed (``by``), largest first.

    Raises:
        ValueError: ``by`` is not one of TREND_GROUPS.
    """
    group = TREND_GROUPS.get(by)
    if group is None:
        raise ValueError(f"trends: unknown grouping {by!r}")
    first = (now - timedelta(days=days - 1)).date()
    axis = tuple(first + timedelta(days=n) for n in range(days))
    series: dict[str, list[int]] = {}
    # each grouping has its covering index on matches: (watchlist, matched_at),
    # (matched_at, feed_id), (matched_at, language); no article row is read.
    # (watchlist, day) pairs are few; (feed, day) pairs nearly as many as the matches
    # (8,800 of 12,000 over 90 days at 1,000,000 articles): SQLite's temporary B-tree
    # for so many groups took twice as long as counting the rows here, which takes a
    # third less CPU straight into the series than through a Counter of pairs (10 ms
    # against 15).  PostgreSQL groups them in a hash table: half the rows to Python.
    one_per_match = by == "feed" and not _postgresql(conn)
    count = "1" if one_per_match else "COUNT(*)"
    grouped = "" if one_per_match else " GROUP BY 1, 2"
    offsets = {day.isoformat(): n for n, day in enumerate(axis)}  # not a date per row
    for name, day, n in conn.execute(
        f"SELECT {group}, substr(matched_at, 1, 10), {count} FROM matches"
        f" WHERE matched_at >= ?{grouped}",
        (first.isoformat(),),
    ):
        offset = offsets.get(day)
        if offset is None:
            continue
        counts = series.get(name)
        if counts is None:
            counts = series[name] = [0] * days
        counts[offset] += n
    ordered = sorted(series.items(), key=lambda kv: (-sum(kv[1]), kv[0]))
    return Trends(by, axis, tuple(TrendSeries(n, tuple(c)) for n, c in ordered))


def stories(conn: Connection, now: datetime, days: int = 7, limit: int = 50) -> list[StoryRow]:
    """The ``limit`` stories seen last within ``days``, newest first, with their articles."""
    found = conn.execute(
        "SELECT id, title, first_seen, last_seen FROM stories WHERE last_seen >= ?"
        " ORDER BY last_seen DESC, id DESC LIMIT ?",
        (to_db(now - timedelta(days=days)), limit),
    ).fetchall()
    members: dict[int, list[StoryMember]] = {sid: [] for sid, *_ in found}
    if members:
        marks = ",".join("?" * len(members))
        for m in conn.execute(
            "SELECT s.story_id, s.article_id, s.feed_id, a.title, a.url, a.published,"
            " s.relation, s.related_id, s.score, s.seen FROM story_articles s"
            " LEFT JOIN articles a ON a.id = s.article_id"
            f" WHERE s.story_id IN ({marks}) ORDER BY s.seen, s.article_id",
            list(members),
        ):
            members[m[0]].append(
                StoryMember(
                    m[1], m[2], m[3] or "", m[4], from_db(m[5]), m[6], m[7], m[8], _when(m[9])
                )
            )
    return [
        StoryRow(sid, title, _when(first), _when(last), tuple(members[sid]))
        for sid, title, first, last in found
    ]


def _when(text: str) -> datetime:
    value = from_db(text)
    assert value is not None
    return value


def open_reader(path: str | Path, database_url: str | None = None) -> Connection:
    """A read-only connection to the state database for the dashboard's queries, used from
    a worker thread (one query at a time) so a slow search never holds up the event loop.
    SQLite: the file at ``path`` (WAL lets it read while the service writes); with
    ``database_url``, PostgreSQL (``pg.connect_reader``).

    Raises:
        StorageError: the database cannot be opened.
    """
    if database_url:
        from monitor.store import pg

        return pg.connect_reader(database_url)
    try:
        conn = sqlite3.connect(
            Path(path).absolute().as_uri() + "?mode=ro",
            uri=True,
            timeout=30.0,
            check_same_thread=False,
        )
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA query_only = ON")
    except sqlite3.Error as exc:
        raise storage_error(exc, path) from exc
    return conn


def lab_articles(conn: Connection, since: datetime, limit: int) -> list[StoredArticle]:
    """The newest ``limit`` stored articles first seen since ``since`` whose text is kept
    (what ``/lab`` replays), oldest first."""
    rows = conn.execute(
        "SELECT * FROM articles WHERE first_seen >= ? AND pruned = 0"
        " ORDER BY first_seen DESC, id DESC LIMIT ?",
        (to_db(since), limit),
    ).fetchall()
    return [row_to_article(r) for r in reversed(rows)]


def stored_article(conn: Connection, article_id: int) -> StoredArticle | None:
    row = conn.execute("SELECT * FROM articles WHERE id = ?", (article_id,)).fetchone()
    return row_to_article(row) if row is not None else None
