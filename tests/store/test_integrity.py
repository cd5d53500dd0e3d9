"""State database faults end in a clear message, never in a silent fresh start or a raw
traceback (issue 10 item 6): an empty file, a corrupt page, a full disk, an unwritable
state directory, a taken HTTP port."""

from __future__ import annotations

import asyncio
import shutil
import socket
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.errors import ServiceError, StorageError
from monitor.models import Article
from monitor.service.runner import Service, ServiceOptions
from monitor.settings import Settings
from monitor.store import Store
from monitor.store.db import DB_NAME, check_file
from tests.support.app import make_app
from tests.support.ci import missing
from tests.support.engines import engine_url
from tests.support.records import record

# SQLite's file: empty, corrupt, full disk (PostgreSQL's errors: test_postgres_engine.py)
pytestmark = pytest.mark.sqlite_only

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def fill(store: Store, count: int = 400) -> None:
    items = [
        Article(
            feed_id="f",
            key=f"guid:{i}",
            title=f"Story number {i} about the AI Act",
            canonical_url=f"https://n.example/{i}",
            url=f"https://n.example/{i}",
            summary="The Parliament debated facial recognition. " * 8,
            published=NOW,
        )
        for i in range(count)
    ]
    record(store, items, NOW)


def cli(capsys: pytest.CaptureFixture[str], tmp_path: Path, *argv: str) -> tuple[int, str]:
    app = make_app(tmp_path, {"eu": "http://127.0.0.1:9/eu.xml"})
    code = main(
        [argv[0], "--feeds", str(app.feeds_path), "--keywords", str(app.keywords_path), *argv[1:]]
    )
    return code, capsys.readouterr().err


# -- empty and missing files ----------------------------------------------------------------
def test_a_missing_database_is_a_fresh_start(tmp_path: Path):
    with Store(tmp_path / "state") as store:
        assert store.count_articles() == 0
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == [DB_NAME]


def test_a_zero_byte_database_is_refused_not_replaced(tmp_path: Path):
    state = tmp_path / "state"
    state.mkdir()
    (state / DB_NAME).write_bytes(b"")
    with pytest.raises(StorageError, match=r"empty \(0 bytes\)") as err:
        Store(state, database_url=engine_url())
    assert "restore" in str(err.value)
    assert "start afresh" in str(err.value)
    assert (state / DB_NAME).stat().st_size == 0  # untouched: the admin decides


def test_monitor_poll_on_a_zero_byte_database_says_so_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    state = tmp_path / "state"
    state.mkdir()
    (state / DB_NAME).write_bytes(b"")
    code, err = cli(capsys, tmp_path, "poll", "--state", str(state), "--no-deliver")
    assert code == 1
    assert err.startswith(f"monitor: storage: {state / DB_NAME}: the state database is empty")
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


