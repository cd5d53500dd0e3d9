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


def test_backoff_doubles_from_the_interval_until_the_cap() -> None:
    delays = [backoff_delay(n, INTERVAL, Top(), max_backoff=CAP) for n in range(1, 10)]
    assert delays[:5] == [INTERVAL * 2**k for k in range(5)]  # 15m, 30m, 1h, 2h, 4h
    assert delays[5:] == [CAP] * 4


def test_backoff_is_never_above_the_cap_and_never_gives_up() -> None:
    rng = random.Random(7)
    for failures in (1, 10, 100, 10_000, 10**9):
        delay = backoff_delay(failures, INTERVAL, rng, max_backoff=CAP)
        assert timedelta(0) < delay <= CAP


def test_a_fast_feed_backs_off_from_min_backoff() -> None:
    delay = backoff_delay(1, timedelta(seconds=5), Top(), min_backoff=MIN)
    assert delay == MIN


def test_an_interval_longer_than_the_cap_is_kept() -> None:
    daily = timedelta(days=1)
    assert backoff_delay(20, daily, Top(), max_backoff=CAP) == daily


def test_jitter_stays_within_three_quarters_and_the_full_delay() -> None:
    full = backoff_delay(3, INTERVAL, Top())
    assert backoff_delay(3, INTERVAL, Bottom()) == full * 0.75
    samples = {backoff_delay(3, INTERVAL, random.Random(seed)) for seed in range(200)}
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
    else:  # the first backoff step, jittered down as far as it goes, floored at MIN
        first_step = min(max(interval, MIN), max(CAP, interval))
        assert due >= NOW + max(MIN, first_step * 0.75) - timedelta(microseconds=1)
    for bound in (ttl, hint):
        if bound is not None:
            assert due >= min(NOW + bound, ceiling)
