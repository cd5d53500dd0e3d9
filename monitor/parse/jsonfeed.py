"""The JSON Feed engine: JSON Feed 1.0 and 1.1 (https://www.jsonfeed.org/version/1.1/).

It fills the same raw records as the XML engines, so one builder makes the ``Article``
values and text cleaning, dates and identity are those of RSS and Atom.  Pure: bytes in,
a ``Reading`` out; it never raises.  What cannot be read (malformed JSON, an item that is
not an object, a field of the wrong type) is left out and said in ``problems``, and the
rest is read.  ``null`` stands for an absent field, as JSON Feed publishers use it.

Mapping: ``id`` (a number is read as text, as the 1.0 spec asks) -> guid; ``url``, else
``external_url``, resolved against the feed URL -> link; ``title`` and ``summary`` ->
text, HTML only on strong evidence as for RSS (``compat.looks_like_html``);
``content_html``, else ``content_text`` -> content; ``date_published`` /
``date_modified``; ``authors`` (1.1), else ``author`` (1.0) -> names, the feed's when an
item has none (the spec's rule); ``tags``; ``language`` (1.1).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

from monitor.parse.build import MAX_ENTRIES
from monitor.parse.compat import fix_text, looks_like_html
from monitor.parse.raw import RawEntry, RawFeed, RawText
from monitor.parse.urls import is_web, resolve

NOT_JSON_FEED = "not a feed: the body is JSON, not RSS or Atom"
"""The problem for JSON that is not a JSON Feed (an API error, a sitemap in JSON)."""
VERSION_PREFIX = "https://jsonfeed.org/version/"
_VERSION = re.compile(r"1(?:\.(\d{1,3}))?/?\Z")
_MARKER = b"jsonfeed.org/version/"
_DECLARATION = re.compile(rb'"version"\s*:\s*"https://jsonfeed\.org/version/')

Json = dict[str, object]


@dataclass(frozen=True, slots=True)
class Reading:
    """What the engine made of a JSON body: a feed, or None when it is not a JSON Feed.

    ``problems`` say what was wrong either way; with no feed they say why.
    """

    feed: RawFeed | None
    problems: tuple[str, ...] = ()


def declares_json_feed(body: bytes) -> bool:
    """Whether a JSON body says it is a JSON Feed (its ``"version"`` key, in the first
    64 KiB): tells one pretty-printed feed from JSON Lines, which also start with ``{``."""
    return _DECLARATION.search(body, 0, 65536) is not None


def read(data: bytes | str, base_url: str) -> Reading:
    """Read a JSON body (UTF-8 bytes or text); ``base_url`` resolves relative item URLs."""
    declared = _MARKER in data if isinstance(data, bytes) else _MARKER.decode() in data
    try:
        # strict=False: raw tabs and newlines inside strings are common and harmless.
        doc = json.loads(data, strict=False)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}: {exc.msg}"
        if declared:
            return Reading(None, (f"malformed JSON Feed at {where}; no entry read",))
        return Reading(None, (f"not a feed: the body is malformed JSON ({where})",))
    except RecursionError:
        if declared:
            return Reading(None, ("malformed JSON Feed: nested too deeply to read; no entry read",))
        return Reading(None, ("not a feed: the body is JSON nested too deeply to read",))
    except ValueError as exc:  # undecodable bytes, a number with thousands of digits
        if declared:
            return Reading(None, (f"malformed JSON Feed: {exc}; no entry read",))
        return Reading(None, (f"not a feed: the body is unreadable JSON ({exc})",))
    if not isinstance(doc, dict):
        return Reading(None, (NOT_JSON_FEED,))
    version = doc.get("version")
    if not isinstance(version, str):
        return Reading(None, (NOT_JSON_FEED,))
    version = version.strip()
    prefixed = version.startswith(VERSION_PREFIX)
    match = _VERSION.match(version, len(VERSION_PREFIX)) if prefixed else None
    if match is None:
        if "jsonfeed.org/version/" in version:
            unsupported = f"not a feed: JSON Feed version {version[:60]!r} is not supported"
            return Reading(None, (unsupported,))
        return Reading(None, (NOT_JSON_FEED,))
    return _Reader(base_url).feed(doc, f"json1{match.group(1) or '0'}")


def _kind(value: object) -> str:
    """A JSON value's type, as a problem names it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _n(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


class _Reader:
    """One reading: the feed URL, and the values of the wrong type met on the way."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.wrong = 0
        self.first_wrong = ""

    def note(self, where: str, value: object, expected: str) -> None:
        self.wrong += 1
        if self.wrong == 1:
            self.first_wrong = f"{where} is {_kind(value)}, expected {expected}"

    def string(self, obj: Json, key: str, where: str) -> str | None:
        """A string field, stripped; None when absent, null, empty or of the wrong type."""
        value = obj.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            self.note(f"{where}{key}", value, "a string")
            return None
        return value.strip() or None

    def text(self, obj: Json, key: str, where: str, html: bool | None) -> RawText | None:
        """A text field; ``html`` None: markup only on strong evidence, as for RSS titles."""
        value = self.string(obj, key, where)
        if value is None:
            return None
        value = fix_text(value)
        return RawText(value, looks_like_html(value) if html is None else html)

    def feed(self, doc: Json, fmt: str) -> Reading:
        feed = RawFeed(
            fmt,
            [],
            title=self.text(doc, "title", "", None),
            link=self.string(doc, "home_page_url", ""),
            language=self.string(doc, "language", ""),
            authors=self.people(doc, ""),
        )
        problems: list[str] = []
        items = doc.get("items")
        if items is None:
            problems.append('the JSON Feed has no "items" array; no entry read')
            items = []
        elif not isinstance(items, list):
            problems.append(f'"items" is {_kind(items)}, not an array; no entry read')
            items = []
        if len(items) > MAX_ENTRIES:
            problems.append(f"the feed has {len(items)} entries; read the first {MAX_ENTRIES}")
            items = items[:MAX_ENTRIES]
        not_objects = 0
        first_not_object = ""
        for i, item in enumerate(items):
            if isinstance(item, dict):
                feed.entries.append(self.entry(item, f"items[{i}].", feed.authors))
            else:
                not_objects += 1
                first_not_object = first_not_object or f"items[{i}] is {_kind(item)}"
        if not_objects:
            what = _n(not_objects, "item that is", "items that are")
            problems.append(f"skipped {what} not a JSON object (first: {first_not_object})")
        if self.wrong:
            what = _n(self.wrong, "value", "values")
            problems.append(f"ignored {what} of the wrong type (first: {self.first_wrong})")
        if doc.get("expired") is True:
            problems.append("the JSON Feed says it has expired: it will not be updated again")
        return Reading(feed, tuple(problems))

    def entry(self, item: Json, where: str, feed_authors: list[str]) -> RawEntry:
        return RawEntry(
            guid=self.guid(item, where),
            link=self.link(item, where),
            title=self.text(item, "title", where, None),
            summary=self.text(item, "summary", where, None),
            content=self.text(item, "content_html", where, True)
            or self.text(item, "content_text", where, False),
            published=self.string(item, "date_published", where),
            updated=self.string(item, "date_modified", where),
            language=self.string(item, "language", where),
            authors=self.people(item, where) or list(feed_authors),
            tags=self.tags(item, where),
        )

    def guid(self, item: Json, where: str) -> str | None:
        value = item.get("id")
        # JSON Feed 1.0: "if an id is presented as a number, a reader must coerce it".
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, float) and math.isfinite(value):
            return str(value)
        return self.string(item, "id", where)

    def link(self, item: Json, where: str) -> str | None:
        link = self.string(item, "url", where) or self.string(item, "external_url", where)
        if link and not is_web(link):
            link = resolve(self.base_url, link)
        return link

    def people(self, obj: Json, where: str) -> list[str]:
        """Names from ``authors`` (1.1), else from ``author`` (1.0); nameless ones are left out."""
        key = "authors" if obj.get("authors") is not None else "author"
        value = obj.get(key)
        if value is None:
            return []
        if key == "author" and isinstance(value, dict):
            people: list[tuple[str, object]] = [(f"{where}author", value)]
        elif isinstance(value, list):
            people = [(f"{where}{key}[{i}]", person) for i, person in enumerate(value)]
        else:
            self.note(f"{where}{key}", value, "an array" if key == "authors" else "an object")
            return []
        names = []
        for at, person in people:
            if not isinstance(person, dict):
                self.note(at, person, "an object")
                continue
            name = self.string(person, "name", at + ".")
            if name:
                names.append(fix_text(name))
        return names

    def tags(self, item: Json, where: str) -> list[str]:
        value = item.get("tags")
        if value is None:
            return []
        if not isinstance(value, list):
            self.note(f"{where}tags", value, "an array")
            return []
        tags = []
        for i, tag in enumerate(value):
            if not isinstance(tag, str):
                self.note(f"{where}tags[{i}]", tag, "a string")
            elif tag.strip():
                tags.append(fix_text(tag.strip()))
        return tags
