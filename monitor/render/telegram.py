"""Telegram messages: alerts and digests in Telegram's HTML subset, with a plain twin.

Telegram rejects a message longer than 4096 characters *after* parsing its entities,
counted in UTF-16 code units (an emoji outside the BMP counts 2).  Every piece here is a
:class:`_Text` that carries its HTML, the text Telegram will show for it and the plain
fallback, so both lengths are exact by construction instead of guessed from the markup.
Messages are split between items, never inside one; an item that is too long on its
own loses snippet text at a word boundary, never a tag.
"""

from __future__ import annotations

import dataclasses
import html
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from jinja2 import TemplateError

from monitor.match.prominence import MAIN_TOPIC
from monitor.models import (
    Alert,
    AlertItem,
    Button,
    Digest,
    DigestSection,
    Match,
    OutgoingMessage,
    Snippet,
    Target,
)
from monitor.render import edition, telegram_template
from monitor.render.cut import shorten as _shorten
from monitor.render.telegram_explain import MAX_BUTTONS, why_button

MAX_LENGTH = 4096
"""Telegram's limit for a text message, in UTF-16 code units after entity parsing."""
DIGEST_TITLE = "EU watch digest"
TITLE_CHARS = 300
NAME_CHARS = 60
NAMES_SHOWN = 5
URL_CHARS = 2000
"""Longer links are not linked: they are junk, and they would crowd the plain fallback."""

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Control characters and line separators would break the layout (a title is one line);
# each becomes one space so that hit offsets stay valid.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_WEB_URL = re.compile(r"^https?://[^\s\x00-\x1f\x7f]+$", re.IGNORECASE)
_SPACE = re.compile(r"\s")
log = logging.getLogger(__name__)


