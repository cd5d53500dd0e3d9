"""The outbox worker: due rows -> render -> send -> record (and digests when due).

Rows for one target are sent in order; a transient failure stops that target for this
round and sets the next attempt time (``retry_after`` from Telegram honoured exactly);
a permanent failure marks the rows failed and the destination unhealthy.  Targets are
independent: one blocked channel never delays another.

A settings error (a rejected login or token, no STARTTLS, a host that cannot be
reached) is the configuration's fault, not the rows': they wait, the destination is
marked unhealthy with the reason and the admins are told once; a new worker (a new
process, a reload) retries them at once, so they go out as soon as the settings are
fixed (issue 10 item 5).  An e-mail the server finds too large is split and sent again;
only an item too large on its own fails (issue 10 item 3).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from monitor.config.specs import default_hashtag
from monitor.deliver.base import Sender
from monitor.errors import (
    DeliveryError,
    HeldDeliveryError,
    MessageTooLargeError,
    PermanentDeliveryError,
    TransientDeliveryError,
    TransportSettingsError,
)
from monitor.models import (
    Alert,
    AlertItem,
    Digest,
    DigestSection,
    Explain,
    Match,
    OutboxEntry,
    OutgoingMessage,
    Target,
)
from monitor.render import edition as render_edition
from monitor.render import email as render_email
from monitor.render import telegram as render_telegram
from monitor.render.schedule import digest_due, in_quiet_hours
from monitor.route import SUBSCRIBER_PREFIX, targets
from monitor.store import Store
from monitor.store import outbox as ob
from monitor.web.unsubscribe import unsubscribe_url

log = logging.getLogger(__name__)
DEFAULT_TZ = "Europe/Brussels"
RETRY_BASE = timedelta(seconds=30)
RETRY_MAX = timedelta(hours=1)
OUTBOX_LEASE = timedelta(minutes=5)


@dataclass
class DeliveryReport:
    sent: int = 0
    messages: int = 0
    retried: int = 0
    failed: int = 0
    digests: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: DeliveryReport) -> None:
        self.sent += other.sent
        self.messages += other.messages
        self.retried += other.retried
        self.failed += other.failed
        self.digests += other.digests
        self.errors.extend(other.errors)


@dataclass(frozen=True)
class SubscriberDigest:
    """When a Telegram subscriber's digest goes out (they have no destination entry)."""

    digest_time: time = time(8, 0)
    timezone: str = DEFAULT_TZ
    digest_empty: bool = False
    layout: str = "stories"
    max_items: int = 40


SUBSCRIBER_DIGEST = SubscriberDigest()


def alert_silent(dest: Any, overrides: Sequence[Sequence[bool | None]], now: datetime) -> bool:
    """Whether a Telegram message goes without a notification sound.

    ``overrides`` holds, per item of the message, the ``silent:`` of each watchlist that
    sent it (None: not set).  An item is loud if one of its watchlists says
    ``silent: false``, silent if one says ``silent: true``, and otherwise as the
    destination says: ``silent: true``, or ``now`` inside its ``quiet_hours``.  The
    message is silent only when every item is.
    """
    quiet = bool(getattr(dest, "silent", False))
    hours = getattr(dest, "quiet_hours", None)
    if not quiet and hours is not None:
        quiet = in_quiet_hours(now, hours[0], hours[1], dest.timezone)
    items = [False if False in said else True if True in said else quiet for said in overrides] or [
        quiet
    ]
    return all(items)


def retry_delay(attempts: int, rng: random.Random) -> timedelta:
    """Exponential back-off for a transient failure without a ``retry_after``."""
    base = RETRY_BASE.total_seconds() * (2 ** min(attempts, 10))
    return timedelta(seconds=min(base, RETRY_MAX.total_seconds()) * rng.uniform(0.8, 1.2))


