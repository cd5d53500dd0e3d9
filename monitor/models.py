"""Typed values passed between pipeline stages, named by their place in the flow.

config -> ``FeedSpec``; storage -> ``FeedState``; fetch -> ``FetchResult``;
parse -> ``ParsedFeed`` of ``Article``; match -> ``Match`` of ``Hit``.

All are frozen: a stage returns new values, it never mutates what it was given.
Times are timezone-aware UTC ``datetime`` values.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

FetchOutcome = Literal["ok", "not_modified", "error"]
Field = Literal["title", "summary", "content", "body"]
FIELDS: tuple[Field, ...] = ("title", "summary", "content", "body")
"""``body`` is the article page's text, fetched when the feed carries only a teaser
(``FeedSpec.fulltext``); empty otherwise."""
FullText = Literal["always", "auto", "never"]

_T = TypeVar("_T")


class _Factory:
    """In a quick ``__init__``'s signature: the field's ``default_factory`` makes its value."""

    def __repr__(self) -> str:
        return "<factory>"  # as dataclasses shows it


_FACTORY = _Factory()


def _quick_init(cls: type[_T]) -> type[_T]:
    """Give the frozen, slotted dataclass ``cls`` an ``__init__`` that sets each field
    through its slot's descriptor, with the same signature, defaults, default factories
    and ``__post_init__`` as the one ``dataclass`` writes.

    Why: that one calls ``object.__setattr__`` by name for every field (the price of
    ``frozen``), and the values built once per feed item or per match pay it on every
    item: an ``Article`` cost 1.9 us to build, 1.4 us this way (issues 15 and 18).
    """
    fields = [f for f in dataclasses.fields(cls) if f.init]  # type: ignore[arg-type]
    slots = cls.__dict__.get("__slots__", ())
    if not fields or any(f.kw_only for f in fields) or len(fields) != len(slots):
        raise TypeError(f"{cls.__name__}: not a plain frozen, slotted dataclass")
    names: dict[str, object] = {"_FACTORY": _FACTORY}
    params, body = [], []
    for i, f in enumerate(fields):
        names[f"_set{i}"] = cls.__dict__[f.name].__set__
        if f.default is not dataclasses.MISSING:
            names[f"_default{i}"] = f.default
            params.append(f"{f.name}=_default{i}")
        elif f.default_factory is not dataclasses.MISSING:
            names[f"_factory{i}"] = f.default_factory
            params.append(f"{f.name}=_FACTORY")
            body.append(f"    if {f.name} is _FACTORY: {f.name} = _factory{i}()")
        else:
            params.append(f.name)
        body.append(f"    _set{i}(self, {f.name})")
    if hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()")
    source = (
        f"def _make({', '.join(names)}):\n"
        f"  def __init__(self, {', '.join(params)}):\n"
        + "\n".join("  " + line for line in body)
        + "\n  return __init__\n"
    )
    scope: dict[str, Any] = {}
    exec(source, scope)  # as dataclasses writes its own __init__
    init = scope["_make"](**names)
    generated = cls.__init__
    init.__qualname__ = generated.__qualname__
    init.__annotations__ = generated.__annotations__
    init.__doc__ = generated.__doc__
    cls.__init__ = init  # type: ignore[method-assign]
    return cls


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """One feed as configured in ``feeds.yaml`` (defaults already applied)."""

    id: str
    url: str
    name: str | None = None
    interval: timedelta = timedelta(minutes=15)
    language: str | None = None
    tags: tuple[str, ...] = ()
    enabled: bool = True
    timeout: timedelta = timedelta(seconds=30)
    max_size: int = 5 * 1024 * 1024
    backfill: int | None = 3
    """On a feed's first successful poll, at most this many of the newest matching
    articles raise instant alerts (``None``: all); the rest are recorded silently."""
    fulltext: FullText = "auto"
    """Fetch new articles' pages: always, never, or when the feed's text is a teaser."""

    @property
    def label(self) -> str:
        return self.name or self.id


@dataclass(frozen=True, slots=True)
class FeedState:
    """What storage remembers about a feed between polls."""

    feed_id: str
    url: str
    """The URL to poll: the configured one, or where a permanent redirect moved it."""
    configured_url: str
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    last_attempt: datetime | None = None
    last_success: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    next_poll: datetime | None = None
    articles_seen: int = 0
    last_new: datetime | None = None
    pages_fetched: int = 0
    """Article pages fetched for full text (``FeedSpec.fulltext``) and their text used."""
    page_failures: int = 0
    """Article pages that could not be fetched or read (the article kept its feed text)."""

    @property
    def never_polled(self) -> bool:
        return self.last_success is None


@dataclass(frozen=True, slots=True)
class FetchResult:
    """The outcome of one HTTP request for one feed (fetch stage output)."""

    feed_id: str
    url: str
    """The URL that was requested."""
    outcome: FetchOutcome
    fetched_at: datetime
    status: int | None = None
    final_url: str | None = None
    """Where the body came from after redirects (None when there was no redirect)."""
    permanent_url: str | None = None
    """Set when every redirect hop was permanent (301/308): the feed moved."""
    body: bytes | None = None
    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    etag: str | None = None
    last_modified: str | None = None
    not_before: datetime | None = None
    """Lower bound for the next poll from Retry-After or Cache-Control: max-age."""
    error: str | None = None
    error_kind: str | None = None
    elapsed: float = 0.0

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None


@_quick_init
@dataclass(frozen=True, slots=True)
class Article:
    """One feed entry as plain text (parse stage output)."""

    feed_id: str
    key: str
    """Identity within the feed, by cascade: ``guid:``, ``guid+link:``, ``link:``, ``hash:``."""
    title: str
    url: str | None = None
    canonical_url: str | None = None
    summary: str = ""
    content: str = ""
    published: datetime | None = None
    """Publication time in UTC; the first-seen time when the feed gave none."""
    date_from_feed: bool = True
    language: str | None = None
    authors: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    body: str = ""
    """The article page's main text (full text), empty when it was not fetched."""

    def text(self, name: Field) -> str:
        value: str = getattr(self, name)
        return value


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A parsed feed body: its articles and what was wrong with it, if anything."""

    feed_id: str
    articles: tuple[Article, ...]
    title: str | None = None
    link: str | None = None
    language: str | None = None
    ttl: timedelta | None = None
    format: str | None = None
    problems: tuple[str, ...] = ()
    """Precise descriptions of what was wrong (bozo, charset, not a feed, empty)."""


@_quick_init
@dataclass(frozen=True, slots=True)
class Snippet:
    """A short extract around a hit; ``marks`` are (start, end) spans within ``text``."""

    text: str
    marks: tuple[tuple[int, int], ...] = ()

    def marked(self, open_: str = "**", close: str = "**") -> str:
        out: list[str] = []
        pos = 0
        for start, end in sorted(self.marks):
            if start < pos:
                continue
            out.append(self.text[pos:start])
            out.append(open_ + self.text[start:end] + close)
            pos = end
        out.append(self.text[pos:])
        return "".join(out)


@_quick_init
@dataclass(frozen=True, slots=True)
class Hit:
    """One occurrence of a term in an article."""

    term: str
    """The term as written in keywords.yaml (for an actor, the alias that matched)."""
    text: str
    """The matched text exactly as it appears in the article field."""
    field: Field
    start: int
    end: int
    """Offsets into the article's plain-text field: ``article.text(field)[start:end] == text``."""
    snippet: Snippet = dataclasses.field(default_factory=lambda: Snippet(""))
    actor: str | None = None
    form: str | None = None
    """When an inflected form of the term matched (issue 14): ``"pl: rozpoznawaniem twarzy"``."""


