"""The daily health report for the admins (pure): failing feeds, silent feeds, failing
destinations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.config.durations import format_duration
from monitor.models import FeedSpec, FeedState
from monitor.store import DestinationRow

FAILING_FOR = timedelta(hours=3)
MIN_SILENCE = timedelta(days=2)
SILENCE_FACTOR = 5


@dataclass(frozen=True)
class HealthReport:
    failing: tuple[str, ...]
    silent: tuple[str, ...]
    destinations: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not (self.failing or self.silent or self.destinations)

    def text(self) -> str:
        if self.ok:
            return "monitor health: all feeds and destinations are fine."
        lines = ["monitor health report"]
        for title, items in (
            ("Feeds failing", self.failing),
            ("Feeds silent", self.silent),
            ("Destinations failing", self.destinations),
        ):
            if items:
                lines.append(f"\n{title} ({len(items)}):")
                lines.extend(f"- {item}" for item in items)
        return "\n".join(lines)


def usual_gap(state: FeedState, created: datetime | None) -> timedelta | None:
    """The average time between new articles since the feed was first polled."""
    if not state.articles_seen or state.articles_seen < 3 or created is None:
        return None
    span = (state.last_new or created) - created
    return span / max(state.articles_seen - 1, 1)


def health_report(
    specs: Sequence[FeedSpec],
    states: Mapping[str, FeedState],
    destinations: Sequence[DestinationRow],
    now: datetime,
    created: Mapping[str, datetime] | None = None,
) -> HealthReport:
    """Feeds failing for hours, feeds silent far longer than usual, destinations failing."""
    failing, silent, dests = [], [], []
    for spec in specs:
        if not spec.enabled:
            continue
        st = states.get(spec.id)
        if st is None or st.last_attempt is None:
            continue
        if st.consecutive_failures:
            since = st.last_success
            down = now - since if since else None
            if down is None or down >= FAILING_FOR:
                age = f"for {format_duration(down)}" if down else "since it was added"
                failing.append(
                    f"{spec.id}: failing {age} ({st.consecutive_failures} attempts): "
                    f"{st.last_error or 'unknown error'}"
                )
            continue
        gap = usual_gap(st, (created or {}).get(spec.id))
        if st.last_new is not None and gap is not None:
            limit = max(MIN_SILENCE, gap * SILENCE_FACTOR)
            quiet = now - st.last_new
            if quiet > limit:
                silent.append(
                    f"{spec.id}: nothing new for {format_duration(quiet)} "
                    f"(usually every {format_duration(gap)})"
                )
    for d in destinations:
        if not d.healthy:
            dests.append(f"{d.destination} ({d.channel} {d.address}): {d.last_error or 'failing'}")
    return HealthReport(tuple(failing), tuple(silent), tuple(dests))
