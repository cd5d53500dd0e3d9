"""The pure poll-schedule decider: backoff, jitter, caps and server hints as lower bounds."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.fetch.schedule import (
    backoff_delay,
    next_poll,
    parse_max_age,
    parse_retry_after,
    rescheduled,
)

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)
INTERVAL = timedelta(minutes=15)
CAP = timedelta(hours=6)


class Top(random.Random):
    """Always draws the top of a range: the un-jittered delay."""

    def uniform(self, a: float, b: float) -> float:
        return b


class Bottom(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return a


# -- Retry-After -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", NOW + timedelta(seconds=120)),
        (" 0 ", NOW),
        ("Mon, 02 Mar 2026 11:00:00 GMT", datetime(2026, 3, 2, 11, tzinfo=UTC)),
        ("Mon, 02 Mar 2026 12:00:00 +0100", datetime(2026, 3, 2, 11, tzinfo=UTC)),
        ("Sun, 01 Mar 2026 11:00:00 GMT", NOW),  # in the past: now
        ("99999999999999999999", NOW + timedelta(days=36500)),
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("1.5", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: datetime | None) -> None:
    assert parse_retry_after(value, NOW) == expected


# -- Cache-Control ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("max-age=300", timedelta(seconds=300)),
        ("public, max-age=600, must-revalidate", timedelta(seconds=600)),
        ('MAX-AGE="60"', timedelta(seconds=60)),
        ("s-maxage=100", None),
        ("max-age=0", None),
        ("no-cache, max-age=300", None),
        ("no-store", None),
        ("private", None),
        (None, None),
    ],
)
def test_parse_max_age(value: str | None, expected: timedelta | None) -> None:
    assert parse_max_age(value) == expected


# -- backoff ---------------------------------------------------------------------------
def test_no_failure_means_the_feed_interval_jittered_down_a_little() -> None:
    delays = [backoff_delay(0, INTERVAL, random.Random(s)) for s in range(50)]
    assert all(INTERVAL * 0.9 <= d <= INTERVAL for d in delays)


def test_first_retry_comes_after_min_backoff_then_doubles_until_the_cap() -> None:
    # Issue 10 item 8: README says the first wait is min_backoff (1m), not the interval.
    delays = [
        backoff_delay(n, INTERVAL, Top(), min_backoff=MIN, max_backoff=CAP) for n in range(1, 13)
    ]
    assert delays[:9] == [MIN * 2**k for k in range(9)]  # 1m, 2m, 4m, ... 4h16m
    assert delays[9:] == [CAP] * 3


def test_the_first_retry_is_min_backoff_whatever_the_interval_and_jitter() -> None:
    for interval in (timedelta(seconds=5), INTERVAL, timedelta(days=1)):
        for rng in (Top(), Bottom(), random.Random(3)):
            assert backoff_delay(1, interval, rng, min_backoff=MIN, max_backoff=CAP) == MIN
    two = timedelta(minutes=2)
    assert backoff_delay(1, INTERVAL, Bottom(), min_backoff=two, max_backoff=CAP) == two


def test_backoff_is_never_above_the_cap_and_never_gives_up() -> None:
    rng = random.Random(7)
    for failures in (1, 10, 100, 10_000, 10**9):
        delay = backoff_delay(failures, INTERVAL, rng, max_backoff=CAP)
        assert timedelta(0) < delay <= CAP


def test_a_fast_feed_backs_off_from_min_backoff() -> None:
    delay = backoff_delay(1, timedelta(seconds=5), Top(), min_backoff=MIN)
    assert delay == MIN
    assert backoff_delay(2, timedelta(seconds=5), Top(), min_backoff=MIN) == 2 * MIN


def test_a_failing_daily_feed_is_retried_at_least_every_max_backoff() -> None:
    daily = timedelta(days=1)
    assert backoff_delay(20, daily, Top(), max_backoff=CAP) == CAP
    assert backoff_delay(20, daily, Bottom(), max_backoff=CAP) == CAP * 0.75


def test_a_min_backoff_above_max_backoff_wins() -> None:
    big = timedelta(hours=8)
    assert backoff_delay(5, INTERVAL, Top(), min_backoff=big, max_backoff=CAP) == big
    assert backoff_delay(5, INTERVAL, Bottom(), min_backoff=big, max_backoff=CAP) == big


def test_jitter_stays_within_three_quarters_and_the_full_delay() -> None:
    full = backoff_delay(6, INTERVAL, Top())
    assert full == MIN * 32
    assert backoff_delay(6, INTERVAL, Bottom()) == full * 0.75
    samples = {backoff_delay(6, INTERVAL, random.Random(seed)) for seed in range(200)}
    assert all(full * 0.75 <= s <= full for s in samples)
    assert len(samples) > 150  # feeds that failed together do not retry together


def test_jitter_is_reproducible_with_a_seeded_rng() -> None:
    a = [backoff_delay(n, INTERVAL, random.Random(42)) for n in range(1, 6)]
    b = [backoff_delay(n, INTERVAL, random.Random(42)) for n in range(1, 6)]
    assert a == b


# -- next_poll -------------------------------------------------------------------------
def test_next_poll_after_success_is_one_jittered_interval() -> None:
    due = [next_poll(NOW, interval=INTERVAL, failures=0, rng=random.Random(s)) for s in range(50)]
    assert all(NOW + INTERVAL * 0.9 <= d <= NOW + INTERVAL for d in due)
    assert len(set(due)) > 40  # spread, not one instant


def test_ttl_is_a_lower_bound() -> None:
    rng = random.Random(1)
    assert next_poll(NOW, interval=INTERVAL, failures=0, rng=rng, ttl=HOUR) == NOW + HOUR
    short = timedelta(minutes=5)
    due = next_poll(NOW, interval=INTERVAL, failures=0, rng=rng, ttl=short)
    assert NOW + INTERVAL * 0.9 <= due <= NOW + INTERVAL


def test_not_before_is_a_lower_bound() -> None:
    rng = random.Random(1)
    later = NOW + timedelta(minutes=40)
    sooner = NOW + timedelta(minutes=5)
    assert next_poll(NOW, interval=INTERVAL, failures=0, rng=rng, not_before=later) == later
    due = next_poll(NOW, interval=INTERVAL, failures=0, rng=rng, not_before=sooner)
    assert NOW + INTERVAL * 0.9 <= due <= NOW + INTERVAL


def test_retry_after_outlasts_the_backoff() -> None:
    retry = NOW + timedelta(hours=2)
    due = next_poll(NOW, interval=INTERVAL, failures=1, rng=Top(), not_before=retry)
    assert due == retry


def test_after_one_failure_the_next_poll_is_min_backoff_away() -> None:
    due = next_poll(NOW, interval=INTERVAL, failures=1, rng=Bottom(), min_backoff=MIN)
    assert due == NOW + MIN
    due = next_poll(NOW, interval=INTERVAL, failures=3, rng=Top(), min_backoff=MIN)
    assert due == NOW + 4 * MIN


def test_hints_are_capped_so_a_feed_is_never_silenced_for_days() -> None:
    rng = random.Random(1)
    year = timedelta(days=365)
    assert (
        next_poll(
            NOW, interval=INTERVAL, failures=0, rng=rng, not_before=NOW + year, max_backoff=CAP
        )
        == NOW + CAP
    )
    assert (
        next_poll(NOW, interval=INTERVAL, failures=0, rng=rng, ttl=year, max_backoff=CAP)
        == NOW + CAP
    )


@given(
    interval=st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=2)),
    failures=st.integers(min_value=0, max_value=10_000),
    seed=st.integers(min_value=0, max_value=2**32),
    ttl=st.none() | st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30)),
    hint=st.none() | st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30)),
)
def test_next_poll_bounds(
    interval: timedelta,
    failures: int,
    seed: int,
    ttl: timedelta | None,
    hint: timedelta | None,
) -> None:
    due = next_poll(
        NOW,
        interval=interval,
        failures=failures,
        rng=random.Random(seed),
        min_backoff=MIN,
        max_backoff=CAP,
        not_before=None if hint is None else NOW + hint,
        ttl=ttl,
    )
    ceiling = NOW + max(CAP, interval)
    assert due <= ceiling
    if failures == 0:
        assert due >= NOW + interval * 0.9
    else:  # the back-off step, jittered down as far as it goes, floored at MIN
        step = min(MIN * 2 ** min(failures - 1, 40), CAP)
        assert due >= NOW + max(MIN, step * 0.75) - timedelta(microseconds=1)
        if ttl is None and hint is None:
            assert due <= NOW + max(step, MIN)
    for bound in (ttl, hint):
        if bound is not None:
            assert due >= min(NOW + bound, ceiling)


# -- rescheduled (an edited interval or back-off) -------------------------------------------
def test_a_shortened_interval_takes_effect_from_the_last_attempt_not_the_old_slot() -> None:
    last = NOW - timedelta(minutes=5)
    due = rescheduled(NOW, last_attempt=last, interval=INTERVAL, failures=0, rng=Top())
    assert due == last + INTERVAL  # not tomorrow's slot of the old daily interval


def test_a_lengthened_interval_moves_the_next_poll_later() -> None:
    last = NOW - timedelta(minutes=5)
    due = rescheduled(NOW, last_attempt=last, interval=HOUR, failures=0, rng=Bottom())
    assert due == last + HOUR * 0.9


def test_rescheduling_a_failing_feed_uses_the_new_back_off() -> None:
    last = NOW - timedelta(seconds=10)
    two = timedelta(minutes=2)
    due = rescheduled(NOW, last_attempt=last, interval=HOUR, failures=1, rng=Top(), min_backoff=two)
    assert due == last + two


def test_rescheduling_never_goes_before_now() -> None:
    last = NOW - timedelta(days=2)
    assert rescheduled(NOW, last_attempt=last, interval=INTERVAL, failures=0, rng=Top()) == NOW
    assert rescheduled(NOW, last_attempt=None, interval=INTERVAL, failures=0, rng=Top()) == NOW
