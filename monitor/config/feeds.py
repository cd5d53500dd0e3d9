"""``feeds.yaml``: which feeds to poll and how politely.

```yaml
settings:            # optional, whole-service fetch settings
  concurrency: 50
  per_host: 4
defaults:            # applied to every feed that does not say otherwise
  interval: 15m
feeds:
  - id: politico-eu
    url: https://www.politico.eu/feed/
```
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from monitor.config.durations import parse_duration
from monitor.config.source import Source
from monitor.config.specs import FeedsConfig, FetchSettings
from monitor.errors import ConfigError, ConfigErrors
from monitor.models import FeedSpec, FullText

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?\s*$", re.I)
_SIZE_UNITS = {
    "b": 1,
    "kb": 1000,
    "kib": 1024,
    "mb": 1000**2,
    "mib": 1024**2,
    "gb": 1000**3,
    "gib": 1024**3,
}
MIN_INTERVAL = timedelta(seconds=1)
WARN_INTERVAL = timedelta(minutes=1)

# The validated values live in monitor.config.specs (a cached configuration loads them
# without pydantic); they are still importable from here.
__all__ = ["FeedsConfig", "FetchSettings", "feeds_from_source", "load_feeds", "parse_size"]


def parse_size(value: object) -> int:
    """``5MB`` / ``512KiB`` / a number of bytes.

    Raises:
        ValueError: not a size.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a size like 5MB")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError(f"{value!r} is not a positive size")
        return value
    m = _SIZE.match(str(value))
    if not m:
        raise ValueError(f"{value!r} is not a size like 5MB")
    return int(float(m.group(1)) * _SIZE_UNITS[(m.group(2) or "b").lower()])


Size = Annotated[int, BeforeValidator(parse_size)]


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"{value!r} is not an http(s) URL")
    if any(c.isspace() for c in value):
        raise ValueError(f"{value!r} is not a valid URL (contains white space)")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False, frozen=True)


class FeedDefaults(_Strict):
    interval: Duration = timedelta(minutes=15)
    language: str | None = None
    tags: list[str] = Field(default_factory=list)
    enabled: bool = True
    timeout: Duration = timedelta(seconds=30)
    max_size: Size = 5 * 1024 * 1024
    backfill: int | None = 3
    fulltext: FullText = "auto"

    @field_validator("interval")
    @classmethod
    def _interval(cls, v: timedelta) -> timedelta:
        if v < MIN_INTERVAL:
            raise ValueError("interval must be at least 1s")
        return v


class FeedEntry(_Strict):
    id: str
    url: str
    name: str | None = None
    interval: Duration | None = None
    language: str | None = None
    tags: list[str] | None = None
    enabled: bool | None = None
    timeout: Duration | None = None
    max_size: Size | None = None
    backfill: int | None = Field(default=None)
    fulltext: FullText | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError(f"{v!r} is not an id (lower-case letters, digits, '-', '_', '.')")
        return v

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _check_url(v)

    @field_validator("interval")
    @classmethod
    def _interval(cls, v: timedelta | None) -> timedelta | None:
        if v is not None and v < MIN_INTERVAL:
            raise ValueError("interval must be at least 1s")
        return v


_DEFAULT = FetchSettings()


class FetchSettingsModel(_Strict):
    """The schema of ``settings:``; the validated value is a ``FetchSettings``."""

    concurrency: int = Field(default=_DEFAULT.concurrency, ge=1, le=1000)
    per_host: int = Field(default=_DEFAULT.per_host, ge=1, le=64)
    max_backoff: Duration = _DEFAULT.max_backoff
    min_backoff: Duration = _DEFAULT.min_backoff
    max_redirects: int = Field(default=_DEFAULT.max_redirects, ge=0, le=20)
    user_agent: str | None = _DEFAULT.user_agent
    keep_text: Duration = _DEFAULT.keep_text
    keep_keys: Duration = _DEFAULT.keep_keys
    page_timeout: Duration = _DEFAULT.page_timeout
    page_max_size: Size = _DEFAULT.page_max_size


class FeedsFile(_Strict):
    settings: FetchSettingsModel = Field(default_factory=FetchSettingsModel)
    defaults: FeedDefaults = Field(default_factory=FeedDefaults)
    feeds: list[FeedEntry]


def load_feeds(path: str) -> FeedsConfig:
    """Load and validate ``feeds.yaml``.

    Raises:
        ConfigError: with file, line and key path (``ConfigErrors`` when there are several).
    """
    return feeds_from_source(Source.load(path))


def _duplicate_ids(source: Source, entries: Any) -> list[ConfigError]:
    """A feed id used a second time, found in the raw entries (valid or not)."""
    if not isinstance(entries, list):
        return []
    first: dict[str, int] = {}
    errors = []
    for i, entry in enumerate(entries):
        feed_id = entry.get("id") if isinstance(entry, dict) else None
        if not isinstance(feed_id, str):
            continue
        if feed_id in first:
            first_line = source.line(("feeds", first[feed_id], "id"))
            errors.append(
                source.error(
                    ("feeds", i, "id"),
                    f"duplicate feed id {feed_id!r} (first used at line {first_line})",
                )
            )
        else:
            first[feed_id] = i
    return errors


def feeds_from_source(source: Source) -> FeedsConfig:
    data: Any = source.plain()
    if not isinstance(data, dict):
        raise ConfigError(
            "the top level must be a mapping with a 'feeds:' list", file=source.name, line=1
        )
    # Every problem in one pass (issue 10 item 9): a duplicate id used to be hidden
    # while any other error existed.
    errors = [*source.problems, *_duplicate_ids(source, data.get("feeds"))]
    try:
        parsed = source.validate(FeedsFile, data)
    except ConfigErrors as exc:
        errors += exc.errors
    if errors:
        raise ConfigErrors(sorted(errors, key=lambda e: e.line or 0))
    d = parsed.defaults
    warnings: list[str] = []
    specs: list[FeedSpec] = []
    for i, e in enumerate(parsed.feeds):
        spec = FeedSpec(
            id=e.id,
            url=e.url,
            name=e.name,
            interval=e.interval or d.interval,
            language=e.language if e.language is not None else d.language,
            tags=tuple(e.tags if e.tags is not None else d.tags),
            enabled=e.enabled if e.enabled is not None else d.enabled,
            timeout=e.timeout or d.timeout,
            max_size=e.max_size or d.max_size,
            backfill=e.backfill if "backfill" in e.model_fields_set else d.backfill,
            fulltext=e.fulltext or d.fulltext,
        )
        if spec.interval < WARN_INTERVAL:
            warnings.append(
                f"{source.name}:{source.line(('feeds', i))}: feeds[{i}]: interval "
                f"{int(spec.interval.total_seconds())}s is below one minute; fine for tests, "
                "impolite for real publishers"
            )
        specs.append(spec)
    return FeedsConfig(
        path=source.name,
        settings=FetchSettings(**parsed.settings.model_dump()),
        feeds=tuple(specs),
        warnings=tuple(warnings),
    )
