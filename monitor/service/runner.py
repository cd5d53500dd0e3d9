"""``monitor run``: one asyncio process that polls, delivers, digests and answers.

APScheduler 3.x (``AsyncIOScheduler``) holds one date job per feed, re-armed after each
poll at the feed's own next poll time (its interval with jitter, stretched by back-off,
``Retry-After``, ``Cache-Control`` and ``<ttl>``), plus interval and cron jobs for
digests, hot reload, retention and the daily health report.  Jobs only *spawn* tasks,
which the service tracks so that SIGTERM can finish in-flight work.  After downtime,
every overdue feed is polled once (coalesced) and the outbox and digests catch up.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
import os
import random
import signal
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, cast

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from monitor.config.feeds import FeedsConfig, load_feeds
from monitor.config.keywords import KeywordsConfig, load_keywords
from monitor.dedupe import StoryIndex
from monitor.deliver.telegram import FloodLimiter
from monitor.errors import ConfigError, MonitorError, ServiceError
from monitor.fetch import Fetcher
from monitor.fetch.schedule import rescheduled
from monitor.logs import Throttle
from monitor.models import CycleReport, FeedSpec, FeedState, PollReport, Target
from monitor.pipeline.build import Configs, load_configs, matcher, routing
from monitor.pipeline.deliver import Deliverer, DeliveryReport
from monitor.pipeline.poll import Poller
from monitor.pipeline.runtime import build_deliverer
from monitor.service import requests
from monitor.service.bot_commands import unsubscribe_if_gone
from monitor.service.bot_flags import is_paused
from monitor.service.health import health_report
from monitor.service.metrics import HttpEndpoint, HttpLimits, Metrics
from monitor.service.reload import FileWatch
from monitor.store import StateLock, Store, ensure_state_dir, unsubscribe
from monitor.store.db import RESTORE_HINT, check_file
from monitor.web.app import Site

if TYPE_CHECKING:
    from monitor.match import Matcher

log = logging.getLogger(__name__)
DEFAULT_HTTP = "127.0.0.1:9108"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class ServiceOptions:
    feeds_path: str
    keywords_path: str
    state_dir: Path
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    http: str | None = DEFAULT_HTTP
    """``host:port`` for /healthz and /metrics; None or empty disables it."""
    reload_every: float = 2.0
    digest_every: float = 30.0
    outbox_idle: float = 30.0
    shutdown_grace: float = 7.0
    health_time: str = "09:00"
    health_timezone: str = "Europe/Brussels"
    console: TextIO | None = None
    bot: bool = True
    http_limits: HttpLimits = field(default_factory=HttpLimits)
    requests_every: float = 1.0
    database_url: str | None = None
    """``--database``: a ``postgresql://`` URL; None: ``MONITOR_DATABASE_URL``, else SQLite."""
    """How often to look for ``monitor poll`` / ``monitor deliver`` requests (seconds)."""


