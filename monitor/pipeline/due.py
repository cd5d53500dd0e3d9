"""Which feeds are due: a pure function of the feed list, their states and ``now``.

Kept apart from :mod:`monitor.pipeline.poll` so that ``monitor poll`` can decide that
nothing is due before it imports the fetcher, the parsers, the matcher and the story
index (issue 15: start-up with nothing due).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from monitor.config.specs import FeedsConfig
from monitor.models import FeedSpec, FeedState


def due_feeds(
    feeds: FeedsConfig,
    states: Mapping[str, FeedState],
    now: datetime,
    *,
    everything: bool = False,
    only: Sequence[str] = (),
) -> list[FeedSpec]:
    """Enabled feeds whose next poll time has come (all of them with ``everything``;
    only those named in ``only`` when it is given, due or not)."""
    out = []
    for spec in feeds.enabled():
        if only and spec.id not in only:
            continue
        st = states.get(spec.id)
        if everything or only or st is None or st.next_poll is None or st.next_poll <= now:
            out.append(spec)
    return out