def utf16_len(text: str) -> int:
    """The length Telegram counts: UTF-16 code units."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


@dataclass(frozen=True, slots=True)
class _Text:
    html: str = ""
    shown: str = ""
    """What Telegram displays for ``html`` once it has parsed the entities."""
    plain: str = ""

    def __add__(self, other: _Text) -> _Text:
        return _Text(self.html + other.html, self.shown + other.shown, self.plain + other.plain)

    @property
    def sizes(self) -> tuple[int, int]:
        return utf16_len(self.shown), utf16_len(self.plain)


def _t(text: str) -> _Text:
    return _Text(html.escape(text, quote=False), text, text)


def _tag(name: str, inner: _Text) -> _Text:
    return _Text(f"<{name}>{inner.html}</{name}>", inner.shown, inner.plain)


def _join(parts: Iterable[_Text], sep: str) -> _Text:
    out = _Text()
    for i, part in enumerate(parts):
        out = out + (_t(sep) if i else _Text()) + part
    return out


def _fits(used: tuple[int, int], extra: tuple[int, int]) -> bool:
    return used[0] + extra[0] <= MAX_LENGTH and used[1] + extra[1] <= MAX_LENGTH


def _add(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    return a[0] + b[0], a[1] + b[1]


# --- words and marks -----------------------------------------------------------------


def _clean(text: str) -> str:
    return _CONTROL.sub(" ", text)


def _merge(spans: Iterable[tuple[int, int]], length: int) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted((max(s, 0), min(e, length)) for s, e in spans):
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _marked(text: str, spans: Iterable[tuple[int, int]]) -> _Text:
    """``text`` with every span in bold (overlapping spans merged)."""
    out, pos = _Text(), 0
    for start, end in _merge(spans, len(text)):
        out = out + _t(text[pos:start]) + _tag("b", _t(text[start:end]))
        pos = end
    return out + _t(text[pos:])


def _short(text: str, limit: int) -> str:
    return _shorten(_clean(text).strip(), (), limit)[0]


# --- time ---------------------------------------------------------------------------


def _local(moment: datetime, zone: ZoneInfo) -> datetime:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(zone)


def _day(local: datetime) -> str:
    return f"{_DAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]}"


def _when(moment: datetime, zone: ZoneInfo, ref: datetime) -> str:
    """``14:05 CET`` on ``ref``'s day, else ``Sun 29 Nov, 14:05 CET`` (year if not ``ref``'s)."""
    local = _local(moment, zone)
    clock = f"{local:%H:%M} {local.tzname()}"
    if local.date() == ref.date():
        return clock
    year = f" {local.year}" if local.year != ref.year else ""
    return f"{_day(local)}{year}, {clock}"


# --- one item -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Style:
    snippets: int
    snippet_chars: int
    watchlists: bool
    """Digest sections already name the watchlist; alerts list them per item."""
    sources: bool = False
    """``stories`` layout: "POLITICO Europe, Euractiv and 3 more" instead of "also:"."""


_ALERT = _Style(snippets=2, snippet_chars=300, watchlists=True)
_BURST = _Style(snippets=1, snippet_chars=160, watchlists=True)
"""A burst of more than ``BURST`` items is shown compactly: a few messages, not a flood."""
_DIGEST = _Style(snippets=1, snippet_chars=200, watchlists=False)
_STORIES = _Style(snippets=1, snippet_chars=200, watchlists=True, sources=True)
"""The ``stories`` layout: sections are not watchlists, so each entry names its own."""
BURST = 3


def _alert_style(alert: Alert) -> _Style:
    style = _ALERT if len(alert.items) <= BURST else _BURST
    # The snippets are the explanation; "button" moves it behind the "Why?" button.
    return style if alert.explain == "inline" else dataclasses.replace(style, snippets=0)


def _buttons(alert: Alert, items: Sequence[AlertItem]) -> tuple[Button, ...]:
    if alert.explain != "button":
        return ()
    if len(items) == 1:
        return (why_button(items[0].outbox_id),)
    return tuple(why_button(i.outbox_id, _clean(i.article.title)) for i in items)


def _link_url(item: AlertItem) -> str | None:
    # The cleaned canonical link first (issue 17): the digest shows it too.
    for url in (item.article.canonical_url, item.article.url):
        if url and len(url) <= URL_CHARS and _WEB_URL.match(url.strip()):
            return url.strip()
    return None


def _snippets(item: AlertItem) -> list[Snippet]:
    """Distinct snippets of the item's hits outside the title (shown already), marks
    merged; the start of the summary when no hit has one."""
    by_text: dict[str, list[tuple[int, int]]] = {}
    title = item.article.title
    for match in item.matches:
        for hit in match.hits:
            text = _clean(hit.snippet.text)
            # A summary that only repeats the headline says nothing (issue 17).
            if hit.field != "title" and text.strip() and not edition.repeats_title(text, title):
                by_text.setdefault(text, []).extend(hit.snippet.marks)
    summary = _clean(item.article.summary[:4000]).strip()
    if not by_text and summary and not edition.repeats_title(summary, title):
        by_text[summary] = []
    return [Snippet(text, tuple(marks)) for text, marks in by_text.items()]


def _names(names: Sequence[str]) -> str:
    shown = [_short(n, NAME_CHARS) for n in names[:NAMES_SHOWN]]
    more = f" +{len(names) - NAMES_SHOWN}" if len(names) > NAMES_SHOWN else ""
    return ", ".join(shown) + more


def _shown_title(item: AlertItem, title_chars: int) -> tuple[str, list[tuple[int, int]]]:
    """The cleaned title cut to ``title_chars`` and its hit spans, "(untitled)" if none."""
    title = _clean(item.article.title)
    lead = len(title) - len(title.lstrip())
    spans = [(s - lead, e - lead) for s, e in _title_spans(item, title)]
    title = title.strip()
    if not title:
        title, spans = "(untitled)", []
    return _shorten(title, spans, title_chars)


def _item(
    item: AlertItem,
    style: _Style,
    zone: ZoneInfo,
    ref: datetime,
    snippet_chars: int,
    title_chars: int,
) -> _Text:
    """Title (a link, hits in bold), source · time · watchlists, snippets, "also:"."""
    article = item.article
    title, spans = _shown_title(item, title_chars)
    heading = _marked(title, spans)
    url = _link_url(item)
    if url is not None:
        heading = _Text(
            f'<a href="{html.escape(url, quote=True)}">{heading.html}</a>',
            heading.shown,
            heading.plain + "\n" + url,
        )
    if style.sources:
        meta = [_clean(edition.sources_line(item)) or article.feed_id]
    else:
        meta = [_short(item.source, NAME_CHARS) or article.feed_id]
    if article.published is not None:
        meta.append(_when(article.published, zone, ref))
    if style.watchlists and item.watchlist_titles:
        meta.append(_names(item.watchlist_titles))
    if _prominence_label(item.matches) == "mentioned":
        # A passing mention (issue 18): the main topic is the norm and goes unsaid.
        meta.append("mentioned")
    line = " · ".join(m for m in meta if m)
    lines = [heading, _t(line)] if line else [heading]
    if snippet_chars > 0:
        for snippet in _snippets(item)[: style.snippets]:
            text, marks = _shorten(snippet.text.strip(), _strip_marks(snippet), snippet_chars)
            lines.append(_marked(text, marks))
    more = _more_hits(item.matches)
    if more:
        lines.append(_tag("i", _t(f"and {more:,} more hits")))
    if item.also and not style.sources:
        lines.append(_tag("i", _t(f"also: {_names(item.also)}")))
    if item.hashtags:
        lines.append(_t(_hashtags(item)))
    return _join(lines, "\n")


def _prominence_label(matches: Sequence[Match]) -> str:
    """``main topic`` when any watchlist's match is prominent, else ``mentioned``."""
    best = max((m.prominence for m in matches), default=1.0)
    return "main topic" if best >= MAIN_TOPIC else "mentioned"


