"""SQLite's page cache is sized by the number of feeds (issue 15 against issue 2): 32 MiB
halved the bytes written at 10,000 feeds, but at 1,000 feeds it only added 31 MB to a
cold cycle's peak memory."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.pipeline.build import open_state
from monitor.store import CACHE_MIB, Store, cache_for


def test_the_cache_grows_with_the_feeds_between_2_and_32_mib():
    assert [cache_for(n) for n in (0, 1, 200, 1_000, 5_000, 8_192, 10_000, 100_000)] == [
        2, 2, 2, 3, 19, 32, 32, 32,
    ]  # fmt: skip
    assert CACHE_MIB == 32


@pytest.mark.sqlite_only  # PRAGMA cache_size: SQLite's own setting
@pytest.mark.parametrize(("feeds", "mib"), [(1_000, 3), (10_000, 32), (None, CACHE_MIB)])
def test_the_store_opened_for_a_configuration_uses_its_cache(
    tmp_path: Path, feeds: int | None, mib: int
):
    store, lock = open_state(tmp_path, feeds=feeds)
    try:
        assert store.conn.execute("PRAGMA cache_size").fetchone()[0] == -mib * 1024
    finally:
        store.close()
        if lock is not None:
            lock.release()


@pytest.mark.sqlite_only
def test_a_store_opened_directly_keeps_the_largest_cache(tmp_path: Path):
    with Store(tmp_path) as store:
        assert store.conn.execute("PRAGMA cache_size").fetchone()[0] == -CACHE_MIB * 1024
