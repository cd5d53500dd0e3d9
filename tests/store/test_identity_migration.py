"""Identity version 2 re-keys a state the old code wrote: no known article looks new."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor import identity
from monitor.parse import parse_feed
from monitor.store.db import DB_NAME, identity_version, migrate
from monitor.store.migrations import MIGRATIONS
from tests.support.app import make_app
from tests.support.feedserver import FeedServer, rss_feed

# built from SQLite files of version 1 (PostgreSQL starts at the current identity)
pytestmark = pytest.mark.sqlite_only

BEFORE = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
VERSION_1_MIGRATIONS = next(
    i for i, m in enumerate(MIGRATIONS) if m.name.startswith("identity version 2")
)
"""Migrations before identity version 2: the schema the old code wrote."""

OLD_ITEMS = [
    ("g1", "EU agrees AI Act deal", "https://m.news.example.eu/ai-act"),
    ("g2", "AI Act: the fine print on facial recognition", "https://news.example.eu/fine-print"),
]


# Version 1's keys, as monitor.store.articles computed them before issue 11.
def old_url_key(canonical_url: str | None) -> str | None:
    if not canonical_url:
        return None
    return re.sub(r"^[a-z][a-z0-9+.-]*://(?:www\.)?", "", canonical_url, flags=re.I).rstrip("/")


def old_content_hash(title: str, summary: str) -> str:
    text = f"{title}\n{summary}".casefold()
    return hashlib.sha1(" ".join(re.findall(r"\w+", text)).encode()).hexdigest()


def write_version_1_state(state: Path, feed_id: str, body: bytes) -> None:
    """The rows the old ``add_articles`` wrote for one poll of ``body``."""
    state.mkdir()
    conn = sqlite3.connect(state / DB_NAME, isolation_level=None)
    migrate(conn, target=VERSION_1_MIGRATIONS)
    stamp = BEFORE.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    parsed = parse_feed(body, feed_id=feed_id, url="https://news.example.eu/a.xml", now=BEFORE)
    for a in parsed.articles:
        cur = conn.execute(
            "INSERT INTO articles (feed_id, key, url, canonical_url, url_key, content_hash,"
            " title, summary, content, published, first_seen, last_seen)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                feed_id,
                a.key,
                a.url,
                a.canonical_url,
                old_url_key(a.canonical_url),
                old_content_hash(a.title, a.summary),
                a.title,
                a.summary,
                a.content,
                stamp,
                stamp,
                stamp,
            ),
        )
        conn.execute(
            "INSERT INTO seen_keys (feed_id, key, article_id, first_seen, last_seen)"
            " VALUES (?,?,?,?,?)",
            (feed_id, a.key, cur.lastrowid, stamp, stamp),
        )
    conn.close()


def test_old_state_migrates_and_a_poll_finds_nothing_new(feed_server: FeedServer, tmp_path: Path):
    old_body = rss_feed("A", OLD_ITEMS)
    app = make_app(tmp_path, {"a": feed_server.url("/a.xml"), "b": feed_server.url("/b.xml")})
    write_version_1_state(app.state, "a", old_body)
    # Feed a regenerated the guid and URL of its second entry (same title and text: the
    # text hash knows it); feed b, never polled, syndicates the first one under the URL
    # it had in feed a (its URL key knows it: version 2 drops the "m." mirror).
    feed_server.feed(
        "/a.xml",
        rss_feed("A", [OLD_ITEMS[0], ("g2-new", OLD_ITEMS[1][1], "https://news.example.eu/9")]),
    )
    feed_server.feed("/b.xml", rss_feed("B", [("b-1", OLD_ITEMS[0][1], OLD_ITEMS[0][2])]))

    report = app.poll()

    assert [(r.feed_id, r.status, r.new) for r in report.feeds] == [("a", "ok", 0), ("b", "ok", 0)]
    with app.store() as store:
        assert identity_version(store.conn) == identity.VERSION
        assert store.count_articles() == 2
        assert store.conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 0
        assert store.conn.execute("SELECT COUNT(*) FROM matches").fetchone()[0] == 0


def test_pruned_article_keeps_the_text_hash_of_its_hash_key(tmp_path: Path):
    # An entry without guid or link is known by "hash:<text_hash>"; once its text is
    # pruned the migration takes the hash from the key.
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>N</title>'
        b"<item><title>Council adopts AI Act</title><description>Final vote.</description>"
        b"</item></channel></rss>"
    )
    state = tmp_path / "state"
    write_version_1_state(state, "n", body)
    conn = sqlite3.connect(state / DB_NAME, isolation_level=None)
    conn.execute("UPDATE articles SET summary = NULL, content = NULL, pruned = 1")
    migrate(conn)
    key, stored = conn.execute("SELECT key, content_hash FROM articles").fetchone()
    digest = stored.hex()  # 16 bytes since the lean rows (issue 15)
    assert key == "hash:" + digest
    assert digest == identity.text_hash("Council adopts AI Act", "Final vote.")
    conn.close()


def test_keys_of_another_identity_version_are_refused(tmp_path: Path):
    import pytest

    from monitor.errors import StorageError
    from monitor.store.db import connect

    conn = connect(tmp_path / DB_NAME)
    conn.execute("UPDATE meta SET value = '3' WHERE name = 'identity_version'")
    conn.close()
    with pytest.raises(StorageError, match="identity version 3, this program computes version 2"):
        connect(tmp_path / DB_NAME)
