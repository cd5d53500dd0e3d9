"""Run the outbox worker once, SIGKILLing itself around the K-th send (a fault at one seam).

Usage: python -m tests.support.crashing_deliver FEEDS KEYWORDS STATE PHASE K
PHASE is ``before`` (die just before the K-th message goes out) or ``after`` (die after
the server accepted it, before the outbox commit: the documented duplicate window).
Telegram settings come from the environment as in production.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from monitor.models import OutgoingMessage, SendReceipt
from monitor.pipeline.build import load_configs
from monitor.pipeline.runtime import build_deliverer
from monitor.settings import Settings
from monitor.store import Store


class Crashing:
    def __init__(self, inner: object, phase: str, k: int) -> None:
        self.inner = inner
        self.channel = inner.channel  # type: ignore[attr-defined]
        self.phase = phase
        self.k = k
        self.calls = 0

    async def send(self, message: OutgoingMessage) -> SendReceipt:
        self.calls += 1
        index = self.calls  # sends to different targets run concurrently
        if index == self.k and self.phase == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        receipt: SendReceipt = await self.inner.send(message)  # type: ignore[attr-defined]
        if index == self.k and self.phase == "after":
            os.kill(os.getpid(), signal.SIGKILL)
        return receipt

    async def aclose(self) -> None:
        await self.inner.aclose()  # type: ignore[attr-defined]


async def main(feeds: str, keywords: str, state: str, phase: str, k: int) -> None:
    cfg = load_configs(feeds, keywords)
    settings = Settings.from_env()
    url = settings.database_url.reveal() if settings.database_url else None
    with Store(state, database_url=url) as store:
        deliverer = build_deliverer(cfg, store, settings=settings)
        senders = dict(deliverer.senders)
        senders["telegram"] = Crashing(senders["telegram"], phase, k)  # type: ignore[assignment]
        deliverer.senders = senders
        try:
            await deliverer.deliver_alerts()
        finally:
            await deliverer.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])))
