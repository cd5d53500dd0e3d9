"""The one exception tree of monitor.

Every error that monitor raises on purpose derives from :class:`MonitorError`, with one
branch per pipeline stage.  Errors from libraries are wrapped only at the boundary of
the stage that calls them (``raise FetchError(...) from exc``).  Messages are lowercase
and name their subject (file and line, feed URL, destination).
"""

from __future__ import annotations


class MonitorError(Exception):
    """Root of every error raised by monitor."""


class ConfigError(MonitorError):
    """A configuration file is invalid.

    ``str(err)`` is ``"<file>:<line>: <key path>: <message>"``, followed by ``excerpt``
    (lines of the file with a caret, and a hint) when there is one; the parts are also
    available as attributes so that tools can point at the place.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        path: str | None = None,
        excerpt: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.path = path
        self.excerpt = excerpt
        super().__init__(self._format())

    def _format(self) -> str:
        place = ""
        if self.file:
            place = self.file if self.line is None else f"{self.file}:{self.line}"
            place += ": "
        key = f"{self.path}: " if self.path else ""
        tail = f"\n{self.excerpt}" if self.excerpt else ""
        return f"{place}{key}{self.message}{tail}"


class ConfigErrors(ConfigError):
    """Several configuration errors found in one pass; ``errors`` holds each one."""

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = list(errors)
        first = self.errors[0]
        super().__init__(first.message, file=first.file, line=first.line, path=first.path)

    def _format(self) -> str:
        return "\n".join(str(e) for e in getattr(self, "errors", []))


class FetchError(MonitorError):
    """A feed could not be fetched.

    ``kind`` is a short machine-readable tag (``timeout``, ``http``, ``too_large``,
    ``redirect_loop``, ``network``, ...); ``url`` the feed URL; ``status`` the HTTP status
    if one was received.
    """

    def __init__(self, message: str, *, url: str, kind: str, status: int | None = None) -> None:
        self.url = url
        self.kind = kind
        self.status = status
        super().__init__(f"fetcher: {url}: {message}")


class ParseError(MonitorError):
    """A feed body could not be parsed at all (no entry could be read)."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        self.url = url
        prefix = f"parser: {url}: " if url else "parser: "
        super().__init__(prefix + message)


class MatchError(MonitorError):
    """A watchlist could not be evaluated (a bug or an invalid compiled rule)."""


class StorageError(MonitorError):
    """The state database is unusable (locked by another process, corrupt, too new)."""


class StateLockedError(StorageError):
    """Another monitor process holds the lock on the state directory."""


class ServiceError(MonitorError):
    """The service cannot start one of its parts (the HTTP endpoint's port is taken)."""


class DeliveryError(MonitorError):
    """A message could not be delivered to a destination."""

    def __init__(self, message: str, *, destination: str | None = None) -> None:
        self.destination = destination
        prefix = f"delivery: {destination}: " if destination else "delivery: "
        super().__init__(prefix + message)


class TransientDeliveryError(DeliveryError):
    """Try again later (network, 5xx, 429, SMTP 4xx).

    ``retry_after`` (seconds), when the peer said how long to wait, is honoured exactly.
    """

    def __init__(
        self, message: str, *, destination: str | None = None, retry_after: float | None = None
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, destination=destination)


class PermanentDeliveryError(DeliveryError):
    """Retrying will not help (400, 403, SMTP 5xx): the row is marked failed."""


class HeldDeliveryError(TransientDeliveryError):
    """The destination cannot take messages until someone fixes it (a forum topic was
    deleted or closed): the rows wait, retried with back-off, and the destination is
    shown unhealthy (``/status``, ``monitor status``) instead of losing them."""


class TransportSettingsError(HeldDeliveryError):
    """The transport cannot be used as configured: a rejected login or bot token, a
    server without the STARTTLS it must offer, an untrusted certificate, a host that
    refuses connections or does not resolve.

    Nothing is wrong with the rows (issue 10 item 5): they wait, the destination is
    marked unhealthy with this reason, the admins are told once, and the rows go out
    when the settings are fixed (the next process or reload retries them at once).
    """


class MessageTooLargeError(PermanentDeliveryError):
    """The server refuses a message this large (SMTP SIZE, RFC 1870, or a 552 reply).

    ``limit`` is the server's advertised maximum in bytes, when it said.  The outbox
    splits the digest and sends it again; only an item too large on its own fails.
    """

    def __init__(
        self,
        message: str,
        *,
        destination: str | None = None,
        limit: int | None = None,
        size: int | None = None,
    ) -> None:
        self.limit = limit
        self.size = size
        super().__init__(message, destination=destination)
