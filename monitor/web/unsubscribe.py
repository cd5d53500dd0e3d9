"""One-click unsubscribe tokens for e-mail digests (RFC 8058), pure.

A token names the recipient (destination and address) and carries an HMAC-SHA256 of both
under ``MONITOR_SECRET``, so a link cannot be forged or moved to another address, and the
service keeps no table of tokens.  ``unsubscribe_url`` is what a digest's
``List-Unsubscribe`` header carries when ``MONITOR_PUBLIC_URL`` is set.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote

from monitor.errors import MonitorError
from monitor.models import Target


class BadToken(MonitorError):
    """An unsubscribe token that this secret did not sign, or that is malformed."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, destination: str, address: str) -> bytes:
    message = f"unsubscribe\n{destination}\n{address}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def make_token(secret: str, destination: str, address: str) -> str:
    payload = _b64(f"{destination}\n{address}".encode())
    return f"{payload}.{_b64(_mac(secret, destination, address))}"


def read_token(secret: str, token: str) -> Target:
    """The e-mail recipient a token names.

    Raises:
        BadToken: not signed with ``secret``, or not a token at all.
    """
    payload, _, mac = token.strip().partition(".")
    try:
        destination, _, address = _unb64(payload).decode().partition("\n")
        given = _unb64(mac)
    except (ValueError, UnicodeDecodeError):
        raise BadToken("unsubscribe: the link is damaged (copy all of it)") from None
    if not address or not hmac.compare_digest(given, _mac(secret, destination, address)):
        raise BadToken("unsubscribe: the link is not valid (it may be damaged or old)")
    return Target(destination, "email", address)


def unsubscribe_url(public_url: str, secret: str, target: Target) -> str | None:
    """``https://host/unsubscribe?t=TOKEN`` for an e-mail target; None for other channels
    or without a public URL or a secret."""
    if target.channel != "email" or not public_url or not secret:
        return None
    token = make_token(secret, target.destination, target.address)
    return f"{public_url.rstrip('/')}/unsubscribe?t={quote(token)}"