def _more_hits(matches: Sequence[Match]) -> int:
    """Hits found but not reported (a match keeps a few per field, ``Match.hit_count``)."""
    return max((m.more_hits for m in matches), default=0)


def _hashtags(item: AlertItem) -> str:
    return " ".join(f"#{tag}" for tag in dict.fromkeys(item.hashtags))


def _templated(
    item: AlertItem,
    template: str,
    style: _Style,
    zone: ZoneInfo,
    ref: datetime,
    snippet_chars: int,
    title_chars: int,
) -> _Text:
    """The item laid out by the destination's template (variables: docs/keywords.md)."""
    article = item.article
    title, spans = _shown_title(item, title_chars)
    snippets = []
    if snippet_chars > 0:
        for snippet in _snippets(item)[: style.snippets]:
            text, marks = _shorten(snippet.text.strip(), _strip_marks(snippet), snippet_chars)
            snippets.append(telegram_template.markup(text, _merge(marks, len(text))))
    url = _link_url(item)
    summary = _short(article.summary, snippet_chars) if snippet_chars > 0 else ""
    variables = {
        "title": title,
        "title_html": telegram_template.markup(title, _merge(spans, len(title))),
        "url": url or "",
        "source": _short(item.source, NAME_CHARS) or article.feed_id,
        "published": _when(article.published, zone, ref) if article.published else "",
        "watchlists": [_short(t, NAME_CHARS) for t in item.watchlist_titles],
        "snippets": snippets,
        "summary": summary,
        "also": [_short(a, NAME_CHARS) for a in item.also],
        "hashtags": _hashtags(item),
        "terms": list(dict.fromkeys(h.term for m in item.matches for h in m.hits)),
        "more_hits": f"and {more:,} more hits" if (more := _more_hits(item.matches)) else "",
        "prominence": _prominence_label(item.matches),
    }
    try:
        out = telegram_template.render(template, variables)
    except TemplateError as exc:
        # Checked at load on sample values; a value of another shape must not lose
        # the alert: the standard layout goes instead.
        log.warning("telegram: template failed (%s); standard layout used", exc)
        return _item(item, style, zone, ref, snippet_chars, title_chars)
    shown = telegram_template.shown_text(out)
    plain = shown if url is None or url in shown else f"{shown}\n{url}"
    return _Text(out, shown, plain)


def _title_spans(item: AlertItem, title: str) -> list[tuple[int, int]]:
    """Where the title's hits are; a hit whose offsets do not point at its text (the
    title was edited since matching) is looked up by its text instead."""
    spans: list[tuple[int, int]] = []
    for hit in (h for m in item.matches for h in m.hits if h.field == "title"):
        start = hit.start if title[hit.start : hit.end] == hit.text else title.find(hit.text)
        if hit.text and start >= 0:
            spans.append((start, start + len(hit.text)))
    return spans


def _strip_marks(snippet: Snippet) -> list[tuple[int, int]]:
    lead = len(snippet.text) - len(snippet.text.lstrip())
    return [(s - lead, e - lead) for s, e in snippet.marks]


def _fitted(
    item: AlertItem,
    style: _Style,
    zone: ZoneInfo,
    ref: datetime,
    room: tuple[int, int],
    snippet_chars: int | None = None,
    template: str | None = None,
) -> _Text:
    """The item, its snippets (then its title) shortened until it fits in ``room``."""
    chars = style.snippet_chars if snippet_chars is None else snippet_chars
    title = TITLE_CHARS
    while True:
        if template is None:
            block = _item(item, style, zone, ref, chars, title)
        else:
            block = _templated(item, template, style, zone, ref, chars, title)
        over = max(block.sizes[0] - room[0], block.sizes[1] - room[1])
        if over <= 0:
            return block
        if chars > 0:
            chars = max(chars - over - 1, 0) if chars > over + 20 else 0
        elif title > 1:
            title = max(title - over - 1, 1)
        else:
            return block  # unreachable with the caps above; the sender reports the rest


# --- alerts -------------------------------------------------------------------------

_BELL = "🔔 "


