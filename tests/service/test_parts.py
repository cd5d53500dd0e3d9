"""Each part of the service driven alone, with a fixed clock, on a real SQLite store.

The whole service is tested end to end elsewhere (test_run, test_reload, ...); here every
part shows that it takes its time from the clock it is given, never from the machine.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor.fetch import Fetcher
from monitor.models import Article, Match, Target
from monitor.pipeline.build import Configs, matcher, routing
from monitor.pipeline.poll import Poller
from monitor.route import Route
from monitor.service.endpoint import Status
from monitor.service.metrics import Metrics
from monitor.service.outbox_worker import OutboxWorker
from monitor.service.poller import PollScheduler, lease_for
from monitor.service.reload import Reloader
from monitor.service.request_worker import RequestWorker
from monitor.service.requests import Request
from monitor.service.singletons import Singletons
from monitor.service.tasks import Tasks
from monitor.store import Store
from monitor.store import articles as arts
from monitor.store import outbox as ob
from monitor.store.db import to_db
from tests.support.app import KEYWORDS, App, make_app
from tests.support.engines import engine_url
from tests.support.wait import until

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
FEEDS = {f: f"http://127.0.0.1:9/{f}.xml" for f in ("de", "eu", "fr")}


def at(when: datetime):  # type: ignore[no-untyped-def]
    return lambda: when


def add_alert(store: Store, key: str, when: datetime) -> None:
    """An article matched ai-act at ``when``, with its alert row (due at ``when``)."""
    target = Target("eu-channel", "telegram", "@eu_ai_watch")
    with store.transaction() as conn:
        [new] = arts.add_articles(conn, "eu", [Article("eu", key, key, summary=key)], when)
        ob.record_matches(conn, new.id, [Match("ai-act", 1.0, ())], when)
        ob.enqueue(conn, [Route("alert", target, new.id, ("ai-act",), when)], when)


def poller_for(cfg: Configs, store: Store) -> Poller:
    # The fetcher is never entered: these tests poll nothing.
    return Poller(
        feeds=cfg.feeds,
        store=store,
        fetcher=Fetcher(cfg.feeds.settings),
        matcher=matcher(cfg.keywords),
        routing=routing(cfg.keywords),
    )


def scheduler_for(app: App, store: Store, clock_at: datetime) -> PollScheduler:
    cfg = app.configs()
    polls = PollScheduler(
        AsyncIOScheduler(timezone=UTC),  # never started: jobs are only armed
        store,
        Tasks(),
        clock=at(clock_at),
        rng=Random(1),
        instance="test",
    )
    polls.configure(cfg.feeds, poller_for(cfg, store))
    return polls


def run_dates(polls: PollScheduler) -> dict[str, datetime]:
    return {job.id: job.trigger.run_date for job in polls.scheduler.get_jobs()}


async def test_the_poll_scheduler_arms_each_feed_by_its_clock(tmp_path: Path) -> None:
    app = make_app(tmp_path, FEEDS, keywords=KEYWORDS)
    with Store(app.state, database_url=engine_url()) as store:
        store.sync_feeds(app.configs().feeds.feeds, NOW)
        for feed_id, due in (("eu", NOW - timedelta(hours=1)), ("fr", NOW + timedelta(minutes=7))):
            state = store.feed_state(feed_id)
            assert state is not None
            store.save_feed_state(dataclasses.replace(state, next_poll=due))
        polls = scheduler_for(app, store, NOW)
        polls.schedule_all()
        assert run_dates(polls) == {
            "feed:de": NOW,  # never polled: now
            "feed:eu": NOW,  # overdue: now, once
            "feed:fr": NOW + timedelta(minutes=7),
        }


class _ClaimedElsewhere(Store):
    """The one fault: another instance holds every feed's lease (written as it would)."""

    def claim_feeds(self, *args: object, **kwargs: object) -> list[str]:
        lease_until = args[2]
        assert isinstance(lease_until, datetime)
        with self.transaction() as conn:
            conn.execute(
                "UPDATE feeds SET lease_owner = 'other', lease_until = ?",
                (to_db(lease_until),),
            )
        return []


