"""The bot's commands as plain methods: (caller, arguments) -> replies.

Nothing here knows python-telegram-bot: :mod:`monitor.service.bot` turns updates into
:class:`Caller` values and sends the :class:`~monitor.service.bot_text.Reply` values
back.  Each command reads the *current* configuration through ``BotContext.keywords``
(it hot-reloads) and the state database through ``BotContext.store``; the texts come
from the pure functions of :mod:`monitor.service.bot_text`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from monitor.config.feeds import FeedsConfig
from monitor.config.keywords import DEFAULT_TIMEZONE, KeywordsConfig
from monitor.models import AlertItem, Digest, DigestSection, PollReport, Target
from monitor.render import edition as render_edition
from monitor.render import telegram as render_telegram
from monitor.render.telegram_explain import explanation, popup
from monitor.route import BASELINE_DIGEST_WINDOW, SUBSCRIBER_PREFIX, split_topic
from monitor.service import bot_text as text
from monitor.service.bot_flags import pause_state, set_paused
from monitor.service.bot_limits import CommandRate
from monitor.service.bot_text import Reply, replies
from monitor.store import Store
from monitor.store import subscribers as subs

log = logging.getLogger(__name__)
StatusProvider = Callable[[], Iterable[str]]
"""Extra lines for ``/status`` (scheduler, configuration reloads, ...), plain text."""
PollNow = Callable[[Sequence[str]], Awaitable[Sequence[PollReport]]]
"""The running service's ``poll_now``: poll these feeds at once, return what each gave."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def _no_feeds() -> FeedsConfig | None:
    return None


