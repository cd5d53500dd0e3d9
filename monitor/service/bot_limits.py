"""Per-user command rate limiting: a token bucket per user id (pure, clock injected).

A user may send ``burst`` commands at once, then one every ``1 / per_second`` seconds.
The first command over the limit earns one polite "slow down" reply; the rest are
ignored without a word until the bucket refills, so a flood costs the bot one message.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Verdict = Literal["answer", "warn", "ignore"]


@dataclass(frozen=True, slots=True)
class CommandRate:
    burst: int = 5
    per_second: float = 0.2
    """Sustained rate: one command every five seconds."""


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float
    warned: bool = False


class CommandLimiter:
    """Decides, per user, whether to answer a command, warn once, or ignore it."""

    MAX_USERS = 10_000

    def __init__(
        self, rate: CommandRate | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate or CommandRate()
        self.clock = clock
        self._buckets: dict[int, _Bucket] = {}

    def check(self, user_id: int) -> Verdict:
        now = self.clock()
        bucket = self._buckets.get(user_id)
        if bucket is None:
            if len(self._buckets) >= self.MAX_USERS:
                self._forget_full(now)
            bucket = self._buckets[user_id] = _Bucket(float(self.rate.burst), now)
        self._refill(bucket, now)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            bucket.warned = False
            return "answer"
        if bucket.warned:
            return "ignore"
        bucket.warned = True
        return "warn"

    def wait(self, user_id: int) -> float:
        """Seconds until ``user_id`` may send a command again."""
        bucket = self._buckets.get(user_id)
        if bucket is None or bucket.tokens >= 1 or self.rate.per_second <= 0:
            return 0.0
        return (1 - bucket.tokens) / self.rate.per_second

    def _refill(self, bucket: _Bucket, now: float) -> None:
        gained = max(now - bucket.at, 0.0) * self.rate.per_second
        bucket.tokens = min(float(self.rate.burst), bucket.tokens + gained)
        bucket.at = now

    def _forget_full(self, now: float) -> None:
        # Users whose bucket has refilled are indistinguishable from new ones.
        for user, bucket in list(self._buckets.items()):
            self._refill(bucket, now)
            if bucket.tokens >= self.rate.burst:
                del self._buckets[user]
