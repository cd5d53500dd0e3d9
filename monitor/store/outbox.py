"""Matches, the outbox and destination health.

The outbox is the delivery ledger: a row is created once per (article, target, kind)
(``idem_key`` is unique) in the same transaction as the article and its matches, and
is marked sent in the transaction that follows a successful send.  A crash between the
send and that commit is the only way to send a row twice.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.models import Hit, Match, OutboxEntry, Route, Snippet, Target
from monitor.store import tallies
from monitor.store.db import from_db, to_db
from monitor.store.engine import Connection, Row

PENDING = "pending"
SENT = "sent"
FAILED = "failed"


def _hit_to_json(hit: Hit) -> dict[str, Any]:
    # The fields in ``asdict``'s order, so the stored JSON is the same; ``asdict`` itself
    # (a recursive deep copy) cost 0.2 ms a matched article (issue 15).
    return {
        "term": hit.term,
        "text": hit.text,
        "field": hit.field,
        "start": hit.start,
        "end": hit.end,
        "snippet": {"text": hit.snippet.text, "marks": [list(m) for m in hit.snippet.marks]},
        "actor": hit.actor,
        "form": hit.form,
    }


def _hit_from_json(data: dict[str, Any]) -> Hit:
    snip = data.get("snippet") or {"text": "", "marks": []}
    return Hit(
        term=data["term"],
        text=data["text"],
        field=data["field"],
        start=data["start"],
        end=data["end"],
        actor=data.get("actor"),
        form=data.get("form"),
        snippet=Snippet(snip["text"], tuple(tuple(m) for m in snip["marks"])),
    )


def _hits_to_json(match: Match) -> str:
    # A list of hits; with hits left out (``Match.hit_count``) or a prominence below 1,
    # {"hits": [...], "count": n, "prominence": p}.
    hits = [_hit_to_json(h) for h in match.hits]
    if match.more_hits or match.prominence != 1.0:
        data = {"hits": hits, "count": match.hit_count, "prominence": match.prominence}
        return json.dumps(data, ensure_ascii=False)
    return json.dumps(hits, ensure_ascii=False)


def _hits_from_json(text: str) -> tuple[tuple[Hit, ...], int, float]:
    data = json.loads(text)
    if isinstance(data, dict):
        hits = tuple(_hit_from_json(h) for h in data["hits"])
        return hits, int(data["count"]), float(data.get("prominence", 1.0))
    return tuple(_hit_from_json(h) for h in data), len(data), 1.0


def record_matches(
    conn: Connection, article_id: int, matches: Sequence[Match], now: datetime
) -> None:
    if not matches:
        return
    first = conn.execute("SELECT 1 FROM matches WHERE article_id = ? LIMIT 1", (article_id,))
    new_article = first.fetchone() is None
    # feed and language copied onto the match: /trends groups 90 days of matches by them;
    # first_seen too: /articles lists matches in the article's order (one index walk)
    conn.executemany(
        "INSERT INTO matches (article_id, watchlist, score, hits, matched_at, feed_id, language,"
        " first_seen) VALUES (?, ?, ?, ?, ?, (SELECT feed_id FROM articles WHERE id = ?),"
        " (SELECT language FROM articles WHERE id = ?),"
        " (SELECT first_seen FROM articles WHERE id = ?))"
        " ON CONFLICT (article_id, watchlist) DO NOTHING",
        [
            (
                article_id,
                m.watchlist,
                m.score,
                _hits_to_json(m),
                to_db(now),
                article_id,
                article_id,
                article_id,
            )
            for m in matches
        ],
    )
    if new_article:
        tallies.add_matched(conn, 1)


def matches_for(conn: Connection, article_ids: Sequence[int]) -> dict[int, list[Match]]:
    out: dict[int, list[Match]] = {}
    ids = list(dict.fromkeys(article_ids))
    for i in range(0, len(ids), 400):
        chunk = ids[i : i + 400]
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(
            f"SELECT article_id, watchlist, score, hits FROM matches WHERE article_id IN ({marks})"
            " ORDER BY article_id, watchlist",
            chunk,
        ):
            hits, count, weight = _hits_from_json(row["hits"])
            out.setdefault(row["article_id"], []).append(
                Match(
                    watchlist=row["watchlist"],
                    score=row["score"],
                    hits=hits,
                    hit_count=count,
                    prominence=weight,
                )
            )
    return out


def enqueue(conn: Connection, routes: Sequence[Route], now: datetime) -> int:
    """Insert outbox rows; a row whose key exists already is left alone. Returns rows added."""
    before = conn.total_changes
    conn.executemany(
        "INSERT INTO outbox (idem_key, kind, destination, channel, address, article_id,"
        " watchlists, created, due, status, story_id) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
        " ON CONFLICT (idem_key) DO NOTHING",
        [
            (
                r.key,
                r.kind,
                r.target.destination,
                r.target.channel,
                r.target.address,
                r.article_id,
                json.dumps(list(r.watchlists)),
                to_db(now),
                to_db(r.due),
                PENDING,
                r.story_id,
            )
            for r in routes
        ],
    )
    return conn.total_changes - before


def _entry(row: Row) -> OutboxEntry:
    created = from_db(row["created"])
    due = from_db(row["due"])
    assert created is not None
    assert due is not None
    return OutboxEntry(
        id=row["id"],
        kind=row["kind"],
        target=Target(row["destination"], row["channel"], row["address"]),
        article_id=row["article_id"],
        watchlists=tuple(json.loads(row["watchlists"])),
        created=created,
        due=due,
        status=row["status"],
        attempts=row["attempts"],
        last_error=row["last_error"],
        remote_id=row["remote_id"],
        story_id=row["story_id"],
        edit_of=row["edit_of"],
    )


def entry(conn: Connection, outbox_id: int) -> OutboxEntry | None:
    """One row by id (None: never existed, or pruned)."""
    row = conn.execute("SELECT * FROM outbox WHERE id = ?", (outbox_id,)).fetchone()
    return None if row is None else _entry(row)


def due_entries(conn: Connection, kind: str, now: datetime, limit: int = 1000) -> list[OutboxEntry]:
    """Pending rows of ``kind`` whose next attempt is due, oldest first."""
    rows = conn.execute(
        "SELECT * FROM outbox WHERE status = ? AND kind = ? AND due <= ? ORDER BY id LIMIT ?",
        (PENDING, kind, to_db(now), limit),
    )
    return [_entry(r) for r in rows]


def pending_for_target(
    conn: Connection, kind: str, target: Target, now: datetime | None = None
) -> list[OutboxEntry]:
    sql = (
        "SELECT * FROM outbox WHERE status = ? AND kind = ? AND destination = ?"
        " AND channel = ? AND address = ?"
    )
    params: list[Any] = [PENDING, kind, target.destination, target.channel, target.address]
    if now is not None:
        sql += " AND due <= ?"
        params.append(to_db(now))
    return [_entry(r) for r in conn.execute(sql + " ORDER BY id", params)]


def pending_targets(conn: Connection, kind: str) -> list[Target]:
    return [
        Target(r[0], r[1], r[2])
        for r in conn.execute(
            "SELECT DISTINCT destination, channel, address FROM outbox"
            " WHERE status = ? AND kind = ? ORDER BY 1, 2, 3",
            (PENDING, kind),
        )
    ]


def mark_sent(conn: Connection, ids: Sequence[int], now: datetime, remote_id: str | None) -> None:
    conn.executemany(
        "UPDATE outbox SET status = ?, sent_at = ?, remote_id = ?, attempts = attempts + 1,"
        " last_error = NULL WHERE id = ? AND status = ?",
        [(SENT, to_db(now), remote_id, i, PENDING) for i in ids],
    )


def mark_retry(conn: Connection, ids: Sequence[int], due: datetime, error: str) -> None:
    conn.executemany(
        # The lease ends with the attempt: the retry is due at ``due`` on any instance.
        "UPDATE outbox SET due = ?, attempts = attempts + 1, last_error = ?,"
        " lease_owner = NULL, lease_until = NULL WHERE id = ?",
        [(to_db(due), error, i) for i in ids],
    )


def release_unhealthy(conn: Connection, now: datetime) -> int:
    """Make the pending rows of every unhealthy destination due at ``now``; returns how
    many waited longer.  (New settings may have fixed what made them unhealthy.)"""
    return int(
        conn.execute(
            "UPDATE outbox SET due = ? WHERE status = ? AND due > ? AND EXISTS ("
            " SELECT 1 FROM destinations d WHERE d.healthy = 0"
            " AND d.destination = outbox.destination AND d.address = outbox.address)",
            (to_db(now), PENDING, to_db(now)),
        ).rowcount
    )


def mark_failed(conn: Connection, ids: Sequence[int], error: str) -> None:
    conn.executemany(
        "UPDATE outbox SET status = ?, attempts = attempts + 1, last_error = ? WHERE id = ?",
        [(FAILED, error, i) for i in ids],
    )


@dataclass(frozen=True, slots=True)
class OutboxStats:
    """Rows of the outbox per "kind:status" ("alert:pending" -> 3) and the creation time
    of the oldest pending alert (None when none waits)."""

    counts: dict[str, int]
    oldest_pending_alert: datetime | None


def outbox_stats(conn: Connection) -> OutboxStats:
    counts = {
        f"{r[0]}:{r[1]}": int(r[2])
        for r in conn.execute("SELECT kind, status, COUNT(*) FROM outbox GROUP BY kind, status")
    }
    oldest = conn.execute(
        "SELECT MIN(created) FROM outbox WHERE status = ? AND kind = 'alert'", (PENDING,)
    ).fetchone()[0]
    return OutboxStats(counts, from_db(oldest))


# --- destination health and digest bookkeeping -------------------------------------------


def touch_destination(conn: Connection, target: Target, now: datetime) -> None:
    conn.execute(
        "INSERT INTO destinations (destination, address, channel, first_seen) VALUES (?,?,?,?)"
        " ON CONFLICT (destination, address) DO NOTHING",
        (target.destination, target.address, target.channel, to_db(now)),
    )


def record_delivery(
    conn: Connection,
    target: Target,
    now: datetime,
    error: str | None,
    permanent: bool = False,
    via: str | None = None,
) -> None:
    """Record one attempt for ``target``; ``via`` names the stand-in that took a
    successful send ("console (no TELEGRAM_BOT_TOKEN)"), None for the real transport."""
    touch_destination(conn, target, now)
    if error is None:
        conn.execute(
            "UPDATE destinations SET healthy = 1, last_success = ?, via = ?"
            " WHERE destination = ? AND address = ?",
            (to_db(now), via, target.destination, target.address),
        )
    else:
        conn.execute(
            "UPDATE destinations SET healthy = ?, last_error = ?, last_failure = ?"
            " WHERE destination = ? AND address = ?",
            (0 if permanent else 1, error, to_db(now), target.destination, target.address),
        )


def record_digest(conn: Connection, target: Target, now: datetime) -> None:
    touch_destination(conn, target, now)
    conn.execute(
        "UPDATE destinations SET last_digest = ?, digests_sent = digests_sent + 1"
        " WHERE destination = ? AND address = ?",
        (to_db(now), target.destination, target.address),
    )


@dataclass(frozen=True, slots=True)
class DestinationRow:
    """One row of the ``destinations`` table (fields in its column order, which
    ``monitor status --json`` keeps); ``via`` names the stand-in that took the last
    successful send, None for the real transport."""

    destination: str
    address: str
    channel: str
    first_seen: datetime
    healthy: bool
    last_error: str | None
    last_success: datetime | None
    last_failure: datetime | None
    last_digest: datetime | None
    digests_sent: int
    via: str | None


def _destination(r: Row) -> DestinationRow:
    return DestinationRow(
        destination=r["destination"],
        address=r["address"],
        channel=r["channel"],
        first_seen=datetime.fromisoformat(r["first_seen"]),  # NOT NULL
        healthy=bool(r["healthy"]),
        last_error=r["last_error"],
        last_success=from_db(r["last_success"]),
        last_failure=from_db(r["last_failure"]),
        last_digest=from_db(r["last_digest"]),
        digests_sent=int(r["digests_sent"]),
        via=r["via"],
    )


def destination_rows(conn: Connection) -> list[DestinationRow]:
    return [
        _destination(r)
        for r in conn.execute("SELECT * FROM destinations ORDER BY destination, address")
    ]


def destination_row(conn: Connection, target: Target) -> DestinationRow | None:
    r = conn.execute(
        "SELECT * FROM destinations WHERE destination = ? AND address = ?",
        (target.destination, target.address),
    ).fetchone()
    return None if r is None else _destination(r)


@dataclass(frozen=True, slots=True)
class FailedRow:
    """An outbox row that was given up on, with the error that closed it."""

    id: int
    kind: str
    destination: str
    address: str
    last_error: str | None


def recent_failures(conn: Connection, limit: int = 10) -> list[FailedRow]:
    return [
        FailedRow(int(r[0]), r[1], r[2], r[3], r[4])
        for r in conn.execute(
            "SELECT id, kind, destination, address, last_error FROM outbox WHERE status = ?"
            " ORDER BY id DESC LIMIT ?",
            (FAILED, limit),
        )
    ]


def recent_matched_articles(
    conn: Connection,
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
    total = int(
        conn.execute(f"SELECT COUNT(*) FROM articles a WHERE {where}", params).fetchone()[0]
    )
    rows = conn.execute(
        f"SELECT a.id FROM articles a WHERE {where} ORDER BY a.published DESC, a.id DESC LIMIT ?",
        [*params, limit],
    )
    return [int(r[0]) for r in rows], total


# --- stories: later sources of an alerted story -------------------------------------------


def enqueue_story_updates(conn: Connection, story_id: int, article_id: int, now: datetime) -> int:
    """A new article joined ``story_id``: queue an edit of every Telegram alert already
    sent for the story, so it lists the new source ("also: ...").  Returns rows added."""
    rows = conn.execute(
        "SELECT DISTINCT destination, channel, address, remote_id FROM outbox"
        " WHERE story_id = ? AND kind = 'alert' AND status = ? AND channel = 'telegram'"
        " AND remote_id IS NOT NULL",
        (story_id, SENT),
    ).fetchall()
    before = conn.total_changes
    conn.executemany(
        "INSERT INTO outbox (idem_key, kind, destination, channel, address, article_id,"
        " watchlists, created, due, status, story_id, edit_of)"
        " VALUES (?, 'update', ?, ?, ?, ?, '[]', ?, ?, ?, ?, ?)"
        " ON CONFLICT (idem_key) DO NOTHING",
        [
            (
                f"update|{r[0]}|{r[1]}|{r[2]}|{r[3]}|{article_id}",
                r[0],
                r[1],
                r[2],
                article_id,
                to_db(now),
                to_db(now),
                PENDING,
                story_id,
                r[3],
            )
            for r in rows
        ],
    )
    return conn.total_changes - before


def sent_with(conn: Connection, target: Target, remote_id: str) -> list[OutboxEntry]:
    """The alert rows delivered in one Telegram message (to re-render it for an edit)."""
    return [
        _entry(r)
        for r in conn.execute(
            "SELECT * FROM outbox WHERE kind = 'alert' AND status = ? AND destination = ?"
            " AND channel = ? AND address = ? AND remote_id = ? ORDER BY id",
            (SENT, target.destination, target.channel, target.address, remote_id),
        )
    ]


def merge_story_rows(conn: Connection, keep: int, absorbed: Sequence[int]) -> None:
    """Stories merged by the dedupe index: their outbox rows follow."""
    conn.executemany(
        "UPDATE outbox SET story_id = ? WHERE story_id = ?", [(keep, old) for old in absorbed]
    )


def stories_of(conn: Connection, article_ids: Sequence[int]) -> dict[int, int]:
    """article id -> story id, for the articles that belong to a story."""
    out: dict[int, int] = {}
    ids = list(dict.fromkeys(article_ids))
    for i in range(0, len(ids), 400):
        chunk = ids[i : i + 400]
        marks = ",".join("?" * len(chunk))
        for r in conn.execute(
            f"SELECT article_id, story_id FROM story_articles WHERE article_id IN ({marks})",
            chunk,
        ):
            out[int(r[0])] = int(r[1])
    return out


def next_due(
    conn: Connection, kinds: Sequence[str], live_lease: str | None = None
) -> datetime | None:
    """When the earliest pending row of these kinds falls due (None: nothing waits).
    ``live_lease``: on PostgreSQL, the SQL of "another instance alive holds this row"
    (``leases.LIVE``), whose row falls due when its lease ends (``leases.claim_outbox``);
    SQLite has no other instance, and a lease left in its file means nothing."""
    marks = ",".join("?" * len(kinds))
    when = "due"
    if live_lease is not None:
        when = f"CASE WHEN lease_until > due AND {live_lease} THEN lease_until ELSE due END"
    row = conn.execute(
        f"SELECT MIN({when}) FROM outbox WHERE status = ? AND kind IN ({marks})",
        (PENDING, *kinds),
    ).fetchone()
    return from_db(row[0]) if row and row[0] else None


def prune(conn: Connection, before: datetime) -> int:
    """Forget outbox rows delivered or failed before ``before``, and the matches of
    articles that no longer exist.  Pending rows are never dropped."""
    gone = conn.execute(
        "DELETE FROM outbox WHERE status IN (?, ?) AND created < ?", (SENT, FAILED, to_db(before))
    ).rowcount
    if conn.execute(
        "DELETE FROM matches WHERE article_id NOT IN (SELECT id FROM articles)"
    ).rowcount:
        tallies.recount_matched(conn)
    return int(gone)
