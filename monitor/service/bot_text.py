"""What the bot says (pure): the command table, replies built from plain data, and the
splitting that keeps every reply within Telegram's 4096 characters.

Replies are plain text (sent without a parse mode, so a hostile watchlist title or
argument can never break them); only rendered matches (``/latest``, ``/digest``) carry
Telegram HTML, made by :mod:`monitor.render.telegram` with its plain twin.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from monitor.config.durations import format_duration
from monitor.config.keywords import WatchlistSpec
from monitor.models import PollReport
from monitor.render.telegram import MAX_LENGTH, utf16_len


@dataclass(frozen=True, slots=True)
class Reply:
    """One message back to the user: plain ``text``, or ``html`` with ``text`` as the
    plain twin sent when Telegram cannot parse the HTML."""

    text: str
    html: str | None = None


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    usage: str
    summary: str
    admin: bool = False
    """Only for the user ids in ``TELEGRAM_ADMIN_IDS``."""
    private: bool = False
    """Only in a private chat with the bot (subscriptions belong to a person)."""


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("start", "/start", "what this bot does"),
    CommandSpec("help", "/help", "the commands"),
    CommandSpec("watchlists", "/watchlists", "the watchlists you can follow"),
    CommandSpec("subscribe", "/subscribe WATCHLIST", "get its new matches here"),
    CommandSpec("unsubscribe", "/unsubscribe WATCHLIST", "stop them (/unsubscribe all)"),
    CommandSpec("mysubs", "/mysubs", "the watchlists you follow"),
    CommandSpec("latest", "/latest [WATCHLIST]", "the most recent matches"),
    CommandSpec("digest", "/digest", "today's matches so far", private=True),
    CommandSpec("status", "/status", "feeds, outbox and recent errors", admin=True),
    CommandSpec("pause", "/pause", "hold alerts and digests (polling goes on)", admin=True),
    CommandSpec("resume", "/resume", "deliver again", admin=True),
    CommandSpec("poll", "/poll FEED", "poll a feed now and say what it gave", admin=True),
)
COMMAND_NAMES = {c.name: c for c in COMMANDS}
ARG_CHARS = 40
LISTED = 15
"""Watchlist ids named in an error reply; /watchlists lists them all."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


# --- splitting ----------------------------------------------------------------------


def split_text(text: str, limit: int = MAX_LENGTH) -> list[str]:
    """``text`` as messages of at most ``limit`` UTF-16 units, split between lines (a
    line longer than ``limit`` on its own is cut at a character boundary)."""
    parts: list[str] = []
    current: list[str] = []
    size = 0
    for line in _cut_lines(text.split("\n"), limit):
        cost = utf16_len(line) + (1 if current else 0)
        if current and size + cost > limit:
            parts.append("\n".join(current))
            current, size = [], 0
            cost = utf16_len(line)
        current.append(line)
        size += cost
    parts.append("\n".join(current))
    return [p for p in (p.strip("\n") for p in parts) if p.strip()]


def _cut_lines(lines: Iterable[str], limit: int) -> Iterable[str]:
    for line in lines:
        while utf16_len(line) > limit:
            cut, used = 0, 0
            for char in line:
                width = utf16_len(char)
                if used + width > limit:
                    break
                used += width
                cut += 1
            yield line[:cut]
            line = line[cut:]
        yield line


def replies(text: str) -> list[Reply]:
    return [Reply(part) for part in split_text(text)]


# --- arguments ----------------------------------------------------------------------


def shown_arg(text: str) -> str:
    """A user's argument, safe to quote back: one line, at most ``ARG_CHARS``."""
    clean = _CONTROL.sub(" ", text).strip()
    return clean if len(clean) <= ARG_CHARS else clean[: ARG_CHARS - 1] + "…"


@dataclass(frozen=True, slots=True)
class Resolved:
    """Watchlist arguments resolved against the known ids: ids found (in argument
    order, no repeats) and the arguments that name no watchlist."""

    found: tuple[str, ...]
    unknown: tuple[str, ...]


