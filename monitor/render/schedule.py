"""When a recipient's daily digest is due: a pure function of the schedule, the end of
the last digest period and an explicit ``now``.

A destination has a ``digest_time`` (local wall-clock time) and an IANA ``timezone``.
Each local date ``d`` has one *slot*: the UTC instant at which the wall clock in that zone
shows ``digest_time`` on ``d``.  A digest is due when at least one slot lies in
``(last, now]``, where ``last`` is the ``period_end`` of the last digest closed for that
recipient (or an anchor, such as when the destination was first configured).  However
many slots were missed while the service was down, one digest is due, for the local date
of the latest one: a missed day is caught up once, never skipped, never repeated.

Wall-clock times that do not exist or occur twice follow RFC 5545 §3.3.5 (iCalendar),
which is also Python's ``fold=0``:

* in the spring-forward gap (Europe/Brussels, 29 Mar 2026: 02:00 → 03:00), the time is
  read with the offset before the gap, so 02:30 is 03:30 CEST (01:30 UTC);
* in the repeated autumn hour (25 Oct 2026: 03:00 → 02:00), the first occurrence is
  used, so 02:30 is 02:30 CEST (00:30 UTC); the second 02:30 sends nothing, because that
  local date's slot is already behind ``last``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class DigestPlan:
    """What the digest schedule says at ``now`` for one recipient."""

    due_for: date | None
    """Local date of the digest to close now (the latest slot missed), or None."""
    slot: datetime | None
    """UTC instant of that date's slot, or None when nothing is due."""
    next_at: datetime
    """UTC instant of the first slot after ``now``: when to look again."""

    @property
    def due(self) -> bool:
        return self.due_for is not None


def slot_instant(day: date, digest_time: time, timezone: str | ZoneInfo) -> datetime:
    """The UTC instant when the wall clock in ``timezone`` shows ``digest_time`` on ``day``.

    Raises:
        zoneinfo.ZoneInfoNotFoundError: ``timezone`` is not an IANA name.
    """
    zone = timezone if isinstance(timezone, ZoneInfo) else ZoneInfo(timezone)
    local = datetime.combine(day, digest_time.replace(tzinfo=None, fold=0), tzinfo=zone)
    return local.astimezone(UTC)


def plan_digest(
    digest_time: time, timezone: str | ZoneInfo, *, last: datetime, now: datetime
) -> DigestPlan:
    """Say whether a digest is due at ``now`` and when the next slot comes.

    ``last`` is the ``period_end`` of the recipient's last digest (sent or still queued),
    or an anchor such as when the destination was first configured: slots at or before
    it are done.  A digest that is due covers ``(last, now]``.

    Raises:
        ValueError: ``last`` or ``now`` is a naive datetime.
        zoneinfo.ZoneInfoNotFoundError: ``timezone`` is not an IANA name.
    """
    if last.tzinfo is None or now.tzinfo is None:
        raise ValueError("digest schedule: last and now must be timezone-aware")
    zone = timezone if isinstance(timezone, ZoneInfo) else ZoneInfo(timezone)
    today = now.astimezone(zone).date()
    # Two days either side cover a slot pushed across midnight by a gap at midnight
    # (zones such as America/Santiago change their clocks at 00:00).
    days = [today + timedelta(days=n) for n in range(-2, 3)]
    slots = [(day, slot_instant(day, digest_time, zone)) for day in days]
    past = [(day, at) for day, at in slots if at <= now]
    next_at = min(at for _, at in slots if at > now)
    if past:
        day, at = max(past, key=lambda pair: pair[1])
        if at > last:
            return DigestPlan(due_for=day, slot=at, next_at=next_at)
    return DigestPlan(due_for=None, slot=None, next_at=next_at)


def digest_due(
    *, digest_time: time, timezone: str | ZoneInfo, last: datetime, now: datetime
) -> date | None:
    """The local date of the digest due at ``now``, or None: :func:`plan_digest` for
    callers that only need to know whether to close a digest.

    Raises:
        ValueError: ``last`` or ``now`` is a naive datetime.
        zoneinfo.ZoneInfoNotFoundError: ``timezone`` is not an IANA name.
    """
    return plan_digest(digest_time, timezone, last=last, now=now).due_for


def in_quiet_hours(now: datetime, start: time, end: time, timezone: str) -> bool:
    """Whether ``now`` falls in the daily window ``[start, end)`` of local wall-clock
    time in ``timezone`` (a window such as 22:00-07:00 runs over midnight).

    Read on the wall clock, so the window follows daylight saving time: 07:00 is 06:00
    UTC in winter and 05:00 UTC in summer in Europe/Brussels.
    """
    local = now.astimezone(ZoneInfo(timezone)).time().replace(tzinfo=None)
    if start <= end:
        return start <= local < end
    return local >= start or local < end