@_quick_init
@dataclass(frozen=True, slots=True)
class Match:
    """An article matched a watchlist; the hits explain why."""

    watchlist: str
    score: float
    hits: tuple[Hit, ...]
    """At most ``MAX_HITS_PER_FIELD`` (``monitor.match.matcher``) per field, in text order."""
    hit_count: int = 0
    """Every hit found, those left out of ``hits`` included (never less than ``len(hits)``)."""
    prominence: float = 1.0
    """0 to 1: a passing mention (low) or the article's main topic (``match.prominence``)."""

    def __post_init__(self) -> None:
        if self.hit_count < len(self.hits):
            object.__setattr__(self, "hit_count", len(self.hits))

    @property
    def more_hits(self) -> int:
        """Hits found but left out of ``hits``."""
        return self.hit_count - len(self.hits)


@dataclass(frozen=True, slots=True)
class NewArticle:
    """An article that storage saw for the first time, with its database id."""

    id: int
    article: Article
    first_seen: datetime
    baseline: bool = False
    """Recorded on a feed's first poll beyond the backfill limit: no instant alert."""


@dataclass(frozen=True, slots=True)
class PollReport:
    """What one poll of one feed did (for the CLI summary and metrics)."""

    feed_id: str
    status: FetchOutcome
    new: int = 0
    error: str | None = None
    problems: tuple[str, ...] = ()
    http_status: int | None = None
    elapsed: float = 0.0
    next_poll: datetime | None = None
    matches: int = 0
    moved_to: str | None = None
    pages_fetched: int = 0
    """Article pages fetched for full text in this poll."""
    page_failures: int = 0
    """Article pages that could not be had (their articles kept the feed text)."""


@dataclass(frozen=True, slots=True)
class CycleReport:
    """One poll cycle over several feeds."""

    feeds: tuple[PollReport, ...]
    started: datetime
    finished: datetime

    @property
    def new(self) -> int:
        return sum(r.new for r in self.feeds)

    def count(self, status: FetchOutcome) -> int:
        return sum(1 for r in self.feeds if r.status == status)


DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


# --- delivery -------------------------------------------------------------------------

Channel = Literal["telegram", "email", "console"]


