"""E-mail digests: a :class:`Digest` becomes a multipart (plain text + HTML) message.

Rendering is pure.  The Message-ID depends only on the recipient and the outbox rows a
digest delivers, so a digest re-sent after a crash or a retry carries the Message-ID of
the first attempt, and mail clients that de-duplicate on it show it once.

:func:`build_email_message` turns the rendered :class:`OutgoingMessage` into an
:class:`email.message.EmailMessage`; both the SMTP sender and the ``.eml`` writer use it.
"""

from __future__ import annotations

import dataclasses
import email.policy
import hashlib
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from urllib.parse import quote, unquote
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape

from monitor.models import (
    Alert,
    AlertItem,
    Digest,
    DigestSection,
    OutgoingMessage,
    Snippet,
    Target,
)
from monitor.render import edition
from monitor.render.cut import cut, shorten

SUBJECT_PREFIX = "EU watch digest"
MAX_SNIPPETS = 2
"""Snippets shown per item and watchlist: enough to see why it matched."""
TITLE_CHARS = 300
"""Titles are cut (with "…") to this many characters: a feed's title has no limit."""
SNIPPET_CHARS = 300
NAME_CHARS = 60
"""Source names and watchlist titles."""
NAMES_SHOWN = 5
"""Sources in "Also reported by" and watchlists in "Also in"; the rest are counted."""
URL_CHARS = 2000
"""A longer link is junk: it is neither shown nor linked."""
SUBJECT_CHARS = 200
MAX_MESSAGE_BYTES = 10 * 1024 * 1024
"""The size a digest e-mail keeps under when the server advertises no SIZE (RFC 1870)."""
TEXT_MARK = ("*", "*")
HTML_MARK = Markup('<mark style="background-color:#fff1a8;font-weight:bold">')