async def test_a_feed_claimed_elsewhere_is_looked_at_again_when_its_lease_ends(
    tmp_path: Path,
) -> None:
    app = make_app(tmp_path, FEEDS, keywords=KEYWORDS)
    with _ClaimedElsewhere(app.state, database_url=engine_url()) as store:
        store.sync_feeds(app.configs().feeds.feeds, NOW)
        polls = scheduler_for(app, store, NOW)
        await polls._spawn_poll("eu")
        assert polls._polling == {}  # nothing started
        lease = lease_for(polls.feeds.get("eu"))  # type: ignore[arg-type]
        # Re-armed by a task once the job is done (not from inside the job: poller.py).
        assert await until(lambda: bool(run_dates(polls)), 5)
        assert run_dates(polls) == {"feed:eu": NOW + lease}


async def test_the_sqlite_store_grants_every_claim(tmp_path: Path) -> None:
    app = make_app(tmp_path, FEEDS, keywords=KEYWORDS)
    with Store(app.state, database_url=engine_url()) as store:
        store.sync_feeds(app.configs().feeds.feeds, NOW)
        polls = scheduler_for(app, store, NOW)
        await polls._spawn_poll("eu")
        assert set(polls._polling) == {"eu"}  # a poll was started (it fails: port 9)
        await polls._polling["eu"]
        assert run_dates(polls)["feed:eu"] > NOW


async def test_the_outbox_worker_sleeps_until_the_next_row_is_due_by_its_clock(
    tmp_path: Path,
) -> None:
    with Store(tmp_path, database_url=engine_url()) as store:
        worker = OutboxWorker(store, Tasks(), Metrics(), clock=at(NOW), idle=30.0)
        assert worker._idle() == 30.0  # nothing pending
        add_alert(store, "a", NOW + timedelta(seconds=12))
        assert worker._idle() == 12.0
        worker.clock = at(NOW + timedelta(minutes=1))
        assert worker._idle() == 0.05  # overdue: at once (and no busy loop)


async def test_health_says_an_alert_is_stuck_by_the_status_clock(tmp_path: Path) -> None:
    app = make_app(tmp_path, FEEDS, keywords=KEYWORDS)
    cfg = app.configs()
    with Store(app.state, database_url=engine_url()) as store:
        add_alert(store, "a", NOW)
        tasks, metrics = Tasks(), Metrics()
        outbox = OutboxWorker(store, tasks, metrics, clock=at(NOW))

        def status(clock_at: datetime) -> Status:
            return Status(
                store, tasks, metrics, outbox, feeds=lambda: cfg.feeds, clock=at(clock_at),
                started=NOW,
            )  # fmt: skip

        assert status(NOW + timedelta(minutes=29)).health()["ok"] is True
        late = status(NOW + timedelta(minutes=31))
        assert late.health()["ok"] is False
        late.refresh_gauges()
        assert metrics.outbox_oldest._value.get() == 31 * 60