def resolve(args: Sequence[str], known: Mapping[str, str]) -> Resolved:
    """Resolve ``args`` against ``known`` (id -> title), ignoring case; the whole
    argument text may also be a title ("/subscribe EU AI Act")."""
    words = [w for a in args for w in a.split(",") if w.strip()]
    by_title = {title.casefold(): wl for wl, title in known.items()}
    by_id = {wl.casefold(): wl for wl in known}
    whole = " ".join(w.strip() for w in words).casefold()
    if whole in by_title and whole not in by_id:
        return Resolved((by_title[whole],), ())
    found: list[str] = []
    unknown: list[str] = []
    for word in words:
        key = word.strip().casefold()
        wl = by_id.get(key) or by_title.get(key)
        if wl is None:
            unknown.append(word.strip())
        elif wl not in found:
            found.append(wl)
    return Resolved(tuple(found), tuple(unknown))


def suggestion(name: str, known: Mapping[str, str]) -> str | None:
    """The known id closest to ``name`` (by id or title), if any is close."""
    candidates = {wl.casefold(): wl for wl in known}
    candidates.update({title.casefold(): wl for wl, title in known.items() if title})
    close = difflib.get_close_matches(name.casefold(), list(candidates), n=1, cutoff=0.6)
    return candidates[close[0]] if close else None


def available(known: Iterable[str]) -> str:
    ids = sorted(known)
    if not ids:
        return "No watchlist is configured yet."
    more = f", … (/watchlists lists all {len(ids)})" if len(ids) > LISTED else ""
    return "Available: " + ", ".join(ids[:LISTED]) + more + "."


def unknown_watchlists(names: Sequence[str], known: Mapping[str, str]) -> str:
    """``No watchlist 'ai-akt'. Did you mean ai-act? Available: ai-act, …`` (the first
    few names, each with its closest id, then what is available)."""
    lines = []
    for name in names[:3]:
        close = suggestion(name, known)
        hint = f" Did you mean {close}?" if close else ""
        lines.append(f"No watchlist '{shown_arg(name)}'.{hint}")
    if len(names) > 3:
        lines.append(f"… and {len(names) - 3} more unknown.")
    return "\n".join(lines) + " " + available(known)


def usage(command: str, known: Mapping[str, str]) -> str:
    spec = COMMAND_NAMES[command]
    example = next(iter(sorted(known)), "WATCHLIST")
    return f"Usage: {spec.usage}, for example /{command} {example}. {available(known)}"


# --- replies ------------------------------------------------------------------------


def help_text(is_admin: bool) -> str:
    lines = [
        "I watch EU tech-policy news and send you the articles that match the watchlists "
        "you follow.",
        "",
    ]
    lines += [f"{c.usage} – {c.summary}" for c in COMMANDS if not c.admin and c.name != "start"]
    if is_admin:
        lines += ["", "For admins:"]
        lines += [f"{c.usage} – {c.summary}" for c in COMMANDS if c.admin]
    return "\n".join(lines)


def start_text(first_name: str | None, is_admin: bool) -> str:
    name = shown_arg(first_name or "")
    hello = f"Hello {name}!" if name else "Hello!"
    return (
        f"{hello} Follow a watchlist with /subscribe and its new matches arrive in this "
        f"chat.\n\n{help_text(is_admin)}"
    )


def _alerts_note(spec: WatchlistSpec) -> str:
    return "" if spec.priority == "instant" else " (no instant alerts: see /digest)"


def watchlists_text(watchlists: Mapping[str, WatchlistSpec], subscribed: Iterable[str]) -> str:
    if not watchlists:
        return "No watchlist is configured yet."
    mine = set(subscribed)
    lines = [f"Watchlists ({len(watchlists)}); ✅ marks those you follow:"]
    for wl, spec in sorted(watchlists.items()):
        mark = "✅" if wl in mine else "•"
        title = shown_title(spec.title, wl)
        lines.append(f"{mark} {wl}{title}{_alerts_note(spec)}")
    lines += ["", "Follow one with /subscribe WATCHLIST, stop with /unsubscribe WATCHLIST."]
    return "\n".join(lines)


def shown_title(title: str, wl: str) -> str:
    """`` – Title`` when the title says more than the id."""
    clean = _CONTROL.sub(" ", title).strip()
    if not clean or clean.casefold() == wl.casefold():
        return ""
    return " – " + (clean if len(clean) <= 80 else clean[:79] + "…")


def subscribed_text(
    added: Sequence[str], already: Sequence[str], watchlists: Mapping[str, WatchlistSpec]
) -> list[str]:
    lines = []
    for wl in added:
        spec = watchlists[wl]
        lines.append(
            f"✅ Subscribed to {wl}{shown_title(spec.title, wl)}."
            + (
                " New matches will arrive here."
                if spec.priority == "instant"
                else " It has no instant alerts: /digest shows today's matches."
            )
        )
    lines += [f"You already follow {wl}." for wl in already]
    return lines


