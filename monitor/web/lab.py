"""``/lab``: a candidate ``keywords.yaml`` replayed against stored articles (read-only).

The same backtest as ``monitor backtest`` and the same explanation as ``monitor explain``;
the file on disk is only read, never written.
"""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from monitor.config.keywords import KeywordsConfig, keywords_from_source, load_keywords
from monitor.config.source import Source
from monitor.errors import ConfigError
from monitor.match import backtest, compile_matcher
from monitor.match.backtest import BacktestReport, Change
from monitor.match.matcher import Explanation, Matcher
from monitor.models import Article
from monitor.store import dashboard as db
from monitor.store.articles import StoredArticle

MAX_YAML = 512 * 1024
"""The largest candidate file the form takes (bytes of UTF-8)."""
LAB_NAME = "keywords.yaml (lab)"
_IN_FORCE: Matcher | None = None
"""The service's matcher, for the lab's forked process (see :func:`run_apart`)."""


@dataclass(frozen=True)
class LabResult:
    text: str
    errors: tuple[str, ...] = ()
    report: BacktestReport | None = None
    stored: tuple[tuple[Article, int], ...] = ()
    """The report's articles with their database ids (only those: it crosses from the
    lab's process to the service's by pickle, which keeps them the same objects)."""
    explained: StoredArticle | None = None
    explanations: tuple[Explanation, ...] = ()

    @functools.cached_property
    def ids(self) -> dict[int, int]:
        """Article object id -> database id, for the explain buttons."""
        return {id(article): article_id for article, article_id in self.stored}


def current_text(path: Path | None) -> str:
    if path is None:
        return ""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return f"# cannot read {path}: {exc}\n"


def run_lab(
    current: Path,
    text: str,
    articles: Sequence[StoredArticle],
    explain: StoredArticle | None = None,
    in_force: Matcher | None = None,
) -> LabResult:
    """Backtest ``text`` (a candidate keywords.yaml) against ``articles`` under the rules
    in ``current`` (``in_force``: that file's matcher, already compiled); with
    ``explain``, also explain that article under the candidate.

    Every configuration error comes back in ``errors`` (file:line: key: message).
    """
    if len(text.encode()) > MAX_YAML:
        return LabResult(text, (f"{LAB_NAME}: larger than {MAX_YAML // 1024} KB",))
    try:
        proposed = compile_matcher(_keywords(text))
    except ConfigError as exc:
        return LabResult(text, tuple(str(exc).splitlines()))
    now = in_force
    if now is None:
        try:
            now = compile_matcher(load_keywords(str(current)))
        except ConfigError as exc:
            return LabResult(text, (f"the current file: {exc}",))
    report = backtest(now, proposed, [s.article for s in articles])
    ids = {id(s.article): s.id for s in articles}
    changed = {
        id(c.article): (c.article, ids[id(c.article)])
        for d in report.watchlists
        for c in (*d.gained, *d.lost)
    }
    explanations: tuple[Explanation, ...] = ()
    if explain is not None:
        explanations = tuple(proposed.explain(explain.article))
    return LabResult(text, (), report, tuple(changed.values()), explain, explanations)


def run_stored(
    database: Path,
    database_url: str | None,
    current: Path,
    text: str,
    since: datetime,
    limit: int,
    explain_id: int = 0,
) -> LabResult:
    """:func:`run_lab` over the newest ``limit`` articles stored since ``since``, read
    on a connection of its own (it runs in the lab's process).

    Raises:
        StorageError: the database cannot be read.
    """
    conn = db.open_reader(database, database_url)
    try:
        stored = db.lab_articles(conn, since, limit)
        explained = db.stored_article(conn, explain_id) if explain_id else None
    finally:
        conn.close()
    return run_lab(current, text, stored, explained, _IN_FORCE)


async def run_apart(
    database: Path,
    database_url: str | None,
    current: Path,
    text: str,
    since: datetime,
    limit: int,
    explain_id: int = 0,
    in_force: Matcher | None = None,
) -> LabResult:
    """:func:`run_stored` in a process forked for this one run; ``in_force``: the
    service's matcher of ``current``, which the child inherits rather than compiling
    that file again (1-1.3 s of CPU of the shipped keywords.yaml's 4.4 s).

    A backtest compiles two matchers and holds up to ``limit`` articles, 60-120 MB that
    the service's heap kept after the run (issue 12's memory target); the child's ends
    with it.  Only the report (the articles that changed) comes back.  Where there is no
    ``fork``, a worker thread of this process.

    Raises:
        StorageError: the database cannot be read.
    """
    call = functools.partial(
        run_stored, database, database_url, current, text, since, limit, explain_id
    )
    try:
        context = multiprocessing.get_context("fork")
    except ValueError:  # pragma: no cover - platforms without fork
        return await asyncio.to_thread(call)
    global _IN_FORCE
    pool = ProcessPoolExecutor(max_workers=1, mp_context=context)
    try:
        # A global, not an argument: the executor pickles its calls, the fork copies
        # memory.  Forked in ``submit``: unset at once, never keeping an old matcher.
        _IN_FORCE = in_force
        try:
            done = asyncio.get_running_loop().run_in_executor(pool, call)
        finally:
            _IN_FORCE = None
        return await done
    finally:
        # Never joined here, in the event loop: a run the request deadline cut off ends
        # in its child all the same, and the executor's own thread reaps the child.
        pool.shutdown(wait=False, cancel_futures=True)


def _keywords(text: str) -> KeywordsConfig:
    return keywords_from_source(Source.parse(text, LAB_NAME))


def as_data(result: LabResult) -> dict[str, Any]:
    """``/api/lab``'s answer: the errors, or per watchlist every article gained and lost
    (with the match the candidate makes or the current rules made), and the explanation."""
    report = result.report

    def change(c: Change) -> dict[str, Any]:
        a = c.article
        return {
            "article_id": result.ids.get(id(a)),
            "feed_id": a.feed_id,
            "title": a.title,
            "url": a.url,
            "match": c.match,
        }

    explained = None
    if result.explained is not None:
        a = result.explained.article
        explained = {
            "article_id": result.explained.id,
            "feed_id": a.feed_id,
            "title": a.title,
            "language": a.language,
            "watchlists": result.explanations,
        }
    return {
        "errors": list(result.errors),
        "articles": report.articles if report else 0,
        "watchlists": [
            {
                "watchlist": d.watchlist,
                "status": d.status,
                "kept": d.kept,
                "gained": [change(c) for c in d.gained],
                "lost": [change(c) for c in d.lost],
            }
            for d in (report.watchlists if report else ())
        ],
        "explain": explained,
    }
