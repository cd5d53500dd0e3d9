"""HTTP semantics of the fetch stage in one place: validators, redirects, hints, statuses.

Pure functions of status codes, header values, URLs and an explicit ``now`` (the model is
miniflux's ``internal/reader/fetcher/response_handler.go``); the network code in
:mod:`monitor.fetch.fetcher` only moves bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from http import HTTPStatus
from urllib.parse import urljoin, urlsplit

from monitor.errors import FetchError
from monitor.fetch.schedule import parse_max_age, parse_retry_after

REDIRECTS = frozenset({301, 302, 303, 307, 308})
PERMANENT = frozenset({301, 308})
RETRY_AFTER_STATUSES = frozenset({429, 503})
FRESHNESS_STATUSES = frozenset({200, 203, 304})


def conditional_headers(etag: str | None, last_modified: str | None) -> list[tuple[bytes, bytes]]:
    """``If-None-Match`` / ``If-Modified-Since`` for the stored validators (RFC 9110 §13.1).

    Values are sent back byte for byte as the server gave them (Latin-1, RFC 9110 §5.5); a
    stored value that cannot be a header value (a line break, a non-Latin-1 character) is
    not sent at all rather than failing the request.
    """
    headers: list[tuple[bytes, bytes]] = []
    for name, value in ((b"If-None-Match", etag), (b"If-Modified-Since", last_modified)):
        if not value:
            continue
        try:
            raw = value.encode("latin-1")
        except UnicodeEncodeError:
            continue
        if b"\r" in raw or b"\n" in raw or b"\0" in raw:
            continue
        headers.append((name, raw))
    return headers


def redirect_target(url: str, status: int, location: str | None) -> str:
    """The absolute URL a redirect response points to.

    Raises:
        FetchError: kind ``redirect`` when Location is missing or not an http(s) URL.
    """
    if not location or not location.strip():
        raise FetchError(
            f"HTTP {status} redirect without a Location header",
            url=url,
            kind="redirect",
            status=status,
        )
    # RFC 9110 §10.2.2: Location may be relative to the request URL.
    target = urljoin(url, location.strip())
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(
            f"HTTP {status} redirect to {location.strip()!r}, not an http(s) URL",
            url=url,
            kind="redirect",
            status=status,
        )
    return target.split("#", 1)[0]


def not_before(status: int, headers: Mapping[str, str], now: datetime) -> datetime | None:
    """The lower bound a response sets for the next poll, or None.

    ``Retry-After`` counts on 429 (RFC 6585 §4) and 503 (RFC 9110 §15.6.4);
    ``Cache-Control: max-age`` on a fresh or revalidated response (RFC 9111 §5.2.2.1).
    """
    if status in RETRY_AFTER_STATUSES:
        return parse_retry_after(headers.get("retry-after"), now)
    if status in FRESHNESS_STATUSES:
        max_age = parse_max_age(headers.get("cache-control"))
        return now + max_age if max_age is not None else None
    return None


def status_message(status: int, reason: str, headers: Mapping[str, str]) -> str:
    """``HTTP 429 Too Many Requests (Retry-After: 120)`` for an unusable status."""
    if not reason:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = ""
    text = f"HTTP {status} {reason}".rstrip()
    retry = headers.get("retry-after")
    if status in RETRY_AFTER_STATUSES and retry:
        text += f" (Retry-After: {retry.strip()})"
    if 300 <= status < 400:
        text += " (not a redirect that can be followed)"
    return text


def size_text(n: int) -> str:
    """``5 MiB`` / ``512 KiB`` / ``300 bytes``: sizes in error messages."""
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= factor:
            value = n / factor
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} bytes"
