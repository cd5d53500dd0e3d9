"""Match stage: watchlists from keywords.yaml against articles, explained hit by hit.

``compile_matcher(cfg)`` builds one :class:`Matcher` for every watchlist;
``Matcher.match(article)`` returns the ``Match`` values (pure, sorted by watchlist id);
``Matcher.explain(article)`` says why each watchlist did or did not match;
``backtest(old, new, articles)`` compares two matchers over stored articles.
"""

from monitor.match.backtest import BacktestReport, Change, WatchlistDiff, backtest
from monitor.match.evaluate import Check
from monitor.match.matcher import Explanation, Matcher, compile_matcher
from monitor.match.normalize import fold
from monitor.match.terms import parse_term

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
