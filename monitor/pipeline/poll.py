"""One poll of one feed, and a cycle over many: fetch -> parse -> store -> match -> route."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import multiprocessing
import os
import random
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.config.feeds import FeedsConfig
from monitor.dedupe import StoryIndex
from monitor.fetch import Fetcher
from monitor.fetch.pages import PageFetcher
from monitor.fetch.schedule import next_poll
from monitor.models import (
    Article,
    CycleReport,
    FeedSpec,
    FeedState,
    FetchResult,
    Match,
    NewArticle,
    ParsedFeed,
    PollReport,
)
from monitor.parse import parse_feed
from monitor.pipeline import fulltext
from monitor.route import BASELINE_DIGEST_WINDOW, Subscription, route
from monitor.store import Store
from monitor.store import articles as store_articles
from monitor.store import feeds as store_feeds
from monitor.store import outbox as store_outbox

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


PARSE_POOL_MIN_FEEDS = 64
MAX_BACKLOG = 64
_WORKER_MATCHER: Any = None


def _init_worker(matcher: Any) -> None:
    global _WORKER_MATCHER
    _WORKER_MATCHER = matcher


def _parse_and_match(
    parse: Callable[[], ParsedFeed],
) -> tuple[ParsedFeed, dict[str, list[Match]] | None]:
    """In the parser process: parse, then match every entry (the matcher is pure, and
    in a big cycle most entries are new), so the main process only stores and routes."""
    parsed = parse()
    if _WORKER_MATCHER is None:
        return parsed, None
    return parsed, _match_all(_WORKER_MATCHER, parsed.articles)


def _match_all(matcher: Any, articles: Sequence[Article]) -> dict[str, list[Match]]:
    """The matches of every article by key (an empty list for those that match nothing)."""
    match = matcher.match
    return {article.key: match(article) for article in articles}


def default_parse_workers() -> int:
    """One parser process when there is a second core to run it on."""
    return 1 if (os.cpu_count() or 1) >= 2 else 0


def utcnow() -> datetime:
    return datetime.now(UTC)


class MatcherLike:
    """What the poller needs from the compiled watchlists (``monitor.match.Matcher``)."""

    def match(self, article: object) -> list[Match]:  # pragma: no cover - protocol
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class _WithBodies:
    articles: tuple[Article, ...]
    prematched: dict[str, list[Match]] | None
    fetched: int
    failures: int


@dataclass
class Routing:
    """The parts of keywords.yaml that routing needs, plus live subscriptions."""

    watchlists: Mapping[str, object] = field(default_factory=dict)
    destinations: Mapping[str, object] = field(default_factory=dict)
    subscriptions: Callable[[], Sequence[Subscription]] = lambda: ()


@dataclass
class Poller:
    """Polls feeds and records what is new.  Build one per process; not thread-safe."""

    feeds: FeedsConfig
    store: Store
    fetcher: Fetcher
    matcher: object | None = None
    routing: Routing = field(default_factory=Routing)
    clock: Clock = utcnow
    rng: random.Random = field(default_factory=random.Random)
    on_report: Callable[[PollReport], None] | None = None
    parse_workers: int = field(default_factory=lambda: default_parse_workers())
    """Parser processes for big cycles (0: always parse in this process)."""
    parse_pool_min: int = PARSE_POOL_MIN_FEEDS
    """Cycles over fewer feeds than this parse inline (a process costs ~50 ms to start)."""
    _pool: ProcessPoolExecutor | None = field(default=None, init=False, repr=False)
    stories: StoryIndex | None = field(default_factory=StoryIndex)
    max_backlog: int = MAX_BACKLOG
    """At most this many fetched bodies wait to be parsed and stored; further 2xx bodies
    wait, unread, until one is recorded.  Without it a fast network outruns parsing and
    storing in a cold cycle, and every waiting body and parsed feed sits in memory
    (1,000 feeds at ``concurrency: 400`` measured 291 waiting, +27 MB)."""
    backlog_peak: int = field(default=0, init=False)
    """The most bodies that waited at once since this poller was built (a diagnostic)."""
    _backlog: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = field(
        default=None, init=False, repr=False
    )
    _waiting: int = field(default=0, init=False, repr=False)
    _pages: PageFetcher | None = field(default=None, init=False, repr=False)
    stories_for_all: bool = False
    """Group every new article into stories, not only those that matched a watchlist.
    Off by default: story assignment costs ~0.6 ms per article (bench/bench_dedupe.py), and
    only matched articles reach alerts and digests."""

    def due(
        self, now: datetime, *, everything: bool = False, only: Sequence[str] = ()
    ) -> list[FeedSpec]:
        """Enabled feeds whose next poll time has come (all of them with ``everything``)."""
        return self._due(self.store.feed_states(), now, everything=everything, only=only)

    def _due(
        self,
        states: Mapping[str, FeedState],
        now: datetime,
        *,
        everything: bool = False,
        only: Sequence[str] = (),
    ) -> list[FeedSpec]:
        out = []
        for spec in self.feeds.enabled():
            if only and spec.id not in only:
                continue
            st = states.get(spec.id)
            if everything or only or st is None or st.next_poll is None or st.next_poll <= now:
                out.append(spec)
        return out

    async def cycle(
        self, specs: Sequence[FeedSpec] | None = None, *, everything: bool = False
    ) -> CycleReport:
        """Poll the given (default: due) feeds concurrently; one bad feed never stops the rest."""
        started = self.clock()
        self.store.sync_feeds(self.feeds.feeds, started)
        # One query for every feed's state rather than one query per feed (N+1): cheap on
        # SQLite, one round trip per feed on a database server.  Nothing else writes these
        # rows while the cycle runs (one Poller per process, see the class docstring).
        states = self.store.feed_states()
        if specs is None:
            specs = self._due(states, started, everything=everything)
        todo = list(specs)
        pool = self._parse_pool(len(todo))
        self._pool = pool
        try:
            reports = await asyncio.gather(*(self.poll_safely(s, states.get(s.id)) for s in todo))
        finally:
            self._pool = None
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
        return CycleReport(feeds=tuple(reports), started=started, finished=self.clock())

    def _parse_pool(self, feeds: int) -> ProcessPoolExecutor | None:
        """A parser process for a big cycle: parsing is pure and CPU-bound, and a cold cycle
        of 1,000 feeds spends a third of its CPU in it; on a second core it overlaps with
        fetching and storing.  Small cycles (and the service's one-feed polls) parse inline.
        """
        if self.parse_workers <= 0 or feeds < self.parse_pool_min:
            return None
        try:
            context = multiprocessing.get_context("fork")
        except ValueError:  # pragma: no cover - platforms without fork
            return None
        # Forked after the matcher was compiled: the child inherits it, nothing is pickled.
        return ProcessPoolExecutor(
            max_workers=self.parse_workers,
            mp_context=context,
            initializer=_init_worker,
            initargs=(self.matcher,),
        )

    async def poll_safely(self, spec: FeedSpec, state: FeedState | None = None) -> PollReport:
        try:
            report = await self.poll(spec, state)
        except Exception as exc:  # a bug in one feed's processing must not stop the cycle
            log.exception("poll of feed %s failed", spec.id)
            report = PollReport(
                feed_id=spec.id,
                status="error",
                error=f"internal error: {type(exc).__name__}: {exc}",
            )
        if self.on_report:
            self.on_report(report)
        return report

    async def poll(self, spec: FeedSpec, state: FeedState | None = None) -> PollReport:
        """Fetch, parse and record one feed; update its health and next poll time.

        ``state`` is the feed's stored state when the caller has just read it (a cycle
        reads every feed's at once); otherwise it is read here.
        """
        now = self.clock()
        if state is None:
            state = self.store.feed_state(spec.id)
        if state is None:
            self.store.sync_feeds([spec], now)
            state = self.store.feed_state(spec.id)
            assert state is not None
        backlog = self._backlog_semaphore()
        held = False

        async def gate() -> None:
            nonlocal held
            await backlog.acquire()
            held = True
            self._waiting += 1
            self.backlog_peak = max(self.backlog_peak, self._waiting)

        try:
            result = await self.fetcher.fetch(spec, state, now, body_gate=gate)
            return await self._process(spec, state, result, now)
        finally:
            if held:
                self._waiting -= 1
                backlog.release()

    def _backlog_semaphore(self) -> asyncio.Semaphore:
        # One per event loop: an asyncio.Semaphore binds to the loop it first waits in.
        loop = asyncio.get_running_loop()
        if self._backlog is None or self._backlog[0] is not loop:
            self._backlog = (loop, asyncio.Semaphore(max(1, self.max_backlog)))
            self._waiting = 0
        return self._backlog[1]

    async def _process(
        self, spec: FeedSpec, state: FeedState, result: FetchResult, now: datetime
    ) -> PollReport:
        if result.outcome == "error":
            return self._failed(spec, state, result, result.error or "unknown error")
        if result.outcome == "not_modified":
            return self._unchanged(spec, state, result)
        body = result.body or b""
        digest = hashlib.sha256(body).hexdigest()
        if state.body_hash == digest and state.last_success is not None:
            # Servers that ignore validators send the same bytes again: nothing to parse.
            return self._unchanged(spec, state, result)
        parse = functools.partial(
            parse_feed,
            body,
            feed_id=spec.id,
            url=result.final_url or result.url,
            now=now,
            content_type=result.content_type,
            language=spec.language,
        )
        prematched: dict[str, list[Match]] | None = None
        if self._pool is not None:
            parsed, prematched = await asyncio.get_running_loop().run_in_executor(
                self._pool, _parse_and_match, parse
            )
        else:
            # Parsing and matching one body can take longer than the event loop may wait
            # (an item repeating a watched word 25,000 times: ~0.1 s to match, issue 10):
            # both run in a thread, the storing stays here.
            parsed = await asyncio.to_thread(parse)
            prematched = await self._prematch(spec, parsed)
        if not parsed.articles and parsed.problems and parsed.format is None:
            # Not a feed at all (HTML page, empty body, unreadable XML): a failure.  A
            # valid feed that is merely empty, or has minor problems, is a success.
            return self._failed(spec, state, result, "; ".join(parsed.problems), parsed)
        if spec.fulltext == "never" or not parsed.articles:
            return self._record(spec, state, result, parsed, digest, prematched)
        # A first poll with a backfill limit: pages only of articles that can alert or
        # enter a digest (the newest `backfill`, those of the last day).
        capped = state.last_success is None and spec.backfill is not None
        since = now - BASELINE_DIGEST_WINDOW if capped else None
        got = await self._fulltext(spec, parsed, prematched, now, since)
        if not got.fetched and not got.failures:
            return self._record(spec, state, result, parsed, digest, prematched)
        state = replace(
            state,
            pages_fetched=state.pages_fetched + got.fetched,
            page_failures=state.page_failures + got.failures,
        )
        parsed = replace(parsed, articles=got.articles)
        report = self._record(spec, state, result, parsed, digest, got.prematched)
        return replace(report, pages_fetched=got.fetched, page_failures=got.failures)

    async def _fulltext(
        self,
        spec: FeedSpec,
        parsed: ParsedFeed,
        prematched: dict[str, list[Match]] | None,
        now: datetime,
        since: datetime | None,
    ) -> _WithBodies:
        """The new articles' page text as ``body`` (``monitor.pipeline.fulltext``); the
        articles that got one are matched again if the parser process matched them."""
        pages = self._pages
        if pages is None or (pages.fetcher, pages.settings) != (self.fetcher, self.feeds.settings):
            # A new fetcher, or a reload changed page_timeout / page_max_size.
            pages = self._pages = PageFetcher(self.fetcher, self.feeds.settings)
        # Only teasers are looked up in storage: a feed with full texts costs no query.
        keep = spec.backfill or 0
        candidates = fulltext.wanted(spec, parsed.articles, known=(), since=since, keep_newest=keep)
        if not candidates:
            return _WithBodies(parsed.articles, prematched, 0, 0)
        known = self.store.known_keys(spec.id, candidates)
        got = await fulltext.enrich(
            pages, spec, parsed.articles, known, now, since=since, keep_newest=keep
        )
        if got.changed and prematched is not None and self.matcher is not None:
            prematched = dict(prematched)
            for article in got.articles:
                if article.key in got.changed:
                    prematched[article.key] = self.matcher.match(article)  # type: ignore[attr-defined]
        return _WithBodies(got.articles, prematched, got.fetched, got.failures)

    # -- outcomes ------------------------------------------------------------------------

    def _schedule(
        self, spec: FeedSpec, failures: int, result: FetchResult, ttl: timedelta | None = None
    ) -> datetime:
        s = self.feeds.settings
        return next_poll(
            now=result.fetched_at,
            interval=spec.interval,
            failures=failures,
            not_before=result.not_before,
            ttl=ttl,
            min_backoff=s.min_backoff,
            max_backoff=s.max_backoff,
            rng=self.rng,
        )

    def _moved(self, state: FeedState, result: FetchResult) -> str:
        return result.permanent_url or state.url

    def _failed(
        self,
        spec: FeedSpec,
        state: FeedState,
        result: FetchResult,
        error: str,
        parsed: ParsedFeed | None = None,
    ) -> PollReport:
        failures = state.consecutive_failures + 1
        nxt = self._schedule(spec, failures, result)
        new_state = replace(
            state,
            url=self._moved(state, result),
            last_attempt=result.fetched_at,
            last_status=result.status,
            last_error=error,
            consecutive_failures=failures,
            next_poll=nxt,
        )
        self.store.save_feed_state(new_state)
        log.warning(
            "feed %s: %s (failure %d, next try %s)",
            spec.id,
            error,
            failures,
            nxt.isoformat(timespec="seconds"),
        )
        return PollReport(
            feed_id=spec.id,
            status="error",
            error=error,
            problems=parsed.problems if parsed else (),
            http_status=result.status,
            elapsed=result.elapsed,
            next_poll=nxt,
            moved_to=result.permanent_url,
        )

    def _unchanged(self, spec: FeedSpec, state: FeedState, result: FetchResult) -> PollReport:
        nxt = self._schedule(spec, 0, result)
        new_state = replace(
            state,
            url=self._moved(state, result),
            etag=result.etag or state.etag,
            last_modified=result.last_modified or state.last_modified,
            last_attempt=result.fetched_at,
            last_success=result.fetched_at,
            last_status=result.status,
            last_error=None,
            consecutive_failures=0,
            next_poll=nxt,
        )
        self.store.save_feed_state(new_state)
        return PollReport(
            feed_id=spec.id,
            status="not_modified",
            http_status=result.status,
            elapsed=result.elapsed,
            next_poll=nxt,
            moved_to=result.permanent_url,
        )

    def _record(
        self,
        spec: FeedSpec,
        state: FeedState,
        result: FetchResult,
        parsed: ParsedFeed,
        digest: str,
        prematched: Mapping[str, list[Match]] | None = None,
    ) -> PollReport:
        now = result.fetched_at
        nxt = self._schedule(spec, 0, result, parsed.ttl)
        first_poll = state.last_success is None
        match_count = 0
        assigned: list[int] = []
        try:
            with self.store.transaction() as conn:
                new = store_articles.add_articles(conn, spec.id, parsed.articles, now)
                matched = self._match(new, prematched)
                alertable = self._backfill(spec, new, matched) if first_poll else None
                subs = list(self.routing.subscriptions()) if matched else []
                for item in new:
                    matches = matched.get(item.id, [])
                    story = None
                    if self.stories is not None and (matches or self.stories_for_all):
                        story = self.stories.assign(conn, item.id, item.article, now)
                        assigned.append(item.id)
                        if story.merged_story_ids:
                            store_outbox.merge_story_rows(
                                conn, story.story_id, story.merged_story_ids
                            )
                        if story.relation != "first":
                            # A later source of a story already alerted: edit those alerts.
                            store_outbox.enqueue_story_updates(conn, story.story_id, item.id, now)
                    if not matches:
                        continue
                    match_count += 1
                    store_outbox.record_matches(conn, item.id, matches, now)
                    baseline = alertable is not None and item.id not in alertable
                    routes = route(
                        item.id,
                        matches,
                        watchlists=self.routing.watchlists,  # type: ignore[arg-type]
                        destinations=self.routing.destinations,  # type: ignore[arg-type]
                        now=now,
                        baseline=baseline,
                        published=item.article.published,
                        subscriptions=subs,
                        story_id=story.story_id if story else None,
                    )
                    store_outbox.enqueue(conn, routes, now)
                new_state = replace(
                    state,
                    url=self._moved(state, result),
                    etag=result.etag,
                    last_modified=result.last_modified,
                    body_hash=digest,
                    last_attempt=now,
                    last_success=now,
                    last_status=result.status,
                    last_error="; ".join(parsed.problems) or None,
                    consecutive_failures=0,
                    next_poll=nxt,
                    articles_seen=state.articles_seen + len(new),
                    last_new=now if new else state.last_new,
                )
                store_feeds.save_feed_state(conn, new_state)
        except BaseException:
            if self.stories is not None and assigned:
                self.stories.discard(assigned)  # the transaction rolled back
            raise
        if result.permanent_url:
            log.warning(
                "feed %s moved permanently to %s; polling the new URL from now on",
                spec.id,
                result.permanent_url,
            )
        if first_poll and alertable is not None and match_count > len(alertable):
            log.warning(
                "feed %s: first poll recorded %d articles; %d matched, only the newest %d "
                "raise alerts (backfill limit)",
                spec.id,
                len(new),
                match_count,
                len(alertable),
            )
        return PollReport(
            feed_id=spec.id,
            status="ok",
            new=len(new),
            problems=parsed.problems,
            http_status=result.status,
            elapsed=result.elapsed,
            next_poll=nxt,
            matches=match_count,
            moved_to=result.permanent_url,
        )

    async def _prematch(self, spec: FeedSpec, parsed: ParsedFeed) -> dict[str, list[Match]] | None:
        """Matches, found in a thread, of the articles that may be new (their key was
        never seen in this feed): the others are not matched again."""
        if self.matcher is None or not parsed.articles:
            return None
        keys = [a.key for a in parsed.articles]
        unseen = store_articles.unseen_keys(self.store.conn, spec.id, keys)
        articles = [a for a in parsed.articles if a.key in unseen]
        if not articles:
            return {}
        return await asyncio.to_thread(_match_all, self.matcher, articles)

    def _match(
        self, new: Sequence[NewArticle], prematched: Mapping[str, list[Match]] | None = None
    ) -> dict[int, list[Match]]:
        """Matches of the new articles (by article id); ``prematched``: what a thread or
        the parser process already found, by article key (the others are matched here)."""
        if self.matcher is None:
            return {}
        out: dict[int, list[Match]] = {}
        match = self.matcher.match  # type: ignore[attr-defined]
        for item in new:
            found = prematched.get(item.article.key) if prematched is not None else None
            if found is None:
                found = match(item.article)
            if found:
                out[item.id] = found
        return out

    @staticmethod
    def _backfill(
        spec: FeedSpec, new: Sequence[NewArticle], matched: Mapping[int, list[Match]]
    ) -> set[int] | None:
        """On a feed's first poll, the ids of the newest matching articles allowed to alert."""
        if spec.backfill is None:
            return None
        candidates = [n for n in new if n.id in matched]
        candidates.sort(key=lambda n: n.article.published or n.first_seen, reverse=True)
        return {n.id for n in candidates[: spec.backfill]}