async def test_retention_prunes_by_the_singletons_clock(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(tmp_path, FEEDS, keywords=KEYWORDS)
    cfg = app.configs()
    keep_text = cfg.feeds.settings.keep_text
    with Store(app.state, database_url=engine_url()) as store:
        add_alert(store, "a", NOW)
        tasks = Tasks()
        outbox = OutboxWorker(store, tasks, Metrics(), clock=at(NOW))

        def jobs(clock_at: datetime) -> Singletons:
            return Singletons(
                store, tasks, outbox, feeds=lambda: cfg.feeds, clock=at(clock_at),
                instance="test", on_corrupt=lambda text: None,
            )  # fmt: skip

        assert jobs(NOW).leads("retention")  # SQLite: the only instance
        caplog.clear()  # PostgreSQL logs the election ("... runs the singleton job retention")
        with caplog.at_level(logging.WARNING, logger="monitor.service.runner"):
            await jobs(NOW + keep_text - timedelta(days=1)).retention()
            assert "retention" not in caplog.text
            await jobs(NOW + keep_text + timedelta(days=1)).retention()
        assert "retention: pruned the text of 1 articles" in caplog.text


async def test_a_poll_request_is_timed_by_the_request_workers_clock(tmp_path: Path) -> None:
    app = make_app(tmp_path, FEEDS, keywords=KEYWORDS)
    with Store(app.state, database_url=engine_url()) as store:
        store.sync_feeds(app.configs().feeds.feeds, NOW)
        for state in store.feed_states().values():
            store.save_feed_state(dataclasses.replace(state, next_poll=NOW + timedelta(hours=1)))
        tasks = Tasks()
        polls = scheduler_for(app, store, NOW)
        outbox = OutboxWorker(store, tasks, Metrics(), clock=at(NOW))
        worker = RequestWorker(app.state, tasks, polls, outbox, clock=at(NOW))
        report = await worker._poll(Request("poll"))  # nothing due at NOW
        assert (report.feeds, report.started, report.finished) == ((), NOW, NOW)


async def test_a_rejected_edit_is_dated_by_the_reloaders_clock(tmp_path: Path) -> None:
    app = make_app(tmp_path, FEEDS, keywords=KEYWORDS)
    cfg = app.configs()
    notices: list[str] = []
    applied: list[Configs] = []
    reloader = Reloader(
        str(app.feeds_path),
        str(app.keywords_path),
        Metrics(),
        clock=at(NOW),
        current=lambda: cfg,
        apply=lambda new, compiled, old: applied.append(new),
        notify=notices.append,
    )
    app.keywords_path.write_text("watchlists: [oops\n", encoding="utf-8")
    await reloader.reload()  # seen once: may be half-written
    await reloader.reload()  # the same twice: an edit
    assert reloader.last is not None
    assert reloader.last["at"] == "2026-12-01T09:00:00+00:00"
    assert reloader.last["error"]
    assert "keywords.yaml" in reloader.last["error"]
    assert applied == []
    assert len(notices) == 1
    assert "rejected" in notices[0]


def test_no_part_reads_the_clock_itself() -> None:
    """Only the defaults (``tasks.utcnow``, the bot's ``utcnow``) read the machine's clock;
    every part calls the clock it was given."""
    service = Path(__file__).resolve().parents[2] / "monitor" / "service"
    defaults = {"tasks.py", "bot_commands.py"}
    readers = [
        f"{path.name}:{number}"
        for path in sorted(service.glob("*.py"))
        if path.name not in defaults
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "datetime.now(" in line or "utcnow()" in line or "time.time()" in line
    ]
    assert readers == []


@pytest.mark.postgresql_only  # host slots are held across instances on PostgreSQL only
async def test_a_full_host_is_asked_again_ever_later_and_handed_over_when_a_poll_ends(
    tmp_path: Path,
) -> None:
    """5,000 feeds at ``per_host: 4`` never got through a first cycle when every refused
    feed asked again each second (issue 11): refusals back off, doubling with jitter, and
    a poll that ends wakes one feed of this instance waiting for its host."""
    from monitor.service.poller import HOST_WAIT

    app = make_app(tmp_path, FEEDS, keywords=KEYWORDS)
    text = app.feeds_path.read_text(encoding="utf-8").replace("per_host: 8", "per_host: 1")
    app.feeds_path.write_text(text, encoding="utf-8")
    url = engine_url()
    with Store(app.state, database_url=url) as store, Store(app.state, database_url=url) as other:
        store.sync_feeds(app.configs().feeds.feeds, NOW)
        lease = NOW + timedelta(minutes=5)
        # Another live instance polls "de": the host's one slot is taken.
        assert other.claim_feeds("other:1:x", NOW, lease, 1, ("de",), 1, lease) == ["de"]
        polls = scheduler_for(app, store, NOW)
        waits = []
        for _ in range(4):
            before = run_dates(polls).get("feed:eu")
            await polls._spawn_poll("eu")
            assert polls._polling == {}
            assert await until(lambda b=before: run_dates(polls).get("feed:eu") != b, 5)
            waits.append((run_dates(polls)["feed:eu"] - NOW) / HOST_WAIT)
        for tries, wait in enumerate(waits):
            assert 0.5 * 2**tries <= wait <= 1.5 * 2**tries, waits

        other.release_feed("de", "other:1:x")  # the other poll ends: the slot is free
        await polls._spawn_poll("fr")
        assert set(polls._polling) == {"fr"}  # claimed; the fetch fails (port 9)
        await polls._polling["fr"]
        # Its end hands the host to "eu" at once, without waiting out eu's back-off.
        assert await until(lambda: run_dates(polls)["feed:eu"] == NOW, 5)
