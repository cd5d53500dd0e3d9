"""Console transport: prints alerts and digests for running without credentials."""

from __future__ import annotations

import sys
from typing import TextIO

from monitor.models import Channel, OutgoingMessage, SendReceipt


class ConsoleSender:
    """Prints each message as plain text, under a line that names where it would go.

    Stands in for Telegram (no ``TELEGRAM_BOT_TOKEN``) so that a newcomer sees what would
    be sent; it never fails.
    """

    channel: Channel = "console"
    via = "console (no TELEGRAM_BOT_TOKEN)"
    """What ``monitor status`` says of a destination this sender stood in for."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    async def send(self, message: OutgoingMessage) -> SendReceipt:
        """Print ``message``; never raises a delivery error."""
        # Looked up at each send, not at construction, so redirected stdout is honoured.
        out = self._stream or sys.stdout
        target = message.target
        rule = f"--- {target.channel} to {target.destination} ({target.address}) "
        lines = [rule.ljust(72, "-")]
        if message.subject:
            lines.append(f"Subject: {message.subject}")
            lines.append("")
        lines.append(message.plain.rstrip())
        lines.append("")
        out.write("\n".join(lines) + "\n")
        out.flush()
        return SendReceipt()

    async def aclose(self) -> None:
        """Nothing to close."""
