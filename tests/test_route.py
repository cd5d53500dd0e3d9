"""Routing (pure): which targets get a new article, as an alert or in a digest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from monitor.models import Match, Target
from monitor.route import Subscription, route

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
    "chan": Dest(telegram="@eu_watch"),
    "team": Dest(email=("a@ex.org", "b@ex.org")),
    "both": Dest(telegram="-1001234567890", email=("c@ex.org",)),
}
WLS = {
    "ai-act": Wl(alert=("chan",), digest=("team",)),
    "edpb": Wl(alert=("chan", "both"), digest=("team",)),
    "edps": Wl(priority="digest", alert=("chan",), digest=("team",)),
}


def m(wl: str) -> Match:
    return Match(wl, 1.0, ())


def keys(routes: list) -> list[tuple[str, str, str, tuple[str, ...]]]:
    return [(r.kind, r.target.destination, r.target.address, r.watchlists) for r in routes]


def test_one_row_per_target_and_kind_listing_every_watchlist():
    routes = route(7, [m("ai-act"), m("edpb")], watchlists=WLS, destinations=DESTS, now=NOW)
    assert keys(routes) == [
        ("alert", "both", "-1001234567890", ("edpb",)),
        ("alert", "both", "c@ex.org", ("edpb",)),
        ("alert", "chan", "@eu_watch", ("ai-act", "edpb")),
        ("digest", "team", "a@ex.org", ("ai-act", "edpb")),
        ("digest", "team", "b@ex.org", ("ai-act", "edpb")),
    ]
    assert len({r.key for r in routes}) == len(routes)
    assert all(r.article_id == 7 and r.due == NOW for r in routes)


def test_digest_priority_never_alerts():
    assert keys(route(1, [m("edps")], watchlists=WLS, destinations=DESTS, now=NOW)) == [
        ("digest", "team", "a@ex.org", ("edps",)),
        ("digest", "team", "b@ex.org", ("edps",)),
    ]


def test_baseline_articles_do_not_alert_and_old_ones_skip_digests():
    recent = route(
        1,
        [m("ai-act")],
        watchlists=WLS,
        destinations=DESTS,
        now=NOW,
        baseline=True,
        published=NOW - timedelta(hours=3),
    )
    assert {r.kind for r in recent} == {"digest"}
    old = route(
        1,
        [m("ai-act")],
        watchlists=WLS,
        destinations=DESTS,
        now=NOW,
        baseline=True,
        published=NOW - timedelta(days=3),
    )
    assert old == []


def test_subscribers_get_alerts_or_their_own_digest():
    subs = [Subscription("42", "ai-act"), Subscription("43", "edps")]
    routes = route(
        1, [m("ai-act"), m("edps")], watchlists=WLS, destinations=DESTS, now=NOW, subscriptions=subs
    )
    mine = [r for r in routes if r.target.destination.startswith("sub:")]
    assert keys(mine) == [
        ("alert", "sub:42", "42", ("ai-act",)),
        ("digest", "sub:43", "43", ("edps",)),
    ]
    assert mine[0].target == Target("sub:42", "telegram", "42")


def test_unknown_watchlist_or_destination_is_ignored():
    wls = {"x": Wl(alert=("gone",))}
    assert route(1, [m("x"), m("nope")], watchlists=wls, destinations=DESTS, now=NOW) == []