@dataclass
class Deliverer:
    """Sends what the outbox holds.  ``senders`` maps a channel to its transport."""

    store: Store
    senders: Mapping[str, Sender]
    feed_names: Mapping[str, str]
    watchlist_titles: Mapping[str, str]
    destinations: Mapping[str, Any]
    mail_from: str = "monitor@localhost"
    watchlists: Mapping[str, Any] = field(default_factory=dict)
    """Watchlist specs by id: their ``hashtag`` and ``silent`` for Telegram alerts."""
    watchlist_priorities: Mapping[str, str] = field(default_factory=dict)
    """Watchlist id -> ``instant`` or ``digest``: part of a story's importance."""
    public_url: str | None = None
    """``MONITOR_PUBLIC_URL``: a digest over its ``max_items`` links to the dashboard; with
    ``secret``, the base of the digests' one-click unsubscribe links."""
    secret: str | None = None
    """``MONITOR_SECRET``: signs the unsubscribe links (issue 12)."""
    clock: Callable[[], datetime] = field(default=lambda: datetime.now().astimezone())
    rng: random.Random = field(default_factory=random.Random)
    on_sent: Callable[[Target, Sequence[datetime], datetime], None] | None = None
    """Called after each successful send with the rows' creation times (for metrics)."""
    on_failed: Callable[[Target, int, str], None] | None = None
    on_held: Callable[[Target, int, str], None] | None = None
    """Called when a destination starts holding rows (a deleted or closed forum topic):
    once, when it was healthy before, so that admins hear of it without a flood."""
    on_unhealthy: Callable[[Target, str], None] | None = None
    """Called once when a settings error makes a healthy destination unhealthy (to tell
    the admins); not again for the same reason while it stays unhealthy."""
    instance: str = "local"
    """This process's name in the outbox leases (``Store.claim_outbox``)."""
    lease: timedelta = OUTBOX_LEASE
    """How long a claimed row is this instance's to send before another may take it."""
    _released: bool = field(default=False, init=False)

    def release_waiting(self) -> None:
        """Once per worker: rows waiting on an unhealthy destination are due now.

        A new worker means new settings may be in force (a restart with a fixed
        ``SMTP_PASSWORD``, a reload): the rows must not sit out the back-off of errors
        the old settings caused.
        """
        if self._released:
            return
        self._released = True
        with self.store.transaction() as conn:
            count = ob.release_unhealthy(conn, self.clock())
        if count:
            log.warning("retrying now %d rows that waited on unhealthy destinations", count)

    async def aclose(self) -> None:
        for sender in {id(s): s for s in self.senders.values()}.values():
            await sender.aclose()

    # -- alerts --------------------------------------------------------------------------

    async def deliver_alerts(self) -> DeliveryReport:
        """Send every due alert row, grouped per target; then edit alerts whose story
        gained sources ("also: ...")."""
        self.release_waiting()
        now = self.clock()
        due = self.store.claim_outbox("alert", self.instance, now, self.lease, limit=5000)
        groups: dict[Target, list[OutboxEntry]] = {}
        for entry in due:
            groups.setdefault(entry.target, []).append(entry)
        report = DeliveryReport()
        results = await asyncio.gather(*(self._alerts_for(t, rows) for t, rows in groups.items()))
        for r in results:
            report.add(r)
        updates = self.store.claim_outbox(
            "update", self.instance, self.clock(), self.lease, limit=5000
        )
        edits: dict[tuple[Target, str], list[OutboxEntry]] = {}
        for entry in updates:
            edits.setdefault((entry.target, entry.edit_of or ""), []).append(entry)
        for (target, message_id), rows in edits.items():
            report.add(await self._edit(target, message_id, rows))
        return report

    async def _edit(
        self, target: Target, message_id: str, rows: list[OutboxEntry]
    ) -> DeliveryReport:
        """Re-render the Telegram message ``message_id`` with its stories' new sources."""
        sent = self.store.sent_with(target, message_id)
        items = self._items(sent)
        if not items or not message_id or target.channel != "telegram" or not self._known(target):
            with self.store.transaction() as conn:  # nothing left to edit: done
                ob.mark_sent(conn, [r.id for r in rows], self.clock(), None)
            return DeliveryReport()
        alert = self._alert(target, items)
        try:
            message = render_telegram.render_story_update(
                alert, now=self.clock(), edit_of=message_id
            )
        except ValueError as exc:
            self._fail(target, [r.id for r in rows], str(exc), DeliveryReport())
            return DeliveryReport(failed=len(rows))
        message = dataclasses.replace(
            self._telegram_options(target, message, sent),
            outbox_ids=tuple(r.id for r in rows),
        )
        return await self._send_all(target, [message], rows, leased=True)

    async def _alerts_for(self, target: Target, rows: list[OutboxEntry]) -> DeliveryReport:
        if not self._known(target):
            return self._drop(rows, f"destination {target.destination!r} is no longer configured")
        items = self._items(rows)
        if not items:
            return DeliveryReport()
        tz = self._timezone(target)
        if target.channel == "email":
            messages = [
                render_email.render_alert_email(
                    Alert(target, tuple(items), tz), mail_from=self.mail_from, now=self.clock()
                )
            ]
        else:
            messages = [
                self._telegram_options(target, m, rows)
                for m in render_telegram.render_alert(self._alert(target, items), now=self.clock())
            ]
        return await self._send_all(target, messages, rows, leased=True)

    def _alert(self, target: Target, items: Sequence[AlertItem]) -> Alert:
        """A Telegram alert as the destination wants it: explanation, template, hashtags."""
        tz = self._timezone(target)
        dest = self._destination(target)
        if dest is None:
            return Alert(target, tuple(items), tz)
        if getattr(dest, "hashtags", False):
            items = [dataclasses.replace(i, hashtags=self._hashtags(i)) for i in items]
        explain: Explain = getattr(dest, "explain", "inline")
        template: str | None = getattr(dest, "template", None)
        return Alert(target, tuple(items), tz, explain=explain, template=template)

    def _hashtags(self, item: AlertItem) -> tuple[str, ...]:
        tags = []
        for match in item.matches:
            spec = self.watchlists.get(match.watchlist)
            tags.append(str(getattr(spec, "hashtag", "") or default_hashtag(match.watchlist)))
        return tuple(tags)

    def _destination(self, target: Target) -> Any:
        """The configured destination of a Telegram target (None: a subscriber)."""
        if target.channel != "telegram" or target.destination.startswith(SUBSCRIBER_PREFIX):
            return None
        return self.destinations.get(target.destination)

    def _telegram_options(
        self, target: Target, message: OutgoingMessage, rows: Sequence[OutboxEntry]
    ) -> OutgoingMessage:
        """The destination's topic, link previews and notification for one message."""
        dest = self._destination(target)
        if dest is None:
            return message
        ids = set(message.outbox_ids)
        wanted = [
            [getattr(self.watchlists.get(w), "silent", None) for w in r.watchlists]
            for r in rows
            if r.id in ids
        ]
        return dataclasses.replace(
            message,
            thread=getattr(dest, "topic", None),
            link_preview=getattr(dest, "link_preview", "off"),
            silent=alert_silent(dest, wanted, self.clock()),
        )

    # -- digests -------------------------------------------------------------------------

    async def deliver_digests(
        self, *, force: bool = False, only: str | None = None
    ) -> DeliveryReport:
        """Send the digests that are due now (every configured one with ``force``);
        ``only``: just the target with this address."""
        self.release_waiting()
        report = DeliveryReport()
        jobs = []
        for name, dest in self.destinations.items():
            for target in targets(name, dest):
                if only is None or target.address == only:
                    jobs.append(self._digest_for(target, dest, force))
        for target in self.store.pending_targets("digest"):
            if target.destination.startswith(SUBSCRIBER_PREFIX) and (
                only is None or target.address == only
            ):
                jobs.append(self._digest_for(target, SUBSCRIBER_DIGEST, force))
        for r in await asyncio.gather(*jobs):
            report.add(r)
        return report

    def preview_digests(self) -> list[tuple[Target, list[OutgoingMessage]]]:
        """Render every configured target's pending digest without sending anything."""
        out = []
        for name, dest in self.destinations.items():
            for target in targets(name, dest):
                if self._unsubscribed(target):
                    continue  # listed apart on /digests, as an override
                digest = self.build_digest(target)
                if digest is not None:
                    out.append((target, self._render_digest(self.edition(digest, dest)[0])))
        return out

    def edition(self, digest: Digest, dest: Any) -> tuple[Digest, list[AlertItem]]:
        """``digest`` laid out as the destination asks (``layout``, ``max_items``); and
        the stories past ``max_items``, counted in the digest, not shown."""
        max_items = int(getattr(dest, "max_items", 40) or 40)
        if getattr(dest, "layout", "stories") == "watchlists":
            edition, left = render_edition.watchlists_edition(digest, max_items)
        else:
            edition, left = render_edition.stories_edition(
                digest, self.watchlist_priorities, max_items
            )
        if left and self.public_url:
            end = digest.period_end.astimezone(UTC).date()
            start = (digest.period_start or digest.period_end - timedelta(days=1)).astimezone(UTC)
            url = f"{self.public_url.rstrip('/')}/articles?since={start.date()}&until={end}"
            edition = dataclasses.replace(edition, more_url=url)
        return edition, left

    def build_digest(
        self,
        target: Target,
        now: datetime | None = None,
        companions: dict[int, list[int]] | None = None,
    ) -> Digest | None:
        """The target's pending digest, one item per story (``companions`` collects the
        rows folded into each story's item)."""
        rows = self.store.pending_for_target("digest", target)
        items = self._items(rows, {} if companions is None else companions)
        if not items:
            return None
        row = self.store.destination_row(target)
        start = row.last_digest if row else None
        return Digest(
            target=target,
            timezone=self._timezone(target),
            period_end=now or self.clock(),
            period_start=start,
            sections=self._sections(items),
            unsubscribe=self._unsubscribe(target),
        )

    async def _digest_for(self, target: Target, dest: Any, force: bool) -> DeliveryReport:
        now = self.clock()
        with self.store.transaction() as conn:
            ob.touch_destination(conn, target, now)
        row = self.store.destination_row(target)
        assert row is not None
        rows = self.store.pending_for_target("digest", target)
        if self._unsubscribed(target):
            # The override wins over the YAML: what matched meanwhile is closed, not kept
            # for a resubscribe to flush.
            with self.store.transaction() as conn:
                ob.mark_failed(conn, [r.id for r in rows], f"{target.address} unsubscribed")
                ob.record_digest(conn, target, now)
            return DeliveryReport()
        # Before the first digest, the period starts when the destination was first seen
        # or when its oldest waiting row was created, whichever is earlier: a `monitor
        # digest --send` run from cron sends on its first run.
        anchor = row.last_digest or min([row.first_seen, *(r.created for r in rows)])
        if not force and not digest_due(
            digest_time=dest.digest_time, timezone=dest.timezone, last=anchor, now=now
        ):
            return DeliveryReport()
        if not force and rows and all(r.due > now for r in rows):
            return DeliveryReport()  # a failed attempt set the next one: back-off
        companions: dict[int, list[int]] = {}
        digest = self.build_digest(target, now, companions)
        if digest is None:
            if getattr(dest, "digest_empty", False):
                digest = Digest(
                    target=target,
                    timezone=self._timezone(target),
                    period_end=now,
                    period_start=row.last_digest,
                    sections=(),
                    unsubscribe=self._unsubscribe(target),
                )
            else:
                with self.store.transaction() as conn:
                    ob.record_digest(conn, target, now)
                return DeliveryReport()
        digest, left_out = self.edition(digest, dest)
        if target.channel == "email":
            report = await self._send_email_digest(digest, rows, companions)
        else:
            # Through _render_digest: the destination's topic and silence apply.
            messages = self._render_digest(digest)
            report = await self._send_all(target, messages, rows, companions=companions)
        if not report.retried:  # nothing waits: this digest is done (items may have failed)
            # Stories past max_items were counted in it ("N more"): they are delivered.
            ids = [
                i
                for item in left_out
                for i in (item.outbox_id, *companions.get(item.outbox_id, ()))
            ]
            with self.store.transaction() as conn:
                if report.messages:
                    ob.mark_sent(conn, ids, now, None)
                elif ids and report.errors:  # the digest that counted them failed for good
                    ob.mark_failed(conn, ids, report.errors[0])
                ob.record_digest(conn, target, now)
            if report.messages:
                report.digests += 1
        return report

    def _email_limit(self) -> int:
        limit = getattr(self.senders.get("email"), "max_message_size", None)
        return limit if isinstance(limit, int) and limit > 0 else render_email.MAX_MESSAGE_BYTES

    async def _send_email_digest(
        self, digest: Digest, rows: Sequence[OutboxEntry], companions: Mapping[int, list[int]]
    ) -> DeliveryReport:
        """The digest as e-mails under the server's SIZE (10 MB when it says none); a
        message the server still finds too large is split again, down to single items."""
        target = digest.target
        report = DeliveryReport()

        async def render(part: Digest, limit: int) -> list[OutgoingMessage]:
            # Off the event loop: a big digest takes a while to render and measure.
            out = await asyncio.to_thread(
                render_email.render_digest_emails,
                part,
                mail_from=self.mail_from,
                max_bytes=limit,
            )
            for item, size in out.too_large:
                self._too_large(
                    target,
                    [item.outbox_id, *companions.get(item.outbox_id, ())],
                    item,
                    size,
                    limit,
                    report,
                )
            return list(out.messages)

        async def resplit(
            message: OutgoingMessage, exc: MessageTooLargeError
        ) -> list[OutgoingMessage]:
            size = exc.size or render_email.message_size(message)
            # Without a SIZE, anything smaller than what was refused: halves, then
            # quarters if the server refuses again, down to single items.
            limit = exc.limit if exc.limit and exc.limit < size else size - 1
            part = render_email.digest_subset(digest, message.outbox_ids)
            order = [i.outbox_id for i in render_edition.stories(digest)]
            if order and order[-1] not in message.outbox_ids:
                part = dataclasses.replace(part, more=0)  # said once, in the last part
            return await render(part, limit)

        messages = await render(digest, self._email_limit())
        sent = await self._send_all(target, messages, rows, companions=companions, resplit=resplit)
        report.add(sent)
        return report

    def _too_large(
        self,
        target: Target,
        ids: list[int],
        item: AlertItem,
        size: int,
        limit: int,
        report: DeliveryReport,
    ) -> None:
        """An item that does not fit in an e-mail even alone fails; the destination stays
        healthy and the rest of the digest goes out."""
        title = " ".join(item.article.title.split())[:80] or "(untitled)"
        error = (
            f"delivery: {target.destination}: {target.address}: the item {title!r} alone is "
            f"{size} bytes as an e-mail, over the server's limit of {limit} bytes; it is "
            f"left out of the digest"
        )
        with self.store.transaction() as conn:
            ob.mark_failed(conn, ids, error)
        log.error("%s", error)
        if self.on_failed is not None:
            self.on_failed(target, len(ids), error)
        report.failed += len(ids)
        report.errors.append(error)

    def _render_digest(self, digest: Digest) -> list[OutgoingMessage]:
        if digest.target.channel == "email":
            parts = render_email.render_digest_emails(
                digest, mail_from=self.mail_from, max_bytes=self._email_limit()
            )
            return list(parts.messages)
        dest = self._destination(digest.target)
        messages = render_telegram.render_digest(digest)
        if dest is None:
            return messages
        silent = alert_silent(dest, [], self.clock())
        thread = getattr(dest, "topic", None)
        return [dataclasses.replace(m, thread=thread, silent=silent) for m in messages]

    async def send_test(self, destination: str) -> list[str]:
        """Send a test message to every address of ``destination``; one line per address."""
        dest = self.destinations[destination]
        lines = []
        now = self.clock()
        for target in targets(destination, dest):
            tz = self._timezone(target)
            if target.channel == "email":
                message = render_email.render_test_email(
                    target, mail_from=self.mail_from, now=now, timezone=tz
                )
            else:
                message = render_telegram.render_test_message(target, now=now, timezone=tz)
                message = dataclasses.replace(message, thread=getattr(dest, "topic", None))
            sender = self.senders.get(target.channel)
            try:
                if sender is None:
                    raise DeliveryError(
                        f"no transport for {target.channel}", destination=destination
                    )
                await sender.send(message)
            except DeliveryError as exc:
                lines.append(f"FAILED {target.channel} {target.address}: {exc}")
            else:
                lines.append(f"sent {target.channel} {target.address} via {type(sender).__name__}")
        return lines

    # -- sending -------------------------------------------------------------------------

    def _still_held(self, ids: Sequence[int], later: Sequence[int]) -> bool:
        """Renew the lease of this message's rows and of the target's later ones; whether
        this instance still holds every row of the message (else it is not sent here)."""
        now = self.clock()
        held = self.store.renew_outbox([*ids, *later], self.instance, now + self.lease)
        lost = [i for i in ids if i not in held]
        if lost:
            log.warning(
                "outbox rows %s were taken over by another instance; not sent here",
                ", ".join(map(str, lost)),
            )
            # The message's other rows go out in a later round, on any instance: their
            # lease ends now rather than one lease later.
            self.store.renew_outbox([i for i in ids if i in held], self.instance, now)
        return not lost

    async def _send_all(
        self,
        target: Target,
        messages: Sequence[OutgoingMessage],
        rows: Sequence[OutboxEntry],
        companions: Mapping[int, list[int]] | None = None,
        resplit: Callable[[OutgoingMessage, MessageTooLargeError], Awaitable[list[OutgoingMessage]]]
        | None = None,
        leased: bool = False,
    ) -> DeliveryReport:
        """Send ``messages`` to ``target`` in order.  ``leased``: ``rows`` came from
        ``claim_outbox``; before each message their lease is renewed, and a message whose
        rows another instance has taken over is left to it (issue 11: a round longer
        than one lease must neither lose its rows to another instance nor send them
        twice)."""
        report = DeliveryReport()
        sender = self.senders.get(target.channel)
        attempts = {r.id: r.attempts for r in rows}
        queue = deque(messages)

        def ids_of(message: OutgoingMessage) -> list[int]:
            ids = list(message.outbox_ids)
            for first in message.outbox_ids:
                ids.extend((companions or {}).get(first, ()))
            return ids

        while queue:
            message = queue.popleft()
            ids = ids_of(message)
            if sender is None:
                self._fail(target, ids, f"no transport for channel {target.channel!r}", report)
                continue
            if leased and not self._still_held(ids, [i for m in queue for i in ids_of(m)]):
                continue
            try:
                receipt = await sender.send(message)
            except MessageTooLargeError as exc:
                if resplit is not None and ids:
                    # Split and send again; the parts go first, in order.
                    queue.extendleft(reversed(await resplit(message, exc)))
                    log.warning("%s (split and sent again)", exc)
                    continue
                self._fail(target, ids, str(exc), report)
                continue
            except TransportSettingsError as exc:
                self._wait_for_settings(target, ids, exc, attempts, report)
                break  # nothing for this target can go until the settings are fixed
            except HeldDeliveryError as exc:
                if target.destination.startswith(SUBSCRIBER_PREFIX) and "not found" in str(exc):
                    # A subscribed topic that was deleted will not come back: its rows
                    # fail, and the failure hook unsubscribes the topic.
                    self._fail(target, ids, str(exc), report)
                    continue
                # A deleted or closed forum topic: nothing is lost, the rows wait with
                # back-off, and the destination shows unhealthy until it works again.
                wait = retry_delay(max((attempts.get(i, 0) for i in ids), default=0), self.rng)
                now = self.clock()
                row = self.store.destination_row(target)
                with self.store.transaction() as conn:
                    ob.mark_retry(conn, ids, now + wait, str(exc))
                    ob.record_delivery(conn, target, now, str(exc), permanent=True)
                log.error("%s (%d rows held)", exc, len(ids))
                if self.on_held is not None and (row is None or row.healthy):
                    self.on_held(target, len(ids), str(exc))
                report.retried += len(ids)
                report.errors.append(str(exc))
                break
            except TransientDeliveryError as exc:
                wait = (
                    timedelta(seconds=exc.retry_after)
                    if exc.retry_after is not None
                    else retry_delay(max((attempts.get(i, 0) for i in ids), default=0), self.rng)
                )
                now = self.clock()
                with self.store.transaction() as conn:
                    ob.mark_retry(conn, ids, now + wait, str(exc))
                    ob.record_delivery(conn, target, now, str(exc), permanent=False)
                log.warning("%s (retry in %.0fs)", exc, wait.total_seconds())
                report.retried += len(ids)
                report.errors.append(str(exc))
                break  # keep this target's order: the rest waits for the retry
            except PermanentDeliveryError as exc:
                if message.edit_of is not None:
                    # An edit Telegram refuses (message deleted, too old) loses nothing:
                    # the alert itself was delivered.  The channel stays healthy.
                    with self.store.transaction() as conn:
                        ob.mark_failed(conn, ids, str(exc))
                    log.warning("%s (story update not applied)", exc)
                    continue
                self._fail(target, ids, str(exc), report)
                continue
            except DeliveryError as exc:
                self._fail(target, ids, str(exc), report)
                continue
            now = self.clock()
            with self.store.transaction() as conn:
                ob.mark_sent(conn, ids, now, receipt.remote_id)
                ob.record_delivery(conn, target, now, None, via=getattr(sender, "via", None))
            if self.on_sent is not None:
                created = {r.id: r.created for r in rows}
                self.on_sent(target, [created[i] for i in ids if i in created], now)
            report.sent += len(ids)
            report.messages += 1
        return report

    def _wait_for_settings(
        self,
        target: Target,
        ids: list[int],
        exc: TransportSettingsError,
        attempts: Mapping[int, int],
        report: DeliveryReport,
    ) -> None:
        """The rows wait (back-off); the destination is unhealthy with the reason; the
        admins are told when it turns unhealthy, not at every retry."""
        error = str(exc)
        now = self.clock()
        wait = retry_delay(max((attempts.get(i, 0) for i in ids), default=0), self.rng)
        before = self.store.destination_row(target)
        with self.store.transaction() as conn:
            ob.mark_retry(conn, ids, now + wait, error)
            ob.record_delivery(conn, target, now, error, permanent=True)
        log.error("%s (%d rows wait; destination unhealthy until it works)", error, len(ids))
        newly = before is None or before.healthy or before.last_error != error
        if newly and self.on_unhealthy is not None:
            self.on_unhealthy(target, error)
        report.retried += len(ids)
        report.errors.append(error)

    def _fail(self, target: Target, ids: list[int], error: str, report: DeliveryReport) -> None:
        now = self.clock()
        with self.store.transaction() as conn:
            ob.mark_failed(conn, ids, error)
            ob.record_delivery(conn, target, now, error, permanent=True)
        log.error("%s (%d rows marked failed; destination unhealthy)", error, len(ids))
        if self.on_failed is not None:
            self.on_failed(target, len(ids), error)
        report.failed += len(ids)
        report.errors.append(error)

    def _drop(self, rows: Sequence[OutboxEntry], reason: str) -> DeliveryReport:
        with self.store.transaction() as conn:
            ob.mark_failed(conn, [r.id for r in rows], reason)
        log.warning("%s: %d rows marked failed", reason, len(rows))
        return DeliveryReport(failed=len(rows), errors=[reason])

    # -- assembling ----------------------------------------------------------------------

    def _known(self, target: Target) -> bool:
        if target.destination.startswith(SUBSCRIBER_PREFIX):
            return True
        dest = self.destinations.get(target.destination)
        return dest is not None and target in targets(target.destination, dest)

    def _timezone(self, target: Target) -> str:
        dest = self.destinations.get(target.destination)
        return str(getattr(dest, "timezone", DEFAULT_TZ) or DEFAULT_TZ)

    def _unsubscribe(self, target: Target) -> str | None:
        """The one-click link (RFC 8058) of an e-mail target; None without
        ``MONITOR_PUBLIC_URL`` and ``MONITOR_SECRET`` (issue 12: no unsubscribe header
        then, rather than a mailto that nobody reads)."""
        if not self.public_url or not self.secret:
            return None
        return unsubscribe_url(self.public_url, self.secret, target)

    def _unsubscribed(self, target: Target) -> bool:
        return target.channel == "email" and self.store.is_unsubscribed(target)

    def _items(
        self, rows: Sequence[OutboxEntry], companions: dict[int, list[int]] | None = None
    ) -> list[AlertItem]:
        """The rows as renderable items, each with the other sources of its story.

        With ``companions`` (digests), rows of one story fold into the story's first item,
        and ``companions[first row id]`` lists the folded rows (sent with it).
        """
        ids = [r.article_id for r in rows]
        articles = self.store.get_articles(ids)
        matches = self.store.matches_for(ids)
        story_of = self.store.stories_of(ids)
        members: dict[int, list[str]] = {}
        items: list[AlertItem] = []
        first_of_story: dict[int, int] = {}
        for r in rows:
            stored = articles.get(r.article_id)
            if stored is None:
                continue
            ms = tuple(m for m in matches.get(r.article_id, []) if m.watchlist in r.watchlists)
            story = story_of.get(r.article_id)
            if story is not None and story not in members:
                members[story] = [
                    self.feed_names.get(feed, feed)
                    for _, feed, _ in self.store.story_members(story)
                ]
            if companions is not None and story is not None and story in first_of_story:
                index = first_of_story[story]
                items[index] = self._fold(items[index], ms)
                companions.setdefault(items[index].outbox_id, []).append(r.id)
                continue
            source = self.feed_names.get(stored.article.feed_id, stored.article.feed_id)
            others = members.get(story, []) if story is not None else []
            also = tuple(dict.fromkeys(s for s in others if s != source))
            if story is not None:
                first_of_story[story] = len(items)
            items.append(
                AlertItem(
                    outbox_id=r.id,
                    article=stored.article,
                    source=source,
                    matches=ms,
                    watchlist_titles=tuple(
                        self.watchlist_titles.get(m.watchlist, m.watchlist) for m in ms
                    ),
                    also=also,
                )
            )
        return items

    def _fold(self, item: AlertItem, matches: Sequence[Match]) -> AlertItem:
        """The story's first item, also listed under the watchlists its companion matched."""
        known = {m.watchlist for m in item.matches}
        extra = tuple(m for m in matches if m.watchlist not in known)
        if not extra:
            return item
        ms = item.matches + extra
        titles = tuple(self.watchlist_titles.get(m.watchlist, m.watchlist) for m in ms)
        return dataclasses.replace(item, matches=ms, watchlist_titles=titles)

    def _sections(self, items: Sequence[AlertItem]) -> tuple[DigestSection, ...]:
        by_wl: dict[str, list[AlertItem]] = {}
        for item in items:
            for m in item.matches:
                by_wl.setdefault(m.watchlist, []).append(item)
        return tuple(
            DigestSection(
                watchlist=wl,
                title=self.watchlist_titles.get(wl, wl),
                items=tuple(
                    sorted(its, key=lambda i: i.article.published or self.clock(), reverse=True)
                ),
            )
            for wl, its in sorted(by_wl.items())
        )
