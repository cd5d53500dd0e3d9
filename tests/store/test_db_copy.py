"""``monitor db copy``: SQLite -> PostgreSQL -> SQLite keeps every row and id, so a
poll after the move finds nothing new and queues nothing again (issue 11)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.models import Target
from monitor.store import Store
from monitor.store import subscribers as subs
from monitor.store import unsubscribe as unsub
from monitor.store.copy import TABLES
from monitor.store.db import DB_NAME
from tests.support.app import make_app
from tests.support.engines import engine_url
from tests.support.feedserver import FeedServer, rss_feed

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
ITEMS = [
    ("g3", "EU agrees AI Act deal", "https://news.example.eu/ai-act-deal"),
    ("g2", "Parliament debates facial recognition ban", "https://news.example.eu/frt"),
    ("g1", "Weather in Brussels", "https://news.example.eu/weather"),
]

# Runs once (not per engine): it moves a SQLite state to PostgreSQL and back itself.
pytestmark = pytest.mark.sqlite_only


def dump(state: Path) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(state / DB_NAME)
    try:
        return {t: sorted(conn.execute(f"SELECT * FROM {t}"), key=repr) for t in TABLES}
    finally:
        conn.close()


def test_round_trip_keeps_every_row_and_a_poll_after_it_sends_nothing(
    feed_server: FeedServer, tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
):
    feed_server.feed("/eu.xml", rss_feed("EU", ITEMS))
    app = make_app(tmp_path, {"eu": feed_server.url("/eu.xml")})
    assert app.poll().new == 3
    with app.store() as store, store.transaction() as conn:
        subs.subscribe(conn, "42", "ai-act", NOW, username="ann", topic=7)
        subs.set_flag(conn, "paused", "1", NOW)
        unsub.set_unsubscribed(conn, Target("policy-team", "email", "a@b.eu"), True, NOW)
    before = dump(app.state)
    assert all(before[t] for t in ("articles", "seen_keys", "matches", "outbox", "feeds"))

    assert main(["db", "copy", "--from", str(app.state), "--to", postgres_url]) == 0
    back = tmp_path / "back"
    assert main(["db", "copy", "--from", postgres_url, "--to", str(back)]) == 0
    assert dump(back) == before

    # The service moves to PostgreSQL: the same feed again is nothing new, nothing queued.
    monkeypatch.setenv("MONITOR_DATABASE_URL", postgres_url)
    feed_server.publish("/eu.xml", rss_feed("EU", list(reversed(ITEMS))))
    again = app.poll()
    assert [(r.status, r.new) for r in again.feeds] == [("ok", 0)]
    with app.store() as store:
        assert store.engine == "postgresql"
        assert store.outbox_stats().counts == {
            f"{k}:{s}": n
            for (k, s), n in _counts(before["outbox"]).items()  # same rows, same states
        }
    # A really new article gets an id after every copied one (the sequence was moved).
    feed_server.publish("/eu.xml", rss_feed("EU", [("g4", "AI Act fines", "https://n.eu/4")]))
    assert app.poll().new == 1
    with app.store() as store:
        newest = max(s.id for s in store.iter_articles())
    assert newest > max(int(str(r[0])) for r in before["articles"])


def _counts(rows: list[tuple[object, ...]]) -> dict[tuple[str, str], int]:
    # outbox columns: id, idem_key, kind, destination, channel, address, article_id,
    # watchlists, created, due, status, ...
    out: dict[tuple[str, str], int] = {}
    for r in rows:
        key = (str(r[2]), str(r[10]))
        out[key] = out.get(key, 0) + 1
    return out


def test_the_target_must_be_empty(
    tmp_path: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
):
    Store(tmp_path / "a").close()
    assert main(["db", "copy", "--from", str(tmp_path / "a"), "--to", postgres_url]) == 0
    with Store(tmp_path / "b") as store:
        store.sync_feeds([], NOW)
    with Store(tmp_path / "b", database_url=postgres_url) as store, store.transaction() as conn:
        subs.set_flag(conn, "paused", "1", NOW)
    code = main(["db", "copy", "--from", str(tmp_path / "b"), "--to", postgres_url])
    assert code == 1
    err = capsys.readouterr().err
    assert "storage: db copy: the target PostgreSQL at " in err
    assert "is not empty (service_flags hold rows); copy into a new, empty database" in err


def test_a_copy_into_itself_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    state = str(tmp_path / "s")
    Store(state, database_url=engine_url()).close()
    assert main(["db", "copy", "--from", state, "--to", state + "/."]) == 1
    assert capsys.readouterr().err == (
        f"monitor: storage: db copy: the source and the target are both {state}/.\n"
    )
