"""Claims and elections of several instances on one real PostgreSQL (issue 11 item 4).

Each instance is a ``Store`` of its own (its own connections), as two ``monitor run``
processes are; threads make the claims race for real.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from monitor.models import FeedSpec, Route, Target
from monitor.store import Store
from monitor.store import outbox as ob
from tests.support.wait import wait_until

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


@pytest.fixture
def stores(postgres_url: str, tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    a = Store(tmp_path / "a", database_url=postgres_url)
    b = Store(tmp_path / "b", database_url=postgres_url)
    try:
        yield a, b
    finally:
        a.close()
        b.close()


def feeds(n: int, host: str = "example.org") -> list[FeedSpec]:
    return [FeedSpec(id=f"f{i:03d}", url=f"https://{host}{i % 7}/feed{i}") for i in range(n)]


def test_two_instances_racing_never_claim_one_feed_twice(stores: tuple[Store, Store]) -> None:
    a, b = stores
    a.sync_feeds(feeds(200), NOW)
    got: dict[str, list[str]] = {"a": [], "b": []}

    def claim(store: Store, name: str) -> None:
        while ids := store.claim_feeds(name, NOW, NOW + LEASE, 3):
            got[name].extend(ids)

    threads = [threading.Thread(target=claim, args=(s, n)) for s, n in ((a, "a"), (b, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not set(got["a"]) & set(got["b"])
    assert sorted(got["a"] + got["b"]) == [f"f{i:03d}" for i in range(200)]
    assert len(got["a"]) + len(got["b"]) == 200  # no id twice within one instance either


def test_a_silent_instance_s_feed_is_taken_over_when_its_lease_ends(
    stores: tuple[Store, Store],
) -> None:
    a, b = stores
    a.sync_feeds(feeds(1), NOW)
    assert a.claim_feeds("a", NOW, NOW + LEASE, 1, feed_ids=["f000"]) == ["f000"]
    # "a" goes silent here (hung, or cut off from the feed): no poll written, no
    # release, but its session lives on, so only the lease's end frees the feed.
    later = NOW + timedelta(seconds=10)
    assert b.claim_feeds("b", later, later + LEASE, 1, feed_ids=["f000"]) == []
    assert b.claim_retry_at("f000", later, timedelta(seconds=1)) == NOW + LEASE
    after = NOW + LEASE
    assert b.claim_feeds("b", after, after + LEASE, 1, feed_ids=["f000"]) == ["f000"]


def test_a_polled_feed_is_not_due_for_the_other_instance(stores: tuple[Store, Store]) -> None:
    a, b = stores
    a.sync_feeds(feeds(1), NOW)
    assert a.claim_feeds("a", NOW, NOW + LEASE, 1, feed_ids=["f000"]) == ["f000"]
    state = a.feed_state("f000")
    assert state is not None
    a.save_feed_state(dataclasses.replace(state, next_poll=NOW + timedelta(minutes=15)))
    a.release_feed("f000", "a")
    # b's timer still had the old due time: the feed is not due any more.
    soon = NOW + timedelta(seconds=1)
    assert b.claim_feeds("b", soon, soon + LEASE, 1, feed_ids=["f000"]) == []
    assert b.claim_retry_at("f000", soon, timedelta(seconds=1)) == NOW + timedelta(minutes=15)
    due = NOW + timedelta(minutes=15)
    assert b.claim_feeds("b", due, due + LEASE, 1, feed_ids=["f000"]) == ["f000"]


def test_per_host_slots_hold_across_instances(stores: tuple[Store, Store]) -> None:
    a, b = stores
    specs = [FeedSpec(id=f"h{i}", url=f"https://one.example/feed{i}") for i in range(5)]
    a.sync_feeds(specs, NOW)
    first = a.claim_feeds("a", NOW, NOW + LEASE, 5, per_host=2)
    assert len(first) == 2
    assert b.claim_feeds("b", NOW, NOW + LEASE, 5, per_host=2) == []
    a.release_feed(first[0], "a")
    second = b.claim_feeds("b", NOW, NOW + LEASE, 5, per_host=2)
    assert len(second) == 1  # one slot came free (h0 was released unpolled: due again)
    # Another host's feeds are not held back by this one's.
    a.sync_feeds([FeedSpec(id="other", url="https://two.example:8443/feed")], NOW)
    assert a.claim_feeds("a", NOW, NOW + LEASE, 5, per_host=2) == ["other"]


def _alerts(store: Store, n: int) -> None:
    target = Target("news", "telegram", "@chan")
    routes = [Route("alert", target, i + 1, ("ai",), NOW) for i in range(n)]
    with store.transaction() as conn:
        ob.enqueue(conn, routes, NOW)


def test_outbox_rows_racing_instances_claim_each_row_once(stores: tuple[Store, Store]) -> None:
    a, b = stores
    _alerts(a, 300)
    got: dict[str, list[int]] = {"a": [], "b": []}

    def claim(store: Store, name: str) -> None:
        while rows := store.claim_outbox("alert", name, NOW, LEASE, limit=7):
            got[name].extend(r.id for r in rows)
            with store.transaction() as conn:  # sent: an instance's own rows come again
                ob.mark_sent(conn, [r.id for r in rows], NOW, "m")

    threads = [threading.Thread(target=claim, args=(s, n)) for s, n in ((a, "a"), (b, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not set(got["a"]) & set(got["b"])
    assert len(got["a"]) + len(got["b"]) == 300 == len(set(got["a"] + got["b"]))


def test_outbox_lease_ends_and_a_sent_row_is_never_claimed_again(
    stores: tuple[Store, Store],
) -> None:
    a, b = stores
    _alerts(a, 2)
    rows = a.claim_outbox("alert", "a", NOW, LEASE)
    assert [r.id for r in rows] == [1, 2] or len(rows) == 2
    with a.transaction() as conn:
        ob.mark_sent(conn, [rows[0].id], NOW, "m1")
    # a goes silent before sending the second row (its session lives on): b may take it
    # once the lease ends, not before.
    assert b.claim_outbox("alert", "b", NOW + LEASE / 2, LEASE) == []
    assert b.next_due(("alert",)) == NOW + LEASE
    taken = b.claim_outbox("alert", "b", NOW + LEASE, LEASE)
    assert [r.id for r in taken] == [rows[1].id]
    # A retry ends the lease: due again at its new time, on any instance.
    with b.transaction() as conn:
        ob.mark_retry(conn, [rows[1].id], NOW + LEASE + timedelta(seconds=5), "timeout")
    retry = NOW + LEASE + timedelta(seconds=5)
    assert [r.id for r in a.claim_outbox("alert", "a", retry, LEASE)] == [rows[1].id]
    # The holder asking again gets its own row back (a one-shot ``monitor deliver``
    # restarted under the same name after a crash); another instance still does not.
    assert [r.id for r in a.claim_outbox("alert", "a", retry, LEASE)] == [rows[1].id]
    assert b.claim_outbox("alert", "b", retry, LEASE) == []


def test_singleton_election_and_takeover_when_the_holder_s_session_ends(
    stores: tuple[Store, Store], postgres_url: str
) -> None:
    a, b = stores
    assert a.singleton("digests", "a") is True
    assert a.singleton("digests", "a") is True  # held, not re-acquired
    assert b.singleton("digests", "b") is False
    assert b.singleton("bot", "b") is True  # each job is elected on its own
    assert a.singleton("bot", "a") is False
    # The holder's process dies: the server ends its session (as when its socket closes).
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        ended = admin.execute(
            # This test's database only: other test runs may share the server.
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = 'monitor-elections' AND pid IN ("
            " SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted)"
            " AND datname = current_database()"
            " AND pid <> pg_backend_pid() AND backend_start = (SELECT MIN(backend_start)"
            " FROM pg_stat_activity WHERE application_name = 'monitor-elections'"
            " AND datname = current_database())"
        ).fetchall()
    assert ended == [(True,)]
    # The server ends the session a moment later: b is elected at one of its next asks.
    assert wait_until(lambda: b.singleton("digests", "b"), 10)
    assert a.singleton("digests", "a") is False  # a noticed, reconnected, lost the job
    assert a.singleton("bot", "a") is False  # b still holds the bot
    b.close()  # b stops: its jobs are free as soon as the server has ended its session
    assert wait_until(lambda: a.singleton("digests", "a"), 10)
    assert wait_until(lambda: a.singleton("bot", "a"), 10)


def _session_names(postgres_url: str) -> set[str]:
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT application_name FROM pg_stat_activity WHERE datname = current_database()"
        ).fetchall()
    return {r[0] for r in rows}


def test_a_claiming_instance_names_its_session_after_itself(
    stores: tuple[Store, Store], postgres_url: str
) -> None:
    a, _ = stores
    a.sync_feeds(feeds(1), NOW)
    assert "inst-a:1:abc" not in _session_names(postgres_url)
    a.claim_feeds("inst-a:1:abc", NOW, NOW + LEASE, 1)
    assert "inst-a:1:abc" in _session_names(postgres_url)


def test_a_closed_instance_s_claims_are_free_at_once(
    postgres_url: str, tmp_path: Path, stores: tuple[Store, Store]
) -> None:
    """A process that dies ends its session: its feeds, host slots and outbox rows go to
    the next instance that asks, long before their lease ends (issue 11: a restart no
    longer waits out its predecessor's leases)."""
    _, b = stores
    dead = Store(tmp_path / "dead", database_url=postgres_url)
    dead.sync_feeds([FeedSpec(id="h0", url="https://one.example/feed0")], NOW)
    _alerts(dead, 2)
    assert dead.claim_feeds("dead:1:aaa", NOW, NOW + LEASE, 1, per_host=1) == ["h0"]
    assert len(dead.claim_outbox("alert", "dead:1:aaa", NOW, LEASE)) == 2
    soon = NOW + timedelta(seconds=1)
    # Alive, it keeps them.
    assert b.claim_feeds("b", soon, soon + LEASE, 1, per_host=1) == []
    assert b.claim_outbox("alert", "b", soon, LEASE) == []
    assert b.next_due(("alert",)) == NOW + LEASE
    dead.close()
    assert wait_until(lambda: "dead:1:aaa" not in _session_names(postgres_url), 10)
    assert b.next_due(("alert",)) == NOW  # due at once: nobody alive holds them
    assert b.claim_feeds("b", soon, soon + LEASE, 1, per_host=1) == ["h0"]  # slot too
    assert [r.id for r in b.claim_outbox("alert", "b", soon, LEASE)] == [1, 2]


def test_a_name_postgresql_cannot_show_is_left_to_the_lease(
    postgres_url: str, tmp_path: Path, stores: tuple[Store, Store]
) -> None:
    # application_name keeps 63 bytes of printable ASCII: a longer or accented owner is
    # never seen alive, so the absence of its session proves nothing.
    _, b = stores
    owners = ["x" * 64, "hôte:1:abc"]
    for n, owner in enumerate(owners):
        dead = Store(tmp_path / f"dead{n}", database_url=postgres_url)
        dead.sync_feeds([FeedSpec(id=f"g{n}", url=f"https://g{n}.example/feed")], NOW)
        assert dead.claim_feeds(owner, NOW, NOW + LEASE, 1, feed_ids=[f"g{n}"]) == [f"g{n}"]
        dead.close()
    soon = NOW + timedelta(seconds=1)
    assert b.claim_feeds("b", soon, soon + LEASE, 2, feed_ids=["g0", "g1"]) == []
    after = NOW + LEASE
    assert sorted(b.claim_feeds("b", after, after + LEASE, 2, feed_ids=["g0", "g1"])) == [
        "g0",
        "g1",
    ]


def test_renewing_keeps_rows_past_the_lease_and_reports_rows_taken_over(
    stores: tuple[Store, Store],
) -> None:
    a, b = stores
    _alerts(a, 3)
    ids = [r.id for r in a.claim_outbox("alert", "a", NOW, LEASE)]
    assert len(ids) == 3
    # a sends slowly: before each message it renews the rows it has not sent.
    almost = NOW + LEASE - timedelta(seconds=1)
    assert a.renew_outbox(ids, "a", almost + LEASE) == set(ids)
    assert b.claim_outbox("alert", "b", NOW + LEASE, LEASE) == []  # the old lease's end
    with a.transaction() as conn:
        ob.mark_sent(conn, [ids[0]], almost, "m1")
    # a sent row is no longer held; an unrenewed one is taken over once its lease ends.
    assert a.renew_outbox(ids[:1], "a", almost + LEASE) == set()
    late = almost + LEASE
    assert [r.id for r in b.claim_outbox("alert", "b", late, LEASE)] == ids[1:]
    assert a.renew_outbox(ids, "a", late + LEASE) == set()  # b's now: a leaves them
