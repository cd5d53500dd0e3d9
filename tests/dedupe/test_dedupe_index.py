"""The index: persisted across restarts, bounded by its window, transactional, idempotent."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.dedupe import Settings, StoryIndex
from monitor.dedupe.keyindex import KeyIndex
from monitor.store import stories as store_stories
from monitor.store.stories import StoryRows
from tests.data.dedupe.spinner import despin
from tests.dedupe.helpers import NOW, article, seed_text, stories

TITLE = "Parliament backs a ban on live facial recognition in public spaces"
TEXT = (
    "A growing majority in the European Parliament wants to ban facial recognition that "
    "scans crowds in real time, and the liberals of Renew now back it too. The Council of "
    "the EU, where France wants exemptions for the police, has yet to agree on its position "
    "before the end of the year, according to two EU diplomats."
)
COPY = (
    "Advertisement\n"
    + TEXT.replace("growing", "rising").replace("wants", "desires")
    + "\nBy admin Leave a Reply"
)


def test_a_restart_forgets_nothing(tmp_path: Path):
    with stories(tmp_path) as s:
        first = s.add(article(TITLE, TEXT, "politico-eu"))
        s.reopen()
        assert len(s.index.keys) == 0  # rebuilt lazily by the next assign
        copy = s.add(
            article("Stay facial recognition ban nears", COPY, "farm"), NOW + timedelta(days=3)
        )
        assert len(s.index.keys) == 2
    assert (copy.relation, copy.related_article_id) == ("copy", first.article_id)


def test_an_article_older_than_the_window_is_not_a_candidate(tmp_path: Path):
    window = Settings().window
    with stories(tmp_path) as s:
        s.add(article(TITLE, TEXT, "politico-eu"))
        late = s.add(article(TITLE, COPY, "farm"), NOW + window + timedelta(minutes=1))
        assert late.relation == "first"
        # Still inside the window, a copy is found.
        again = s.add(article(TITLE, COPY, "other-farm"), NOW + window + timedelta(hours=1))
        assert (again.relation, again.related_article_id) == ("copy", late.article_id)


def test_expiry_drops_fingerprints_but_keeps_the_story(tmp_path: Path):
    with stories(tmp_path) as s:
        s.index = StoryIndex(unindex_every=1)
        s.add(article(TITLE, TEXT, "politico-eu"))
        s.add(
            article("Other news", "Nothing to do with it at all, a different text.", "x"),
            NOW + timedelta(days=8),
        )
        row = s.store.conn.execute(
            "SELECT sketch, keys, story_id FROM story_articles WHERE article_id = 1"
        ).fetchone()
        assert row["sketch"] is None
        assert row["keys"] is None
        assert row["story_id"] == 1
        listed = store_stories.stories_since(s.store.conn, NOW - timedelta(days=1))
        assert 1 in {r.id for r in listed}
        s.reopen()
        assert s.index.load(StoryRows(s.store.conn), NOW + timedelta(days=8)) == 1


def test_assigning_an_article_twice_returns_what_was_recorded(tmp_path: Path):
    with stories(tmp_path) as s:
        s.add(article(TITLE, TEXT, "politico-eu"))
        copy = s.add(article(TITLE, COPY, "farm"))
        with s.store.story_rows() as rows:
            again = s.index.assign(rows, copy.article_id, article("else", "else", "x"), NOW)
        count = s.store.conn.execute("SELECT COUNT(*) FROM story_articles").fetchone()[0]
    assert again == copy
    assert count == 2


def test_a_rolled_back_article_leaves_no_story(tmp_path: Path):
    with stories(tmp_path) as s:

        def poll_that_fails() -> None:
            with s.store.transaction() as conn:
                s.index.assign(StoryRows(conn), 1, article(TITLE, TEXT, "politico-eu"), NOW)
                raise RuntimeError("the poll failed after dedupe")

        with pytest.raises(RuntimeError):
            poll_that_fails()
        s.index.discard([1])
        assert s.store.conn.execute("SELECT COUNT(*) FROM stories").fetchone()[0] == 0
        # The id is used again by the next article: a clean start, not a copy of a ghost.
        fresh = s.add(article(TITLE, COPY, "farm"))
    assert (fresh.article_id, fresh.relation) == (1, "first")


def test_an_id_beyond_32_bits_is_refused(tmp_path: Path):
    with (
        stories(tmp_path) as s,
        s.store.transaction() as conn,
        pytest.raises(ValueError, match="32 bits"),
    ):
        s.index.assign(StoryRows(conn), 1 << 33, article(TITLE, TEXT), NOW)


def test_the_migration_creates_the_story_tables(tmp_path: Path):
    from monitor.store.db import connect

    conn = connect(tmp_path / "state.sqlite3")
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"stories", "story_articles"} <= tables
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO stories (id, title, first_seen, last_seen) VALUES (1, NULL, '', '')"
        )


def test_seed_copy_found_across_a_restart(tmp_path: Path):
    original = despin(seed_text())
    with stories(tmp_path) as s:
        first = s.add(article(*original.split("\n", 1), "politico-eu"))
        s.reopen()
        copy = s.add(article(*seed_text().split("\n", 1), "farm"), NOW + timedelta(days=6))
    assert copy.related_article_id == first.article_id


# -- the in-memory key index against a plain model ------------------------------------------

_ops = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.lists(st.integers(0, 12), min_size=1, max_size=5)),
        st.tuples(st.just("expire"), st.lists(st.integers(0, 3), min_size=1, max_size=1)),
        st.tuples(st.just("merge"), st.just([0])),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(ops=_ops)
def test_key_index_answers_like_a_dictionary(ops: list[tuple[str, list[int]]]) -> None:
    index = KeyIndex(merge_at=7)
    model: dict[int, list[int]] = {}
    alive: set[int] = set()
    next_id = 1
    for op, arg in ops:
        if op == "add":
            keys = sorted(set(arg))
            index.add(next_id, NOW + timedelta(hours=next_id), keys)
            alive.add(next_id)
            for k in keys:
                model.setdefault(k, []).append(next_id)
            next_id += 1
        elif op == "expire":
            cut = min(next_id, arg[0] * 3 + 1)
            index.expire(NOW + timedelta(hours=cut))
            alive = {i for i in alive if i >= cut}
            model = {k: [i for i in ids if i >= cut] for k, ids in model.items()}
        else:
            index.merge()
        found = index.lookup(list(range(13)), limit=3)
        for key in range(13):
            ids = model.get(key, [])
            if not ids:
                assert key not in found
                continue
            count, got = found[key]
            assert count == len(ids)
            assert got == (sorted(ids, reverse=True) if len(ids) <= 3 else [])
        assert len(index) == len(alive)


def test_key_index_bulk_load_equals_adding():
    a, b = KeyIndex(), KeyIndex()
    packed = []
    for aid, keys in [(1, [5, 7]), (2, [7]), (3, [5, 9])]:
        a.add(aid, NOW, keys)
        packed += [(k << 32) | aid for k in keys]
    b.bulk(np.array(packed, dtype=np.uint64), [(1, NOW), (2, NOW), (3, NOW)])
    assert a.lookup([5, 7, 9, 11], 10) == b.lookup([5, 7, 9, 11], 10)
    assert len(a) == len(b) == 3


def test_an_empty_article_starts_its_own_story(tmp_path: Path):
    with stories(tmp_path) as s:
        first = s.add(article("", "", "x"))
        second = s.add(article("", "", "y"))
    assert (first.relation, second.relation) == ("first", "first")


def test_a_fingerprint_made_in_the_parser_process_gives_the_same_story(tmp_path: Path):
    # The parser process fingerprints entries with StoryIndex.fingerprint (update.prepare).
    with stories(tmp_path) as a, stories(tmp_path / "b") as b:
        for s, given_fp in ((a, False), (b, True)):
            s.add(article(TITLE, TEXT, "politico-eu"))
            copy = article(TITLE, COPY, "farm")
            with s.store.story_rows() as rows:
                fp = s.index.fingerprint(copy) if given_fp else None
                got = s.index.assign(rows, 2, copy, NOW, fp)
            assert (got.relation, got.story_id, got.related_article_id) == ("copy", 1, 1)
