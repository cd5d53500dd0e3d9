"""``monitor run``: one asyncio process that polls, delivers, digests and answers.

A thin shell: it takes the state lock, loads the configuration, builds the parts and
wires them to one APScheduler ``AsyncIOScheduler`` and one :class:`Tasks` set:

- :class:`~monitor.service.poller.PollScheduler`: one date job per feed;
- :class:`~monitor.service.outbox_worker.OutboxWorker`: the outbox loop, digests, notices;
- :class:`~monitor.service.singletons.Singletons`: digests, health report, retention and
  integrity check, each on one instance at a time;
- :class:`~monitor.service.request_worker.RequestWorker`: ``monitor poll``/``deliver``
  beside the service;
- :class:`~monitor.service.endpoint.Status`: ``/healthz``, ``/metrics``, the dashboard;
- :class:`~monitor.service.bot_seat.BotSeat`: the Telegram command bot
  (:mod:`monitor.service.bot`) on the instance that leads;
- hot reload (:mod:`monitor.service.reload`), applied here by :meth:`Service._apply`.

Every part takes the clock (``ServiceOptions.clock``); the environment arrives once, as
``ServiceOptions.settings``.  After downtime every overdue feed is polled once
(coalesced) and the outbox and digests catch up.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import random
import signal
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor.dedupe import StoryIndex
from monitor.deliver.telegram import FloodLimiter
from monitor.fetch import Fetcher
from monitor.logs import Throttle
from monitor.models import PollReport
from monitor.pipeline.build import Configs, load_configs, matcher, routing
from monitor.pipeline.poll import Poller
from monitor.pipeline.runtime import build_deliverer
from monitor.service.bot_seat import BotSeat
from monitor.service.endpoint import Status
from monitor.service.metrics import Metrics
from monitor.service.options import ServiceOptions, default_instance
from monitor.service.outbox_worker import OutboxWorker
from monitor.service.poller import PollScheduler
from monitor.service.reload import Reloader
from monitor.service.request_worker import RequestWorker
from monitor.service.singletons import Singletons
from monitor.service.tasks import Tasks, utcnow
from monitor.settings import DEFAULT_HTTP
from monitor.store import StateLock, Store, cache_for, ensure_state_dir

__all__ = ["DEFAULT_HTTP", "Service", "ServiceOptions", "default_instance", "utcnow"]

log = logging.getLogger(__name__)


class Service:
    """The long-running process.  ``await Service(options).run()`` until SIGTERM/SIGINT."""

    def __init__(self, options: ServiceOptions) -> None:
        self.opt = options
        self.clock = options.clock
        self.metrics = Metrics()
        self.stories = StoryIndex()
        self.flood = FloodLimiter()
        """One Telegram flood budget shared by the outbox sender and the command bot."""
        self.rng = random.Random()
        self.throttle = Throttle()
        """Repeated log messages once a minute with a count (issue 10 item 4)."""
        self.tasks = Tasks()
        self.started: datetime | None = None
        self.http_address: str | None = None
        self.exit_code = 0
        self._cfg: Configs | None = None
        self._store: Store | None = None
        self._fetcher: Fetcher | None = None
        self.reloader: Reloader | None = None
        self.bot = BotSeat(self)
        self.polls: PollScheduler
        self.outbox: OutboxWorker
        self.singletons: Singletons
        self.status: Status

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
                self.opt.settings.admin_ids()  # a malformed list fails at start
            url = self.opt.database_url or (
                self.opt.settings.database_url.reveal() if self.opt.settings.database_url else None
            )
            self._store = Store(state, database_url=url, cache_mib=cache_for(len(cfg.feeds.feeds)))
            try:
                return await self._serve(cfg)
            finally:
                self._store.close()
        finally:
            lock.release()

    def _build(self, scheduler: AsyncIOScheduler) -> None:
        """The parts, sharing the store, the tasks and the clock."""
        opt, store, clock = self.opt, self.store, self.clock
        tasks, chats = self.tasks, opt.settings.admin_chats()
        feeds = lambda: self.config.feeds  # noqa: E731 (the current one, after a reload)
        self.outbox = OutboxWorker(
            store, tasks, self.metrics, clock=clock, admin_chats=chats, idle=opt.outbox_idle
        )
        self.polls = PollScheduler(
            scheduler,
            store,
            tasks,
            clock=clock,
            rng=self.rng,
            instance=opt.instance,
            lease=opt.lease,
            on_matches=self.outbox.wake.set,
        )
        self.singletons = Singletons(
            store,
            tasks,
            self.outbox,
            feeds=feeds,
            clock=clock,
            instance=opt.instance,
            on_corrupt=self._corrupt,
        )
        self.requests = RequestWorker(opt.state_dir, tasks, self.polls, self.outbox, clock=clock)
        self.status = Status(
            store,
            tasks,
            self.metrics,
            self.outbox,
            feeds=feeds,
            clock=clock,
            started=self.started or clock(),
            last_reload=lambda: self.reloader.last if self.reloader else None,
            matcher=lambda: self.polls.poller.matcher if self.polls.configured else None,
        )

    async def _serve(self, cfg: Configs) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop, sig.name)
        loop.set_exception_handler(self._loop_exception)
        # Every job is a coroutine function: AsyncIOScheduler runs those on this loop (plain
        # functions would go to a thread pool, away from the loop and the SQLite connection).
        scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self.started = self.clock()
        self._build(scheduler)
        self._fetcher = Fetcher(cfg.feeds.settings)
        await self._fetcher.__aenter__()
        self._apply(cfg)
        self.reloader = Reloader(
            self.opt.feeds_path,
            self.opt.keywords_path,
            self.metrics,
            clock=self.clock,
            current=lambda: self.config,
            apply=self._reloaded,
            notify=lambda text: self._notify(text),
        )
        self.singletons.add_jobs(
            scheduler,
            digest_every=self.opt.digest_every,
            health_time=self.opt.health_time,
            health_timezone=self.opt.health_timezone,
        )
        self.reloader.add_job(scheduler, self.opt.reload_every)
        self.requests.add_job(scheduler, self.opt.requests_every)
        if self.opt.http:
            # Before anything is started: a taken port must end the start cleanly.
            try:
                self.http_address = await self.status.start(
                    self.opt.http,
                    self.opt.settings,
                    self.opt.keywords_path,
                    self.opt.http_limits,
                    self.throttle,
                )
            except BaseException:
                await self._fetcher.__aexit__(None, None, None)
                raise
            # scripts and tests read the address from this line: keep its start
            log.warning(
                "metrics on http://%s/metrics, health on /healthz, dashboard on /",
                self.http_address,
            )
        scheduler.start()
        self.polls.schedule_all()
        self.tasks.spawn(self.outbox.run(), "outbox")
        await self.bot.elect()
        if self.bot.wanted and self.store.url is not None:
            # Several instances: the bot's leader may die; the others ask again now and then.
            scheduler.add_job(
                self.bot.elect, "interval", seconds=self.opt.elect_every, id="bot-election"
            )
        log.warning(
            "monitor running: %d feeds, %d watchlists; state in %s; instance %s",
            len(cfg.feeds.enabled()),
            len(cfg.keywords.watchlists),
            self.store.where,
            self.opt.instance,
        )
        await self.tasks.stopping.wait()
        scheduler.shutdown(wait=False)
        await self.tasks.drain(self.opt.shutdown_grace)
        await self.bot.stop()
        await self.status.stop()
        await self.outbox.aclose()
        await self._fetcher.__aexit__(None, None, None)
        log.warning("monitor stopped")
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
        if not self.tasks.stopping.is_set():
            log.warning("%s received: finishing in-flight work", why)
            self.tasks.stopping.set()
            if hasattr(self, "outbox"):
                self.outbox.wake.set()

    def _notify(self, text: str) -> None:
        self.tasks.spawn(self.outbox.notify_admins(text), "notify")

    def _corrupt(self, text: str) -> None:
        self.exit_code = 1
        self.stop("corrupt state database")

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
        self._cfg = cfg
        self.store.sync_feeds(cfg.feeds.feeds, self.clock())
        route = routing(cfg.keywords)
        route.subscriptions = self.store.subscriptions
        poller = Poller(
            feeds=cfg.feeds,
            store=self.store,
            fetcher=self._fetcher,
            matcher=compiled if compiled is not None else matcher(cfg.keywords),
            routing=route,
            rng=self.rng,
            clock=self.clock,
            on_report=self._observe,
            # One story index for the life of the process: a reload must not make the
            # next poll rebuild it from SQLite (seconds at a million articles).
            stories=self.stories,
        )
        self.polls.configure(cfg.feeds, poller)
        self.outbox.use(
            build_deliverer(
                cfg,
                self.store,
                settings=self.opt.settings,
                console=self.opt.console,
                limiter=self.flood,
                instance=self.opt.instance,
                clock=self.clock,
                **({"lease": self.opt.lease} if self.opt.lease is not None else {}),
                on_sent=self.outbox.sent,
                on_failed=self.outbox.failed,
                on_unhealthy=self.outbox.unhealthy,
                on_held=self.outbox.held,
            )
        )
        # A big matcher is ~200k long-lived objects: move them out of the collector's
        # sight so full collections (~90 ms each at 30,000 terms) do not walk them.
        gc.collect()
        gc.freeze()

    def _reloaded(self, cfg: Configs, compiled: object | None, old: Configs) -> None:
        if cfg.feeds.settings != old.feeds.settings:
            self._swap_fetcher(cfg)
        self._apply(cfg, compiled if compiled is not None else self.polls.poller.matcher)
        self.polls.schedule_all(previous=old.feeds)

    def _swap_fetcher(self, cfg: Configs) -> None:
        old = self._fetcher
        self._fetcher = Fetcher(cfg.feeds.settings)
        self.tasks.spawn(self._fetcher.__aenter__(), "fetcher")

        async def close_later() -> None:
            await asyncio.sleep(max(f.timeout.total_seconds() for f in cfg.feeds.feeds) + 1)
            if old is not None:
                await old.__aexit__(None, None, None)

        self.tasks.spawn(close_later(), "close-old-fetcher")

    def _observe(self, report: PollReport) -> None:
        self.metrics.observe_poll(report, self.clock().timestamp())