# Locale-independent names: strftime("%a") follows LC_TIME, and a digest in English
# should not turn German because the server's locale is.
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_ENV = Environment(
    loader=PackageLoader("monitor.render", "templates"),
    autoescape=lambda name: name is not None and name.endswith(".html.j2"),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


@dataclass(frozen=True, slots=True)
class _Item:
    title: str
    url: str | None
    source: str
    when: str
    snippets: tuple[str, ...]
    snippets_html: tuple[Markup, ...]
    also: tuple[str, ...]
    other_watchlists: tuple[str, ...]
    more_hits: str = ""
    """"and 24,990 more hits" when the match reported only some of its hits."""
    tags: tuple[str, ...] = ()
    """``stories`` layout: the story's watchlists."""
    sources: str = ""
    """``stories`` layout: "POLITICO Europe, Euractiv and 3 more"."""
    see_above: bool = False
    """``watchlists`` layout: the story was listed in an earlier section."""


@dataclass(frozen=True, slots=True)
class _Section:
    title: str
    items: tuple[_Item, ...]

    @property
    def heading(self) -> str:
        return f"{self.title} ({len(self.items)})"


def render_digest_email(
    digest: Digest, *, mail_from: str, part: tuple[int, int] | None = None
) -> OutgoingMessage:
    """Render ``digest`` as an e-mail to ``digest.target`` from ``mail_from``.

    The subject names the local date of ``digest.period_end`` in ``digest.timezone`` and
    the counts; sections follow ``digest.sections``; empty sections are left out.
    ``part`` (n, of) numbers one message of a digest split by size: "(part 2 of 3)".

    Raises:
        zoneinfo.ZoneInfoNotFoundError: ``digest.timezone`` is not an IANA name.
    """
    zone = ZoneInfo(digest.timezone)
    seen: set[int] = set()
    sections = tuple(_section(s, zone, digest.layout, seen) for s in digest.sections if s.items)
    day = digest.period_end.astimezone(zone).date()
    counts = edition.counts_line(digest)
    numbering = f" (part {part[0]} of {part[1]})" if part else ""
    fallback = f"{SUBJECT_PREFIX}, {format_day(day)}: nothing new"
    subject = edition.subject(
        digest, fallback, edition.SUBJECT_CHARS - (len(numbering) if part else 0)
    )
    if part:
        subject = f"({part[0]}/{part[1]}) {subject}"
    since = format_when(digest.period_start, zone) if digest.period_start else None
    context = {
        "heading": f"{SUBJECT_PREFIX}, {format_day(day)}{numbering}",
        "counts": counts,
        "since": since,
        "sections": sections,
        "destination": digest.target.destination,
        "address": digest.target.address,
        "timezone": digest.timezone,
        "unsubscribe": _unsubscribe_uri(digest.unsubscribe),
        "layout": digest.layout,
        "more": digest.more,
        "more_url": _more_url(digest.more_url),
    }
    text = _ENV.get_template("digest.txt.j2").render(context)
    html = _ENV.get_template("digest.html.j2").render(context)
    outbox_ids = tuple(dict.fromkeys(i.outbox_id for s in digest.sections for i in s.items))
    headers = [("From", mail_from), ("Message-ID", _message_id(digest, outbox_ids, mail_from))]
    # RFC 3834: tells vacation responders not to answer an automated digest.
    headers.append(("Auto-Submitted", "auto-generated"))
    headers.extend(unsubscribe_headers(digest.unsubscribe))
    return OutgoingMessage(
        target=digest.target,
        text=text,
        plain=text,
        outbox_ids=outbox_ids,
        subject=subject,
        html=html,
        headers=tuple(headers),
    )


@dataclass(frozen=True, slots=True)
class DigestEmails:
    """A digest as e-mails that each fit the server's size limit."""

    messages: tuple[OutgoingMessage, ...]
    too_large: tuple[tuple[AlertItem, int], ...] = ()
    """Items that do not fit even alone, with the size of their one-item message."""


SIZE_MARGIN = 0.01
"""Share of the limit kept free for what the transport changes (dot-stuffing)."""


def render_digest_emails(
    digest: Digest, *, mail_from: str, max_bytes: int = MAX_MESSAGE_BYTES
) -> DigestEmails:
    """Render ``digest`` as one e-mail, or as several ("part 1 of 3") when one would be
    larger than ``max_bytes`` (the server's advertised SIZE, RFC 1870).

    Items are never cut in two: a part holds whole items, in the digest's order, and an
    item always travels with every section it is listed in.  An item too large to go
    even alone is returned in ``too_large`` instead (a tiny server limit).

    Raises:
        zoneinfo.ZoneInfoNotFoundError: ``digest.timezone`` is not an IANA name.
    """
    ids = list(dict.fromkeys(i.outbox_id for s in digest.sections for i in s.items))
    budget = max(int(max_bytes * (1 - SIZE_MARGIN)), 1)
    whole = render_digest_email(digest, mail_from=mail_from)
    if not ids or message_size(whole) <= budget:
        return DigestEmails((whole,))
    chunks: list[list[int]] = []
    too_large: list[tuple[AlertItem, int]] = []
    _split(digest, ids, mail_from, budget, chunks, too_large)
    if chunks == [ids]:
        return DigestEmails((whole,))
    # "N more stories" once, at the end of the last part.
    parts = tuple(
        render_digest_email(
            dataclasses.replace(
                digest_subset(digest, chunk), more=digest.more if n == len(chunks) else 0
            ),
            mail_from=mail_from,
            part=(n, len(chunks)),
        )
        for n, chunk in enumerate(chunks, 1)
    )
    return DigestEmails(parts, tuple(too_large))


def _split(
    digest: Digest,
    ids: list[int],
    mail_from: str,
    budget: int,
    chunks: list[list[int]],
    too_large: list[tuple[AlertItem, int]],
) -> None:
    """Append to ``chunks`` the runs of ``ids`` whose message fits ``budget``, in order."""
    sub = digest_subset(digest, ids)
    size = message_size(render_digest_email(sub, mail_from=mail_from))
    if size <= budget:
        chunks.append(ids)
        return
    if len(ids) == 1:
        too_large.append((next(i for s in sub.sections for i in s.items), size))
        return
    # As many even runs as the size says, plus a tenth: one render per level, not a
    # bisection per item; a run still too large is split again.
    runs = min(len(ids), max(2, -(-size * 11 // (budget * 10))))
    step = -(-len(ids) // runs)
    for start in range(0, len(ids), step):
        _split(digest, ids[start : start + step], mail_from, budget, chunks, too_large)


def digest_subset(digest: Digest, ids: Collection[int]) -> Digest:
    """``digest`` with only the items whose outbox row is in ``ids`` (empty sections go)."""
    ids = set(ids)
    sections = (
        DigestSection(s.watchlist, s.title, tuple(i for i in s.items if i.outbox_id in ids))
        for s in digest.sections
    )
    return dataclasses.replace(digest, sections=tuple(s for s in sections if s.items))


_SIZE_DATE = datetime(2000, 1, 1, tzinfo=UTC)


def message_size(message: OutgoingMessage) -> int:
    """Bytes of ``message`` as SMTP carries it (CRLF line ends, encoded parts)."""
    mime = build_email_message(message, date=_SIZE_DATE)
    return len(mime.as_bytes(policy=email.policy.SMTP))


def build_email_message(message: OutgoingMessage, *, date: datetime) -> EmailMessage:
    """Build the MIME message for ``message``: From, To, Date, Message-ID, Subject, the
    extra headers, a text/plain part and, when there is HTML, a text/html alternative.

    ``date`` (timezone-aware) becomes the Date header.  A Message-ID is generated when
    ``message.headers`` has none.

    Raises:
        ValueError: ``message`` is not for an e-mail target, has no From header, or a
            header value is invalid (a line break, for instance).
    """
    if message.target.channel != "email":
        raise ValueError(f"{message.target.destination}: not an e-mail target")
    extra = [(k, v) for k, v in message.headers if k.lower() not in {"from", "message-id"}]
    sender = _header(message, "From")
    if sender is None:
        raise ValueError(f"{message.target.destination}: message has no From header")
    domain = parseaddr(sender)[1].rpartition("@")[2] or None
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = message.target.address
    msg["Date"] = format_datetime(date.astimezone(UTC))
    msg["Message-ID"] = _header(message, "Message-ID") or make_msgid("monitor", domain)
    msg["Subject"] = message.subject or ""
    for name, value in extra:
        msg[name] = value
    msg.set_content(message.text, charset="utf-8")
    if message.html is not None:
        msg.add_alternative(message.html, subtype="html", charset="utf-8")
    return msg


def unsubscribe_headers(uri: str | None) -> list[tuple[str, str]]:
    """``List-Unsubscribe`` (RFC 2369) for ``uri``, plus ``List-Unsubscribe-Post``
    (RFC 8058 one-click) when it is an https URI; nothing without a ``mailto:``,
    ``https:`` or ``http:`` URI."""
    uri = _unsubscribe_uri(uri)
    if uri is None:
        return []
    headers = [("List-Unsubscribe", f"<{uri}>")]
    if uri.lower().startswith("https://"):
        headers.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    return headers


def count_articles(digest: Digest) -> int:
    """Distinct articles in ``digest``: one matching two watchlists counts once."""
    return len({(i.article.feed_id, i.article.key) for s in digest.sections for i in s.items})


def highlight_text(snippet: Snippet, mark: tuple[str, str] = TEXT_MARK) -> str:
    """The snippet with every marked span wrapped in ``mark`` (overlaps merged)."""
    parts: list[str] = []
    for segment, marked in _segments(snippet):
        parts.append(f"{mark[0]}{segment}{mark[1]}" if marked else segment)
    return "".join(parts)


def highlight_html(snippet: Snippet) -> Markup:
    """The snippet escaped for HTML, every marked span inside ``<mark>``."""
    out = Markup()
    for segment, marked in _segments(snippet):
        if marked:
            out += HTML_MARK + escape(segment) + Markup("</mark>")
        else:
            out += escape(segment)
    return out


def format_day(day: date) -> str:
    """``Mon 30 Nov 2026``, whatever the process locale."""
    return f"{_DAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]} {day.year}"


def format_when(moment: datetime, zone: ZoneInfo) -> str:
    """``Sun 29 Nov, 14:05 CET``: ``moment`` on the recipient's wall clock."""
    local = moment.astimezone(zone)
    day = f"{_DAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]}"
    return f"{day}, {local:%H:%M} {local.tzname()}"


def _counts(articles: int, watchlists: int) -> str:
    if not articles:
        return ""
    return f"{_plural(articles, 'article')} in {_plural(watchlists, 'watchlist')}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _section(
    section: DigestSection, zone: ZoneInfo, layout: str = "watchlists", seen: set[int] | None = None
) -> _Section:
    seen = set() if seen is None else seen
    items = []
    for item in section.items:
        items.append(_item(item, section.watchlist, zone, layout, item.outbox_id in seen))
        seen.add(item.outbox_id)
    return _Section(title=cut(section.title, NAME_CHARS) or section.watchlist, items=tuple(items))


def _item(
    item: AlertItem,
    watchlist: str,
    zone: ZoneInfo,
    layout: str = "watchlists",
    see_above: bool = False,
) -> _Item:
    article = item.article
    url = (article.canonical_url or article.url or "").strip()
    stories = layout == "stories"
    if stories:
        best = edition.best_snippet(item, SNIPPET_CHARS)
        snippets = [best] if best is not None else []
    else:
        snippets = [] if see_above else _snippets(item, watchlist)
    # The stories layout has no one watchlist: the largest remainder of any match.
    matches = [m for m in item.matches if m.watchlist == watchlist] or list(item.matches)
    more = 0 if see_above else max((m.more_hits for m in matches), default=0)
    others = tuple(
        title
        for match, title in zip(item.matches, item.watchlist_titles, strict=False)
        if match.watchlist != watchlist
    )
    return _Item(
        tags=edition.tags(item) if stories else (),
        sources=edition.sources_line(item) if stories else "",
        see_above=see_above,
        title=cut(_one_line(article.title, TITLE_CHARS + 1), TITLE_CHARS) or "(untitled)",
        # Feed links are untrusted: only web links become clickable.
        url=url if len(url) <= URL_CHARS and _WEB_URL.fullmatch(url) else None,
        source=cut(item.source, NAME_CHARS),
        when=format_when(article.published, zone) if article.published else "",
        snippets=tuple(highlight_text(s) for s in snippets),
        snippets_html=tuple(highlight_html(s) for s in snippets),
        also=() if stories else _names(item.also),
        other_watchlists=() if stories else _names(others),
        more_hits=f"and {more:,} more hits" if more else "",
    )


_WEB_URL = re.compile(r"https?://\S+", re.IGNORECASE)
_WORD = re.compile(r"\S+")


def _more_url(url: str | None) -> str | None:
    return url if url and len(url) <= URL_CHARS and _WEB_URL.fullmatch(url) else None


def _one_line(text: str, limit: int) -> str:
    """The words of ``text`` joined by single spaces, stopping past ``limit``
    characters: a megabyte title is never split into a megabyte of words."""
    out: list[str] = []
    length = 0
    for word in _WORD.finditer(text):
        out.append(word.group())
        length += len(out[-1]) + 1
        if length > limit:
            break
    return " ".join(out)


def _names(names: tuple[str, ...]) -> tuple[str, ...]:
    """At most :data:`NAMES_SHOWN` names, each cut to :data:`NAME_CHARS`, then "N more"."""
    shown = tuple(cut(n, NAME_CHARS) for n in names[:NAMES_SHOWN])
    rest = len(names) - NAMES_SHOWN
    return (*shown, f"and {rest} more") if rest > 0 else shown


def _snippets(item: AlertItem, watchlist: str) -> list[Snippet]:
    """Distinct snippets of the hits for ``watchlist`` (all hits if it has none), the
    marks of hits that share a snippet merged into one."""
    matches = [m for m in item.matches if m.watchlist == watchlist] or list(item.matches)
    marks: dict[str, list[tuple[int, int]]] = {}
    for match in matches:
        for hit in match.hits:
            text = hit.snippet.text
            if text.strip() and not edition.repeats_title(text, item.article.title):
                marks.setdefault(text, []).extend(hit.snippet.marks)
    out = []
    for text, spans in list(marks.items())[:MAX_SNIPPETS]:
        short, kept = shorten(text, spans, SNIPPET_CHARS)
        out.append(Snippet(short, tuple(kept)))
    return out


def _segments(snippet: Snippet) -> Iterable[tuple[str, bool]]:
    text = snippet.text
    spans = sorted((max(0, s), min(len(text), e)) for s, e in snippet.marks)
    merged: list[list[int]] = []
    for start, end in spans:
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    pos = 0
    for start, end in merged:
        if start > pos:
            yield text[pos:start], False
        yield text[start:end], True
        pos = end
    if pos < len(text):
        yield text[pos:], False


def unsubscribe_mailto(mail_from: str, destination: str) -> str | None:
    """``mailto:ADDRESS?subject=unsubscribe%20DESTINATION`` with the bare address of
    ``mail_from`` (which may be ``Name <addr>``); None without an address."""
    address = parseaddr(mail_from)[1]
    if not _BARE_ADDRESS.fullmatch(address):
        return None
    return f"mailto:{quote(address, safe='@')}?subject={quote('unsubscribe ' + destination)}"


# RFC 6068 addr-spec in a mailto: no display name, no angle brackets, no white space.
_BARE_ADDRESS = re.compile(r"[^\s<>@\"(),;:]+@[^\s<>@\"(),;:?]+")


def _unsubscribe_uri(uri: str | None) -> str | None:
    ok = uri and uri.lower().startswith(("mailto:", "https://", "http://"))
    if ok and uri and uri.lower().startswith("mailto:"):
        address = unquote(uri[len("mailto:") :].partition("?")[0])
        ok = bool(_BARE_ADDRESS.fullmatch(address))
    return uri if ok else None


def _header(message: OutgoingMessage, name: str) -> str | None:
    return next((v for k, v in message.headers if k.lower() == name.lower()), None)


def _message_id(digest: Digest, outbox_ids: tuple[int, ...], mail_from: str) -> str:
    # Keyed on the outbox rows, not the send time, so that a retry of the same rows is
    # the same message; only an empty digest has nothing but its period to go by.
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "monitor.invalid"
    what = ",".join(map(str, sorted(outbox_ids))) or digest.period_end.astimezone(UTC).isoformat()
    key = "|".join([digest.target.destination, digest.target.address, what])
    return f"<digest.{hashlib.sha256(key.encode()).hexdigest()[:24]}@{domain}>"


def render_alert_email(alert: Alert, *, mail_from: str, now: datetime) -> OutgoingMessage:
    """An instant alert by e-mail: the digest layout, with the alert's own subject."""
    by_wl: dict[str, list[AlertItem]] = {}
    titles: dict[str, str] = {}
    for item in alert.items:
        for match, title in zip(item.matches, item.watchlist_titles, strict=False):
            by_wl.setdefault(match.watchlist, []).append(item)
            titles[match.watchlist] = title
    sections = tuple(DigestSection(wl, titles[wl], tuple(items)) for wl, items in by_wl.items())
    digest = Digest(target=alert.target, timezone=alert.timezone, period_end=now, sections=sections)
    message = render_digest_email(digest, mail_from=mail_from)
    first = alert.items[0].article.title if alert.items else ""
    watch = ", ".join(titles.values())
    if len(alert.items) == 1:
        subject = f"[{watch}] {first}"
    else:
        subject = f"[{watch}] {len(alert.items)} new articles, first: {first}"
    return dataclasses.replace(message, subject=" ".join(subject.split())[:200])


def render_test_email(
    target: Target, *, mail_from: str, now: datetime, timezone: str = "Europe/Brussels"
) -> OutgoingMessage:
    """The message ``monitor send-test`` sends to check an e-mail destination."""
    local = format_when(now, ZoneInfo(timezone))
    text = (
        f"monitor test message\n\nDestination {target.destination} ({target.address}) "
        f"works. Sent {local}.\n"
    )
    digest_id = hashlib.sha256(f"{target.address}|{now.isoformat()}".encode()).hexdigest()[:16]
    domain = mail_from.rpartition("@")[2].strip("> ") or "localhost"
    return OutgoingMessage(
        target=target,
        text=text,
        plain=text,
        outbox_ids=(),
        subject="monitor test message",
        headers=(
            ("From", mail_from),
            ("Message-ID", f"<test.{digest_id}@{domain}>"),
            ("Auto-Submitted", "auto-generated"),
        ),
    )
