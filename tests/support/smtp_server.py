"""A real SMTP server (aiosmtpd) on 127.0.0.1 that records what it receives.

The server runs its own event loop in a background thread, so synchronous tests, asyncio
tests and subprocesses can all reach it at ``server.host``/``server.port``.

Usage::

    with SmtpServer() as server:                      # or the ``smtp_server`` fixture
        ...                                           # send to 127.0.0.1:server.port
        server.messages[-1].message["Subject"]        # parsed with email.policy.default

    SmtpServer(security="starttls", cert=leaf)        # offers STARTTLS (trustme LeafCert)
    SmtpServer(security="ssl", cert=leaf)             # implicit TLS from the first byte
    SmtpServer(credentials={"user": "secret"})        # AUTH PLAIN/LOGIN required
    SmtpServer(size_limit=4000)                       # EHLO SIZE 4000, larger DATA: 552

Faults:

``server.fail_next(n, reply="451 4.3.0 Try again later")``
    Answer the next ``n`` messages' DATA with ``reply`` (and do not record them).
``server.reject("nobody@example.org", reply="550 5.1.1 ...")``
    Refuse that recipient at RCPT TO.

Fixtures (load with ``pytest_plugins = ["tests.support.smtp_server"]``): ``smtp_server``
(plain), ``smtp_ca`` (a session-wide trustme CA), ``smtp_client_tls`` (an
``ssl.SSLContext`` that trusts it), ``smtp_server_factory`` (any combination, stopped
after the test).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from types import TracebackType
from typing import Any, Literal

import pytest
import trustme
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

Security = Literal["none", "starttls", "ssl"]


@dataclass(frozen=True)
class Received:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    tls: bool
    """Whether the session was encrypted (STARTTLS or implicit TLS)."""
    user: str | None
    """The authenticated user name, if the client logged in."""

    @property
    def message(self) -> EmailMessage:
        """The message parsed with ``email.policy.default`` (parts keep CRLF endings)."""
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class _Handler:
    def __init__(self, owner: SmtpServer) -> None:
        self.owner = owner

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self.owner._rejected.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        owner = self.owner
        with owner._lock:
            if owner._failures:
                owner.attempts += 1
                return owner._failures.pop(0)
            data = envelope.original_content or b""
            owner.messages.append(
                Received(
                    mail_from=envelope.mail_from or "",
                    rcpt_tos=tuple(envelope.rcpt_tos),
                    data=data,
                    tls=session.ssl is not None  # STARTTLS
                    or server.transport.get_extra_info("sslcontext") is not None,
                    user=session.auth_data.login.decode()
                    if isinstance(session.auth_data, LoginPassword)
                    else None,
                )
            )
            owner.attempts += 1
        return "250 2.0.0 Message accepted"


class SmtpServer:
    """An aiosmtpd server on 127.0.0.1 with recorded messages and injectable faults."""

    def __init__(
        self,
        *,
        security: Security = "none",
        cert: trustme.LeafCert | None = None,
        credentials: dict[str, str] | None = None,
        host: str = "127.0.0.1",
        size_limit: int | None = 33554432,
    ) -> None:
        if security != "none" and cert is None:
            raise ValueError(f"security={security!r} needs a trustme LeafCert")
        self.host = host
        self.port = 0
        self.security = security
        self.messages: list[Received] = []
        self.attempts = 0
        """DATA commands answered (accepted or failed)."""
        self._credentials = dict(credentials or {})
        self.size_limit = size_limit
        """aiosmtpd's ``data_size_limit``: advertised as EHLO SIZE, larger DATA gets 552;
        None advertises no SIZE and accepts any size."""
        self._tls: ssl.SSLContext | None = None
        if cert is not None:
            self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            cert.configure_cert(self._tls)
        self._lock = threading.Lock()
        self._failures: list[str] = []
        self._rejected: dict[str, str] = {}
        self._handler = _Handler(self)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    # -- faults ----------------------------------------------------------------------
    def fail_next(self, count: int, reply: str = "451 4.3.0 Try again later") -> None:
        with self._lock:
            self._failures.extend([reply] * count)

    def reject(self, address: str, reply: str | None = None) -> None:
        with self._lock:
            self._rejected[address.lower()] = reply or f"550 5.1.1 <{address}>: user unknown"

    # -- lifecycle -------------------------------------------------------------------
    def _factory(self) -> SMTP:
        kwargs: dict[str, Any] = {}
        if self._credentials:
            # auth_required=True would make aiosmtpd warn about AUTH without TLS on
            # plain servers; a client with credentials logs in anyway.
            kwargs.update(authenticator=self._authenticate, auth_require_tls=False)
        return SMTP(
            self._handler,
            hostname="localhost",  # not getfqdn(): a DNS look-up per connection is slow
            tls_context=self._tls if self.security == "starttls" else None,
            require_starttls=self.security == "starttls",
            data_size_limit=self.size_limit,
            loop=self._loop,
            **kwargs,
        )

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and self._credentials.get(data.login.decode()) == data.password.decode()
        )
        return AuthResult(success=ok, handled=False, auth_data=data)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            server = self._loop.run_until_complete(
                self._loop.create_server(
                    self._factory,
                    self.host,
                    0,
                    ssl=self._tls if self.security == "ssl" else None,
                )
            )
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()
        tasks = asyncio.all_tasks(self._loop)
        for task in tasks:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        self._loop.run_until_complete(server.wait_closed())
        self._loop.close()

    def start(self) -> SmtpServer:
        self._thread = threading.Thread(target=self._run, name="smtpserver", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._thread = None

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


# -- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def smtp_ca() -> trustme.CA:
    """A throw-away certificate authority; its leaf certificate is for 127.0.0.1."""
    return trustme.CA()


@pytest.fixture(scope="session")
def smtp_cert(smtp_ca: trustme.CA) -> trustme.LeafCert:
    return smtp_ca.issue_cert("127.0.0.1", "localhost")


@pytest.fixture
def smtp_client_tls(smtp_ca: trustme.CA) -> ssl.SSLContext:
    """A client context that trusts ``smtp_ca`` (and nothing else)."""
    context = ssl.create_default_context()
    smtp_ca.configure_trust(context)
    return context


@pytest.fixture
def smtp_server_factory(smtp_cert: trustme.LeafCert) -> Iterator[Callable[..., SmtpServer]]:
    """``make(security="starttls", credentials={...})``: a started server, stopped after
    the test; TLS servers use the ``smtp_ca`` certificate."""
    servers: list[SmtpServer] = []

    def make(
        security: Security = "none",
        credentials: dict[str, str] | None = None,
        size_limit: int | None = 33554432,
    ) -> SmtpServer:
        server = SmtpServer(
            security=security,
            cert=smtp_cert if security != "none" else None,
            credentials=credentials,
            size_limit=size_limit,
        )
        servers.append(server.start())
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def smtp_server(smtp_server_factory: Callable[..., SmtpServer]) -> SmtpServer:
    """A started plain SMTP server on 127.0.0.1 without authentication."""
    return smtp_server_factory()