def _alert_header(count: int) -> _Text:
    return _t(_BELL) + _tag("b", _t(f"{count} new matches"))


def _alert_text(blocks: Sequence[_Text]) -> _Text:
    if len(blocks) == 1:
        return _t(_BELL) + blocks[0]
    return _join([_alert_header(len(blocks)), *blocks], "\n\n")


def _message(
    target: Target,
    text: _Text,
    items: Iterable[AlertItem],
    edit_of: str | None = None,
    buttons: tuple[Button, ...] = (),
) -> OutgoingMessage:
    ids = tuple(dict.fromkeys(i.outbox_id for i in items))
    return OutgoingMessage(
        target=target,
        text=text.html,
        plain=text.plain,
        outbox_ids=ids,
        edit_of=edit_of,
        buttons=buttons,
    )


def render_alert(alert: Alert, *, now: datetime) -> list[OutgoingMessage]:
    """The alert's items as few messages as the limit allows: one item is one message,
    a burst is grouped under "🔔 N new matches" and split between items.

    Times are shown in ``alert.timezone`` ("14:05 CET" when on ``now``'s day).  With
    ``alert.explain == "button"`` each item gets a "Why?" button (at most
    ``MAX_BUTTONS`` items, so buttons, per message); ``alert.template`` lays items out.

    Raises:
        zoneinfo.ZoneInfoNotFoundError: ``alert.timezone`` is not an IANA name.
    """
    zone = ZoneInfo(alert.timezone)
    ref = _local(now, zone)
    style = _alert_style(alert)
    reserve = _alert_header(len(alert.items)).sizes
    room = (MAX_LENGTH - reserve[0] - 2, MAX_LENGTH - reserve[1] - 2)
    groups: list[list[tuple[AlertItem, _Text]]] = []
    used = reserve
    full = MAX_BUTTONS if alert.explain == "button" else len(alert.items)
    for item in alert.items:
        block = _fitted(item, style, zone, ref, room, template=alert.template)
        cost = _add(block.sizes, (2, 2))
        if not groups or not _fits(used, cost) or len(groups[-1]) >= full:
            groups.append([])
            used = reserve
        groups[-1].append((item, block))
        used = _add(used, cost)
    return [
        _message(
            alert.target,
            _alert_text([b for _, b in g]),
            [i for i, _ in g],
            buttons=_buttons(alert, [i for i, _ in g]),
        )
        for g in groups
    ]


def render_story_update(alert: Alert, *, now: datetime, edit_of: str) -> OutgoingMessage:
    """The message ``edit_of`` re-rendered with its items' ``also`` sources, as an edit.

    ``alert.items`` are the items that message holds.  Snippets shrink until the whole
    text fits in one message.

    Raises:
        ValueError: the items cannot fit in one message even without snippets.
        zoneinfo.ZoneInfoNotFoundError: ``alert.timezone`` is not an IANA name.
    """
    zone = ZoneInfo(alert.timezone)
    ref = _local(now, zone)
    style = _alert_style(alert)
    chars = style.snippet_chars
    room = (MAX_LENGTH, MAX_LENGTH)
    while True:
        blocks = [_fitted(i, style, zone, ref, room, chars, alert.template) for i in alert.items]
        text = _alert_text(blocks)
        if _fits(text.sizes, (0, 0)):
            # An edit without reply_markup would take the "Why?" buttons away.
            buttons = _buttons(alert, alert.items)
            return _message(alert.target, text, alert.items, edit_of=edit_of, buttons=buttons)
        if chars == 0:
            raise ValueError(
                f"{alert.target.destination}: story update does not fit in one telegram message"
            )
        chars = chars * 2 // 3 if chars > 30 else 0


# --- digests ------------------------------------------------------------------------


def _digest_header(
    digest: Digest, zone: ZoneInfo, part: int, parts: int, title: str = DIGEST_TITLE
) -> _Text:
    day = _local(digest.period_end, zone)
    numbering = f" ({part}/{parts})" if parts > 1 else ""
    head = _t("📰 ") + _tag("b", _t(f"{title}, {_day(day)} {day.year}")) + _t(numbering)
    if part > 1:
        return head
    articles = {(i.article.feed_id, i.article.key) for s in digest.sections for i in s.items}
    sections = sum(1 for s in digest.sections if s.items)
    if not articles:
        return head + _t("\nNo new matches.")
    counts = f"{_plural(len(articles), 'article')} in {_plural(sections, 'watchlist')}"
    if digest.stories:  # an edition (issue 17): stories and the busiest watchlists
        counts = edition.counts_line(digest)
    return head + _t("\n" + counts)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _heading(section: DigestSection, continued: bool) -> _Text:
    more = ", continued" if continued else ""
    title = _short(section.title, NAME_CHARS) or section.watchlist
    return _tag("b", _t(title)) + _t(f" ({len(section.items)}{more})")


