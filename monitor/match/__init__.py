"""Match stage: watchlists from keywords.yaml against articles, explained hit by hit.

``compile_matcher(cfg)`` builds one :class:`Matcher` for every watchlist;
``Matcher.match(article)`` returns the ``Match`` values (pure, sorted by watchlist id);
``Matcher.explain(article)`` says why each watchlist did or did not match;
``backtest(old, new, articles)`` compares two matchers over stored articles.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from monitor.match.backtest import BacktestReport, Change, WatchlistDiff, backtest
    from monitor.match.evaluate import Check
    from monitor.match.matcher import Explanation, Matcher, compile_matcher
    from monitor.match.normalize import fold
    from monitor.match.terms import parse_term

# Loaded on first use (PEP 562): the keywords loader imports monitor.match.syntax, which
# must not pull in the matcher, its automaton and the backtest (issue 15: start-up).
_LAZY = {
    "BacktestReport": "backtest",
    "Change": "backtest",
    "WatchlistDiff": "backtest",
    "backtest": "backtest",
    "Check": "evaluate",
    "Explanation": "matcher",
    "Matcher": "matcher",
    "compile_matcher": "matcher",
    "fold": "normalize",
    "parse_term": "terms",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "BacktestReport",
    "Change",
    "Check",
    "Explanation",
    "Matcher",
    "WatchlistDiff",
    "backtest",
    "compile_matcher",
    "fold",
    "parse_term",
]
