"""An article is new exactly once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.models import Article
from monitor.store import Store
from tests.support.engines import engine_url
from tests.support.records import record

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def art(
    feed: str, key: str, title: str = "T", url: str | None = None, summary: str = ""
) -> Article:
    return Article(
        feed_id=feed,
        key=key,
        title=title,
        canonical_url=url,
        url=url,
        summary=summary,
        published=NOW,
    )


def add(store: Store, feed: str, items: list[Article], now: datetime = NOW) -> list[int]:
    return [n.id for n in record(store, items, now, feed_id=feed)]


def test_identity_within_a_feed(tmp_path: Path):
    with Store(tmp_path, database_url=engine_url()) as store:
        assert len(add(store, "a", [art("a", "guid:1"), art("a", "guid:2", "U")])) == 2
        assert add(store, "a", [art("a", "guid:1"), art("a", "guid:2", "U")]) == []
        # The same key in another feed is another article (guids are per feed).
        assert len(add(store, "b", [art("b", "guid:1", "other text")])) == 1


def test_survives_restart(tmp_path: Path):
    with Store(tmp_path, database_url=engine_url()) as store:
        add(store, "a", [art("a", "guid:1")])
    with Store(tmp_path, database_url=engine_url()) as store:
        assert add(store, "a", [art("a", "guid:1")]) == []


def test_canonical_url_across_feeds_and_schemes(tmp_path: Path):
    with Store(tmp_path, database_url=engine_url()) as store:
        assert len(add(store, "a", [art("a", "guid:x", "A", "https://www.example.org/s")])) == 1
        assert add(store, "b", [art("b", "link:y", "B", "http://example.org/s")]) == []
        assert add(store, "c", [art("c", "guid:z", "C", "https://example.org/s/")]) == []


def test_regenerated_guid_and_url_same_text_in_same_feed(tmp_path: Path):
    with Store(tmp_path, database_url=engine_url()) as store:
        add(store, "a", [art("a", "guid:1", "EDPB fines Meta", "https://e.org/1", "€1.2bn")])
        assert (
            add(store, "a", [art("a", "guid:9", "EDPB fines Meta", "https://e.org/9", "€1.2bn")])
            == []
        )


def test_duplicate_url_inside_one_batch(tmp_path: Path):
    with Store(tmp_path, database_url=engine_url()) as store:
        ids = add(
            store,
            "a",
            [
                art("a", "guid:1", "A", "https://e.org/1"),
                art("a", "guid:2", "B", "https://e.org/1"),
            ],
        )
        assert len(ids) == 1


def test_prune_keeps_identity_of_pruned_text(tmp_path: Path):
    with Store(tmp_path, database_url=engine_url()) as store:
        add(store, "a", [art("a", "guid:1", "T", "https://e.org/1", "long text")])
        later = NOW + timedelta(days=40)
        texts, gone = store.prune(later, later - timedelta(days=30), later - timedelta(days=400))
        assert (texts, gone) == (1, 0)
        stored = next(store.iter_articles())
        assert stored.pruned
        assert stored.article.summary == ""
        assert add(store, "a", [art("a", "guid:1", "T", "https://e.org/1")], later) == []
        much_later = NOW + timedelta(days=500)
        texts, gone = store.prune(
            much_later, much_later - timedelta(days=30), much_later - timedelta(days=400)
        )
        assert gone == 1
        assert store.count_articles() == 0


def test_last_seen_refresh_protects_from_forgetting(tmp_path: Path):
    with Store(tmp_path, database_url=engine_url()) as store:
        add(store, "a", [art("a", "guid:1")])
        seen_again = NOW + timedelta(days=399)
        assert add(store, "a", [art("a", "guid:1")], seen_again) == []
        when = NOW + timedelta(days=500)
        _, gone = store.prune(when, when - timedelta(days=30), when - timedelta(days=400))
        assert gone == 0


def test_prune_drops_old_delivered_outbox_rows_but_never_pending_ones(tmp_path: Path):
    from monitor.models import Route, Target
    from monitor.store import outbox as ob

    with Store(tmp_path, database_url=engine_url()) as store:
        [aid] = add(store, "a", [art("a", "guid:1", "T", "https://e.org/1")])
        target = Target("c", "telegram", "@chan_x")
        with store.transaction() as conn:
            ob.enqueue(
                conn,
                [
                    Route("alert", target, aid, ("w",), NOW),
                    Route("digest", target, aid, ("w",), NOW),
                ],
                NOW,
            )
            [alert, _] = ob.due_entries(conn, "alert", NOW) + ob.due_entries(conn, "digest", NOW)
            ob.mark_sent(conn, [alert.id], NOW, "1")
        later = NOW + timedelta(days=40)
        store.prune(later, later - timedelta(days=30), later - timedelta(days=400))
        left = [tuple(r) for r in store.conn.execute("SELECT kind, status FROM outbox")]
        assert left == [("digest", "pending")]


def test_known_keys_are_the_keys_recorded_in_that_feed(tmp_path: Path):
    with Store(tmp_path, database_url=engine_url()) as store:
        add(store, "a", [art("a", "guid:1")])
        assert store.known_keys("a", ["guid:1", "guid:2"]) == {"guid:1"}
        assert store.known_keys("b", ["guid:1"]) == frozenset()


def test_a_match_keeps_its_count_of_hits_left_out(tmp_path: Path):
    """Issue 10: ``hit_count`` survives the database; rows without it read as before."""
    from monitor.models import Hit, Match
    from monitor.store import outbox

    hit = Hit("privacy", "privacy", "summary", 0, 7)
    with Store(tmp_path, database_url=engine_url()) as store:
        (first, second) = add(store, "a", [art("a", "guid:1"), art("a", "guid:2", "U")])
        with store.transaction() as conn:
            many = Match("p", 1.0, (hit,), hit_count=25_000, prominence=0.3)
            outbox.record_matches(conn, first, [many], NOW)
            outbox.record_matches(conn, second, [Match("p", 1.0, (hit, hit))], NOW)
        found = outbox.matches_for(store.conn, [first, second])
    assert found[first] == [many]
    assert (found[second][0].hit_count, found[second][0].more_hits) == (2, 0)
    assert found[second][0].prominence == 1.0