@dataclass(frozen=True, slots=True)
class _Entry:
    section: int
    first: bool
    """The section's first item (its heading says nothing of "continued")."""
    item: AlertItem
    block: _Text


def render_digest(digest: Digest, *, title: str = DIGEST_TITLE) -> list[OutgoingMessage]:
    """The digest as Telegram messages: a header, then each non-empty section's items
    under its heading; split between items into parts numbered "(1/3)", and a section
    that goes on in the next part is headed again, "continued".

    A digest with no items is one "No new matches." message (whether an empty day is
    sent at all is the caller's decision).

    Raises:
        zoneinfo.ZoneInfoNotFoundError: ``digest.timezone`` is not an IANA name.
    """
    zone = ZoneInfo(digest.timezone)
    ref = _local(digest.period_end, zone)
    sections = [s for s in digest.sections if s.items]
    total = sum(len(s.items) for s in sections)
    # Part 1 has the longest header (counts), numbered as if every item were a part.
    reserve = _digest_header(digest, zone, 1, max(total, 2), title).sizes
    heads = [_add(_heading(s, True).sizes, (1, 1)) for s in sections]
    widest = max(heads, default=(0, 0))
    room = (MAX_LENGTH - reserve[0] - widest[0] - 2, MAX_LENGTH - reserve[1] - widest[1] - 2)
    parts: list[list[_Entry]] = [[]]
    used = reserve
    style = _STORIES if digest.layout == "stories" else _DIGEST
    seen: set[int] = set()
    for si, section in enumerate(sections):
        for ii, item in enumerate(section.items):
            if item.outbox_id in seen:  # ``watchlists`` layout: listed in a section above
                block = _t(f"{_short(item.article.title, 80) or '(untitled)'} (see above)")
            else:
                block = _fitted(item, style, zone, ref, room)
            seen.add(item.outbox_id)
            entry = _Entry(si, ii == 0, item, block)
            new_run = not parts[-1] or parts[-1][-1].section != si
            cost = _add(entry.block.sizes, _add((2, 2), heads[si] if new_run else (0, 0)))
            if parts[-1] and not _fits(used, cost):
                parts.append([])
                used = reserve
                cost = _add(entry.block.sizes, _add((2, 2), heads[si]))
            parts[-1].append(entry)
            used = _add(used, cost)
    if digest.more:
        word = "story" if digest.more == 1 else "stories"
        more = _t(f"\n\n{digest.more} more {word} not shown.")
        url = digest.more_url
        if url and len(url) <= URL_CHARS and _WEB_URL.match(url):
            link = _Text(
                f'<a href="{html.escape(url, quote=True)}">see them all</a>', "see them all", url
            )
            more = _t(f"\n\n{digest.more} more {word} not shown: ") + link
        if not _fits(used, more.sizes):
            parts.append([])
        more_text = more
    else:
        more_text = _Text()
    messages = [
        _message(
            digest.target,
            _digest_part(digest, zone, n + 1, len(parts), part, sections, title),
            [e.item for e in part],
        )
        for n, part in enumerate(parts)
    ]
    if more_text.html:
        last = messages[-1]
        messages[-1] = dataclasses.replace(
            last, text=last.text + more_text.html, plain=last.plain + more_text.plain
        )
    return messages


def _digest_part(
    digest: Digest,
    zone: ZoneInfo,
    part: int,
    parts: int,
    entries: Sequence[_Entry],
    sections: Sequence[DigestSection],
    title: str = DIGEST_TITLE,
) -> _Text:
    text = _digest_header(digest, zone, part, parts, title)
    for i, entry in enumerate(entries):
        text = text + _t("\n\n")
        if i == 0 or entries[i - 1].section != entry.section:
            text = text + _heading(sections[entry.section], not entry.first) + _t("\n")
        text = text + entry.block
    return text


# --- test message -------------------------------------------------------------------


def render_test_message(
    target: Target, *, now: datetime, timezone: str = "Europe/Brussels"
) -> OutgoingMessage:
    """The message ``monitor send-test`` sends to check a destination."""
    local = _local(now, ZoneInfo(timezone))
    text = (
        _t("✅ ")
        + _tag("b", _t("monitor test message"))
        + _t("\n")
        + _t(f"Destination {target.destination} ({target.address}) works. ")
        + _t(f"Sent {_day(local)} {local.year}, {local:%H:%M} {local.tzname()}.")
    )
    return _message(target, text, ())
