"""Answers ``monitor poll`` / ``monitor deliver`` run beside the service (files under
``state/requests/``, see :mod:`monitor.service.requests`)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.errors import MonitorError, ServiceError
from monitor.models import CycleReport
from monitor.service import requests
from monitor.service.outbox_worker import OutboxWorker
from monitor.service.poller import PollScheduler
from monitor.service.tasks import Clock, Tasks

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger("monitor.service.runner")  # these lines kept their logger name


class RequestWorker:
    """Takes the waiting requests (a job every second) and answers each in a task."""

    def __init__(
        self,
        state_dir: Path,
        tasks: Tasks,
        polls: PollScheduler,
        outbox: OutboxWorker,
        *,
        clock: Clock,
    ) -> None:
        self.state_dir = state_dir
        self.tasks = tasks
        self.polls = polls
        self.outbox = outbox
        self.clock = clock

    def add_job(self, scheduler: AsyncIOScheduler, every: float) -> None:
        """Look for requests every ``every`` seconds, from now; those left by an earlier
        run are answered "the service stopped" first."""
        requests.forget_unanswered(self.state_dir)
        scheduler.add_job(
            self.take, "interval", seconds=every, id="requests", next_run_time=self.clock()
        )

    async def take(self) -> None:
        if self.tasks.stopping.is_set():
            return  # left for the next run: the sender then says the service stopped
        for rid, request in requests.claim(self.state_dir):
            if self.tasks.spawn(self.answer(rid, request), f"request:{rid}") is None:
                requests.answer(self.state_dir, rid, {"error": "the service is stopping"})

    async def answer(self, rid: str, request: requests.Request | None) -> None:
        result: dict[str, Any] = {}
        try:
            if request is None:
                raise ServiceError("unreadable request file")
            log.warning("request %s: %s %s", rid, request.action, " ".join(request.feeds))
            if request.action == "poll":
                result["cycle"] = requests.cycle_to_json(await self._poll(request))
                if request.deliver and not self.outbox.paused():
                    delivery = await self.outbox.deliver_now(digests=False)
                    result["delivery"] = requests.delivery_to_json(delivery)
            elif request.action == "deliver":
                delivery = await self.outbox.deliver_now(digests=request.digests)
                result["delivery"] = requests.delivery_to_json(delivery)
            else:
                raise ServiceError(f"unknown request {request.action!r}")
        except MonitorError as exc:
            result = {"error": str(exc)}
        except Exception as exc:  # the sender waits for an answer whatever happens
            log.exception("request %s failed", rid)
            result = {"error": f"internal error: {type(exc).__name__}: {exc}"}
        requests.answer(self.state_dir, rid, result)

    async def _poll(self, request: requests.Request) -> CycleReport:
        started = self.clock()
        feeds = self.polls.feeds
        unknown = [f for f in request.feeds if feeds.get(f) is None]
        if unknown:
            raise ServiceError(
                f"unknown feed id {', '.join(unknown)} in the running service's {feeds.path}"
            )
        if request.feeds:
            ids = list(request.feeds)
        elif request.everything:
            ids = [f.id for f in feeds.enabled()]
        else:
            ids = [f.id for f in self.polls.due(started)]
        reports = await self.polls.poll_now(ids)
        return CycleReport(feeds=tuple(reports), started=started, finished=self.clock())