@dataclass(frozen=True)
class BotContext:
    """What the commands may use.  ``keywords`` and ``feeds`` are called on every
    command, so a hot-reloaded configuration takes effect at once."""

    store: Store
    keywords: Callable[[], KeywordsConfig]
    admin_ids: frozenset[int] = frozenset()
    feeds: Callable[[], FeedsConfig | None] = _no_feeds
    clock: Callable[[], datetime] = utcnow
    status: Sequence[StatusProvider] = ()
    timezone: str = DEFAULT_TIMEZONE
    """Where "today" is for ``/digest``, and the times shown."""
    rate: CommandRate = field(default_factory=CommandRate)
    latest_window: timedelta = timedelta(days=7)
    latest_items: int = 10
    digest_items: int = 25
    poll: PollNow | None = None
    """``/poll`` polls through this; None outside the service."""

    def __post_init__(self) -> None:
        ZoneInfo(self.timezone)  # fail at construction, not in the middle of /digest


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent a command, and where."""

    user_id: int
    chat_id: int
    private: bool
    username: str | None = None
    first_name: str | None = None
    thread: int | None = None
    """The forum topic the command was sent in (None: the chat itself)."""
    chat_admin: bool = False
    """An administrator of the group the command was sent in (asked only when needed)."""

    @property
    def label(self) -> str:
        return f"{self.user_id} (@{self.username})" if self.username else str(self.user_id)


GONE = (
    "bot was blocked by the user",
    "user is deactivated",
    "bot can't initiate conversation",
    "chat not found",
    "bot was kicked from the",
)
"""Telegram's words for a chat (private, or a subscribed group) that will never accept a
message again."""
TOPIC_DELETED = "message thread not found"


def user_gone(error: str) -> bool:
    low = error.lower()
    return any(g in low for g in GONE)


def unsubscribe_if_gone(store: Store, target: Target, error: str, now: datetime) -> int:
    """For the outbox worker's failure hook: when sending to a subscriber failed because
    they blocked the bot (or deleted their account), unsubscribe them.  Returns how many
    subscriptions were removed."""
    if not target.destination.startswith(SUBSCRIBER_PREFIX):
        return 0
    chat, topic = split_topic(target.address)
    if topic is not None and TOPIC_DELETED in error.lower():
        # The subscribed forum topic was deleted: that topic's subscriptions go.
        with store.transaction() as conn:
            removed = subs.unsubscribe(conn, chat, topic=topic)
        log.warning(
            "bot: forum topic %s is gone: unsubscribed it from %d watchlists",
            target.address,
            removed,
        )
        return removed
    if not user_gone(error):
        return 0
    with store.transaction() as conn:
        removed = subs.mark_blocked(conn, chat, now)
    log.warning(
        "bot: subscriber %s is gone (%s): unsubscribed from %d watchlists",
        target.address,
        error,
        removed,
    )
    return removed


class Commands:
    """One method per command; :meth:`run` applies the admin and private-chat rules."""

    def __init__(self, ctx: BotContext) -> None:
        self.ctx = ctx
        self._table: Mapping[str, Callable[[Caller, Sequence[str]], list[Reply]]] = {
            "start": self.start,
            "help": self.help,
            "watchlists": self.watchlists,
            "subscribe": self.subscribe,
            "unsubscribe": self.unsubscribe,
            "mysubs": self.mysubs,
            "latest": self.latest,
            "digest": self.digest,
            "status": self.status,
            "pause": self.pause,
            "resume": self.resume,
        }
        self._async: Mapping[str, Callable[[Caller, Sequence[str]], Awaitable[list[Reply]]]] = {
            "poll": self.poll,
        }
        assert set(self._table) | set(self._async) == set(text.COMMAND_NAMES)

    def is_admin(self, caller: Caller) -> bool:
        return caller.user_id in self.ctx.admin_ids

    def run(self, name: str, caller: Caller, args: Sequence[str]) -> list[Reply]:
        refused = self._refused(name, caller)
        if refused is not None:
            return refused
        return self._table[name](caller, args)

    async def arun(self, name: str, caller: Caller, args: Sequence[str]) -> list[Reply]:
        """Like :meth:`run`, also for the commands that wait for work (``/poll``)."""
        if name not in self._async:
            return self.run(name, caller, args)
        refused = self._refused(name, caller)
        if refused is not None:
            return refused
        return await self._async[name](caller, args)

    def _refused(self, name: str, caller: Caller) -> list[Reply] | None:
        spec = text.COMMAND_NAMES[name]
        if spec.admin and not self.is_admin(caller):
            log.warning("bot: user %s tried /%s (not an admin)", caller.label, name)
            return replies(text.admin_only(name))
        if spec.private and not caller.private:
            return replies(text.private_only(name))
        group = name in GROUP_ADMIN_COMMANDS and not caller.private
        if group and not (caller.chat_admin or self.is_admin(caller)):
            return replies(text.group_admins_only(name))
        return None

    def why(self, outbox_id: int, chat_id: int, chat_username: str | None) -> tuple[str, str]:
        """The "Why?" button of the alert row ``outbox_id``, pressed in ``chat_id``:
        ``(popup text, reply text)``; the reply is empty when the popup says it all."""
        store = self.ctx.store
        entry = store.outbox_entry(outbox_id)
        if entry is None or not _same_chat(entry.target.address, chat_id, chat_username):
            return text.explanation_gone(), ""
        matches = [
            m
            for m in store.matches_for([entry.article_id]).get(entry.article_id, [])
            if m.watchlist in entry.watchlists
        ]
        if not matches:
            return text.explanation_gone(), ""
        titles = _titles(self.ctx.keywords())
        short = popup(matches, titles)
        if short is not None:
            return short, ""
        return text.explanation_below(), explanation(matches, titles)

    def unknown(self, caller: Caller, message: str) -> list[Reply]:
        return replies(text.unknown_command(message, self.is_admin(caller)))

    def chatter(self, caller: Caller) -> list[Reply]:
        return replies(text.not_a_command())

    def blocked(self, chat_id: int) -> int:
        """The user blocked the bot: unsubscribe them from everything."""
        with self.ctx.store.transaction() as conn:
            removed = subs.mark_blocked(conn, str(chat_id), self.ctx.clock())
        log.warning(
            "bot: user %s blocked the bot: unsubscribed from %d watchlists", chat_id, removed
        )
        return removed

    # -- everyone ------------------------------------------------------------------------

    def start(self, caller: Caller, args: Sequence[str]) -> list[Reply]:
        out = replies(text.start_text(caller.first_name, self.is_admin(caller)))
        if args and caller.private:  # a deep link t.me/<bot>?start=<watchlist>
            out += self.subscribe(caller, args)
        return out

    def help(self, caller: Caller, args: Sequence[str]) -> list[Reply]:
        return replies(text.help_text(self.is_admin(caller)))

    def watchlists(self, caller: Caller, args: Sequence[str]) -> list[Reply]:
        mine = self._mine(caller) if caller.private else []
        return replies(text.watchlists_text(self.ctx.keywords().watchlists, mine))

    def latest(self, caller: Caller, args: Sequence[str]) -> list[Reply]:
        cfg = self.ctx.keywords()
        known = _titles(cfg)
        found = text.resolve(args, known)
        if found.unknown:
            return replies(text.unknown_watchlists(found.unknown, known))
        if found.found:
            wanted, what = list(found.found), ", ".join(found.found)
        else:
            mine = [wl for wl in self._mine(caller) if wl in known] if caller.private else []
            wanted = mine or sorted(known)
            what = "your watchlists" if mine else "any watchlist"
        now = self.ctx.clock()
        since = now - self.ctx.latest_window
        digest, shown, total = self._digest(caller, cfg, wanted, since, None, self.ctx.latest_items)
        if digest is None:
            return replies(text.no_matches(what, self.ctx.latest_window))
        return self._rendered(digest, shown, total, "/latest WATCHLIST", "Latest matches")

    # -- subscribers ---------------------------------------------------------------------

    def subscribe(self, caller: Caller, args: Sequence[str]) -> list[Reply]:
        cfg = self.ctx.keywords()
        known = _titles(cfg)
        found = text.resolve(args, known)
        if not found.found and not found.unknown:
            return replies(text.usage("subscribe", known))
        lines: list[str] = []
        if found.found:
            now = self.ctx.clock()
            chat = str(caller.chat_id)
            topic = None if caller.private else caller.thread
            with self.ctx.store.transaction() as conn:
                added = [
                    wl
                    for wl in found.found
                    if subs.subscribe(conn, chat, wl, now, username=caller.username, topic=topic)
                ]
            already = [wl for wl in found.found if wl not in added]
            lines += text.subscribed_text(added, already, cfg.watchlists)
            if added:
                log.info("bot: %s subscribed to %s", caller.label, ", ".join(added))
        if found.unknown:
            lines.append(text.unknown_watchlists(found.unknown, known))
        return replies("\n".join(lines))

    def unsubscribe(self, caller: Caller, args: Sequence[str]) -> list[Reply]:
        chat = str(caller.chat_id)
        mine = self._mine(caller)
        known = {wl: wl for wl in mine} | _titles(self.ctx.keywords())
        found = text.resolve(args, known)
        if not found.found and not found.unknown:
            return replies(
                text.usage("unsubscribe", {wl: known[wl] for wl in mine})
                if mine
                else text.mysubs_text([], {})
            )
        topic = None if caller.private else caller.thread
        if [a.casefold() for a in args] == ["all"]:
            with self.ctx.store.transaction() as conn:
                removed = subs.unsubscribe(conn, chat, topic=topic)
            if not removed:
                return replies(text.mysubs_text([], {}))
            return replies(f"Unsubscribed from {_count(removed, 'watchlist')}.")
        lines: list[str] = []
        if found.found:
            with self.ctx.store.transaction() as conn:
                removed_wls = [
                    wl for wl in found.found if subs.unsubscribe(conn, chat, wl, topic=topic)
                ]
            absent = [wl for wl in found.found if wl not in removed_wls]
            lines += text.unsubscribed_text(removed_wls, absent)
        if found.unknown:
            lines.append(text.unknown_watchlists(found.unknown, known))
        return replies("\n".join(lines))

    def mysubs(self, caller: Caller, args: Sequence[str]) -> list[Reply]:
        watchlists = self.ctx.keywords().watchlists
        if not caller.private:
            everything = self.ctx.store.subscriptions(str(caller.chat_id))
            found = [(s.topic, s.watchlist) for s in everything]
            return replies(text.group_subs_text(found, watchlists, caller.thread))
        return replies(text.mysubs_text(self._mine(caller), watchlists))

    def digest(self, caller: Caller, args: Sequence[str]) -> list[Reply]:
        cfg = self.ctx.keywords()
        mine = [wl for wl in self._mine(caller) if wl in cfg.watchlists]
        if not mine:
            return replies(text.no_subscriptions_for_digest())
        now = self.ctx.clock()
        zone = ZoneInfo(self.ctx.timezone)
        midnight = datetime.combine(now.astimezone(zone).date(), time(0), tzinfo=zone)
        # Like routing: what a newly added feed recorded from its back catalogue
        # (published long before today) is not news of the day.
        published = midnight - BASELINE_DIGEST_WINDOW
        digest, shown, total = self._digest(
            caller, cfg, mine, midnight, published, self.ctx.digest_items
        )
        if digest is None:
            return replies(text.no_digest_yet(midnight, self.ctx.timezone))
        return self._rendered(digest, shown, total, "/latest WATCHLIST", "Your digest so far")

    # -- admins --------------------------------------------------------------------------

    def status(self, caller: Caller, args: Sequence[str]) -> list[Reply]:
        return replies(text.status_text(self.snapshot(), self.ctx.timezone))

    def pause(self, caller: Caller, args: Sequence[str]) -> list[Reply]:
        now = self.ctx.clock()
        changed = set_paused(self.ctx.store, True, now=now, by=caller.label)
        if changed:
            log.warning("bot: %s paused deliveries", caller.label)
        return replies(text.paused_text(changed, pause_state(self.ctx.store).since, now))

    def resume(self, caller: Caller, args: Sequence[str]) -> list[Reply]:
        changed = set_paused(self.ctx.store, False, now=self.ctx.clock(), by=caller.label)
        if changed:
            log.warning("bot: %s resumed deliveries", caller.label)
        return replies(text.resumed_text(changed))

    async def poll(self, caller: Caller, args: Sequence[str]) -> list[Reply]:
        feeds = self.ctx.feeds()
        if self.ctx.poll is None or feeds is None:
            return replies(text.poll_unavailable())
        enabled = [f.id for f in feeds.enabled()]
        if not args or len(args) > text.POLL_MAX_FEEDS:
            return replies(text.poll_usage(enabled))
        unknown = [a for a in args if a not in enabled]
        if unknown:
            return replies(text.poll_unknown(unknown))
        log.warning("bot: %s asked to poll %s", caller.label, " ".join(args))
        return replies(text.poll_result(await self.ctx.poll(list(args))))

    def snapshot(self) -> text.StatusSnapshot:
        store, now = self.ctx.store, self.ctx.clock()
        states = store.feed_states()
        feeds = self.ctx.feeds()
        enabled = [f.id for f in feeds.enabled()] if feeds is not None else sorted(states)
        failing, never = [], 0
        for feed_id in enabled:
            st = states.get(feed_id)
            if st is not None and st.consecutive_failures:
                failing.append(
                    text.FeedTrouble(
                        feed_id, st.consecutive_failures, st.last_success, st.last_error
                    )
                )
            elif st is None or st.last_success is None:
                never += 1
        stats = store.outbox_stats()
        unhealthy = tuple(
            f"{d.destination} ({d.channel} {d.address}): {d.last_error or 'failing'}"
            for d in store.destination_rows()
            if not d.healthy
        )
        failures = tuple(
            f"#{r.id} {r.kind} to {r.destination}: {r.last_error}"
            for r in store.recent_failures(text.SHOWN)
        )
        everyone = store.subscriptions()
        pause = pause_state(store)
        return text.StatusSnapshot(
            now=now,
            paused=pause.paused,
            paused_since=pause.since,
            paused_by=pause.by,
            feeds=len(enabled),
            feeds_never_polled=never,
            failing=tuple(failing),
            outbox=dict(stats.counts),
            oldest_pending_alert=stats.oldest_pending_alert,
            unhealthy=unhealthy,
            recent_failures=failures,
            subscribers=len({s.chat_id for s in everyone}),
            subscriptions=len(everyone),
            extra=tuple(self._extra()),
        )

    def _extra(self) -> Iterable[str]:
        for provider in self.ctx.status:
            try:
                yield from provider()
            except Exception as exc:  # a status line must never break /status
                log.exception("bot: status provider %r failed", provider)
                yield f"(a status provider failed: {exc})"

    # -- helpers -------------------------------------------------------------------------

    def _mine(self, caller: Caller) -> list[str]:
        """The watchlists of the caller's chat (in a group: of the topic it is in)."""
        topic = None if caller.private else caller.thread
        found = self.ctx.store.subscriptions(str(caller.chat_id), topic=topic)
        return [s.watchlist for s in found]

    def _digest(
        self,
        caller: Caller,
        cfg: KeywordsConfig,
        wanted: Sequence[str],
        since: datetime,
        published: datetime | None,
        limit: int,
    ) -> tuple[Digest | None, int, int]:
        """The newest matches of ``wanted`` since ``since`` as the digests' edition
        (issue 17: each story once, the most important first); how many articles it
        holds and how many there were in all."""
        store = self.ctx.store
        ids, total = store.recent_matched_articles(
            wanted, matched_since=since, published_since=published, limit=limit
        )
        articles = self.ctx.store.get_articles(ids)
        matches = store.matches_for(ids)
        story_of = store.stories_of(ids)
        titles = _titles(cfg)
        feeds = self.ctx.feeds()
        names = {f.id: f.label for f in feeds.feeds} if feeds is not None else {}
        outlets: dict[int, list[str]] = {}
        items = []
        for article_id in ids:
            stored = articles.get(article_id)
            if stored is None:
                continue
            ms = tuple(m for m in matches.get(article_id, []) if m.watchlist in wanted)
            feed = stored.article.feed_id
            source = names.get(feed, feed)
            story = story_of.get(article_id)
            if story is not None and story not in outlets:
                outlets[story] = [names.get(f, f) for _, f, _ in store.story_members(story)]
            others = outlets.get(story, []) if story is not None else []
            items.append(
                AlertItem(
                    outbox_id=article_id,
                    article=stored.article,
                    source=source,
                    matches=ms,
                    watchlist_titles=tuple(titles.get(m.watchlist, m.watchlist) for m in ms),
                    also=tuple(dict.fromkeys(o for o in others if o != source)),
                )
            )
        if not items:
            return None, 0, 0
        stories = render_edition.one_per_story(items, story_of)
        chat = str(caller.chat_id)
        digest = Digest(
            target=Target(SUBSCRIBER_PREFIX + chat, "telegram", chat),
            timezone=self.ctx.timezone,
            period_end=self.ctx.clock(),
            period_start=since,
            sections=(DigestSection("", "", tuple(stories)),),
        )
        priorities = {wl: spec.priority for wl, spec in cfg.watchlists.items()}
        edition, _ = render_edition.stories_edition(digest, priorities, len(stories))
        return edition, len(items), total

    def _rendered(
        self, digest: Digest, shown: int, total: int, narrower: str, title: str
    ) -> list[Reply]:
        rendered = render_telegram.render_digest(digest, title=title)
        out = [Reply(m.plain, m.text) for m in rendered]
        if total > shown:
            out += replies(text.truncated(shown, total, narrower))
        return out


GROUP_ADMIN_COMMANDS = frozenset({"subscribe", "unsubscribe"})
"""In a group these change what the whole group (topic) receives: its admins only."""


def _same_chat(address: str, chat_id: int, username: str | None) -> bool:
    """Whether an outbox row's address is this chat (a button is answered only where
    its alert was sent, so a forged callback cannot read another chat's alerts)."""
    chat = split_topic(address)[0]
    if chat.startswith("@"):
        return username is not None and chat[1:].casefold() == username.casefold()
    return chat == str(chat_id)


def _titles(cfg: KeywordsConfig) -> dict[str, str]:
    return {wl: spec.title for wl, spec in cfg.watchlists.items()}


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
