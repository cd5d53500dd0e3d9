"""E-mail transports: SMTP through aiosmtplib, and ``.eml`` files when there is no server.

Both take an :class:`OutgoingMessage` rendered by :mod:`monitor.render.email` and build
the MIME message with :func:`monitor.render.email.build_email_message`.  Neither retries:
the outbox decides, from the error class, whether and when to try again.
"""

from __future__ import annotations

import asyncio
import email.policy
import hashlib
import logging
import os
import re
import ssl
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parseaddr
from pathlib import Path
from typing import Literal, cast, get_args

import aiosmtplib
from email_validator import EmailNotValidError, validate_email

from monitor.errors import (
    ConfigError,
    DeliveryError,
    MessageTooLargeError,
    PermanentDeliveryError,
    TransientDeliveryError,
    TransportSettingsError,
)
from monitor.models import Channel, OutgoingMessage, SendReceipt
from monitor.render.email import build_email_message

log = logging.getLogger(__name__)

Security = Literal["starttls", "ssl", "none"]
DEFAULT_PORTS: dict[Security, int] = {"starttls": 587, "ssl": 465, "none": 25}
DEFAULT_MAIL_FROM = "monitor <monitor@localhost>"
"""Sender of ``.eml`` files written without an SMTP configuration."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """How to reach the SMTP server; built from the environment by :meth:`from_env`."""

    host: str
    mail_from: str
    port: int = 587
    security: Security = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> SmtpSettings | None:
        """Read ``SMTP_HOST``, ``SMTP_PORT``, ``SMTP_SECURITY`` (``starttls``, ``ssl`` or
        ``none``; default ``starttls``), ``SMTP_USERNAME``, ``SMTP_PASSWORD`` and
        ``MAIL_FROM``.  The port defaults to 587, 465 or 25 by security.

        Returns None when ``SMTP_HOST`` is unset or empty: no SMTP, write ``.eml`` files.

        Raises:
            ConfigError: a value is invalid or ``MAIL_FROM`` is missing; the message names
                the variable and never shows the password.
        """
        host = environ.get("SMTP_HOST", "").strip()
        if not host:
            return None
        raw_security = environ.get("SMTP_SECURITY", "").strip().lower() or "starttls"
        if raw_security not in get_args(Security):
            raise ConfigError(
                f"must be one of starttls, ssl, none, not {raw_security!r}", path="SMTP_SECURITY"
            )
        security = cast(Security, raw_security)
        port = _port(environ.get("SMTP_PORT", "").strip(), DEFAULT_PORTS[security])
        username = environ.get("SMTP_USERNAME") or None
        password = environ.get("SMTP_PASSWORD") or None
        if (username is None) != (password is None):
            missing = "SMTP_PASSWORD" if password is None else "SMTP_USERNAME"
            raise ConfigError("SMTP_USERNAME and SMTP_PASSWORD go together", path=missing)
        mail_from = environ.get("MAIL_FROM", "").strip()
        if not mail_from:
            raise ConfigError("is required when SMTP_HOST is set", path="MAIL_FROM")
        return cls(
            host=host,
            mail_from=check_mail_from(mail_from),
            port=port,
            security=security,
            username=username,
            password=password,
        )


def mail_from_env(environ: Mapping[str, str]) -> str:
    """``MAIL_FROM`` checked, or :data:`DEFAULT_MAIL_FROM` when unset.

    Raises:
        ConfigError: ``MAIL_FROM`` is not an e-mail address.
    """
    value = environ.get("MAIL_FROM", "").strip()
    return check_mail_from(value) if value else DEFAULT_MAIL_FROM


def check_mail_from(value: str) -> str:
    """Return ``value`` (``addr@example.org`` or ``Name <addr@example.org>``) if valid.

    Raises:
        ConfigError: not an e-mail address.
    """
    _, address = parseaddr(value)
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ConfigError(f"{value!r} is not an e-mail address: {exc}", path="MAIL_FROM") from exc
    return value


def _port(raw: str, default: int) -> int:
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ConfigError(f"must be a port number from 1 to 65535, not {raw!r}", path="SMTP_PORT")
    return int(raw)


class SmtpSender:
    """Sends each message over its own SMTP connection (plain, STARTTLS or TLS).

    A digest is one message per recipient per day, so a connection per message costs
    nothing and leaves no idle connection for the server to drop.
    """

    channel: Channel = "email"

    def __init__(
        self,
        settings: SmtpSettings,
        *,
        tls_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.settings = settings
        self._tls_context = tls_context
        self._local_hostname = local_hostname
        self._clock = clock
        self.max_message_size: int | None = None
        """The SIZE the server advertised at the last EHLO (RFC 1870); None: none said."""

    async def send(self, message: OutgoingMessage) -> SendReceipt:
        """Raises:
        TransportSettingsError: the settings or credentials are wrong (535, no STARTTLS,
            an untrusted certificate, a refused connection, an unknown host).
        MessageTooLargeError: the message is larger than the server's SIZE, or the
            server answered 552.
        TransientDeliveryError: timeout, dropped connection, SMTP 4xx.
        PermanentDeliveryError: another SMTP 5xx (recipient rejected, spam).
        """
        s = self.settings
        destination, address = message.target.destination, message.target.address
        where = f"smtp {s.host}:{s.port}"
        try:
            mime = build_email_message(message, date=self._clock())
        except ValueError as exc:
            raise PermanentDeliveryError(f"{address}: {exc}", destination=destination) from exc
        data = mime.as_bytes(policy=email.policy.SMTP)
        client = aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            username=s.username,
            password=s.password,
            use_tls=s.security == "ssl",
            start_tls=s.security == "starttls",
            tls_context=self._tls_context,
            local_hostname=self._local_hostname,
            timeout=s.timeout,
        )
        try:
            async with client:
                if client.is_ehlo_or_helo_needed:
                    # connect() greets only for STARTTLS or a login; SIZE comes with EHLO.
                    try:
                        await client.ehlo()
                    except aiosmtplib.SMTPHeloError:
                        await client.helo()  # an old server: no extensions, no SIZE
                self.max_message_size = _advertised_size(client)
                limit = self.max_message_size
                if limit is not None and len(data) > limit:
                    raise MessageTooLargeError(
                        f"{where} for {address}: the message is {len(data)} bytes, more "
                        f"than the server's SIZE {limit}",
                        destination=destination,
                        limit=limit,
                        size=len(data),
                    )
                await client.sendmail(parseaddr(str(mime["From"]))[1], [address], data)
        except DeliveryError:
            raise
        except aiosmtplib.SMTPRecipientsRefused as exc:
            first = exc.recipients[0]
            text = f"{where} refused {address}: {first.code} {_oneline(first.message)}"
            raise _by_code(first.code, text, destination) from exc
        except aiosmtplib.SMTPResponseException as exc:
            text = f"{where} for {address}: {exc.code} {_oneline(exc.message)}"
            if exc.code == 552:
                # RFC 1870 §6.2 (and aiosmtpd's data_size_limit): the message is too large.
                raise MessageTooLargeError(
                    text, destination=destination, limit=self.max_message_size, size=len(data)
                ) from exc
            if isinstance(exc, aiosmtplib.SMTPAuthenticationError) or exc.code in _AUTH_CODES:
                raise TransportSettingsError(
                    f"{text} (check SMTP_USERNAME and SMTP_PASSWORD)", destination=destination
                ) from exc
            raise _by_code(exc.code, text, destination) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            text = f"{where} for {address}: {_oneline(str(exc)) or type(exc).__name__}"
            hint = _settings_hint(exc)
            if hint:
                raise TransportSettingsError(f"{text} ({hint})", destination=destination) from exc
            raise TransientDeliveryError(text, destination=destination) from exc
        return SendReceipt(remote_id=str(mime["Message-ID"]))

    async def aclose(self) -> None:
        """Nothing to close: each send uses its own connection."""


# RFC 4954 §6: 530 authentication required, 534 mechanism too weak, 535 credentials
# invalid, 538 encryption required; RFC 3207: 530 "must issue a STARTTLS command first".
_AUTH_CODES = frozenset({530, 534, 535, 538})


def _advertised_size(client: aiosmtplib.SMTP) -> int | None:
    """The EHLO SIZE value; None when absent, 0 (no fixed maximum) or unreadable."""
    raw = client.esmtp_extensions.get("size", "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else None


def _by_code(
    code: int, text: str, destination: str
) -> TransientDeliveryError | PermanentDeliveryError:
    # RFC 5321 §4.2.1: 4yz is a transient negative completion, 5yz a permanent one.
    if 500 <= code < 600:
        return PermanentDeliveryError(text, destination=destination)
    return TransientDeliveryError(text, destination=destination)


def _settings_hint(exc: BaseException) -> str | None:
    """What to check when the error is the settings' fault, not the message's or a
    passing network fault: an untrusted certificate, a server without STARTTLS or a
    usable authentication method, a host that refuses connections or does not exist."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLCertVerificationError):
            return "check the server's certificate and SMTP_HOST"
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    if isinstance(exc, aiosmtplib.SMTPTimeoutError | aiosmtplib.SMTPServerDisconnected):
        return None  # a slow or dropped connection: the next attempt may work
    if isinstance(exc, aiosmtplib.SMTPConnectError):
        return "check SMTP_HOST and SMTP_PORT"
    if isinstance(exc, aiosmtplib.SMTPNotSupported) or "starttls" in str(exc).lower():
        return "check SMTP_SECURITY"
    if isinstance(exc, ConnectionError | OSError):
        return None
    if isinstance(exc, aiosmtplib.SMTPException):
        return "check the SMTP_* settings"
    return None