def unsubscribed_text(removed: Sequence[str], absent: Sequence[str]) -> list[str]:
    lines = [f"Unsubscribed from {wl}." for wl in removed]
    lines += [f"You don't follow {wl}." for wl in absent]
    return lines


def mysubs_text(subscribed: Sequence[str], watchlists: Mapping[str, WatchlistSpec]) -> str:
    if not subscribed:
        return "You follow no watchlist yet. /watchlists shows what you can follow."
    lines = [f"You follow {_plural(len(subscribed), 'watchlist')}:"]
    for wl in subscribed:
        spec = watchlists.get(wl)
        if spec is None:
            lines.append(f"• {wl} (no longer available: /unsubscribe {wl})")
        else:
            lines.append(f"• {wl}{shown_title(spec.title, wl)}{_alerts_note(spec)}")
    lines += ["", "Stop one with /unsubscribe WATCHLIST."]
    return "\n".join(lines)


def group_subs_text(
    subscribed: Sequence[tuple[int | None, str]],
    watchlists: Mapping[str, WatchlistSpec],
    here: int | None,
) -> str:
    """``/mysubs`` in a group: every subscription of the chat, by forum topic."""
    if not subscribed:
        return "This group follows no watchlist yet. /watchlists shows what it can follow."
    lines = [f"This group follows {_plural(len(subscribed), 'watchlist')}:"]
    for topic, wl in subscribed:
        spec = watchlists.get(wl)
        where = "the whole group" if topic is None else f"topic {topic}"
        if topic == here:
            where += ", here"
        title = shown_title(spec.title, wl) if spec is not None else " (no longer available)"
        lines.append(f"• {wl}{title} ({where})")
    lines += ["", "Stop one with /unsubscribe WATCHLIST in its topic."]
    return "\n".join(lines)


def group_admins_only(command: str) -> str:
    return f"In a group, only its administrators can use /{command}."


def explanation_gone() -> str:
    return "This alert is too old: why it matched is no longer stored."


def explanation_below() -> str:
    return "Why it matched is in the reply below."


def unknown_command(text: str, is_admin: bool) -> str:
    word = text.split()[0] if text.split() else text
    name = word.lstrip("/").split("@")[0].casefold()
    names = [c.name for c in COMMANDS if is_admin or not c.admin]
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    hint = f" Did you mean /{close[0]}?" if close else ""
    return f"I don't know the command {shown_arg(word)}.{hint} /help lists what I understand."


def not_a_command() -> str:
    return "I only understand commands. /help lists them."


def admin_only(command: str) -> str:
    return f"/{command} is only for the operators of this bot."


def private_only(command: str) -> str:
    return f"/{command} works in a private chat: message me directly."


def slow_down(wait: float) -> str:
    seconds = max(1, round(wait))
    return (
        "Slow down, please: too many commands at once. I'll ignore the next ones for a "
        f"while; try again in {seconds} s."
    )


def no_matches(what: str, window: timedelta) -> str:
    return f"No matches for {what} in the last {format_duration(window)}."


def no_digest_yet(since: datetime, timezone: str) -> str:
    local = since.astimezone(ZoneInfo(timezone))
    return f"Nothing matched your watchlists today (since {local:%H:%M} {local.tzname()})."


def no_subscriptions_for_digest() -> str:
    return "You follow no watchlist, so there is no digest. /watchlists shows what to follow."


def truncated(shown: int, total: int, command: str) -> str:
    return f"Showing the {shown} newest of {total} articles. {command} narrows it down."


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# --- status -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeedTrouble:
    feed: str
    failures: int
    last_success: datetime | None
    error: str | None


@dataclass(frozen=True, slots=True)
class StatusSnapshot:
    """What ``/status`` shows, read from the store and the status providers."""

    now: datetime
    paused: bool
    paused_since: datetime | None
    paused_by: str | None
    feeds: int
    feeds_never_polled: int
    failing: tuple[FeedTrouble, ...]
    outbox: Mapping[str, int]
    """``kind:status`` -> rows."""
    oldest_pending_alert: datetime | None
    unhealthy: tuple[str, ...]
    recent_failures: tuple[str, ...]
    subscribers: int
    subscriptions: int
    extra: tuple[str, ...] = ()


ERROR_CHARS = 160
SHOWN = 5


