"""The tests' PostgreSQL server is real: found on 127.0.0.1:5432 or started afresh."""

from __future__ import annotations

import os

import psycopg
import pytest

from tests.support.ci import missing
from tests.support.postgres import PostgresUnavailable, find_server


def test_each_test_gets_an_empty_database_of_its_own(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
        assert tables == (0,)
        conn.execute("CREATE TABLE t (x int)")
        conn.execute("INSERT INTO t VALUES (1), (2)")
        assert conn.execute("SELECT sum(x) FROM t").fetchone() == (3,)
        name = conn.execute("SELECT current_database()").fetchone()
    assert name is not None
    assert name[0].startswith(f"monitor_test_{os.getpid()}_")


def test_a_throwaway_cluster_starts_and_is_removed() -> None:
    """The fall-back for machines without a running server: initdb + pg_ctl."""
    try:
        server = find_server({"MONITOR_TEST_PG": "cluster"})
    except PostgresUnavailable as exc:
        missing(str(exc))
    assert server.cluster is not None
    root = server.cluster.root
    try:
        url = server.create_database()
        with psycopg.connect(url, autocommit=True) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        server.close()
    assert not root.exists()


def test_an_explicit_url_that_does_not_answer_is_an_error_not_a_fallback() -> None:
    with pytest.raises(PostgresUnavailable, match="MONITOR_TEST_DATABASE_URL does not answer"):
        find_server({"MONITOR_TEST_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"})
