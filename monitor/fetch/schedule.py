"""When to poll a feed next: the pure "decider" of the fetch stage.

Everything here is a function of its arguments: the current time is a parameter and
randomness comes from an injected :class:`random.Random`, so the schedule is reproducible
in tests.  The fetcher uses the header parsers; the pipeline calls :func:`next_poll`.

Every server hint (``Retry-After``, ``Cache-Control: max-age``, RSS ``<ttl>``) is a lower
bound, but no hint may push the next poll beyond ``max(max_backoff, interval)``: a
misconfigured server (``max-age=31536000``) must not silence a news feed for days
(USER-NEEDS #18: feeds that break must never die silently).
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

DEFAULT_MIN_BACKOFF = timedelta(minutes=1)
DEFAULT_MAX_BACKOFF = timedelta(hours=6)
JITTER = (0.75, 1.0)
SUCCESS_JITTER = (0.9, 1.0)
"""A backoff delay ``d`` becomes ``d * uniform(*JITTER)``: spread, never above the cap."""

_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)\"?", re.IGNORECASE)
_NO_CACHE = re.compile(r"(?:^|[,\s])(?:no-cache|no-store)(?:$|[,\s=])", re.IGNORECASE)


def parse_retry_after(value: str | None, now: datetime) -> datetime | None:
    """The time before which a server asked not to be polled again, or None.

    ``Retry-After`` is either delay-seconds or an HTTP-date (RFC 9110 §10.2.3).  A date in
    the past means "now"; a value that is neither form is ignored.
    """
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        # Python ints are unbounded; timedelta is not, so clamp to a century first.
        return now + timedelta(seconds=min(int(value), 100 * 365 * 86400))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        # RFC 9110 §5.6.7: HTTP-dates are always GMT, even when written "-0000".
        when = when.replace(tzinfo=UTC)
    return max(when.astimezone(UTC), now)


def parse_max_age(cache_control: str | None) -> timedelta | None:
    """The ``max-age`` of a ``Cache-Control`` header, or None.

    ``no-cache`` and ``no-store`` mean the server gives no freshness hint, so the result
    is None; ``max-age=0`` is also None (nothing to wait for).
    """
    if not cache_control or _NO_CACHE.search(cache_control):
        return None
    m = _MAX_AGE.search(cache_control)
    if m is None:
        return None
    seconds = min(int(m.group(1)), 100 * 365 * 86400)
    return timedelta(seconds=seconds) if seconds > 0 else None


def backoff_delay(
    failures: int,
    interval: timedelta,
    rng: random.Random,
    *,
    min_backoff: timedelta = DEFAULT_MIN_BACKOFF,
    max_backoff: timedelta = DEFAULT_MAX_BACKOFF,
) -> timedelta:
    """The delay before retrying a feed after ``failures`` consecutive failures.

    As the README documents it: the first retry comes ``min_backoff`` after the failure,
    and each further failure doubles the wait up to ``max_backoff`` (issue 10 item 8: the
    wait used to start from the feed's interval, so a 15-minute feed's first retry came
    12-15 minutes later instead of after 1 minute).  The delay is jittered downwards into
    ``[0.75 * d, d]`` but never below ``min_backoff``, so feeds that failed together do not
    retry together.  ``max_backoff`` is the longest wait, even for a feed whose interval
    is longer: a failing feed is retried at least that often and never given up.

    After a success the delay is the interval jittered into ``[0.9 * i, i]``: feeds that
    were added (or polled after downtime) together drift apart instead of all falling
    due in the same second every interval.
    """
    if failures <= 0:
        return interval * rng.uniform(*SUCCESS_JITTER)
    cap = max(max_backoff, min_backoff).total_seconds()
    base = min_backoff.total_seconds()
    # In float seconds: timedelta arithmetic would overflow after a few dozen doublings.
    delay = min(cap, base * 2.0 ** min(failures - 1, 512))
    return max(min_backoff, timedelta(seconds=delay * rng.uniform(*JITTER)))


def next_poll(
    now: datetime,
    *,
    interval: timedelta,
    failures: int,
    rng: random.Random,
    min_backoff: timedelta = DEFAULT_MIN_BACKOFF,
    max_backoff: timedelta = DEFAULT_MAX_BACKOFF,
    not_before: datetime | None = None,
    ttl: timedelta | None = None,
) -> datetime:
    """When to poll a feed next.

    ``failures`` is the number of consecutive failures including the poll that just
    ended (0 after a success).  ``not_before`` (from ``Retry-After`` or
    ``Cache-Control: max-age``) and ``ttl`` (RSS ``<ttl>``) are lower bounds; each is
    capped at ``now + max(max_backoff, interval)``.
    """
    ceiling = now + max(max_backoff, interval)
    due = now + backoff_delay(
        failures, interval, rng, min_backoff=min_backoff, max_backoff=max_backoff
    )
    if ttl is not None:
        due = max(due, min(now + ttl, ceiling))
    if not_before is not None:
        due = max(due, min(not_before, ceiling))
    return due


def rescheduled(
    now: datetime,
    *,
    last_attempt: datetime | None,
    interval: timedelta,
    failures: int,
    rng: random.Random,
    min_backoff: timedelta = DEFAULT_MIN_BACKOFF,
    max_backoff: timedelta = DEFAULT_MAX_BACKOFF,
) -> datetime:
    """When to poll a feed whose schedule settings (interval, back-off) were just edited.

    The due time is computed afresh from the last attempt under the new settings, never
    from the old slot: shortening a daily interval to 15 minutes polls within 15 minutes,
    not tomorrow (issue 10 item 8).  A time already past means ``now``.  A server hint
    (``Retry-After``, ``max-age``, ``<ttl>``) from the last poll is not stored, so it is
    not re-applied: the next poll brings it back.
    """
    if last_attempt is None:
        return now
    due = last_attempt + backoff_delay(
        failures, interval, rng, min_backoff=min_backoff, max_backoff=max_backoff
    )
    return max(due, now)