def _short(text: str, limit: int = ERROR_CHARS) -> str:
    clean = _CONTROL.sub(" ", text).strip()
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def _ago(now: datetime, then: datetime | None) -> str:
    if then is None:
        return "never"
    return format_duration(max(now - then, timedelta(0))) + " ago"


def _more(items: Sequence[str], shown: int = SHOWN) -> list[str]:
    lines = list(items[:shown])
    if len(items) > shown:
        lines.append(f"  … and {len(items) - shown} more")
    return lines


def status_text(s: StatusSnapshot, timezone: str) -> str:
    local = s.now.astimezone(ZoneInfo(timezone))
    lines = [f"monitor status, {local:%Y-%m-%d %H:%M} {local.tzname()}"]
    if s.paused:
        by = f" by {s.paused_by}" if s.paused_by else ""
        lines.append(f"⏸ PAUSED {_ago(s.now, s.paused_since)}{by}: deliveries held, /resume")
    else:
        lines.append("▶ Delivering (/pause holds alerts and digests)")
    ok = s.feeds - len(s.failing) - s.feeds_never_polled
    lines.append("")
    lines.append(
        f"Feeds: {s.feeds} enabled, {ok} ok, {len(s.failing)} failing, "
        f"{s.feeds_never_polled} not polled yet"
    )
    lines += _more(
        [
            f"  ✗ {f.feed}: {f.failures} failures, last ok {_ago(s.now, f.last_success)}: "
            f"{_short(f.error or 'unknown error')}"
            for f in sorted(s.failing, key=lambda f: -f.failures)
        ]
    )
    pending = s.outbox.get("alert:pending", 0)
    oldest = f" (oldest {_ago(s.now, s.oldest_pending_alert)})" if pending else ""
    failed = s.outbox.get("alert:failed", 0) + s.outbox.get("digest:failed", 0)
    lines.append(
        f"Outbox: {pending} alerts pending{oldest}, "
        f"{s.outbox.get('digest:pending', 0)} digest items waiting, {failed} failed"
    )
    lines.append(f"Destinations: {len(s.unhealthy)} unhealthy")
    lines += _more([f"  ✗ {_short(d)}" for d in s.unhealthy])
    lines.append(f"Subscribers: {s.subscribers} ({_plural(s.subscriptions, 'subscription')})")
    if s.recent_failures:
        lines.append("Last errors:")
        lines += [f"  • {_short(e)}" for e in s.recent_failures[:SHOWN]]
    if s.extra:
        lines.append("")
        lines += [_short(e, 400) for e in s.extra]
    return "\n".join(lines)


def paused_text(changed: bool, since: datetime | None, now: datetime) -> str:
    if not changed:
        return f"Already paused ({_ago(now, since)}). /resume to go on."
    return (
        "⏸ Paused: no alert or digest goes out until /resume. Polling goes on and new "
        "matches wait in the outbox; commands keep working."
    )


def resumed_text(changed: bool) -> str:
    if not changed:
        return "Not paused: alerts and digests are going out."
    return "▶ Resumed: alerts and digests go out again; the outbox catches up."


POLL_MAX_FEEDS = 5


def poll_usage(feed_ids: Sequence[str]) -> str:
    shown = ", ".join(feed_ids[:LISTED]) + (", …" if len(feed_ids) > LISTED else "")
    return f"Usage: /poll FEED (up to {POLL_MAX_FEEDS} feed ids). Feeds: {shown or 'none enabled'}."


def poll_unknown(names: Sequence[str]) -> str:
    return f"I don't know the feed {', '.join(shown_arg(n) for n in names)}. /poll lists them."


def poll_unavailable() -> str:
    return "Polling on demand needs the running service (monitor run)."


def poll_result(reports: Sequence[PollReport]) -> str:
    """One line per polled feed: what came, or why nothing did."""
    if not reports:
        return "Nothing was polled (the service is stopping, or the feed is disabled)."
    lines = []
    for r in reports:
        if r.status == "error":
            lines.append(f"✗ {r.feed_id}: failed: {r.error or 'unknown error'}")
        elif r.status == "not_modified":
            lines.append(f"✓ {r.feed_id}: not modified since the last poll")
        else:
            lines.append(f"✓ {r.feed_id}: {_plural(r.new, 'new article')}, {r.matches} matched")
        if r.next_poll is not None:
            lines[-1] += f"; next poll {r.next_poll:%H:%M} UTC"
    return "\n".join(lines)