class Service:
    """The long-running process.  ``await Service(options).run()`` until SIGTERM/SIGINT."""

    def __init__(self, options: ServiceOptions) -> None:
        self.opt = options
        self.metrics = Metrics()
        self.stories = StoryIndex()
        self.flood = FloodLimiter()
        """One Telegram flood budget shared by the outbox sender and the command bot."""
        self.rng = random.Random()
        self.throttle = Throttle()
        """Repeated log messages once a minute with a count (issue 10 item 4)."""
        self.stopping = asyncio.Event()
        self.started: datetime | None = None
        self.http_address: str | None = None
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._polling: dict[str, asyncio.Task[PollReport]] = {}
        """The poll of each feed under way: one at a time per feed."""
        self._alerts_lock = asyncio.Lock()
        self._digests_lock = asyncio.Lock()
        """One outbox sender at a time, whether the loop, a digest job or a request runs it:
        two would send a row twice."""
        self._cfg: Configs | None = None
        self._store: Store | None = None
        self._fetcher: Fetcher | None = None
        self._poller: Poller | None = None
        self._deliverer: Deliverer | None = None
        self._scheduler: AsyncIOScheduler | None = None
        self._watch: FileWatch | None = None
        self._bot: Any = None
        self._last_cycle_error: str | None = None
        self.last_reload: dict[str, Any] | None = None
        """The last configuration edit: when, and the error when it was rejected."""
        self.exit_code = 0

    # -- lifecycle -----------------------------------------------------------------------

    async def run(self) -> int:
        """Run until stopped.  Returns the process exit code.

        Raises:
            ConfigError: the configuration is invalid at start (nothing is started).
            StateLockedError: another process uses the state directory.
        """
        state = ensure_state_dir(self.opt.state_dir)
        lock = StateLock(state)
        lock.acquire()
        try:
            cfg = load_configs(self.opt.feeds_path, self.opt.keywords_path, cache_dir=state)
            if self.opt.bot:
                from monitor.service.bot import admin_ids_from_env

                admin_ids_from_env(self.opt.environ)  # a malformed list fails at start
            self._store = Store(state, database_url=self.opt.database_url)
            try:
                return await self._serve(cfg)
            finally:
                self._store.close()
        finally:
            lock.release()

    async def _serve(self, cfg: Configs) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop, sig.name)
        loop.set_exception_handler(self._loop_exception)
        self.started = utcnow()
        self._fetcher = Fetcher(cfg.feeds.settings)
        await self._fetcher.__aenter__()
        self._apply(cfg)
        self._watch = FileWatch([self.opt.feeds_path, self.opt.keywords_path])
        # Every job is a coroutine function: AsyncIOScheduler runs those on this loop (plain
        # functions would go to a thread pool, away from the loop and the SQLite connection).
        scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self._scheduler = scheduler
        scheduler.add_job(
            self._spawn_digests,
            "interval",
            seconds=self.opt.digest_every,
            id="digests",
            next_run_time=utcnow(),
        )
        scheduler.add_job(self._reload, "interval", seconds=self.opt.reload_every, id="reload")
        requests.forget_unanswered(self.opt.state_dir)
        scheduler.add_job(
            self._take_requests,
            "interval",
            seconds=self.opt.requests_every,
            id="requests",
            next_run_time=utcnow(),
        )
        scheduler.add_job(
            self._spawn_retention,
            "interval",
            hours=24,
            id="retention",
            next_run_time=utcnow() + timedelta(minutes=5),
        )
        hour, minute = (int(x) for x in self.opt.health_time.split(":"))
        scheduler.add_job(
            self._spawn_health,
            CronTrigger(hour=hour, minute=minute, timezone=self.opt.health_timezone),
            id="health",
        )
        scheduler.add_job(
            self._check_database,
            "interval",
            hours=24,
            id="quick-check",
            next_run_time=utcnow() + timedelta(hours=24),
        )
        endpoint = None
        if self.opt.http:
            # Before anything is started: a taken port must end the start cleanly.
            endpoint = HttpEndpoint(
                self.metrics,
                self.health,
                self._refresh_gauges,
                limits=self.opt.http_limits,
                throttle=self.throttle,
                site=self._site(),
            )
            try:
                self.http_address = await endpoint.start(self.opt.http)
            except BaseException:
                await self._fetcher.__aexit__(None, None, None)
                raise
            # scripts and tests read the address from this line: keep its start
            log.warning(
                "metrics on http://%s/metrics, health on /healthz, dashboard on /",
                self.http_address,
            )
        scheduler.start()
        self._schedule_all()
        self._spawn(self._outbox_loop(), "outbox")
        await self._start_bot()
        log.warning(
            "monitor running: %d feeds, %d watchlists; state in %s",
            len(cfg.feeds.enabled()),
            len(cfg.keywords.watchlists),
            self.opt.state_dir,
        )
        await self.stopping.wait()
        await self._shutdown(endpoint)
        return self.exit_code

    def _loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """asyncio's own error reports, a repeated one once a minute with a count: out of
        file descriptors, its accept loop said the same thing thousands of times a second."""
        exc = context.get("exception")
        message = str(context.get("message", ""))
        tail = self.throttle.suffix(f"asyncio:{message}:{type(exc).__name__}")
        if tail is None:
            return
        loop.default_exception_handler({**context, "message": message + tail})

    def stop(self, why: str = "stop") -> None:
        if not self.stopping.is_set():
            log.warning("%s received: finishing in-flight work", why)
            self.stopping.set()
            self._wake.set()

    async def _shutdown(self, endpoint: HttpEndpoint | None) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
        pending = [t for t in self._tasks if not t.done()]
        if pending:
            _, late = await asyncio.wait(pending, timeout=self.opt.shutdown_grace)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=1.0)
        await self._stop_bot()
        if endpoint is not None:
            await endpoint.stop()
        if self._deliverer is not None:
            await self._deliverer.aclose()
        if self._fetcher is not None:
            await self._fetcher.__aexit__(None, None, None)
        log.warning("monitor stopped")

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any] | None:
        if self.stopping.is_set():
            coro.close()
            return None
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("task %s failed", task.get_name(), exc_info=task.exception())

    # -- configuration -------------------------------------------------------------------

    @property
    def store(self) -> Store:
        assert self._store is not None
        return self._store

    @property
    def config(self) -> Configs:
        assert self._cfg is not None
        return self._cfg

    def _apply(self, cfg: Configs, compiled: object | None = None) -> None:
        """Build the poller and the outbox worker for ``cfg`` (at start and on reload);
        ``compiled``: the matcher of ``cfg.keywords`` when already built."""
        assert self._fetcher is not None
        old = self._deliverer
        self._cfg = cfg
        self.store.sync_feeds(cfg.feeds.feeds, utcnow())
        route = routing(cfg.keywords)
        route.subscriptions = self.store.subscriptions
        self._poller = Poller(
            feeds=cfg.feeds,
            store=self.store,
            fetcher=self._fetcher,
            matcher=compiled if compiled is not None else matcher(cfg.keywords),
            routing=route,
            rng=self.rng,
            on_report=self._observe,
            # One story index for the life of the process: a reload must not make the
            # next poll rebuild it from SQLite (seconds at a million articles).
            stories=self.stories,
        )
        self._deliverer = build_deliverer(
            cfg,
            self.store,
            environ=self.opt.environ,
            console=self.opt.console,
            limiter=self.flood,
            on_sent=self._sent,
            on_failed=self._failed,
            on_unhealthy=self._unhealthy,
            on_held=self._held,
        )
        # New settings may fix what made a destination unhealthy: its rows are due now,
        # and the outbox loop (which may be sleeping until their old retry) runs at once.
        self._deliverer.release_waiting()
        self._wake.set()
        if old is not None:
            self._spawn(old.aclose(), "close-old-senders")
        # A big matcher is ~200k long-lived objects: move them out of the collector's
        # sight so full collections (~90 ms each at 30,000 terms) do not walk them.
        gc.collect()
        gc.freeze()

    async def _reload(self) -> None:
        """Apply edited files; an invalid file keeps its last good version (per file).

        Reading, parsing, validating and compiling run in a worker thread: they take
        hundreds of milliseconds for a real ``keywords.yaml``, and the loop must keep
        answering /healthz and Telegram meanwhile (issue 10 item 1).
        """
        assert self._watch is not None
        edited = await asyncio.to_thread(self._watch.changed)
        if not edited:
            return
        old = self.config
        feeds, keywords, compiled, errors = await asyncio.to_thread(self._load_edited, edited, old)
        if errors:
            self.metrics.config_reloads.labels("rejected").inc()
            text = "\n".join(errors)
            self.last_reload = {"at": utcnow().isoformat(timespec="seconds"), "error": text}
            log.error(
                "configuration edit rejected; still running on the last good configuration:\n%s",
                text,
            )
            self._spawn(
                self.notify_admins(
                    f"⚠️ monitor: configuration edit rejected, still running on the last good "
                    f"configuration.\n{text}"
                ),
                "notify",
            )
        if feeds is old.feeds and keywords is old.keywords:
            return
        cfg = Configs(feeds=feeds, keywords=keywords)
        if cfg.feeds.settings != old.feeds.settings:
            self._swap_fetcher(cfg)
        if compiled is None and self._poller is not None:
            compiled = self._poller.matcher  # keywords.yaml unchanged
        self._apply(cfg, compiled)
        self._schedule_all(previous=old.feeds)
        self.metrics.config_reloads.labels("applied").inc()
        if not errors:
            self.last_reload = {"at": utcnow().isoformat(timespec="seconds"), "error": None}
        log.warning(
            "configuration reloaded: %d feeds, %d watchlists",
            len(cfg.feeds.enabled()),
            len(cfg.keywords.watchlists),
        )

    def _load_edited(
        self, edited: Sequence[str], old: Configs
    ) -> tuple[FeedsConfig, KeywordsConfig, object | None, list[str]]:
        """Load the edited files (in a worker thread: no loop state is touched).

        The thread holds the GIL only in turns, but a garbage collection holds it
        throughout, and parsing 1 MiB of YAML builds millions of objects: the collections
        they trigger stalled the loop for up to 0.7 s.  So no collection runs meanwhile,
        and what the load built is frozen (like the configuration at start, see _apply)
        rather than left for a collection to walk afterwards.
        """
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._load_files(edited, old)
        finally:
            gc.freeze()
            if collecting:
                gc.enable()

    def _load_files(
        self, edited: Sequence[str], old: Configs
    ) -> tuple[FeedsConfig, KeywordsConfig, object | None, list[str]]:
        feeds, keywords = old.feeds, old.keywords
        errors = []
        for path in edited:
            try:
                if path == self.opt.feeds_path:
                    feeds = load_feeds(path)
                else:
                    keywords = load_keywords(path)
            except ConfigError as exc:
                errors.append(str(exc))
        compiled = matcher(keywords) if keywords is not old.keywords else None
        return feeds, keywords, compiled, errors

    def _swap_fetcher(self, cfg: Configs) -> None:
        old = self._fetcher
        self._fetcher = Fetcher(cfg.feeds.settings)
        self._spawn(self._fetcher.__aenter__(), "fetcher")

        async def close_later() -> None:
            await asyncio.sleep(max(f.timeout.total_seconds() for f in cfg.feeds.feeds) + 1)
            if old is not None:
                await old.__aexit__(None, None, None)

        self._spawn(close_later(), "close-old-fetcher")

    # -- polling -------------------------------------------------------------------------

    def _schedule_all(self, previous: FeedsConfig | None = None) -> None:
        """One date job per enabled feed at its stored next poll time (now if overdue).

        After a reload (``previous``: the configuration before it), a feed whose interval or
        back-off settings changed is due at the time computed from the new settings, not
        at the slot the old ones gave it (issue 10 item 8).
        """
        assert self._scheduler is not None
        now = utcnow()
        states = self.store.feed_states()
        wanted = set()
        for spec in self.config.feeds.enabled():
            job_id = f"feed:{spec.id}"
            wanted.add(job_id)
            st = states.get(spec.id)
            when = st.next_poll if st and st.next_poll else now
            if st is not None and previous is not None and self._schedule_changed(spec, previous):
                when = self._reschedule(spec, st, now)
            self._arm(spec.id, max(when, now))
        for job in self._scheduler.get_jobs():
            if job.id.startswith("feed:") and job.id not in wanted:
                job.remove()

    def _schedule_changed(self, spec: FeedSpec, previous: FeedsConfig) -> bool:
        before = previous.get(spec.id)
        new, old = self.config.feeds.settings, previous.settings
        return (
            before is None
            or before.interval != spec.interval
            or (new.min_backoff, new.max_backoff) != (old.min_backoff, old.max_backoff)
        )

    def _reschedule(self, spec: FeedSpec, st: FeedState, now: datetime) -> datetime:
        """The due time of ``spec`` under the current settings, stored for ``monitor feeds``."""
        s = self.config.feeds.settings
        when = rescheduled(
            now,
            last_attempt=st.last_attempt,
            interval=spec.interval,
            failures=st.consecutive_failures,
            rng=self.rng,
            min_backoff=s.min_backoff,
            max_backoff=s.max_backoff,
        )
        if st.next_poll != when:
            self.store.save_feed_state(dataclasses.replace(st, next_poll=when))
        return when

    def _arm(self, feed_id: str, when: datetime) -> None:
        assert self._scheduler is not None
        if self.stopping.is_set():
            return
        self._scheduler.add_job(
            self._spawn_poll,
            "date",
            run_date=when,
            args=[feed_id],
            id=f"feed:{feed_id}",
            replace_existing=True,
        )

    async def _spawn_poll(self, feed_id: str) -> None:
        if feed_id in self._polling:
            return
        spec = self.config.feeds.get(feed_id)
        if spec is None or not spec.enabled:
            return
        task = self._spawn(self._poll(spec), f"poll:{feed_id}")
        if task is not None:
            self._polling[feed_id] = task

    async def _poll(self, spec: FeedSpec) -> PollReport:
        assert self._poller is not None
        before = self.config.feeds
        try:
            report = await self._poller.poll_safely(spec)
        finally:
            self._polling.pop(spec.id, None)
        if report.matches:
            self._wake.set()
        nxt = report.next_poll or utcnow() + spec.interval
        current = self.config.feeds.get(spec.id)
        if current is not None:
            if self.config.feeds is not before and self._schedule_changed(current, before):
                # Reloaded while this poll ran: its next poll came from the old settings.
                st = self.store.feed_state(spec.id)
                if st is not None:
                    nxt = self._reschedule(current, st, utcnow())
            self._arm(spec.id, max(nxt, utcnow()))
        return report

    async def poll_now(self, feed_ids: Sequence[str]) -> list[PollReport]:
        """Poll these feeds at once, whatever their schedule (the bot's ``/poll``, and
        ``monitor poll --feed`` beside the service).  A feed being polled right now is
        polled again once that poll ends.  Unknown or disabled ids are left out.
        """

        async def one(spec: FeedSpec) -> PollReport | None:
            while (running := self._polling.get(spec.id)) is not None:
                await asyncio.wait([running])
            task = self._spawn(self._poll(spec), f"poll:{spec.id}")
            if task is None:  # stopping
                return None
            self._polling[spec.id] = task
            return await asyncio.shield(task)  # a cancelled caller does not cut the poll

        specs = []
        for feed_id in dict.fromkeys(feed_ids):
            spec = self.config.feeds.get(feed_id)
            if spec is not None and spec.enabled:
                specs.append(spec)
        return [r for r in await asyncio.gather(*(one(s) for s in specs)) if r is not None]

    def _observe(self, report: PollReport) -> None:
        self.metrics.observe_poll(report, utcnow().timestamp())

    # -- delivery ------------------------------------------------------------------------

    def paused(self) -> bool:
        return is_paused(self.store)

    async def _outbox_loop(self) -> None:
        """Deliver due alerts as soon as a poll queues them; otherwise when retries fall due."""
        while not self.stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._idle())
            self._wake.clear()
            if self.stopping.is_set() or self.paused():
                continue
            deliverer = self._deliverer
            if deliverer is None:
                continue
            try:
                async with self._alerts_lock:
                    await deliverer.deliver_alerts()
            except Exception:
                log.exception("outbox round failed")
                await asyncio.sleep(1)

    def _idle(self) -> float:
        due = self.store.next_due(("alert", "update"))
        if due is None:
            return self.opt.outbox_idle
        return min(self.opt.outbox_idle, max(0.05, (due - utcnow()).total_seconds()))

    async def _spawn_digests(self) -> None:
        if not self.paused():
            self._spawn(self._digests(), "digests")

    async def _digests(self) -> None:
        if self._deliverer is not None:
            async with self._digests_lock:
                await self._deliverer.deliver_digests()

    async def deliver_now(self, digests: bool = True) -> DeliveryReport:
        """Send the due alerts (and digests) now, as ``monitor deliver`` does.

        Raises:
            ServiceError: deliveries are paused (``/pause``).
        """
        if self.paused():
            raise ServiceError("deliveries are paused (/resume in the bot lifts it)")
        deliverer = self._deliverer
        report = DeliveryReport()
        if deliverer is None:
            return report
        async with self._alerts_lock:
            report.add(await deliverer.deliver_alerts())
        if digests:
            async with self._digests_lock:
                report.add(await deliverer.deliver_digests())
        return report

    # -- requests from `monitor poll` / `monitor deliver` ---------------------------------

    async def _take_requests(self) -> None:
        if self.stopping.is_set():
            return  # left for the next run: the sender then says the service stopped
        for rid, request in requests.claim(self.opt.state_dir):
            if self._spawn(self._answer(rid, request), f"request:{rid}") is None:
                requests.answer(self.opt.state_dir, rid, {"error": "the service is stopping"})

    async def _answer(self, rid: str, request: requests.Request | None) -> None:
        result: dict[str, Any] = {}
        try:
            if request is None:
                raise ServiceError("unreadable request file")
            log.warning("request %s: %s %s", rid, request.action, " ".join(request.feeds))
            if request.action == "poll":
                result["cycle"] = requests.cycle_to_json(await self._poll_request(request))
                if request.deliver and not self.paused():
                    delivery = await self.deliver_now(digests=False)
                    result["delivery"] = requests.delivery_to_json(delivery)
            elif request.action == "deliver":
                delivery = await self.deliver_now(digests=request.digests)
                result["delivery"] = requests.delivery_to_json(delivery)
            else:
                raise ServiceError(f"unknown request {request.action!r}")
        except MonitorError as exc:
            result = {"error": str(exc)}
        except Exception as exc:  # the sender waits for an answer whatever happens
            log.exception("request %s failed", rid)
            result = {"error": f"internal error: {type(exc).__name__}: {exc}"}
        requests.answer(self.opt.state_dir, rid, result)

    async def _poll_request(self, request: requests.Request) -> CycleReport:
        started = utcnow()
        unknown = [f for f in request.feeds if self.config.feeds.get(f) is None]
        if unknown:
            raise ServiceError(
                f"unknown feed id {', '.join(unknown)} in the running service's "
                f"{self.config.feeds.path}"
            )
        if request.feeds:
            ids = list(request.feeds)
        elif request.everything:
            ids = [f.id for f in self.config.feeds.enabled()]
        else:
            assert self._poller is not None
            ids = [f.id for f in self._poller.due(started)]
        reports = await self.poll_now(ids)
        return CycleReport(feeds=tuple(reports), started=started, finished=utcnow())

    def _sent(self, target: Target, created: Any, now: datetime) -> None:
        self.metrics.delivered.labels(target.channel).inc(len(created))
        for when in created:
            self.metrics.latency.observe(max(0.0, (now - when).total_seconds()))

    def _failed(self, target: Target, count: int, error: str) -> None:
        self.metrics.delivery_failed.labels(target.channel).inc(count)
        # A subscriber who blocked the bot (or is gone) is unsubscribed.
        unsubscribe_if_gone(self.store, target, error, utcnow())

    def _unhealthy(self, target: Target, error: str) -> None:
        # Told once: the outbox calls this when the destination turns unhealthy, not at
        # every retry (issue 10 item 5).
        self._spawn(
            self.notify_admins(
                f"⚠️ monitor: cannot deliver to {target.destination} ({target.channel} "
                f"{target.address}): {error}\nIts messages wait and go out once this is fixed "
                f"(restart monitor after changing the environment)."
            ),
            "notify",
        )

    def _held(self, target: Target, count: int, error: str) -> None:
        # A deleted or closed forum topic: the rows wait for an admin's fix, so tell them.
        waiting = "1 alert is" if count == 1 else f"{count} alerts are"
        text = f"⚠️ monitor: {waiting} waiting for {target.destination}: {error}"
        self._spawn(self.notify_admins(text), "notify")

    # -- housekeeping --------------------------------------------------------------------

    async def _spawn_retention(self) -> None:
        self._spawn(self._retention(), "retention")

    async def _retention(self) -> None:
        s = self.config.feeds.settings
        now = utcnow()
        texts, gone = self.store.prune(now, now - s.keep_text, now - s.keep_keys)
        if texts or gone:
            log.warning(
                "retention: pruned the text of %d articles, forgot %d identities", texts, gone
            )

    async def _check_database(self) -> None:
        """The daily ``PRAGMA quick_check`` (in a thread, on a read-only connection of its
        own); a corrupt database stops the service, so nothing more is written into it.
        SQLite's file only: PostgreSQL checks its own pages."""
        if self.store.engine != "sqlite":
            return
        problems = await asyncio.to_thread(check_file, self.store.path)
        if not problems:
            return
        text = (
            f"monitor stopped: storage: {self.store.path}: the state database is corrupt "
            f"(quick_check: {'; '.join(problems[:3])}); {RESTORE_HINT}"
        )
        log.error("%s", text)
        await self.notify_admins(text)
        self.exit_code = 1
        self.stop("corrupt state database")

    async def _spawn_health(self) -> None:
        self._spawn(self.send_health_report(), "health")

    def health_text(self) -> str:
        report = health_report(
            self.config.feeds.feeds,
            self.store.feed_states(),
            self.store.destination_rows(),
            utcnow(),
            created=self.store.feeds_created(),
        )
        return report.text()

    async def send_health_report(self) -> None:
        text = self.health_text()
        log.warning("%s", text)
        await self.notify_admins(text)

    async def notify_admins(self, text: str) -> None:
        """Send ``text`` to the admin chats (``TELEGRAM_ADMIN_CHAT`` / ``TELEGRAM_ADMIN_IDS``)."""
        chats = admin_chats(self.opt.environ)
        deliverer = self._deliverer
        if not chats or deliverer is None:
            return
        sender = deliverer.senders.get("telegram")
        if sender is None:
            return
        from monitor.errors import DeliveryError
        from monitor.models import OutgoingMessage

        for chat in chats:
            target = Target("admin", "telegram", chat)
            message = OutgoingMessage(
                target=target, text=_escape(text[:4000]), plain=text[:4000], outbox_ids=()
            )
            try:
                await sender.send(message)
            except DeliveryError as exc:
                log.warning("could not notify admin %s: %s", chat, exc)

    # -- status for /healthz, metrics and the bot ----------------------------------------

    def health(self) -> dict[str, Any]:
        states = self.store.feed_states()
        enabled = self.config.feeds.enabled()
        failing = sum(1 for f in enabled if (st := states.get(f.id)) and st.consecutive_failures)
        last_ok = max((st.last_success for st in states.values() if st.last_success), default=None)
        stats = self.store.outbox_stats()
        oldest = stats["oldest_pending_alert"]
        stuck = oldest is not None and utcnow() - oldest > timedelta(minutes=30)
        return {
            "ok": not self.stopping.is_set() and not stuck,
            "started": self.started.isoformat() if self.started else None,
            "feeds": len(enabled),
            "feeds_failing": failing,
            "last_successful_poll": last_ok.isoformat() if last_ok else None,
            "outbox": stats["counts"],
            "oldest_pending_alert": oldest.isoformat() if oldest else None,
            "paused": self.paused(),
            "destinations_unhealthy": [
                f"{d['destination']} ({d['channel']} {d['address']}): {d['last_error']}"
                for d in self.store.destination_rows()
                if not d["healthy"]
            ],
        }

    def _site(self) -> Site:
        """The dashboard of this service (``monitor.web``)."""
        token = self.opt.environ.get("MONITOR_WEB_TOKEN", "").strip() or None
        public = self.opt.environ.get("MONITOR_PUBLIC_URL", "")
        return Site(
            database=self.store.path,
            database_url=self.store.url,
            token=token,
            status=lambda: {"health": self.health(), "reload": self.last_reload},
            now=utcnow,
            secure_cookie=public.startswith("https://"),
            keywords=Path(self.opt.keywords_path),
            digests=lambda: self._deliverer.preview_digests() if self._deliverer else [],
            secret=self.opt.environ.get("MONITOR_SECRET", "").strip() or None,
            set_unsubscribed=self._set_unsubscribed,
            matcher=self._matcher_in_force,
        )

    def _matcher_in_force(self) -> Matcher | None:
        # The poller's is typed ``object`` so that it need not import the matcher.
        return cast("Matcher | None", self._poller.matcher if self._poller else None)

    def _set_unsubscribed(self, target: Target, on: bool) -> None:
        with self.store.transaction() as conn:
            unsubscribe.set_unsubscribed(conn, target, on, utcnow())
        log.warning(
            "%s %s from the digests of %s (their link)",
            target.address,
            "unsubscribed" if on else "resubscribed",
            target.destination,
        )

    def _refresh_gauges(self) -> None:
        stats = self.store.outbox_stats()
        for kind in ("alert", "digest"):
            self.metrics.outbox_depth.labels(kind).set(stats["counts"].get(f"{kind}:pending", 0))
        oldest = stats["oldest_pending_alert"]
        self.metrics.outbox_oldest.set((utcnow() - oldest).total_seconds() if oldest else 0)
        states = self.store.feed_states()
        self.metrics.feeds_failing.set(
            sum(
                1
                for f in self.config.feeds.enabled()
                if (st := states.get(f.id)) and st.consecutive_failures
            )
        )

    # -- bot -----------------------------------------------------------------------------

    async def _start_bot(self) -> None:
        """Start the Telegram command bot when a token is set (see monitor.service.bot)."""
        if not self.opt.bot or not self.opt.environ.get("TELEGRAM_BOT_TOKEN", "").strip():
            return
        from monitor.errors import DeliveryError
        from monitor.service import bot as bot_module

        try:
            self._bot = await bot_module.start_for_service(
                self, limiter=self.flood, poll=self.poll_now
            )
        except DeliveryError as exc:
            # A rejected token: alerts still queue (and wait) in the outbox; say it loudly.
            log.error("bot: commands are off: %s", exc)

    async def _stop_bot(self) -> None:
        if self._bot is not None:
            from monitor.service import bot as bot_module

            await bot_module.stop_for_service(self._bot)
            self._bot = None


def admin_chats(environ: Mapping[str, str]) -> list[str]:
    chats = [c.strip() for c in environ.get("TELEGRAM_ADMIN_CHAT", "").split(",") if c.strip()]
    if not chats:
        chats = [c.strip() for c in environ.get("TELEGRAM_ADMIN_IDS", "").split(",") if c.strip()]
    return chats


def _escape(text: str) -> str:
    import html

    return html.escape(text, quote=False)
