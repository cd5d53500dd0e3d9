"""Routing compared as whole rows: every field a broken decision would change (issue 19).

tests/test_route.py checks which destinations get an article; these tests pin the rest
of each row (the channel a target is delivered on, the story it belongs to) and the
edges of the decisions (an unknown watchlist before a known one, the baseline window's
last instant), where mutation testing (tools/mutation.sh) found changes no test noticed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from monitor.models import Match, Route, Target
from monitor.route import (
    BASELINE_DIGEST_WINDOW,
    Subscription,
    route,
    split_topic,
    topic_address,
)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Dest:
    telegram: str | None = None
    email: tuple[str, ...] = ()


@dataclass(frozen=True)
class Wl:
    priority: str = "instant"
    alert: tuple[str, ...] = ()
    digest: tuple[str, ...] = ()
    min_prominence: float = 0.0


DESTS = {
    "both": Dest(telegram="-1001234567890", email=("c@ex.org",)),
    "team": Dest(email=("a@ex.org",)),
}
WLS = {
    "ai-act": Wl(alert=("both",), digest=("team",)),
    "edps": Wl(priority="digest", digest=("both",)),
}


def m(wl: str) -> Match:
    return Match(wl, 1.0, ())


def test_rows_are_complete_with_channel_and_story() -> None:
    routes = route(7, [m("ai-act")], watchlists=WLS, destinations=DESTS, now=NOW, story_id=3)
    assert routes == [
        Route("alert", Target("both", "telegram", "-1001234567890"), 7, ("ai-act",), NOW, 3),
        Route("alert", Target("both", "email", "c@ex.org"), 7, ("ai-act",), NOW, 3),
        Route("digest", Target("team", "email", "a@ex.org"), 7, ("ai-act",), NOW, 3),
    ]


def test_digest_rows_of_a_destination_and_of_subscribers_are_complete() -> None:
    subs = [Subscription("42", "edps")]
    routes = route(5, [m("edps")], watchlists=WLS, destinations=DESTS, now=NOW, subscriptions=subs)
    assert routes == [
        Route("digest", Target("both", "telegram", "-1001234567890"), 5, ("edps",), NOW),
        Route("digest", Target("both", "email", "c@ex.org"), 5, ("edps",), NOW),
        Route("digest", Target("sub:42", "telegram", "42"), 5, ("edps",), NOW),
    ]


def test_an_unknown_watchlist_does_not_drop_the_matches_after_it() -> None:
    # A watchlist removed from keywords.yaml while its matches were in flight.
    routes = route(1, [m("gone"), m("edps")], watchlists=WLS, destinations=DESTS, now=NOW)
    assert [(r.kind, r.target.address, r.watchlists) for r in routes] == [
        ("digest", "-1001234567890", ("edps",)),
        ("digest", "c@ex.org", ("edps",)),
    ]


def test_a_baseline_article_enters_digests_up_to_exactly_one_day_old() -> None:
    def kinds(age: timedelta) -> list[str]:
        rows = route(
            1,
            [m("ai-act")],
            watchlists=WLS,
            destinations=DESTS,
            now=NOW,
            baseline=True,
            published=NOW - age,
        )
        return [r.kind for r in rows]

    assert timedelta(days=1) == BASELINE_DIGEST_WINDOW
    assert kinds(timedelta(days=1)) == ["digest"]
    assert kinds(timedelta(days=1, microseconds=1)) == []
    # Published "in the future" (a clock ahead of ours) is recent, not old.
    assert kinds(-timedelta(hours=1)) == ["digest"]


def test_a_baseline_article_without_a_date_enters_digests_but_never_alerts() -> None:
    rows = route(1, [m("ai-act")], watchlists=WLS, destinations=DESTS, now=NOW, baseline=True)
    assert [(r.kind, r.target.address) for r in rows] == [("digest", "a@ex.org")]


def test_a_group_subscription_in_a_forum_topic_gets_its_own_address() -> None:
    subs = [Subscription("-100123", "ai-act", topic=42), Subscription("7", "ai-act")]
    routes = route(
        1, [m("ai-act")], watchlists=WLS, destinations=DESTS, now=NOW, subscriptions=subs
    )
    mine = [r for r in routes if r.target.destination.startswith("sub:")]
    assert [r.target for r in mine] == [
        Target("sub:-100123/42", "telegram", "-100123/42"),
        Target("sub:7", "telegram", "7"),
    ]


def test_a_topic_address_splits_back_into_chat_and_topic() -> None:
    assert topic_address("-100123", 42) == "-100123/42"
    assert topic_address("-100123", None) == "-100123"
    assert split_topic("-100123/42") == ("-100123", 42)
    assert split_topic(" -100123/42 ") == ("-100123", 42)
    assert split_topic(" @eu_watch ") == ("@eu_watch", None)
    # Not a topic: kept whole (stripped), never cut at the slash.
    assert split_topic("-100123/") == ("-100123/", None)
    assert split_topic(" -100123/x ") == ("-100123/x", None)
    assert split_topic("-100123/4/2") == ("-100123/4/2", None)


def test_an_alert_needs_at_least_the_watchlists_prominence() -> None:
    wls = {"ai-act": Wl(alert=("both",), digest=("team",), min_prominence=0.5)}

    def kinds(prominence: float) -> list[str]:
        match = Match("ai-act", 1.0, (), prominence=prominence)
        return [r.kind for r in route(1, [match], watchlists=wls, destinations=DESTS, now=NOW)]

    assert kinds(0.5) == ["alert", "alert", "digest"]
    assert kinds(0.49) == ["digest"]  # a passing mention: the digest only
