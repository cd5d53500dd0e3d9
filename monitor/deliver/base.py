"""The one small interface every transport implements."""

from __future__ import annotations

from typing import Protocol

from monitor.models import Channel, OutgoingMessage, SendReceipt


class Sender(Protocol):
    """Delivers rendered messages over one channel.

    ``send`` raises ``TransientDeliveryError`` (retry later; ``retry_after`` seconds when
    the peer said) or ``PermanentDeliveryError`` (the row fails, the destination is
    unhealthy).  It never retries by itself: the outbox decides when to try again.
    """

    channel: Channel

    async def send(self, message: OutgoingMessage) -> SendReceipt:
        """Raises:
        TransientDeliveryError: network, 5xx, 429, SMTP 4xx.
        PermanentDeliveryError: 400, 403, SMTP 5xx.
        """
        ...

    async def aclose(self) -> None: ...
