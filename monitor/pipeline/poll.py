"""One poll of one feed, and a cycle over many: fetch -> prepare (parse, identify, match)
-> snapshot -> decide (``monitor.update``, pure) -> apply (one transaction)."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast

from monitor.config.specs import FeedsConfig
from monitor.errors import MonitorError
from monitor.fetch import Fetcher
from monitor.fetch.schedule import next_poll
from monitor.models import (
    Article,
    CycleReport,
    FeedSpec,
    FeedState,
    FetchResult,
    Match,
    ParsedFeed,
    PollReport,
)
from monitor.pipeline.due import due_feeds
from monitor.route import BASELINE_DIGEST_WINDOW, Subscription
from monitor.store import Store
from monitor.update import FeedIntent, PreparedFeed, decide, prepare
from monitor.update import Routing as UpdateRouting

if TYPE_CHECKING:
    # Imported where used (issue 15): a cycle in which every feed answers 304 parses
    # nothing, groups no story and fetches no page, so it loads neither the parsers nor
    # numpy and the story features.
    from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

    from monitor.dedupe import Fingerprint, StoryIndex
    from monitor.fetch.pages import PageFetcher
    from monitor.pipeline import fulltext

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
P = ParamSpec("P")
R = TypeVar("R")


PARSE_POOL_MIN_FEEDS = 64
MAX_BACKLOG = 64
WRITE_BATCH = 64
WRITE_DELAY = 0.02
TRIM_AFTER = 100
"""Polls that end before the next return of free heap pages (when none runs any more)."""
_WORKER_MATCHER: Any = None
_WORKER_FINGERPRINT: Callable[[Article], Fingerprint] | None = None
_WORKER_STORIES: Callable[[tuple[Match, ...]], bool] = bool


def _init_worker(
    matcher: Any,
    fingerprint: Callable[[Article], Fingerprint] | None = None,
    stories: Callable[[tuple[Match, ...]], bool] = bool,
) -> None:
    global _WORKER_MATCHER, _WORKER_FINGERPRINT, _WORKER_STORIES
    _WORKER_MATCHER = matcher
    _WORKER_FINGERPRINT = fingerprint
    _WORKER_STORIES = stories


def _prepare_in_worker(parse: Callable[[], ParsedFeed]) -> PreparedFeed:
    """In the parser process: parse, identify, match and fingerprint every entry
    (``update.prepare``, the one matching path; in a big cycle most entries are new), so
    the main process only reads the snapshot, decides and writes."""
    return prepare(
        parse(), _WORKER_MATCHER, fingerprint=_WORKER_FINGERPRINT, stories=_WORKER_STORIES
    )


def _joins_story(enabled: bool, everything: bool, matches: Sequence[Match]) -> bool:
    """Whether a new entry with these matches is grouped into a story."""
    return enabled and (bool(matches) or everything)


def default_parse_workers() -> int:
    """One parser process when there is a second core to run it on."""
    return 1 if (os.cpu_count() or 1) >= 2 else 0


def utcnow() -> datetime:
    return datetime.now(UTC)


class _StoryIndexOnFirstUse:
    """The default ``Poller.stories``: a ``StoryIndex``, made when first used (a cycle
    that stores no new article never uses it, and never imports numpy for it)."""

    def __init__(self) -> None:
        self._index: StoryIndex | None = None

    def __getattr__(self, name: str) -> Any:
        if self._index is None:
            from monitor.dedupe import StoryIndex

            self._index = StoryIndex()
        return getattr(self._index, name)


def _story_index_on_first_use() -> StoryIndex:
    return cast("StoryIndex", _StoryIndexOnFirstUse())


@dataclass
class Routing:
    """The parts of keywords.yaml that routing needs, plus live subscriptions."""

    watchlists: Mapping[str, object] = field(default_factory=dict)
    destinations: Mapping[str, object] = field(default_factory=dict)
    subscriptions: Callable[[], Sequence[Subscription]] = lambda: ()


@dataclass
class Poller:
    """Polls feeds and records what is new.  Build one per process; not thread-safe.

    During a ``cycle`` on PostgreSQL every store call of its polls runs on one thread of
    the cycle's own (``_in_writer``), so the store must not be used by other tasks
    while a cycle runs (``monitor poll`` and the benchmarks; the service polls one feed
    at a time with ``poll_safely``, on the event loop).
    """

    feeds: FeedsConfig
    store: Store
    fetcher: Fetcher
    matcher: object | None = None
    build_matcher: Callable[[], object] | None = None
    """Builds ``matcher`` (when none was given) once the first fetched body is to be
    parsed: a cycle in which every feed answers 304, or sends the bytes it sent last,
    compiles no matcher and starts no parser process (issue 15: a warm cron
    ``monitor poll`` needs neither)."""
    matchers_built: int = field(default=0, init=False)
    """How many times ``build_matcher`` ran (a diagnostic)."""
    pools_started: int = field(default=0, init=False)
    """How many parser process pools were started (a diagnostic)."""
    routing: Routing = field(default_factory=Routing)
    clock: Clock = utcnow
    rng: random.Random = field(default_factory=random.Random)
    on_report: Callable[[PollReport], None] | None = None
    parse_workers: int = field(default_factory=lambda: default_parse_workers())
    """Parser processes for big cycles (0: always parse in this process)."""
    parse_pool_min: int = PARSE_POOL_MIN_FEEDS
    """Cycles over fewer feeds than this parse inline (a process costs ~50 ms to start)."""
    _pool: ProcessPoolExecutor | None = field(default=None, init=False, repr=False)
    _pool_wanted: bool = field(default=False, init=False, repr=False)
    _building: asyncio.Future[tuple[object, float]] | None = field(
        default=None, init=False, repr=False
    )
    _writer: ThreadPoolExecutor | None = field(default=None, init=False, repr=False)
    stories: StoryIndex | None = field(default_factory=lambda: _story_index_on_first_use())
    max_backlog: int = MAX_BACKLOG
    """At most this many fetched bodies wait to be parsed and stored; further 2xx bodies
    wait, unread, until one is recorded.  Without it a fast network outruns parsing and
    storing in a cold cycle, and every waiting body and parsed feed sits in memory
    (1,000 feeds at ``concurrency: 400`` measured 291 waiting, +27 MB).  A feed gives its
    slot back before it fetches article pages (full text)."""
    backlog_peak: int = field(default=0, init=False)
    """The most bodies that waited at once since this poller was built (a diagnostic)."""
    _backlog: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = field(
        default=None, init=False, repr=False
    )
    _waiting: int = field(default=0, init=False, repr=False)
    _pages: PageFetcher | None = field(default=None, init=False, repr=False)
    trim: Callable[[], object] = field(default=lambda: _trim_heap(), repr=False)
    """Gives the C heap's free pages back to the system (``monitor.heap``); called when
    no poll runs any more after ``trim_after`` polls ended (issue 12: the freed texts of
    a first cycle of 1,000 feeds kept the idle service tens of MB above what it holds)."""
    trim_after: int = TRIM_AFTER
    trims: int = field(default=0, init=False)
    """How many times ``trim`` ran (a diagnostic)."""
    _running: int = field(default=0, init=False, repr=False)
    _ended: int = field(default=0, init=False, repr=False)
    write_batch: int = WRITE_BATCH
    """At most this many polls write in one transaction (``Store.batch``, SQLite): a poll
    whose body is parsed, or that got a 304 or an error, queues its writes; the queue is
    written when it is this long, when every running poll waits in it, or ``write_delay``
    seconds after its first write (issue 15: a commit per feed cost a third of a cold
    cycle's store time and most of its disk writes).  1: every poll commits alone."""
    write_delay: float = WRITE_DELAY
    batches: int = field(default=0, init=False)
    """How many batches of polls were written (a diagnostic: fewer than the polls when
    batching works)."""
    _writes: list[tuple[Callable[[], PollReport], asyncio.Future[PollReport]]] = field(
        default_factory=list, init=False, repr=False
    )
    _flush_at: tuple[asyncio.AbstractEventLoop, asyncio.TimerHandle] | None = field(
        default=None, init=False, repr=False
    )
    _filed: list[int] | None = field(default=None, init=False, repr=False)
    """Articles filed in the story index by the batch being written."""
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
        return due_feeds(self.feeds, states, now, everything=everything, only=only)

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
        # A parser process for a big cycle: parsing is pure and CPU-bound, and a cold cycle
        # of 1,000 feeds spends a third of its CPU in it; on a second core it overlaps with
        # fetching and storing.  Small cycles (and the service's one-feed polls) parse
        # inline.  Started with the first body to parse (``_parse_pool``), if any.
        self._pool_wanted = self.parse_workers > 0 and len(todo) >= self.parse_pool_min
        # On PostgreSQL every statement is a round trip to a server process, and a
        # commit waits for it: on the event loop each one stalled every fetch in flight
        # (issue 11: a cold cycle of 300 feeds spent 8 of its 10 s of wall time blocked
        # in the store).  One thread runs the polls' store calls instead, in order, while
        # the loop goes on fetching.  SQLite answers in microseconds, in-process: no thread.
        if self.store.engine == "postgresql" and len(todo) > 1:
            from concurrent.futures import ThreadPoolExecutor

            self._writer = ThreadPoolExecutor(1, thread_name_prefix="monitor-store")
        try:
            reports = await asyncio.gather(*(self.poll_safely(s, states.get(s.id)) for s in todo))
        finally:
            pool, self._pool, self._pool_wanted = self._pool, None, False
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
            writer, self._writer = self._writer, None
            if writer is not None:
                writer.shutdown(wait=True, cancel_futures=True)
        return CycleReport(feeds=tuple(reports), started=started, finished=self.clock())

    async def _in_writer(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """``fn(*args)``, a poll's use of the store: on the cycle's store thread when
        there is one (see ``cycle``), else here, on the event loop."""
        writer = self._writer
        if writer is None:
            return fn(*args, **kwargs)
        call = functools.partial(fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(writer, call)

    async def _matcher(self) -> object | None:
        """The matcher, built now if it is still to be built (see ``build_matcher``).

        The build runs in a thread: compiling the shipped watchlists takes most of a
        second of CPU (more on a loaded machine), and on the event loop it would stall
        every fetch in flight past its timeout.  Feeds that need the matcher meanwhile
        wait for the same build.
        """
        if self.matcher is None and self.build_matcher is not None:
            if self._building is None:
                build = self.build_matcher

                def run() -> tuple[object, float]:
                    started = time.thread_time()
                    return build(), time.thread_time() - started

                self._building = asyncio.ensure_future(asyncio.to_thread(run))
            building = self._building
            try:
                compiled, cpu = await asyncio.shield(building)
            except BaseException:
                if building.done():  # the build failed: this feed fails, the next retries
                    self._building = None
                raise
            if self.matcher is None:
                self.matcher, self.build_matcher, self._building = compiled, None, None
                self.matchers_built += 1
                log.debug("compiled the matcher in %.3f s CPU (in a thread)", cpu)
        return self.matcher

    def _parse_pool(self) -> ProcessPoolExecutor | None:
        """This cycle's parser process pool, started on first use when the cycle wants
        one (after the matcher is built: the forked child inherits it)."""
        if self._pool is not None or not self._pool_wanted:
            return self._pool
        self._pool_wanted = False
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        try:
            context = multiprocessing.get_context("fork")
        except ValueError:  # pragma: no cover - platforms without fork
            return None
        self.pools_started += 1
        log.debug("starting %d parser process(es)", self.parse_workers)
        # The forked child would map the database's page cache and the heap's free pages
        # too (issue 15: +30 MB of summed RSS in a CHANGED cycle at 1,000 feeds): give them
        # back first; the cache refills from the OS's file cache.
        self.store.release_memory()
        self.trim()
        # Forked after the matcher was compiled: the child inherits it, nothing is pickled.
        self._pool = ProcessPoolExecutor(
            max_workers=self.parse_workers,
            mp_context=context,
            initializer=_init_worker,
            initargs=(
                self.matcher,
                self._fingerprint(),
                functools.partial(_joins_story, self.stories is not None, self.stories_for_all),
            ),
        )
        return self._pool

    async def poll_safely(self, spec: FeedSpec, state: FeedState | None = None) -> PollReport:
        self._running += 1
        try:
            report = await self.poll(spec, state)
        except MonitorError as exc:  # the database said no: its message says what to do
            log.error("poll of feed %s failed: %s", spec.id, exc)
            report = PollReport(feed_id=spec.id, status="error", error=str(exc))
        except Exception as exc:  # a bug in one feed's processing must not stop the cycle
            log.exception("poll of feed %s failed", spec.id)
            report = PollReport(
                feed_id=spec.id,
                status="error",
                error=f"internal error: {type(exc).__name__}: {exc}",
            )
        finally:
            self._running -= 1
            self._ended += 1
            if self._running == 0 and self._ended >= self.trim_after:
                self._ended = 0
                self.trims += 1
                self.trim()
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
            state = await self._in_writer(self._stored_state, spec, now)
        backlog = self._backlog_semaphore()
        held = False

        async def gate() -> None:
            nonlocal held
            await backlog.acquire()
            held = True
            self._waiting += 1
            self.backlog_peak = max(self.backlog_peak, self._waiting)

        def release() -> None:
            nonlocal held
            if held:
                held = False
                self._waiting -= 1
                backlog.release()

        try:
            result = await self.fetcher.fetch(spec, state, now, body_gate=gate)
            return await self._process(spec, state, result, now, release)
        finally:
            release()

    def _stored_state(self, spec: FeedSpec, now: datetime) -> FeedState:
        state = self.store.feed_state(spec.id)
        if state is None:
            self.store.sync_feeds([spec], now)
            state = self.store.feed_state(spec.id)
            assert state is not None
        return state

    def _backlog_semaphore(self) -> asyncio.Semaphore:
        # One per event loop: an asyncio.Semaphore binds to the loop it first waits in.
        loop = asyncio.get_running_loop()
        if self._backlog is None or self._backlog[0] is not loop:
            self._backlog = (loop, asyncio.Semaphore(max(1, self.max_backlog)))
            self._waiting = 0
        return self._backlog[1]

    async def _process(
        self,
        spec: FeedSpec,
        state: FeedState,
        result: FetchResult,
        now: datetime,
        release_backlog: Callable[[], None] = lambda: None,
    ) -> PollReport:
        if result.outcome == "error":
            error = result.error or "unknown error"
            return await self._write(lambda: self._failed(spec, state, result, error))
        if result.outcome == "not_modified":
            return await self._write(lambda: self._unchanged(spec, state, result))
        body = result.body or b""
        digest = hashlib.sha256(body).hexdigest()
        if state.body_hash == digest and state.last_success is not None:
            # Servers that ignore validators send the same bytes again: nothing to parse.
            return await self._write(lambda: self._unchanged(spec, state, result))
        from monitor.parse import parse_feed

        await self._matcher()
        pool = self._parse_pool()
        parse = functools.partial(
            parse_feed,
            body,
            feed_id=spec.id,
            url=result.final_url or result.url,
            now=now,
            content_type=result.content_type,
            language=spec.language,
        )
        if pool is not None:
            prepared = await asyncio.get_running_loop().run_in_executor(
                pool, _prepare_in_worker, parse
            )
        else:
            # Parsing and matching one body can take longer than the event loop may wait
            # (an item repeating a watched word 25,000 times: ~0.1 s to match, issue 10):
            # both run in a thread.  Entries already seen need no matching; the parser
            # process, without the store, matches them all (in a big cycle most are new).
            parsed = await asyncio.to_thread(parse)
            known = (
                await self._in_writer(
                    self.store.known_keys, spec.id, [a.key for a in parsed.articles]
                )
                if self.matcher is not None and parsed.articles
                else frozenset()
            )
            prepared = await asyncio.to_thread(
                prepare,
                parsed,
                self.matcher,  # type: ignore[arg-type]
                known,
                fingerprint=self._fingerprint(),
                stories=self._joins_story,
            )
        parsed = prepared.parsed
        if not parsed.articles and parsed.problems and parsed.format is None:
            # Not a feed at all (HTML page, empty body, unreadable XML): a failure.  A
            # valid feed that is merely empty, or has minor problems, is a success.
            problems = "; ".join(parsed.problems)
            return await self._write(lambda: self._failed(spec, state, result, problems, parsed))
        if spec.fulltext == "never" or not parsed.articles:
            return await self._write(lambda: self._record(spec, state, result, prepared, digest))
        # A first poll with a backfill limit: pages only of articles that can alert or
        # enter a digest (the newest `backfill`, those of the last day).
        capped = state.never_polled and spec.backfill is not None
        since = now - BASELINE_DIGEST_WINDOW if capped else None
        # The page fetches need fetch slots, which feeds waiting at the backlog hold while
        # they wait: keeping this feed's backlog slot meanwhile hung a cold cycle of 200
        # teaser feeds for ever (bench/bench_cli.py, issue 15).  The body is parsed by now.
        release_backlog()
        got = await self._fulltext(spec, parsed, now, since)
        if got is None:
            return await self._write(lambda: self._record(spec, state, result, prepared, digest))
        if got.changed:
            # Match (and fingerprint) again with the bodies: prepare is pure and cheap
            # next to the pages it waited for.
            keys = [a.key for a in got.articles]
            known = await self._in_writer(self.store.known_keys, spec.id, keys)
            prepared = await asyncio.to_thread(
                prepare,
                replace(parsed, articles=got.articles),
                self.matcher,  # type: ignore[arg-type]
                known,
                fingerprint=self._fingerprint(),
                stories=self._joins_story,
            )
        state = replace(
            state,
            pages_fetched=state.pages_fetched + got.fetched,
            page_failures=state.page_failures + got.failures,
        )
        enriched = state
        report = await self._write(lambda: self._record(spec, enriched, result, prepared, digest))
        return replace(report, pages_fetched=got.fetched, page_failures=got.failures)

    async def _fulltext(
        self, spec: FeedSpec, parsed: ParsedFeed, now: datetime, since: datetime | None
    ) -> fulltext.Enriched | None:
        """The new articles' page text as ``body`` (``monitor.pipeline.fulltext``); None
        when no page was wanted."""
        from monitor.fetch.pages import PageFetcher
        from monitor.pipeline import fulltext

        pages = self._pages
        if pages is None or (pages.fetcher, pages.settings) != (self.fetcher, self.feeds.settings):
            # A new fetcher, or a reload changed page_timeout / page_max_size.
            pages = self._pages = PageFetcher(self.fetcher, self.feeds.settings)
        # Only teasers are looked up in storage: a feed with full texts costs no query.
        keep = spec.backfill or 0
        candidates = fulltext.wanted(spec, parsed.articles, known=(), since=since, keep_newest=keep)
        if not candidates:
            return None
        keys = [a.key for a in candidates]
        known = await self._in_writer(self.store.known_keys, spec.id, keys)
        got = await fulltext.enrich(
            pages, spec, parsed.articles, known, now, since=since, keep_newest=keep
        )
        return got if got.fetched or got.failures else None

    # -- writes --------------------------------------------------------------------------

    async def _write(self, job: Callable[[], PollReport]) -> PollReport:
        """Run ``job`` (a poll's writes: ``_record``, ``_unchanged`` or ``_failed``) in a
        batch with other polls' (``write_batch``); its report, or its error.

        SQLite batches on the event loop; PostgreSQL only during a cycle, on its store
        thread (``cycle``), so the loop goes on fetching while a batch is written."""
        batching = self.store.engine == "sqlite" or self._writer is not None
        if self.write_batch <= 1 or not batching:
            return await self._in_writer(job)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[PollReport] = loop.create_future()
        self._writes.append((job, future))
        if len(self._writes) >= min(self.write_batch, max(1, self._running)):
            self._flush_writes()
        elif self._flush_at is None or self._flush_at[0] is not loop:
            self._flush_at = (loop, loop.call_later(self.write_delay, self._flush_writes))
        try:
            return await future
        except asyncio.CancelledError:
            self._writes = [w for w in self._writes if w[1] is not future]
            if not self._writes and self._flush_at is not None:
                self._flush_at[1].cancel()
                self._flush_at = None
            raise

    def _flush_writes(self) -> None:
        """Write the queued polls in one transaction (``_run_batch``), here on SQLite, on
        the cycle's store thread on PostgreSQL; then hand each poll its outcome."""
        if self._flush_at is not None:
            self._flush_at[1].cancel()
            self._flush_at = None
        writes, self._writes = self._writes, []
        if not writes:
            return
        jobs = [job for job, _ in writes]
        futures = [future for _, future in writes]
        writer = self._writer
        if writer is None:
            _settle(futures, self._run_batch(jobs))
            return
        running = asyncio.get_running_loop().run_in_executor(writer, self._run_batch, jobs)

        def settle(done: asyncio.Future[list[PollReport | Exception]]) -> None:
            if done.cancelled():
                for future in futures:
                    if not future.done():
                        future.cancel()
                return
            exc = done.exception()
            _settle(futures, [exc] * len(futures) if isinstance(exc, Exception) else done.result())

        running.add_done_callback(settle)

    def _run_batch(self, jobs: Sequence[Callable[[], PollReport]]) -> list[PollReport | Exception]:
        """Run ``jobs`` in one transaction (``Store.batch``); each one's report or error.

        SQLite runs each in a savepoint: one poll's failure is that poll's; a failed
        commit fails them all (nothing was written).  On PostgreSQL the batch is one
        pipeline, which a failed statement ends: when the batch fails, each poll is
        written again alone, in a transaction of its own, so that a failure is again
        that poll's only (issue 11: a commit and a store-thread hand-over per poll made a
        cold cycle on PostgreSQL twice as slow as on SQLite)."""
        outcomes: list[PollReport | Exception] = []
        filed: list[int] = []
        self._filed = filed
        self.batches += 1
        try:
            with self.store.batch():
                for job in jobs:
                    try:
                        outcomes.append(job())
                    except Exception as exc:  # this poll's failure (poll_safely reports it)
                        outcomes.append(exc)
        except Exception as exc:
            if self.stories is not None and filed:
                self.stories.discard(filed)  # their rows were rolled back
            if self.store.engine != "postgresql" or len(jobs) == 1:
                return [exc] * len(jobs)
            log.debug("storage: a batch of %d polls failed (%s); each alone now", len(jobs), exc)
            self._filed = None
            outcomes = []
            for job in jobs:
                try:
                    outcomes.append(job())
                except Exception as one:
                    outcomes.append(one)
        finally:
            self._filed = None
        return outcomes

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
        prepared: PreparedFeed,
        digest: str,
    ) -> PollReport:
        """Snapshot, decide (``monitor.update``, pure), apply in one transaction.

        Nothing awaits between the snapshot and the apply, so no other poll of this
        process writes in between; the state lock keeps other processes out.
        """
        now = result.fetched_at
        parsed = prepared.parsed
        nxt = self._schedule(spec, 0, result, parsed.ttl)
        snapshot = self.store.snapshot(spec.id, prepared.identities)
        subscriptions = tuple(self.routing.subscriptions()) if prepared.matches else ()
        intent = decide(
            prepared,
            snapshot,
            now,
            routing=UpdateRouting(
                self.routing.watchlists,  # type: ignore[arg-type]
                self.routing.destinations,  # type: ignore[arg-type]
                subscriptions,
            ),
            first_poll=state.never_polled,
            backfill=spec.backfill,
            stories=self._joins_story,
        )
        polled = replace(
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
        )
        intent = self._with_stories(intent.with_state(polled))
        new = self.store.apply(intent)
        if intent.stories is not None and self.stories is not None:
            # Only once written: a poll that rolled back leaves no keys in the index.
            self.stories.file(intent.stories, [n.id for n in new], intent.now)
            if self._filed is not None:  # in a batch: written once the batch commits
                self._filed.extend(n.id for n in new)
        if result.permanent_url:
            log.warning(
                "feed %s moved permanently to %s; polling the new URL from now on",
                spec.id,
                result.permanent_url,
            )
        if intent.held_back:
            log.warning(
                "feed %s: first poll recorded %d articles; %d matched, only the newest %d "
                "raise alerts (backfill limit)",
                spec.id,
                len(new),
                intent.matched,
                intent.matched - intent.held_back,
            )
        return PollReport(
            feed_id=spec.id,
            status="ok",
            new=len(new),
            problems=parsed.problems,
            http_status=result.status,
            elapsed=result.elapsed,
            next_poll=nxt,
            matches=intent.matched,
            moved_to=result.permanent_url,
        )

    def _with_stories(self, intent: FeedIntent) -> FeedIntent:
        """``intent`` with the story of each new entry that joins one (``StoryIndex.plan``:
        the decision is made here, before the store writes anything)."""
        if self.stories is None or not any(n.story for n in intent.new):
            return intent
        entries = [(n.article, n.fingerprint) if n.story else None for n in intent.new]
        with self.store.story_reader() as rows:
            plan = self.stories.plan(rows, entries, intent.now)
        return intent.with_stories(plan)

    def _joins_story(self, matches: Sequence[Match]) -> bool:
        return _joins_story(self.stories is not None, self.stories_for_all, matches)

    def _fingerprint(self) -> Callable[[Article], Fingerprint] | None:
        return self.stories.fingerprint if self.stories is not None else None


def _settle(
    futures: Sequence[asyncio.Future[PollReport]], outcomes: Sequence[PollReport | Exception]
) -> None:
    for future, outcome in zip(futures, outcomes, strict=True):
        if future.done():  # its poll was cancelled meanwhile
            continue
        if isinstance(outcome, Exception):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


def _trim_heap() -> bool:
    # Imported here: ctypes is not needed by a cron poll that stores nothing (issue 15).
    from monitor import heap

    return heap.trim()