# -- corruption -----------------------------------------------------------------------------
def corrupt_a_middle_page(path: Path) -> None:
    """Overwrite part of the middle leaf page of the ``articles`` table: its b-tree, which
    ``quick_check`` reads (the middle page of the file may hold the inside of a blob, such
    as a full-text index segment, whose bytes no check can tell from data)."""
    conn = sqlite3.connect(path)
    page_size, pages = (
        conn.execute(f"PRAGMA {p}").fetchone()[0] for p in ("page_size", "page_count")
    )
    leaves = [
        r[0]
        for r in conn.execute(
            "SELECT pageno FROM dbstat WHERE name = 'articles' AND pagetype = 'leaf'"
            " ORDER BY pageno"
        )
    ]
    conn.close()
    assert pages > 20
    assert len(leaves) > 10
    with path.open("r+b") as fh:
        fh.seek(page_size * (leaves[len(leaves) // 2] - 1) + 100)
        fh.write(b"\xa5" * 1000)


def test_a_corrupt_middle_page_stops_the_store_with_how_to_restore(tmp_path: Path):
    with Store(tmp_path, database_url=engine_url()) as store:
        fill(store)
    corrupt_a_middle_page(tmp_path / DB_NAME)
    assert check_file(tmp_path / DB_NAME)  # the seam the daily check uses sees it too
    with pytest.raises(StorageError, match="the state database is corrupt") as err:
        Store(tmp_path, database_url=engine_url())
    assert "quick_check" in str(err.value)
    assert "restore the file from a backup" in str(err.value)


def test_the_daily_check_stops_a_running_service_on_corruption(tmp_path: Path):
    app = make_app(tmp_path, {"eu": "http://127.0.0.1:9/eu.xml"})
    service = Service(
        ServiceOptions(
            database_url=engine_url(),
            feeds_path=str(app.feeds_path),
            keywords_path=str(app.keywords_path),
            state_dir=app.state,
            settings=Settings(),
            http=None,
            bot=False,
        )
    )

    async def scenario() -> int:
        task = asyncio.create_task(service.run())
        for _ in range(200):
            if service.started is not None:
                break
            await asyncio.sleep(0.02)
        fill(service.store)
        service.store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        corrupt_a_middle_page(service.store.path)
        await service.singletons.check_database()
        return await asyncio.wait_for(task, 15)

    assert asyncio.run(scenario()) == 1


# -- disk full ------------------------------------------------------------------------------
def test_disk_full_is_reported_as_disk_full(tmp_path: Path):
    with Store(tmp_path, database_url=engine_url()) as store:
        fill(store, 10)
        # max_page_count makes SQLITE_FULL real: the database may not grow any more.
        pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
        store.conn.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(StorageError, match="disk full") as err:
            fill(store, 400)
        assert "cannot rollback" not in str(err.value)
        assert str(tmp_path / DB_NAME) in str(err.value)
        assert not store.conn.in_transaction
        assert store.count_articles() == 10  # the transaction was rolled back whole


# -- unwritable state directory -------------------------------------------------------------
def test_a_state_directory_under_a_file_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    state = blocker / "state"
    for argv in (("poll", "--no-deliver"), ("deliver",), ("run", "--http", "", "--no-bot")):
        code, err = cli(capsys, tmp_path, argv[0], "--state", str(state), *argv[1:])
        assert code == 1, argv
        assert err.strip() == (
            f"monitor: storage: cannot create the state directory {state}: Not a directory; "
            "set --state / MONITOR_STATE_DIR to a writable directory"
        )


@pytest.fixture
def immutable_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory even root cannot write in (``chattr +i``; skipped where unsupported)."""
    state = tmp_path / "state"
    state.mkdir()
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(state)], check=False).returncode:
        missing("chattr +i is not available here")
    try:
        yield state
    finally:
        subprocess.run([chattr, "-i", str(state)], check=True)


def test_an_unwritable_state_directory_is_one_clear_line(
    immutable_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    code, err = cli(capsys, tmp_path, "run", "--state", str(immutable_dir), "--http", "")
    assert code == 1
    assert err.strip() == (
        f"monitor: storage: the state directory {immutable_dir} is not writable; make it "
        "writable or set --state / MONITOR_STATE_DIR"
    )


# -- a taken port ---------------------------------------------------------------------------
def test_a_taken_http_port_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        state = tmp_path / "state"
        code, err = cli(
            capsys, tmp_path, "run", "--state", str(state), "--http", address, "--no-bot"
        )
    assert code == 1
    assert err.strip().startswith(
        f"monitor: http: cannot listen on {address}: Address already in use"
    )
    assert len(err.strip().splitlines()) == 1
    app = make_app(tmp_path, {"eu": "http://127.0.0.1:9/eu.xml"})
    with socket.socket() as again:
        again.bind(("127.0.0.1", 0))
        again.listen()
        options = ServiceOptions(
            database_url=engine_url(),
            feeds_path=str(app.feeds_path),
            keywords_path=str(app.keywords_path),
            state_dir=state,
            settings=Settings(),
            http=f"127.0.0.1:{again.getsockname()[1]}",
            bot=False,
        )
        with pytest.raises(ServiceError):  # the typed error, for callers other than the CLI
            asyncio.run(Service(options).run())
    # The lock was released: the state directory is usable at once.
    with Store(state, database_url=engine_url()) as store:
        assert store.count_articles() == 0
