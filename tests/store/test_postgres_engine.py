"""The PostgreSQL engine (issue 11): migrations, schema version, errors in words an admin
can act on, the search table; and SQLite left as it was.  Real servers, no mocks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor import identity
from monitor.errors import StorageError
from monitor.models import Article
from monitor.settings import Settings
from monitor.store import Store
from monitor.store import articles as arts
from monitor.store.engine import pipelined
from monitor.store.migrations import MIGRATIONS
from monitor.store.pg import ddl, mask_url, server_of
from tests.support.engines import engine_url

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
pg = pytest.mark.postgresql_only


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once the socket is closed


@pg
def test_an_empty_database_gets_every_migration_once_by_name(tmp_path: Path, postgres_url: str):
    with Store(tmp_path, database_url=engine_url()) as store:
        assert store.engine == "postgresql"
        rows = store.conn.execute("SELECT version, name FROM schema_version ORDER BY 1").fetchall()
        assert [(r[0], r["name"]) for r in rows] == [
            (n, m.name) for n, m in enumerate(MIGRATIONS, 1)
        ]
        store.conn.execute("INSERT INTO service_flags VALUES ('x', '1', '')")
    with Store(tmp_path, database_url=postgres_url) as store:  # opens, migrates nothing
        assert store.flag("x") == "1"
        count = store.conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0]
        assert count == len(MIGRATIONS)
    assert not (tmp_path / "monitor.sqlite3").exists()


@pg
def test_instances_starting_together_migrate_once(tmp_path: Path, postgres_url: str):
    errors: list[BaseException] = []

    def open_store(n: int) -> None:
        try:
            Store(tmp_path / str(n), database_url=postgres_url).close()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_store, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Store(tmp_path, database_url=engine_url()) as store:
        versions = [r[0] for r in store.conn.execute("SELECT version FROM schema_version")]
    assert sorted(versions) == list(range(1, len(MIGRATIONS) + 1))


@pg
def test_a_schema_from_a_newer_monitor_is_refused(tmp_path: Path):
    with Store(tmp_path, database_url=engine_url()) as store:
        store.conn.execute(
            "INSERT INTO schema_version VALUES (?, 'from the future', '')", (len(MIGRATIONS) + 1,)
        )
    with pytest.raises(StorageError) as err:
        Store(tmp_path, database_url=engine_url())
    assert str(err.value) == (
        f"storage: PostgreSQL at 127.0.0.1:5432: database schema version {len(MIGRATIONS) + 1}"
        f" is newer than this program knows ({len(MIGRATIONS)}); upgrade monitor"
    )


@pg
def test_keys_of_another_identity_version_are_refused(tmp_path: Path):
    with Store(tmp_path, database_url=engine_url()) as store:
        store.conn.execute("UPDATE meta SET value = '1' WHERE name = 'identity_version'")
    with pytest.raises(StorageError, match="keyed by identity version 1, this program computes"):
        Store(tmp_path, database_url=engine_url())
    assert identity.VERSION != 1


def test_an_unreachable_server_is_named_with_what_to_check(tmp_path: Path):
    port = _closed_port()
    url = f"postgresql://monitor:s3cret-pw@127.0.0.1:{port}/monitor"
    with pytest.raises(StorageError) as err:
        Store(tmp_path, database_url=url)
    assert str(err.value) == (
        f"storage: cannot reach PostgreSQL at 127.0.0.1:{port}: connection refused; "
        "check MONITOR_DATABASE_URL / --database"
    )


@pg
def test_a_refused_login_never_shows_the_password(tmp_path: Path, postgres_url: str):
    server = server_of(postgres_url)
    url = f"postgresql://nobody:s3cret-pw@{server}/monitor"
    with pytest.raises(StorageError) as err:
        Store(tmp_path, database_url=url)
    message = str(err.value)
    assert message.startswith(f"storage: PostgreSQL at {server} refused the login (")
    assert 'role "nobody" does not exist' in message
    assert "check the user and password in MONITOR_DATABASE_URL / --database" in message
    assert "s3cret-pw" not in message


@pg
def test_a_missing_database_says_to_create_it(tmp_path: Path, postgres_url: str):
    url = postgres_url.rsplit("/", 1)[0] + "/no_such_monitor_db"
    with pytest.raises(StorageError, match='database "no_such_monitor_db" does not exist; create'):
        Store(tmp_path, database_url=url)


def test_passwords_are_masked_in_urls():
    assert mask_url("postgresql://mon:pa%40ss@db.example:6543/m") == (
        "postgresql://mon:***@db.example:6543/m"
    )
    assert mask_url("postgresql://mon@db/m") == "postgresql://mon@db/m"
    assert server_of("postgresql://mon:pw@db.example:6543/m") == "db.example:6543"
    assert server_of("postgresql://mon@db.example/m") == "db.example:5432"


def test_only_postgresql_urls_are_taken(tmp_path: Path):
    with pytest.raises(StorageError, match=r"must start with postgresql:// \(got mysql:...\)"):
        Store(tmp_path, database_url="mysql://root:pw@localhost/m")


def test_the_environment_is_read_in_one_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Settings.from_env({}).database_url is None
    assert Settings.from_env({"MONITOR_DATABASE_URL": " "}).database_url is None
    url = Settings.from_env({"MONITOR_DATABASE_URL": "postgresql://h/m"}).database_url
    assert url is not None
    assert url.reveal() == "postgresql://h/m"
    # The store never reads it: without a URL passed, SQLite under the state directory.
    monkeypatch.setenv("MONITOR_DATABASE_URL", "postgresql://nowhere.invalid/m")
    with Store(tmp_path) as store:
        assert store.engine == "sqlite"


def test_the_ddl_takes_postgresql_types():
    assert ddl("id INTEGER PRIMARY KEY, n INTEGER NOT NULL, s REAL, b BLOB, t TEXT") == (
        "id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, n BIGINT NOT NULL,"
        " s DOUBLE PRECISION, b BYTEA, t TEXT"
    )


@pg
def test_the_search_table_follows_inserts_and_pruning(tmp_path: Path):
    article = Article(
        feed_id="eu",
        key="g1",
        title="Gatekeeper rules",
        url="https://n.eu/1",
        canonical_url="https://n.eu/1",
        summary="the interoperability obligation",
        published=NOW,
        body="a sandbox for regulators",
    )

    def found(store: Store, word: str) -> list[int]:
        return [
            r[0]
            for r in store.conn.execute(
                "SELECT article_id FROM articles_search WHERE search @@ to_tsquery('simple', ?)",
                (word,),
            )
        ]

    with Store(tmp_path, database_url=engine_url()) as store:
        with store.transaction() as conn:
            [new] = arts.add_articles(conn, "eu", [article], NOW)
        assert found(store, "gatekeeper") == [new.id]
        assert found(store, "sandbox") == [new.id]
        store.prune(NOW, NOW.replace(year=2027), NOW.replace(year=2020))
        assert found(store, "sandbox") == []  # the body went with retention
        assert found(store, "gatekeeper") == [new.id]  # the title stays


@pg
def test_a_lost_connection_fails_one_statement_and_the_next_reconnects(
    tmp_path: Path, postgres_url: str, caplog: pytest.LogCaptureFixture
):
    import psycopg

    with Store(tmp_path, database_url=engine_url()) as store:
        store.sync_feeds([], NOW)
        pid = store.conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(StorageError) as err:
            store.count_articles()
        assert str(err.value).startswith(
            "storage: lost the connection to PostgreSQL at 127.0.0.1:5432: "
        )
        assert str(err.value).endswith("; the next statement connects again")
        assert store.count_articles() == 0
        assert "storage: reconnected to PostgreSQL at 127.0.0.1:5432" in caplog.text
        with store.transaction() as conn:  # and writes again
            conn.execute("INSERT INTO service_flags VALUES ('x', '1', '')")
        assert store.flag("x") == "1"


@pytest.mark.sqlite_only
def test_sqlite_stays_the_default_and_never_loads_psycopg(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k != "MONITOR_DATABASE_URL"}
    code = (
        "import sys; from monitor.store import Store; s = Store(sys.argv[1]);"
        " print(s.engine, s.conn.execute('PRAGMA user_version').fetchone()[0],"
        " 'psycopg' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout.split()
    assert out == ["sqlite", str(len(MIGRATIONS)), "False"]
    assert (tmp_path / "monitor.sqlite3").stat().st_size > 0


@pg
def test_check_says_whether_the_database_answers_and_migrates_nothing(
    tmp_path: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
):
    from monitor.cli import main
    from tests.support.app import make_app

    app = make_app(tmp_path, {"eu": "http://127.0.0.1:9/eu.xml"})
    files = ["--feeds", str(app.feeds_path), "--keywords", str(app.keywords_path)]
    assert main(["check", *files, "--database", postgres_url]) == 0
    assert (
        f"database: PostgreSQL at 127.0.0.1:5432, schema version 0, {len(MIGRATIONS)} "
        "migrations to apply at the next start\nok\n"
    ) in capsys.readouterr().out
    # The store the next check finds: postgres_url, migrated.
    Store(tmp_path, database_url=engine_url()).close()
    assert main(["check", *files]) == 0
    assert (
        f"database: PostgreSQL at 127.0.0.1:5432, schema version {len(MIGRATIONS)}\nok\n"
    ) in capsys.readouterr().out
    port = _closed_port()
    assert main(["check", *files, "--database", f"postgresql://m:pw@127.0.0.1:{port}/m"]) == 1
    assert capsys.readouterr().err == (
        f"monitor: storage: cannot reach PostgreSQL at 127.0.0.1:{port}: connection refused; "
        "check MONITOR_DATABASE_URL / --database\n"
    )


@pg
def test_sessions_commit_like_sqlite_normal_unless_the_url_asks_for_more(
    tmp_path: Path, postgres_url: str
):
    # synchronous_commit off is SQLite's synchronous=NORMAL guarantee (docs/deploy.md);
    # a URL that sets it keeps its value.  Every statement is planned with its values.
    with Store(tmp_path, database_url=postgres_url) as store:
        assert store.conn.execute("SHOW synchronous_commit").fetchone()[0] == "off"
        assert store.conn.execute("SHOW plan_cache_mode").fetchone()[0] == "force_custom_plan"
    durable = postgres_url + ("&" if "?" in postgres_url else "?")
    durable += "options=-c%20synchronous_commit%3Don"
    with Store(tmp_path, database_url=durable) as store:
        assert store.conn.execute("SHOW synchronous_commit").fetchone()[0] == "on"


@pg
def test_a_statement_failing_in_a_pipelined_transaction_rolls_all_of_it_back(
    tmp_path: Path, postgres_url: str
):
    # BEGIN and COMMIT travel in the pipeline with the writes (one round trip): the
    # server skips the COMMIT after the error, so the connection must roll back itself.
    def write_twice(store: Store) -> None:
        with pipelined(store.conn), store.transaction() as conn:
            conn.execute("INSERT INTO meta (name, value) VALUES ('probe', '1')")
            conn.execute("INSERT INTO meta (name, value) VALUES ('probe', '2')")

    with Store(tmp_path, database_url=postgres_url) as store:
        with pytest.raises(StorageError, match="duplicate key"):
            write_twice(store)
        assert not store.conn.in_transaction
        rows = store.conn.execute("SELECT COUNT(*) FROM meta WHERE name = 'probe'").fetchall()
        assert rows[0][0] == 0
