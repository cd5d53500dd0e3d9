"""``keywords.yaml``: actors, watchlists and the destinations they alert.

```yaml
actors:
  tudorache:
    name: Dragoș Tudorache
    aliases: [Tudorache]
destinations:
  eu-channel:
    telegram: "@eu_ai_watch"
watchlists:
  tudorache:
    any: [{actor: tudorache}]
    alert: [eu-channel]
```

The whole file is checked at load: every problem (unknown key, bad term, unknown actor
or destination, empty watchlist, bad address or time zone) becomes a ``ConfigError``
naming the file, the line and the key, and all of them are reported together.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import time
from types import MappingProxyType
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString

from monitor.config.source import PathPart, Source, format_path
from monitor.config.specs import (
    DEFAULT_DIGEST_TIME,
    DEFAULT_MAX_ITEMS,
    DEFAULT_TIMEZONE,
    ActorSpec,
    DestinationSpec,
    KeywordsConfig,
    Priority,
    WatchlistSpec,
    default_hashtag,
)
from monitor.errors import ConfigError, ConfigErrors
from monitor.match.syntax import RuleReader, scalar_text, suggest
from monitor.match.terms import Rule, Term, primary_language
from monitor.models import FIELDS, Explain, Field, LinkPreview

# The validated values live in monitor.config.specs (a cached configuration loads them
# without pydantic); they are still importable from here.
__all__ = [
    "DEFAULT_DIGEST_TIME",
    "DEFAULT_MAX_ITEMS",
    "DEFAULT_TIMEZONE",
    "ActorSpec",
    "DestinationSpec",
    "KeywordsConfig",
    "Priority",
    "WatchlistSpec",
    "default_hashtag",
    "keywords_from_source",
    "load_keywords",
]

_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$", re.I)
_TELEGRAM_NAME = re.compile(r"^@[A-Za-z][A-Za-z0-9_]{3,31}$")
_TELEGRAM_ID = re.compile(r"^-?[0-9]{5,20}$")
_CLOCK = re.compile(r"^([01]?[0-9]|2[0-3]):([0-5][0-9])$")
_HOURS = re.compile(
    r"^\s*([01]?[0-9]|2[0-3]):([0-5][0-9])\s*-\s*([01]?[0-9]|2[0-3]):([0-5][0-9])\s*$"
)
# Telegram makes a hashtag of letters (any script, accents kept), digits and "_".
_HASHTAG = re.compile(r"^\w{1,64}$")
_TELEGRAM_ONLY = (
    "topic",
    "silent",
    "quiet_hours",
    "link_preview",
    "hashtags",
    "explain",
    "template",
)


Text = Annotated[str, BeforeValidator(scalar_text)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ActorModel(_Strict):
    name: Text
    aliases: list[Any] = []
    by_language: dict[str, list[Any]] = {}
    ambiguous: list[Text] = []
    context: list[Text] = []
    within: int = 20


class DestinationModel(_Strict):
    telegram: Text | None = None
    email: list[Text] | Text | None = None
    digest_time: Text = "08:00"
    timezone: Text = DEFAULT_TIMEZONE
    digest_empty: bool = False
    topic: int | None = None
    silent: bool = False
    quiet_hours: Text | None = None
    link_preview: bool | str = False
    hashtags: bool = False
    explain: Explain = "inline"
    template: str | None = None
    layout: Literal["stories", "watchlists"] = "stories"
    max_items: int = DEFAULT_MAX_ITEMS


class WatchlistModel(_Strict):
    title: Text | None = None
    any: list[Any] | None = None
    by_language: dict[str, list[Any]] | None = None
    all: list[Any] | None = None
    none: list[Any] | None = None
    near: list[Any] | None = None
    ignore: list[Text] | None = None
    weights: dict[str, float] | None = None
    threshold: float | None = None
    fields: list[Field] | None = None
    languages: list[Text] | None = None
    priority: Priority = "instant"
    min_prominence: float = 0.0
    alert: list[Text] = []
    digest: list[Text] = []
    hashtag: Text | None = None
    silent: bool | None = None


_TOP_KEYS = ("actors", "destinations", "watchlists")


def load_keywords(path: str) -> KeywordsConfig:
    """Load and validate ``keywords.yaml``.

    Raises:
        ConfigError: with file, line and key path (``ConfigErrors`` when there are several).
    """
    return keywords_from_source(Source.load(path))


def keywords_from_source(source: Source) -> KeywordsConfig:
    """Validate an already parsed document (see :func:`load_keywords`).

    Raises:
        ConfigError: with file, line and key path (``ConfigErrors`` when there are several).
    """
    loader = _Loader(source)
    try:
        return loader.load()
    finally:
        # The loader and its RuleReader refer to each other (bound methods): break the
        # cycle, so the parsed document is freed at once, not by a garbage collection.
        del loader.rules


class _Loader:
    def __init__(self, source: Source) -> None:
        self.source = source
        self.errors: list[ConfigError] = list(source.problems)
        self.warnings: list[str] = []
        self.actors: dict[str, ActorSpec] = {}
        self.destinations: dict[str, DestinationSpec] = {}
        self.rules = RuleReader(self.actors, self.error, self.warn)

    def error(self, path: Sequence[PathPart], message: str) -> None:
        self.errors.append(self.source.error(path, message))

    def warn(self, path: Sequence[PathPart], message: str) -> None:
        where = f"{self.source.name}:{self.source.line(path)}: {format_path(path)}"
        self.warnings.append(f"{where}: {message}")

    def load(self) -> KeywordsConfig:
        data: Any = self.source.plain()
        if not isinstance(data, dict):
            raise ConfigError(
                "the top level must be a mapping with a 'watchlists:' key",
                file=self.source.name,
                line=1,
            )
        for key in data:
            if key not in _TOP_KEYS:
                self.errors.append(
                    ConfigError(
                        f"unknown key {key!r} (expected one of: {', '.join(_TOP_KEYS)})",
                        file=self.source.name,
                        line=self.source.key_line((key,)),
                        path=str(key),
                    )
                )
        actors = self.section(data, "actors")
        destinations = self.section(data, "destinations")
        watchlists = self.section(data, "watchlists")
        if "watchlists" not in data:
            self.error((), "required key 'watchlists' is missing")
        elif not watchlists and isinstance(data["watchlists"], dict):
            self.error(("watchlists",), "no watchlists defined")
        for actor_id, raw in actors.items():
            self.actor(actor_id, raw)
        for dest_id, raw in destinations.items():
            self.destination(dest_id, raw)
        specs = {}
        for wl_id, raw in watchlists.items():
            spec = self.watchlist(wl_id, raw)
            if spec is not None:
                specs[wl_id] = spec
        if self.errors:
            raise ConfigErrors(sorted(self.errors, key=lambda e: (e.line or 0, e.path or "")))
        return KeywordsConfig(
            path=self.source.name,
            actors=MappingProxyType(self.actors),
            watchlists=MappingProxyType(dict(sorted(specs.items()))),
            destinations=MappingProxyType(self.destinations),
            warnings=tuple(self.warnings),
        )

    def section(self, data: dict[str, Any], key: str) -> dict[str, Any]:
        value = data.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.error((key,), f"{key} must be a mapping of id to settings")
            return {}
        out: dict[str, Any] = {}
        for ident, raw in value.items():
            if not isinstance(ident, str) or not _ID.match(ident):
                self.error(
                    (key, ident),
                    f"{ident!r} is not an id (lower-case letters, digits, '-', '_', '.')",
                )
            else:
                out[ident] = raw
        return out

    def validate(self, model: type[_Strict], raw: Any, path: tuple[PathPart, ...]) -> Any:
        try:
            return model.model_validate(raw if raw is not None else {})
        except ValidationError as exc:
            for err in self.source.errors_from(exc, path):
                if err.message.startswith("unknown key") and err.path:
                    key = err.path.rsplit(".", 1)[-1]
                    err = ConfigError(
                        err.message + suggest(key, model.model_fields, "", ""),
                        file=err.file,
                        line=err.line,
                        path=err.path,
                    )
                self.errors.append(err)
            if not isinstance(raw, dict):
                return None
            # Check the rest too, so that one pass reports every problem of the entry.
            bad = {e["loc"][0] for e in exc.errors() if e["loc"]}
            try:
                return model.model_validate({k: v for k, v in raw.items() if k not in bad})
            except ValidationError:
                return None

    # -- actors -------------------------------------------------------------------------

    def actor(self, actor_id: str, raw: Any) -> None:
        path: tuple[PathPart, ...] = ("actors", actor_id)
        model = self.validate(ActorModel, raw, path)
        if model is None:
            # Keep the id so that references to it are not reported a second time.
            self.actors[actor_id] = ActorSpec(actor_id, actor_id, ())
            return
        terms = [self.rules.term(model.name, (*path, "name"))]
        terms += [
            self.rules.term_value(a, (*path, "aliases", i)) for i, a in enumerate(model.aliases)
        ]
        local = []
        for lang, aliases in model.by_language.items():
            if not _LANGUAGE.match(lang):
                self.error(
                    (*path, "by_language", lang),
                    f"{lang!r} is not a language code such as de or pt-BR",
                )
                continue
            found = [
                # The language is the key's: the matcher gives it to each term.
                self.rules.term_value(a, (*path, "by_language", lang, i))
                for i, a in enumerate(aliases)
            ]
            local.append((primary_language(lang), tuple(t for t in found if t)))
        written = {t.text for t in terms if t} | {t.text for _, ts in local for t in ts}
        for i, alias in enumerate(model.ambiguous):
            if alias.strip() not in written:
                self.error(
                    (*path, "ambiguous", i),
                    f"{alias!r} is not one of this actor's names or aliases",
                )
        if model.ambiguous and not model.context:
            self.error(
                (*path, "ambiguous"), "ambiguous aliases need context: terms that confirm them"
            )
        if model.within < 0:
            self.error((*path, "within"), "within must be 0 or more")
        context = [self.rules.term(c, (*path, "context", i)) for i, c in enumerate(model.context)]
        self.actors[actor_id] = ActorSpec(
            id=actor_id,
            name=model.name,
            aliases=tuple(t for t in terms if t),
            by_language=tuple(local),
            ambiguous=frozenset(a.strip() for a in model.ambiguous),
            context=tuple(t for t in context if t),
            within=model.within,
        )

    # -- destinations -------------------------------------------------------------------

    def destination(self, dest_id: str, raw: Any) -> None:
        path: tuple[PathPart, ...] = ("destinations", dest_id)
        model = self.validate(DestinationModel, raw, path)
        if model is None:
            self.destinations[dest_id] = DestinationSpec(dest_id, None, ())
            return
        telegram = model.telegram.strip() if model.telegram is not None else None
        if telegram is not None and not (
            _TELEGRAM_NAME.match(telegram) or _TELEGRAM_ID.match(telegram)
        ):
            self.error(
                (*path, "telegram"),
                f"{telegram!r} is not a Telegram chat: give a "
                'public @channel name or a numeric chat id such as "-1001234567890"',
            )
        addresses = [model.email] if isinstance(model.email, str) else list(model.email or [])
        if addresses:
            # Imported here: its IDNA tables cost start-up time in every command (issue 15).
            from email_validator import EmailNotValidError, validate_email
        emails = []
        for i, address in enumerate(addresses):
            where = (*path, "email", i) if not isinstance(model.email, str) else (*path, "email")
            try:
                emails.append(validate_email(address, check_deliverability=False).normalized)
            except EmailNotValidError as exc:
                reason = _lower(str(exc)).rstrip(".")
                self.error(where, f"{address!r} is not an e-mail address ({reason})")
        if telegram is None and not addresses:
            self.error(path, "a destination needs telegram:, email: or both")
        clock = _CLOCK.match(model.digest_time.strip())
        if clock is None:
            self.error(
                (*path, "digest_time"), f'{model.digest_time!r} is not a time of day like "08:00"'
            )
        if model.max_items < 1:
            self.error((*path, "max_items"), f"must be 1 or more, not {model.max_items}")
        try:
            ZoneInfo(model.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            self.error(
                (*path, "timezone"),
                f"unknown time zone {model.timezone!r} (an IANA name such as Europe/Brussels)",
            )
        self.destinations[dest_id] = DestinationSpec(
            id=dest_id,
            telegram=telegram,
            email=tuple(emails),
            digest_time=time(int(clock[1]), int(clock[2])) if clock else DEFAULT_DIGEST_TIME,
            timezone=model.timezone,
            digest_empty=model.digest_empty,
            **self.telegram_options(path, model, telegram),
            layout=model.layout,
            max_items=model.max_items,
        )

    def telegram_options(
        self, path: tuple[PathPart, ...], model: DestinationModel, telegram: str | None
    ) -> dict[str, Any]:
        if telegram is None:
            for key in _TELEGRAM_ONLY:
                if key in model.model_fields_set:
                    self.error((*path, key), f"{key}: applies to Telegram only: add telegram:")
        if model.topic is not None and model.topic <= 0:
            self.error((*path, "topic"), f"{model.topic} is not a forum topic id (positive)")
        hours = None
        if model.quiet_hours is not None:
            found = _HOURS.match(model.quiet_hours)
            if found is None:
                self.error(
                    (*path, "quiet_hours"),
                    f'{model.quiet_hours!r} is not a range of times of day like "22:00-07:00"',
                )
            else:
                start = time(int(found[1]), int(found[2]))
                end = time(int(found[3]), int(found[4]))
                if start == end:
                    self.error((*path, "quiet_hours"), "quiet_hours starts and ends at one time")
                hours = (start, end)
        if model.template is not None:
            self.template((*path, "template"), model.template)
        preview: LinkPreview = "off"
        if model.link_preview is True:
            preview = "on"
        elif model.link_preview in ("above", "small"):
            preview = "above" if model.link_preview == "above" else "small"
        elif model.link_preview is not False:
            self.error(
                (*path, "link_preview"),
                f"{model.link_preview!r} is not one of true, false, above or small",
            )
        return {
            "topic": model.topic,
            "silent": model.silent,
            "quiet_hours": hours,
            "link_preview": preview,
            "hashtags": model.hashtags,
            "explain": model.explain,
            "template": model.template,
        }

    def template(self, path: tuple[PathPart, ...], source: str) -> None:
        """Report each template problem at its own line of the configuration file."""
        node: Any = self.source.root
        for part in path:
            node = node[part]
        first = self.source.line(path) or 1
        if isinstance(node, LiteralScalarString | FoldedScalarString):
            first += 1  # a block scalar ("template: |") starts on the next line
        # Imported here: jinja2 is needed only when a destination has a template (issue 15).
        from monitor.render.telegram_template import check_template

        for problem in check_template(source):
            line = first + problem.line - 1
            self.errors.append(
                ConfigError(
                    f"template line {problem.line}: {problem.message}",
                    file=self.source.name,
                    line=line,
                    path=format_path(path),
                )
            )

    # -- watchlists ---------------------------------------------------------------------

    def local_terms(self, model: WatchlistModel, path: tuple[PathPart, ...]) -> tuple[Term, ...]:
        """``by_language:`` of a watchlist: more ``any:`` terms, each in its language."""
        out = []
        for lang, terms in (model.by_language or {}).items():
            where = (*path, "by_language", lang)
            if not _LANGUAGE.match(lang):
                self.error(where, f"{lang!r} is not a language code such as de or pt-BR")
                continue
            if not terms:
                self.error(where, "empty list; remove it or give at least one term")
            for i, raw in enumerate(terms):
                if isinstance(raw, dict) and "term" not in raw:
                    self.error((*where, i), "expected a term or {term: TEXT, exact: true}")
                elif term := self.rules.term_value(raw, (*where, i), lang):
                    out.append(term)
        return tuple(out)

    def watchlist(self, wl_id: str, raw: Any) -> WatchlistSpec | None:
        path: tuple[PathPart, ...] = ("watchlists", wl_id)
        model = self.validate(WatchlistModel, raw, path)
        if model is None:
            return None
        before = len(self.errors)
        rule = Rule(
            any=self.rules.items(model.any, (*path, "any")) + self.local_terms(model, path),
            all=self.rules.items(model.all, (*path, "all")),
            none=self.rules.items(model.none, (*path, "none")),
            near=self.rules.near_groups(model.near, (*path, "near")),
            ignore=tuple(
                t
                for i, raw_t in enumerate(model.ignore or ())
                if (t := self.rules.term(raw_t, (*path, "ignore", i)))
            ),
            weights=self.rules.weights(model.weights, (*path, "weights")),
            threshold=model.threshold,
        )
        if model.weights is not None and model.threshold is None:
            self.error((*path, "weights"), "weights: needs a threshold:")
        if model.threshold is not None:
            if model.weights is None:
                self.error((*path, "threshold"), "threshold: needs weights:")
            elif model.threshold <= 0:
                self.error((*path, "threshold"), "threshold must be greater than 0")
        if not rule.positive and len(self.errors) == before:
            self.error(path, "empty watchlist: give at least one of any:, all:, near: or weights:")
        fields = tuple(model.fields) if model.fields is not None else FIELDS
        if not fields:
            self.error((*path, "fields"), "fields: is empty (give title, summary, content, body)")
        languages = []
        for i, lang in enumerate(model.languages or ()):
            if _LANGUAGE.match(lang):
                languages.append(primary_language(lang))
            else:
                self.error(
                    (*path, "languages", i), f"{lang!r} is not a language code such as de or pt-BR"
                )
        for kind in ("alert", "digest"):
            for i, name in enumerate(getattr(model, kind)):
                if name not in self.destinations:
                    self.error(
                        (*path, kind, i),
                        f"unknown destination {name!r}" + suggest(name, self.destinations),
                    )
        if not 0.0 <= model.min_prominence <= 1.0:
            self.error((*path, "min_prominence"), "min_prominence must be between 0 and 1")
        if model.priority == "digest" and model.alert:
            self.warnings.append(
                f"{self.source.name}:{self.source.line((*path, 'alert'))}: watchlists.{wl_id}: "
                "priority is digest, so the alert: destinations get no instant alerts"
            )
        hashtag = default_hashtag(wl_id)
        if model.hashtag is not None:
            hashtag = unicodedata.normalize("NFC", model.hashtag.strip().removeprefix("#"))
            if not _HASHTAG.match(hashtag) or hashtag.isdigit():
                self.error(
                    (*path, "hashtag"),
                    f"{model.hashtag!r} is not a Telegram hashtag (letters, digits and _, "
                    "at most 64, not only digits)",
                )
        if model.silent is not None and model.priority != "instant":
            self.warn((*path, "silent"), "silent: applies to instant alerts, and there are none")
        return WatchlistSpec(
            id=wl_id,
            title=model.title or wl_id,
            rule=rule,
            priority=model.priority,
            alert=tuple(model.alert),
            digest=tuple(model.digest),
            fields=tuple(dict.fromkeys(fields)),
            languages=tuple(dict.fromkeys(languages)),
            min_prominence=model.min_prominence,
            hashtag=hashtag,
            silent=model.silent,
        )


def _lower(text: str) -> str:
    return text[:1].lower() + text[1:]
