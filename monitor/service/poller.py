"""The poll scheduler: one APScheduler date job per enabled feed, re-armed after each poll.

A feed's next poll time comes from the pipeline (its interval with jitter, stretched by
back-off, ``Retry-After``, ``Cache-Control`` and ``<ttl>``) and is stored; at start every
overdue feed is polled once (coalesced).  Before a scheduled poll the feed is claimed
from the store (``Store.claim_feeds``): on SQLite the state lock makes this the only
instance and every claim succeeds; on PostgreSQL a claim is a lease, and a feed another
instance holds is looked at again when that lease ends (docs/design.md, "Parts").
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from random import Random

import httpx
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor.config.feeds import FeedsConfig
from monitor.errors import StorageError
from monitor.fetch.fetcher import host_key
from monitor.fetch.schedule import rescheduled
from monitor.models import FeedSpec, FeedState, PollReport
from monitor.pipeline.poll import Poller
from monitor.service.tasks import Clock, Tasks
from monitor.store import Store

log = logging.getLogger(__name__)

LEASE_MIN = timedelta(minutes=5)
"""A claimed feed's lease: at least this, else three fetch timeouts (a poll fetches the
feed and, for full text, its article pages)."""


HOST_WAIT = timedelta(seconds=1)
"""How soon to ask again, the first time, for a feed whose host had ``per_host`` polls
under way (on other instances: this one's own lanes queue its requests); each further
refusal doubles the wait, up to ``HOST_WAIT_MAX``, with jitter."""
HOST_WAIT_MAX = timedelta(seconds=30)
"""With 50 feeds on a host and ``per_host: 4``, a fixed one-second retry had 46 feeds
per host claim again every second, each a transaction on the event loop: at 5,000 feeds
the loop did nothing else, fetches timed out and held their slots (h-pgpoll, issue 11).
A poll of this instance that ends also hands its host over at once to one feed of its
own waiting for that host."""


def lease_for(spec: FeedSpec, lease: timedelta | None = None) -> timedelta:
    """``lease`` (``monitor run --lease``) if given, else ``LEASE_MIN`` or three fetch
    timeouts, whichever is longer."""
    return lease if lease is not None else max(LEASE_MIN, 3 * spec.timeout)


class PollScheduler:
    """Polls each enabled feed at its own next poll time; one poll at a time per feed."""

    def __init__(
        self,
        scheduler: AsyncIOScheduler,
        store: Store,
        tasks: Tasks,
        *,
        clock: Clock,
        rng: Random,
        instance: str,
        lease: timedelta | None = None,
        on_matches: Callable[[], None] = lambda: None,
    ) -> None:
        self.scheduler = scheduler
        self.store = store
        self.tasks = tasks
        self.clock = clock
        self.rng = rng
        self.instance = instance
        self.lease = lease
        self.on_matches = on_matches
        """Called when a poll queued alerts (the outbox worker wakes up)."""
        self._feeds: FeedsConfig | None = None
        self._poller: Poller | None = None
        self._polling: dict[str, asyncio.Task[PollReport]] = {}
        """The poll of each feed under way: one at a time per feed."""
        self._refusals: dict[str, int] = {}
        """Claims refused in a row, per feed (its host full, or another instance's)."""
        self._waiting: dict[str, set[str]] = {}
        """Per host, this instance's feeds refused a claim: woken when a poll ends."""

    @property
    def feeds(self) -> FeedsConfig:
        assert self._feeds is not None, "configure() first"
        return self._feeds

    @property
    def poller(self) -> Poller:
        assert self._poller is not None, "configure() first"
        return self._poller

    @property
    def configured(self) -> bool:
        return self._poller is not None

    def configure(self, feeds: FeedsConfig, poller: Poller) -> None:
        """Use this configuration and pipeline for the polls from now on (start, reload)."""
        self._feeds = feeds
        self._poller = poller

    def due(self, now: datetime) -> list[FeedSpec]:
        return list(self.poller.due(now))

    def schedule_all(self, previous: FeedsConfig | None = None) -> None:
        """One date job per enabled feed at its stored next poll time (now if overdue).

        After a reload (``previous``: the configuration before it), a feed whose interval or
        back-off settings changed is due at the time computed from the new settings, not
        at the slot the old ones gave it (issue 10 item 8).
        """
        now = self.clock()
        states = self.store.feed_states()
        wanted = set()
        for spec in self.feeds.enabled():
            job_id = f"feed:{spec.id}"
            wanted.add(job_id)
            st = states.get(spec.id)
            when = st.next_poll if st and st.next_poll else now
            if st is not None and previous is not None and self._schedule_changed(spec, previous):
                when = self._reschedule(spec, st, now)
            self._arm(spec.id, max(when, now))
        for job in self.scheduler.get_jobs():
            if job.id.startswith("feed:") and job.id not in wanted:
                job.remove()

    def _schedule_changed(self, spec: FeedSpec, previous: FeedsConfig) -> bool:
        before = previous.get(spec.id)
        new, old = self.feeds.settings, previous.settings
        return (
            before is None
            or before.interval != spec.interval
            or (new.min_backoff, new.max_backoff) != (old.min_backoff, old.max_backoff)
        )

    def _reschedule(self, spec: FeedSpec, st: FeedState, now: datetime) -> datetime:
        """The due time of ``spec`` under the current settings, stored for ``monitor feeds``."""
        s = self.feeds.settings
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
        if self.tasks.stopping.is_set():
            return
        self.scheduler.add_job(
            self._spawn_poll,
            "date",
            run_date=when,
            args=[feed_id],
            id=f"feed:{feed_id}",
            replace_existing=True,
        )

    def _rearm(self, feed_id: str, when: datetime) -> None:
        # From inside this feed's own job: re-armed there, a run date that passes before
        # APScheduler has counted the job finished (a busy loop) is skipped ("maximum
        # number of running instances reached") and, a date job being gone once skipped,
        # the feed would never be polled again.  So a task re-arms it once the job is done.
        async def later() -> None:
            await asyncio.sleep(0.01)  # after the job's done callback, queued already
            self._arm(feed_id, max(when, self.clock()))

        self.tasks.spawn(later(), f"rearm:{feed_id}")

    async def _spawn_poll(self, feed_id: str) -> None:
        if feed_id in self._polling:
            return
        spec = self.feeds.get(feed_id)
        if spec is None or not spec.enabled:
            return
        now = self.clock()
        lease_until = now + lease_for(spec, self.lease)
        per_host = self.feeds.settings.per_host
        try:
            claimed = self.store.claim_feeds(
                self.instance,
                now,
                lease_until,
                1,
                feed_ids=(feed_id,),
                per_host=per_host,
                # The host's slot guards the feed's request (and its full-text pages):
                # two fetch deadlines, so that a dead instance blocks its hosts no longer.
                host_until=now + 2 * spec.timeout + HOST_WAIT,
            )
            if not claimed:  # another instance polled it, polls it, or fills its host
                wait = self._refused(spec)
                self._rearm(feed_id, self.store.claim_retry_at(feed_id, now, wait))
                return
            self._claimed(spec)
        except StorageError as exc:
            log.warning("poll of %s not started: %s", feed_id, exc)
            self._rearm(feed_id, now + HOST_WAIT * 5)
            return
        task = self.tasks.spawn(self._poll(spec, leased=True), f"poll:{feed_id}")
        if task is not None:
            self._polling[feed_id] = task

    def _refused(self, spec: FeedSpec) -> timedelta:
        """How long to wait before asking for ``spec`` again if its host is full."""
        tries = self._refusals.get(spec.id, 0)
        self._refusals[spec.id] = tries + 1
        self._waiting.setdefault(_host(spec.url), set()).add(spec.id)
        wait = min(HOST_WAIT * (1 << min(tries, 6)), HOST_WAIT_MAX)
        return wait * self.rng.uniform(0.5, 1.5)

    def _claimed(self, spec: FeedSpec) -> None:
        if self._refusals.pop(spec.id, None) is not None:
            host = _host(spec.url)
            waiting = self._waiting.get(host)
            if waiting is not None:
                waiting.discard(spec.id)
                if not waiting:
                    del self._waiting[host]

    def _hand_over(self, spec: FeedSpec) -> None:
        """A poll of ``spec`` ended and freed its host's slot: one of this instance's
        feeds waiting for that host asks at once."""
        waiting = self._waiting.get(_host(spec.url))
        if waiting:
            feed_id = min(waiting)  # deterministic; it leaves the set when claimed
            waiting.discard(feed_id)
            self._rearm(feed_id, self.clock())

    async def _poll(self, spec: FeedSpec, leased: bool = False) -> PollReport:
        before = self.feeds
        try:
            report = await self.poller.poll_safely(spec)
        finally:
            self._polling.pop(spec.id, None)
            if leased:
                try:
                    self.store.release_feed(spec.id, self.instance)
                except StorageError as exc:  # the lease runs out by itself
                    log.warning("lease of %s not released: %s", spec.id, exc)
                else:
                    self._hand_over(spec)
        if report.matches:
            self.on_matches()
        nxt = report.next_poll or self.clock() + spec.interval
        current = self.feeds.get(spec.id)
        if current is not None:
            if self.feeds is not before and self._schedule_changed(current, before):
                # Reloaded while this poll ran: its next poll came from the old settings.
                st = self.store.feed_state(spec.id)
                if st is not None:
                    nxt = self._reschedule(current, st, self.clock())
            self._arm(spec.id, max(nxt, self.clock()))
        return report

    async def poll_now(self, feed_ids: Sequence[str]) -> list[PollReport]:
        """Poll these feeds at once, whatever their schedule (the bot's ``/poll``, and
        ``monitor poll --feed`` beside the service).  A feed being polled right now is
        polled again once that poll ends.  Unknown or disabled ids are left out.
        """

        async def one(spec: FeedSpec) -> PollReport | None:
            while (running := self._polling.get(spec.id)) is not None:
                await asyncio.wait([running])
            task = self.tasks.spawn(self._poll(spec), f"poll:{spec.id}")
            if task is None:  # stopping
                return None
            self._polling[spec.id] = task
            return await asyncio.shield(task)  # a cancelled caller does not cut the poll

        specs = []
        for feed_id in dict.fromkeys(feed_ids):
            spec = self.feeds.get(feed_id)
            if spec is not None and spec.enabled:
                specs.append(spec)
        return [r for r in await asyncio.gather(*(one(s) for s in specs)) if r is not None]


def _host(url: str) -> str:
    try:
        return host_key(url)
    except httpx.InvalidURL:
        return url
