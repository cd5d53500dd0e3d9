"""A real PostgreSQL server for the tests, found or started, never mocked.

Where the server comes from, first match wins:

1. ``MONITOR_TEST_DATABASE_URL`` (a ``postgresql://`` URL of a role that may create
   databases);
2. a server answering on ``127.0.0.1:5432`` as ``postgres`` with trust authentication
   (this project's CI machines run one);
3. a throw-away cluster made with ``initdb`` and started with ``pg_ctl`` on a free port
   under a temporary directory, when those binaries exist (as root through
   ``runuser -u postgres``, since PostgreSQL refuses to run as root). It is stopped and
   removed when the test session ends.

Without any of them the tests that need PostgreSQL are skipped, except under ``CI``, where
that is a failure: a CI run that silently skipped one engine would prove nothing.

Each test session works in databases of its own (``monitor_test_<pid>_<n>``), dropped at
the end, so parallel runs and earlier crashed runs never meet.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
_BIN_DIRS = ("/usr/local/bin", "/usr/bin", *sorted(Path("/usr/lib/postgresql").glob("*/bin")))


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server could be found or started; the message says what was tried."""


def _connect(url: str, timeout: float = 3.0) -> object:
    import psycopg

    return psycopg.connect(url, connect_timeout=max(1, int(timeout)), autocommit=True)


def _answers(url: str) -> str | None:
    """None when a server answers at ``url``, else why not."""
    try:
        conn = _connect(url)
    except Exception as exc:  # any driver error means "not usable here"
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}"
    conn.close()  # type: ignore[attr-defined]
    return None


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for d in _BIN_DIRS:
        candidate = Path(d) / name
        if candidate.exists():
            return str(candidate)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ThrowawayCluster:
    """A PostgreSQL cluster in a temporary directory, on 127.0.0.1 and a free port."""

    initdb: str
    pg_ctl: str
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="monitor-pg-")))
    port: int = field(default_factory=_free_port)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str) -> None:
        cmd = list(argv)
        if os.geteuid() == 0:
            # PostgreSQL will not run as root; the postgres account exists wherever
            # Debian's packages were installed.
            shutil.chown(self.root, "postgres")
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        if proc.returncode != 0:
            raise PostgresUnavailable(
                f"{' '.join(argv[:2])} failed ({proc.returncode}): "
                f"{(proc.stderr or proc.stdout).strip()[-500:]}"
            )

    def start(self) -> ThrowawayCluster:
        data = self.root / "data"
        self._run(self.initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        opts = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port}"
            f" -c unix_socket_directories={self.root} -c fsync=off"
        )
        self._run(
            self.pg_ctl, "-D", str(data), "-o", opts, "-l", str(self.root / "log"), "-w", "start"
        )
        return self

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: every session is ended, the server is back when
        this returns (the PostgreSQL-restart test)."""
        data = self.root / "data"
        # -l: without a log file the server would keep this call's output pipe open.
        # The options of the first start (port, socket directory) are kept by pg_ctl.
        self._run(
            self.pg_ctl, "-D", str(data), "-l", str(self.root / "log"), "-m", "fast", "-w",
            "restart",
        )  # fmt: skip

    def stop(self) -> None:
        with contextlib.suppress(PostgresUnavailable, subprocess.TimeoutExpired):
            self._run(self.pg_ctl, "-D", str(self.root / "data"), "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class PostgresServer:
    """A reachable server and the databases this session made on it."""

    url: str
    origin: str
    cluster: ThrowawayCluster | None = None
    _made: list[str] = field(default_factory=list)
    _counter: Iterator[int] = field(default_factory=itertools.count)

    def create_database(self) -> str:
        """A new empty database; returns its URL."""
        name = f"monitor_test_{os.getpid()}_{next(self._counter)}"
        conn = _connect(self.url)
        try:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')  # type: ignore[attr-defined]
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')  # type: ignore[attr-defined]
        finally:
            conn.close()  # type: ignore[attr-defined]
        self._made.append(name)
        parts = urlsplit(self.url)
        return urlunsplit(parts._replace(path="/" + name))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            conn = _connect(self.url)
            try:
                for name in self._made:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[attr-defined]
            finally:
                conn.close()  # type: ignore[attr-defined]
        if self.cluster is not None:
            self.cluster.stop()


def find_server(environ: dict[str, str] | None = None) -> PostgresServer:
    """The server the tests use (see the module docstring).

    Raises:
        PostgresUnavailable: nothing answered and no cluster could be started; the
            message lists every attempt.
    """
    env = dict(os.environ if environ is None else environ)
    tried: list[str] = []
    explicit = env.get("MONITOR_TEST_DATABASE_URL", "").strip()
    if explicit:
        why = _answers(explicit)
        if why is None:
            return PostgresServer(explicit, "MONITOR_TEST_DATABASE_URL")
        # An explicit URL that does not answer is a mistake, not a reason to look elsewhere.
        raise PostgresUnavailable(f"MONITOR_TEST_DATABASE_URL does not answer: {why}")
    if env.get("MONITOR_TEST_PG") != "cluster":
        why = _answers(DEFAULT_URL)
        if why is None:
            return PostgresServer(DEFAULT_URL, "127.0.0.1:5432")
        tried.append(f"127.0.0.1:5432: {why}")
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if initdb and pg_ctl:
        cluster = ThrowawayCluster(initdb, pg_ctl)
        try:
            cluster.start()
        except PostgresUnavailable as exc:
            cluster.stop()
            tried.append(f"throw-away cluster: {exc}")
        else:
            deadline = time.monotonic() + 20
            why = _answers(cluster.url)
            while why is not None and time.monotonic() < deadline:
                time.sleep(0.2)
                why = _answers(cluster.url)
            if why is None:
                return PostgresServer(cluster.url, f"throw-away cluster in {cluster.root}", cluster)
            cluster.stop()
            tried.append(f"throw-away cluster: started but does not answer: {why}")
    else:
        tried.append("throw-away cluster: initdb/pg_ctl not found")
    raise PostgresUnavailable("no PostgreSQL server for the tests; tried " + "; ".join(tried))


# -- pytest fixtures (registered in tests/conftest.py) ------------------------------------

import pytest  # noqa: E402

from tests.support.ci import missing  # noqa: E402


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server: skipped where there is none, failed under ``CI``."""
    try:
        server = find_server()
    except PostgresUnavailable as exc:
        missing(f"needs PostgreSQL: {exc}")
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty database of this test's own on the session's server."""
    return postgres_server.create_database()
