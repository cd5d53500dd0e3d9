"""The poll schedule at its edges: exact bounds, the machine's time zone, settings passed on.

tests/fetch/test_schedule.py covers the behaviour; these pin the values where mutation
testing (tools/mutation.sh) found that a changed bound or a dropped argument went
unnoticed (issue 19).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from monitor.fetch.schedule import next_poll, parse_max_age, parse_retry_after, rescheduled

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
INTERVAL = timedelta(minutes=15)
CENTURY = timedelta(days=100 * 365)


class Top(random.Random):
    """Always draws the top of a range: the un-jittered delay."""

    def uniform(self, a: float, b: float) -> float:
        return b


@pytest.fixture
def warsaw(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The machine's local time zone is not UTC (a server configured for Poland)."""
    monkeypatch.setenv("TZ", "Europe/Warsaw")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("warsaw")
@pytest.mark.parametrize(
    "value",
    [
        "Mon, 02 Mar 2026 11:00:00 -0000",  # RFC 5322's "no zone information": still GMT
        "Mon, 02 Mar 2026 11:00:00 GMT",
        "Mon, 02 Mar 2026 12:00:00 +0100",
    ],
)
def test_a_retry_after_date_is_gmt_whatever_the_machine_zone(value: str) -> None:
    when = parse_retry_after(value, NOW)
    assert when == datetime(2026, 3, 2, 11, tzinfo=UTC)
    assert when is not None
    assert when.utcoffset() == timedelta(0)


@pytest.mark.usefixtures("warsaw")
def test_a_past_retry_after_date_with_no_zone_means_now() -> None:
    assert parse_retry_after("Mon, 02 Mar 2026 09:00:00 -0000", NOW) == NOW


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("max-age=1", timedelta(seconds=1)),
        ("max-age=31536000", timedelta(days=365)),  # a year: capped later, by next_poll
        (f"max-age={CENTURY.days * 86400}", CENTURY),
        (f"max-age={CENTURY.days * 86400 + 1}", CENTURY),
        ("max-age=" + "9" * 40, CENTURY),
    ],
)
def test_max_age_is_exact_up_to_a_century(value: str, expected: timedelta) -> None:
    assert parse_max_age(value) == expected


def test_next_poll_backs_off_from_the_given_min_backoff() -> None:
    five = timedelta(minutes=5)
    due = next_poll(NOW, interval=INTERVAL, failures=2, rng=Top(), min_backoff=five)
    assert due == NOW + 2 * five


def test_next_poll_and_rescheduled_stop_at_the_given_max_backoff() -> None:
    hour = timedelta(hours=1)
    due = next_poll(NOW, interval=INTERVAL, failures=30, rng=Top(), max_backoff=hour)
    assert due == NOW + hour
    last = NOW - timedelta(minutes=1)
    due = rescheduled(
        NOW, last_attempt=last, interval=INTERVAL, failures=30, rng=Top(), max_backoff=hour
    )
    assert due == last + hour


def test_a_zero_or_negative_ttl_changes_nothing() -> None:
    plain = next_poll(NOW, interval=INTERVAL, failures=0, rng=Top())
    for ttl in (timedelta(0), -timedelta(minutes=5)):
        assert next_poll(NOW, interval=INTERVAL, failures=0, rng=Top(), ttl=ttl) == plain
