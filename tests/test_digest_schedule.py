"""The digest schedule: local time, daylight-saving changes, catch-up after downtime."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.render.schedule import digest_due, plan_digest, slot_instant

BRUSSELS = "Europe/Brussels"
EIGHT = time(8, 0)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 3, 28), utc(2026, 3, 28, 7)),  # Saturday, CET (UTC+1)
        (date(2026, 3, 29), utc(2026, 3, 29, 6)),  # clocks went forward at 01:00 UTC
        (date(2026, 10, 24), utc(2026, 10, 24, 6)),  # Saturday, CEST (UTC+2)
        (date(2026, 10, 25), utc(2026, 10, 25, 7)),  # clocks went back at 01:00 UTC
    ],
)
def test_eight_in_brussels_across_both_changes(day: date, expected: datetime) -> None:
    assert slot_instant(day, EIGHT, BRUSSELS) == expected


def test_march_change_sends_at_eight_local_not_eight_winter_time() -> None:
    last = utc(2026, 3, 28, 7, 0, 2)  # Saturday's digest, closed at 08:00:02 CET
    before = plan_digest(EIGHT, BRUSSELS, last=last, now=utc(2026, 3, 29, 5, 59))
    assert not before.due
    assert before.next_at == utc(2026, 3, 29, 6)
    at = plan_digest(EIGHT, BRUSSELS, last=last, now=utc(2026, 3, 29, 6))
    assert at.due_for == date(2026, 3, 29)
    assert at.slot == utc(2026, 3, 29, 6)
    after = plan_digest(EIGHT, BRUSSELS, last=utc(2026, 3, 29, 6), now=utc(2026, 3, 29, 7))
    assert not after.due
    assert after.next_at == utc(2026, 3, 30, 6)


def test_october_change_waits_for_eight_local() -> None:
    last = utc(2026, 10, 24, 6, 0, 2)  # Saturday's digest, 08:00:02 CEST
    early = plan_digest(EIGHT, BRUSSELS, last=last, now=utc(2026, 10, 25, 6, 30))
    assert not early.due  # 07:30 CET: an hour-early digest is the bug of a UTC cron
    assert early.next_at == utc(2026, 10, 25, 7)
    at = plan_digest(EIGHT, BRUSSELS, last=last, now=utc(2026, 10, 25, 7))
    assert at.due_for == date(2026, 10, 25)


def test_time_in_the_spring_gap_uses_the_offset_before_it() -> None:
    # 02:30 does not exist on 29 Mar 2026 in Brussels; RFC 5545 reads it as 03:30 CEST.
    assert slot_instant(date(2026, 3, 29), time(2, 30), BRUSSELS) == utc(2026, 3, 29, 1, 30)
    plan = plan_digest(time(2, 30), BRUSSELS, last=utc(2026, 3, 28, 1, 30), now=utc(2026, 3, 29, 1))
    assert not plan.due
    assert plan.next_at == utc(2026, 3, 29, 1, 30)


def test_time_in_the_repeated_hour_sends_once_at_the_first() -> None:
    first = utc(2026, 10, 25, 0, 30)  # 02:30 CEST; 02:30 CET comes again at 01:30 UTC
    assert slot_instant(date(2026, 10, 25), time(2, 30), BRUSSELS) == first
    plan = plan_digest(time(2, 30), BRUSSELS, last=utc(2026, 10, 24, 0, 30), now=first)
    assert plan.due_for == date(2026, 10, 25)
    again = plan_digest(time(2, 30), BRUSSELS, last=first, now=utc(2026, 10, 25, 1, 30))
    assert not again.due
    assert again.next_at == utc(2026, 10, 26, 1, 30)


def test_days_missed_while_down_are_caught_up_once() -> None:
    last = utc(2026, 11, 26, 7)  # Thursday's digest; the service was down until Monday
    plan = plan_digest(EIGHT, BRUSSELS, last=last, now=utc(2026, 11, 30, 10))
    assert plan.due_for == date(2026, 11, 30)
    closed = utc(2026, 11, 30, 10)
    after = plan_digest(EIGHT, BRUSSELS, last=closed, now=utc(2026, 11, 30, 10, 1))
    assert not after.due
    assert after.next_at == utc(2026, 12, 1, 7)


def test_restart_before_todays_slot_catches_up_yesterday() -> None:
    # Back at 07:00 local: Sunday's missed digest goes now, Monday's at 08:00 as usual.
    plan = plan_digest(EIGHT, BRUSSELS, last=utc(2026, 11, 26, 7), now=utc(2026, 11, 30, 6))
    assert plan.due_for == date(2026, 11, 29)
    assert plan.next_at == utc(2026, 11, 30, 7)


def test_anchor_after_todays_slot_waits_for_tomorrow() -> None:
    configured = utc(2026, 11, 30, 9)  # 10:00 local, after today's 08:00
    plan = plan_digest(EIGHT, BRUSSELS, last=configured, now=utc(2026, 11, 30, 12))
    assert not plan.due
    assert plan.next_at == utc(2026, 12, 1, 7)


def test_digest_due_names_the_local_date_or_none() -> None:
    last = utc(2026, 11, 29, 7)
    early = digest_due(digest_time=EIGHT, timezone=BRUSSELS, last=last, now=utc(2026, 11, 30, 6))
    on_time = digest_due(digest_time=EIGHT, timezone=BRUSSELS, last=last, now=utc(2026, 11, 30, 7))
    assert early is None
    assert on_time == date(2026, 11, 30)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        plan_digest(EIGHT, BRUSSELS, last=datetime(2026, 1, 1), now=utc(2026, 1, 2))


@pytest.mark.parametrize("zone", [BRUSSELS, "America/Santiago"])  # Santiago: DST at midnight
@pytest.mark.parametrize("at", [EIGHT, time(0, 0), time(2, 30)])
def test_a_year_of_polling_gives_one_digest_per_local_day(zone: str, at: time) -> None:
    # Polling hourly (at :07) through 2026, closing a digest whenever one is due.
    now, last = utc(2026, 1, 1, 0, 7), utc(2026, 1, 1)
    days: Counter[date] = Counter()
    while now < utc(2027, 1, 1):
        plan = plan_digest(at, zone, last=last, now=now)
        if plan.due:
            assert plan.due_for is not None
            assert plan.slot is not None
            assert timedelta(0) <= now - plan.slot < timedelta(hours=1)
            days[plan.due_for] += 1
            last = now
        now += timedelta(hours=1)
    local_days = {(utc(2026, 1, 1) + timedelta(days=n)).date() for n in range(1, 365)}
    assert max(days.values()) == 1
    assert local_days <= set(days)


ZONES = st.sampled_from(
    [
        BRUSSELS,
        "UTC",
        "America/New_York",
        "America/Santiago",
        "Australia/Lord_Howe",
        "Asia/Kolkata",
        "Pacific/Apia",
        "Europe/London",
    ]
)
INSTANTS = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
)


@given(ZONES, st.times(), INSTANTS, st.timedeltas(timedelta(0), timedelta(days=10)))
def test_plan_invariants(zone: str, at: time, now: datetime, since: timedelta) -> None:
    last = now - since
    plan = plan_digest(at, zone, last=last, now=now)
    assert now < plan.next_at <= now + timedelta(hours=50)
    if plan.due:
        assert plan.slot is not None
        assert last < plan.slot <= now
        assert plan.slot.astimezone(ZoneInfo(zone)).date() >= plan.due_for  # type: ignore[operator]
        assert not plan_digest(at, zone, last=now, now=now).due
    else:
        assert plan.slot is None


@given(ZONES, st.times(), st.dates(date(2020, 1, 1), date(2035, 1, 1)))
def test_a_slot_shows_the_digest_time_when_that_time_exists(zone: str, at: time, day: date) -> None:
    local = slot_instant(day, at, zone).astimezone(ZoneInfo(zone))
    wall = datetime.combine(day, at)
    round_trip = wall.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC).astimezone(ZoneInfo(zone))
    if round_trip.replace(tzinfo=None) == wall:  # the time exists on that day
        assert local.replace(tzinfo=None) == wall
    else:  # in a gap: later by the gap's length, never earlier
        assert local.replace(tzinfo=None) > wall
