"""The digest slot and quiet hours at their edges (issue 19, mutation testing).

tests/test_digest_schedule.py and the quiet-hours test in
tests/pipeline/test_telegram_options.py cover the behaviour; these pin what
tools/mutation.sh found unchecked: the window's exact ends, an empty window, a repeated
wall-clock hour, a time zone passed as a ZoneInfo, and UTC results on a machine whose
own time zone is not UTC.
"""

from __future__ import annotations

import time as systime
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from monitor.render.schedule import in_quiet_hours, plan_digest, slot_instant

BRUSSELS = "Europe/Brussels"


def brussels(hour: int, minute: int = 0) -> datetime:
    """A winter instant (UTC+1) at that local wall-clock time."""
    return datetime(2027, 1, 12, hour, minute, tzinfo=ZoneInfo(BRUSSELS)).astimezone(UTC)


@pytest.fixture
def warsaw(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "Europe/Warsaw")
    systime.tzset()
    yield
    monkeypatch.undo()
    systime.tzset()


def test_a_quiet_window_within_a_day_includes_its_start_and_excludes_its_end() -> None:
    start, end = time(12), time(14)
    assert not in_quiet_hours(brussels(11, 59), start, end, BRUSSELS)
    assert in_quiet_hours(brussels(12), start, end, BRUSSELS)
    assert in_quiet_hours(brussels(13, 59), start, end, BRUSSELS)
    assert not in_quiet_hours(brussels(14), start, end, BRUSSELS)


def test_a_quiet_window_over_midnight_includes_its_start_and_excludes_its_end() -> None:
    start, end = time(22), time(7)
    assert not in_quiet_hours(brussels(21, 59), start, end, BRUSSELS)
    assert in_quiet_hours(brussels(22), start, end, BRUSSELS)
    assert in_quiet_hours(brussels(0), start, end, BRUSSELS)
    assert in_quiet_hours(brussels(6, 59), start, end, BRUSSELS)
    assert not in_quiet_hours(brussels(7), start, end, BRUSSELS)


def test_a_window_that_starts_where_it_ends_is_empty() -> None:
    for hour in (0, 8, 23):
        assert not in_quiet_hours(brussels(hour), time(8), time(8), BRUSSELS)


def test_a_slot_in_the_repeated_hour_is_its_first_occurrence() -> None:
    # 25 October 2026: Brussels shows 02:00-03:00 twice (CEST, then CET).
    first = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert slot_instant(date(2026, 10, 25), time(2, 30), BRUSSELS) == first
    assert slot_instant(date(2026, 10, 25), time(2, 30, fold=1), BRUSSELS) == first


@pytest.mark.usefixtures("warsaw")
def test_slots_are_utc_whatever_the_machine_zone() -> None:
    slot = slot_instant(date(2027, 1, 12), time(8), BRUSSELS)
    assert slot == datetime(2027, 1, 12, 7, tzinfo=UTC)
    assert slot.utcoffset() == timedelta(0)
    plan = plan_digest(time(8), BRUSSELS, last=brussels(0), now=brussels(9))
    assert plan.slot is not None
    assert plan.slot.utcoffset() == timedelta(0)
    assert plan.next_at.utcoffset() == timedelta(0)


def test_a_zoneinfo_serves_as_well_as_its_name() -> None:
    by_name = plan_digest(time(8), BRUSSELS, last=brussels(0), now=brussels(9))
    by_zone = plan_digest(time(8), ZoneInfo(BRUSSELS), last=brussels(0), now=brussels(9))
    assert by_zone == by_name
    assert by_zone.due_for == date(2027, 1, 12)


def test_a_naive_time_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"^digest schedule: last and now must be timezone-aware$"):
        plan_digest(time(8), BRUSSELS, last=datetime(2027, 1, 12), now=brussels(9))