@dataclass(frozen=True, slots=True)
class Target:
    """Where one message goes: a destination of keywords.yaml and one address of it."""

    destination: str
    channel: Channel
    address: str
    """Telegram chat (``@name`` or numeric id) or one e-mail address."""


@dataclass(frozen=True, slots=True)
class AlertItem:
    """One article in an alert or a digest, with the watchlists it matched."""

    outbox_id: int
    article: Article
    source: str
    """The feed's display name (``FeedSpec.label``)."""
    matches: tuple[Match, ...]
    watchlist_titles: tuple[str, ...]
    """Titles of ``matches``' watchlists, in the same order."""
    also: tuple[str, ...] = ()
    """Other sources that reported the same story."""
    hashtags: tuple[str, ...] = ()
    """Telegram hashtags (without "#") of the matched watchlists, when the target wants them."""


Explain = Literal["inline", "button", "none"]
"""Where an alert says why it matched: in the text (snippets), behind a "Why?" button, or not."""


@dataclass(frozen=True, slots=True)
class Alert:
    """Instant alerts due for one target, grouped into as few messages as the limits allow."""

    target: Target
    items: tuple[AlertItem, ...]
    timezone: str = "Europe/Brussels"
    explain: Explain = "inline"
    template: str | None = None
    """Jinja2 source for each item (``monitor.render.telegram_template``)."""


DigestLayout = Literal["stories", "watchlists"]


@dataclass(frozen=True, slots=True)
class DigestSection:
    watchlist: str
    title: str
    items: tuple[AlertItem, ...]


@dataclass(frozen=True, slots=True)
class Digest:
    """Everything matched for one target since its last successful digest."""

    target: Target
    timezone: str
    period_end: datetime
    sections: tuple[DigestSection, ...]
    period_start: datetime | None = None
    unsubscribe: str | None = None
    """A ``mailto:`` or ``https:`` URI for the List-Unsubscribe header."""
    layout: DigestLayout = "watchlists"
    """``stories``: each story once, "Top stories" then by main watchlist, with tags;
    ``watchlists``: one section per watchlist, a story met again says "see above"."""
    stories: int = 0
    """Stories in the edition, those past ``max_items`` included (0: count the items)."""
    more: int = 0
    """Stories past the destination's ``max_items``: counted, not shown."""
    more_url: str | None = None
    """The dashboard's list of the period's articles (``MONITOR_PUBLIC_URL``), linked
    after "N more stories"."""

    @property
    def count(self) -> int:
        return len({i.outbox_id for s in self.sections for i in s.items})


LinkPreview = Literal["off", "on", "above", "small"]
"""Telegram link previews: none, the default one, large above the text, small."""


@dataclass(frozen=True, slots=True)
class Button:
    """An inline keyboard button that sends ``data`` (at most 64 bytes) back to the bot."""

    text: str
    data: str


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """A rendered message, ready for a transport; ``outbox_ids`` are the rows it delivers."""

    target: Target
    text: str
    """Telegram: HTML (Telegram's subset, every text escaped). E-mail: the plain-text part."""
    plain: str
    """Telegram: the same message without markup, sent if Telegram cannot parse the HTML."""
    outbox_ids: tuple[int, ...]
    subject: str | None = None
    html: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    edit_of: str | None = None
    """Telegram message id to edit instead of sending a new message."""
    thread: int | None = None
    """Telegram forum topic (``message_thread_id``) to post in."""
    silent: bool = False
    """Telegram: deliver without a notification sound (``disable_notification``)."""
    link_preview: LinkPreview = "off"
    buttons: tuple[Button, ...] = ()
    """Telegram: an inline keyboard, one button per row."""


@dataclass(frozen=True, slots=True)
class SendReceipt:
    remote_id: str | None = None
    """Telegram ``message_id`` or the e-mail ``Message-ID``."""


OutboxKind = Literal["alert", "digest", "update"]


@dataclass(frozen=True, slots=True)
class Route:
    """Routing's decision: deliver this article to this target as an alert or in a digest."""

    kind: OutboxKind
    target: Target
    article_id: int
    watchlists: tuple[str, ...]
    due: datetime
    story_id: int | None = None

    @property
    def key(self) -> str:
        """The idempotency key: one outbox row per (article, target, kind), ever; for an
        instant alert, one per (story, target): a story alerts each target once."""
        t = self.target
        if self.kind == "alert" and self.story_id is not None:
            return f"alert|{t.destination}|{t.channel}|{t.address}|story:{self.story_id}"
        return f"{self.kind}|{t.destination}|{t.channel}|{t.address}|{self.article_id}"


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One stored outbox row."""

    id: int
    kind: OutboxKind
    target: Target
    article_id: int
    watchlists: tuple[str, ...]
    created: datetime
    due: datetime
    status: str
    attempts: int = 0
    last_error: str | None = None
    remote_id: str | None = None
    story_id: int | None = None
    edit_of: str | None = None
    """For an ``update`` row: the Telegram message to edit (the story's alert)."""
