"""Issue 11 item 2: the outbox and destination reads give typed rows (frozen dataclasses),
the same on SQLite and on PostgreSQL (``store_engine``, autouse here)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.models import Target
from monitor.route import Route
from monitor.store import DestinationRow, FailedRow, OutboxStats, Store
from monitor.store import outbox as ob
from tests.support.engines import engine_url

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
EU = Target("eu-channel", "telegram", "@eu_ai_watch")
OPS = Target("ops", "email", "ops@example.org")


def test_outbox_and_destination_reads_give_typed_rows(tmp_path: Path) -> None:
    with Store(tmp_path, database_url=engine_url()) as store:
        assert store.outbox_stats() == OutboxStats({}, None)
        assert store.destination_row(EU) is None
        with store.transaction() as conn:
            routes = [
                Route("alert", EU, 1, ("ai-act",), NOW - timedelta(minutes=3)),
                Route("alert", EU, 2, ("ai-act",), NOW),
                Route("digest", OPS, 1, ("ai-act",), NOW),
            ]
            ob.enqueue(conn, routes, NOW - timedelta(minutes=3))
            first, second = (e.id for e in ob.due_entries(conn, "alert", NOW))
            ob.mark_failed(conn, [second], "delivery: eu-channel: bot was kicked")
            ob.record_delivery(conn, EU, NOW, "delivery: eu-channel: bot was kicked", True)
            ob.record_delivery(conn, OPS, NOW, None, via="console (no SMTP_HOST)")
            ob.record_digest(conn, OPS, NOW + timedelta(hours=1))

        stats = store.outbox_stats()
        assert stats == OutboxStats(
            {"alert:pending": 1, "alert:failed": 1, "digest:pending": 1},
            NOW - timedelta(minutes=3),
        )
        eu = DestinationRow(
            destination="eu-channel",
            address="@eu_ai_watch",
            channel="telegram",
            first_seen=NOW,
            healthy=False,
            last_error="delivery: eu-channel: bot was kicked",
            last_success=None,
            last_failure=NOW,
            last_digest=None,
            digests_sent=0,
            via=None,
        )
        ops = DestinationRow(
            destination="ops",
            address="ops@example.org",
            channel="email",
            first_seen=NOW,
            healthy=True,
            last_error=None,
            last_success=NOW,
            last_failure=None,
            last_digest=NOW + timedelta(hours=1),
            digests_sent=1,
            via="console (no SMTP_HOST)",
        )
        assert store.destination_rows() == [eu, ops]
        assert store.destination_row(EU) == eu
        assert store.recent_failures() == [
            FailedRow(second, "alert", "eu-channel", "@eu_ai_watch", eu.last_error)
        ]
        assert store.recent_failures(limit=0) == []
        assert first != second
        # `monitor status --json` serialises a row with asdict: its keys are the table's
        # columns in their order, as when the rows were dicts of the table.
        columns = list(dict(store.conn.execute("SELECT * FROM destinations").fetchone()))
        assert list(dataclasses.asdict(eu)) == columns
    with pytest.raises(dataclasses.FrozenInstanceError):
        eu.healthy = True  # type: ignore[misc]