def _oneline(text: str) -> str:
    return " ".join(text.split())


class EmlFileSender:
    """Writes each message as an ``.eml`` file (RFC 5322, CRLF) into ``directory``.

    For running without SMTP credentials: open the files in a mail client to see what
    would have been sent.  The name is ``<UTC date>_<destination>_<hash>.eml``, the hash
    from the Message-ID and the address, so a retried message replaces its own file.
    """

    channel: Channel = "email"

    def __init__(self, directory: Path, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self.directory = Path(directory)
        self._clock = clock
        self.via = f".eml files in {self.directory} (no SMTP_HOST)"
        """What ``monitor status`` says of a destination this sender stood in for."""

    async def send(self, message: OutgoingMessage) -> SendReceipt:
        """Raises:
        TransientDeliveryError: the file could not be written (disk full, permissions).
        PermanentDeliveryError: the message cannot be built (a header is invalid).
        """
        destination, address = message.target.destination, message.target.address
        now = self._clock()
        try:
            mime = build_email_message(message, date=now)
        except ValueError as exc:
            raise PermanentDeliveryError(f"{address}: {exc}", destination=destination) from exc
        message_id = str(mime["Message-ID"])
        path = self.directory / eml_name(destination, address, message_id, now)
        try:
            await asyncio.to_thread(write_atomic, path, mime.as_bytes(policy=email.policy.SMTP))
        except OSError as exc:
            raise TransientDeliveryError(
                f"cannot write {path} for {address}: {exc}", destination=destination
            ) from exc
        log.info("wrote %s for %s (%s)", path, address, destination)
        return SendReceipt(remote_id=message_id)

    async def aclose(self) -> None:
        """Nothing to close."""


def eml_name(destination: str, address: str, message_id: str, when: datetime) -> str:
    """``2026-11-30_policy-team_1a2b3c4d.eml``: sortable, readable, one per message."""
    digest = hashlib.sha256(f"{message_id}|{address}".encode()).hexdigest()[:8]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", destination).strip(".-") or "destination"
    return f"{when.astimezone(UTC):%Y-%m-%d}_{slug}_{digest}.eml"


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one.

    Raises:
        OSError: the directory cannot be created or the file written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
