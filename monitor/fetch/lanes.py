"""Per-host connection lanes: the per-host bound, one keep-alive connection per lane.

A host gets at most ``per_host`` lanes; a request holds one lane from its first byte to
its last, and each lane is an httpx transport with a single keep-alive connection
(:class:`~monitor.fetch.connection.LaneTransport`).  Why not one shared pool: httpcore's
pool re-examines every connection for every request event
(``_assign_requests_to_connections`` is O(connections²) in httpcore 1.0): a 1,000-feed
cycle at 64 connections measured 8 ms of CPU per request through one pool, 0.8 ms
through lanes.  Keep-alive still works: a lane's connection serves the next request that
takes the lane.

When the last request for a host finishes, its lanes are closed: idle sockets are kept
only for hosts that still have requests running or queued.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import httpx


@dataclass
class _Host:
    slots: asyncio.Semaphore
    free: list[httpx.AsyncBaseTransport] = field(default_factory=list)
    users: int = 0


class Lanes:
    """Hand out at most ``per_host`` transports per host key at a time."""

    def __init__(
        self,
        per_host: int,
        factory: Callable[[], httpx.AsyncBaseTransport],
        *,
        owned: bool = True,
    ) -> None:
        self.per_host = per_host
        self._factory = factory
        self._owned = owned
        self._hosts: dict[str, _Host] = {}

    @contextlib.asynccontextmanager
    async def lane(self, key: str) -> AsyncIterator[httpx.AsyncBaseTransport]:
        """Wait for a free lane to ``key`` (``host:port``) and hold it."""
        host = self._hosts.get(key)
        if host is None:
            host = self._hosts[key] = _Host(asyncio.Semaphore(self.per_host))
        host.users += 1
        try:
            async with host.slots:
                transport = host.free.pop() if host.free else self._factory()
                try:
                    yield transport
                finally:
                    host.free.append(transport)
        finally:
            host.users -= 1
            if host.users == 0 and self._hosts.get(key) is host:
                del self._hosts[key]
                await self._close(host.free)

    async def aclose(self) -> None:
        hosts, self._hosts = list(self._hosts.values()), {}
        for host in hosts:
            await self._close(host.free)

    async def _close(self, transports: list[httpx.AsyncBaseTransport]) -> None:
        if not self._owned:
            return
        for transport in transports:
            # Closing an idle keep-alive socket cannot fail in a way that matters here.
            with contextlib.suppress(Exception):
                await transport.aclose()
