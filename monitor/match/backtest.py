"""Backtest: replay articles under the current and a proposed matcher, list what changes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from monitor.match.matcher import Matcher
from monitor.models import Article, Match

Status = Literal["added", "removed", "changed", "unchanged"]


@dataclass(frozen=True, slots=True)
class Change:
    """One article that a watchlist gained or lost, with the match that differs."""

    article: Article
    match: Match


@dataclass(frozen=True, slots=True)
class WatchlistDiff:
    """Per watchlist: the matches only the new rules make, those only the old ones made."""

    watchlist: str
    status: Status
    gained: tuple[Change, ...]
    lost: tuple[Change, ...]
    kept: int
    """Articles matched by both."""


@dataclass(frozen=True, slots=True)
class BacktestReport:
    articles: int
    watchlists: tuple[WatchlistDiff, ...]

    @property
    def changed(self) -> tuple[WatchlistDiff, ...]:
        return tuple(w for w in self.watchlists if w.gained or w.lost or w.status != "unchanged")

    def render(self, limit: int = 10) -> str:
        """Plain-text summary, ``limit`` example titles per list."""
        lines = [f"{self.articles} articles replayed"]
        for diff in self.watchlists:
            lines.append(
                f"{diff.watchlist} ({diff.status}): +{len(diff.gained)} "
                f"-{len(diff.lost)} ={diff.kept}"
            )
            for sign, changes in (("+", diff.gained), ("-", diff.lost)):
                for change in changes[:limit]:
                    terms = ", ".join(sorted({h.text for h in change.match.hits}))
                    lines.append(f"  {sign} {change.article.title} [{terms}]")
                if len(changes) > limit:
                    lines.append(f"  {sign} ... {len(changes) - limit} more")
        return "\n".join(lines)


def backtest(old: Matcher, new: Matcher, articles: Iterable[Article]) -> BacktestReport:
    """Match every article with both matchers and compare, per watchlist (pure)."""
    old_ids = {w.id for w in old.watchlists}
    new_ids = {w.id for w in new.watchlists}
    gained: dict[str, list[Change]] = {i: [] for i in old_ids | new_ids}
    lost: dict[str, list[Change]] = {i: [] for i in old_ids | new_ids}
    kept = dict.fromkeys(old_ids | new_ids, 0)
    count = 0
    for article in articles:
        count += 1
        before = {m.watchlist: m for m in old.match(article)}
        after = {m.watchlist: m for m in new.match(article)}
        for wl, match in after.items():
            if wl in before:
                kept[wl] += 1
            else:
                gained[wl].append(Change(article, match))
        for wl, match in before.items():
            if wl not in after:
                lost[wl].append(Change(article, match))
    diffs = []
    for wl in sorted(old_ids | new_ids):
        status: Status
        if wl not in old_ids:
            status = "added"
        elif wl not in new_ids:
            status = "removed"
        else:
            status = "changed" if gained[wl] or lost[wl] else "unchanged"
        diffs.append(WatchlistDiff(wl, status, tuple(gained[wl]), tuple(lost[wl]), kept[wl]))
    return BacktestReport(count, tuple(diffs))
