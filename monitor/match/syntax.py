"""The rule language read from YAML values: terms, actor references, near groups, weights.

``monitor.config.keywords`` knows where each value sits in the file; this module knows
what the values mean.  Problems go to the ``error`` and ``warn`` callbacks with the key
path of the value, so that every message can name its file and line.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Callable, Collection
from typing import Any

from monitor.match.terms import ActorRef, Item, Near, Term, Word, parse_term

PathPart = str | int
Path = tuple[PathPart, ...]
Report = Callable[[Path, str], None]

DEFAULT_WITHIN = 10
TERM_KEYS = ("term", "exact", "language")
LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$", re.I)
ACTOR_KEY = "actor:"
"""A ``weights`` key that names an actor: ``actor:edpb``."""


def scalar_text(value: Any) -> Any:
    """YAML reads ``2024`` or ``1.5`` as numbers; as a term they are text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def suggest(
    name: str,
    known: Collection[str],
    listed: str = " (defined: {})",
    empty: str = " (none is defined)",
) -> str:
    """`` (did you mean 'edpb'?)`` for a misspelt id, else the ids that exist."""
    close = difflib.get_close_matches(name, list(known), n=1)
    if close:
        return f" (did you mean {close[0]!r}?)"
    if known:
        return listed.format(", ".join(sorted(known))) if listed else ""
    return empty


class RuleReader:
    """Turns the YAML values of a rule into terms, actor references and near groups.

    ``actors`` is the collection of known actor ids (read live, so it may still grow).
    """

    def __init__(self, actors: Collection[str], error: Report, warn: Report) -> None:
        self.actors = actors
        self.error = error
        self.warn = warn

    def items(self, raw: list[Any] | None, path: Path) -> tuple[Item, ...]:
        if raw is None:
            return ()
        if not raw:
            self.error(path, "empty list; remove it or give at least one term")
        out: list[Item] = []
        for i, value in enumerate(raw):
            item = self.item(value, (*path, i))
            if item is not None:
                out.append(item)
        return tuple(out)

    def item(self, value: Any, path: Path) -> Item | None:
        if isinstance(value, dict) and "near" in value:
            unknown = sorted(set(value) - {"near", "within"})
            if unknown:
                self.error(
                    (*path, unknown[0]), f"unknown key {unknown[0]!r} (expected near and within)"
                )
                return None
            return self.near(value["near"], value.get("within"), path, "near")
        return self.word(value, path)

    def word(self, value: Any, path: Path) -> Word | None:
        if isinstance(value, dict) and "term" in value:
            return self.term_value(value, path)
        if isinstance(value, dict):
            extra = sorted(set(value) - {"actor"})
            if "actor" in value and extra:
                self.error(
                    (*path, extra[0]),
                    f"unknown key {extra[0]!r} in an actor reference "
                    "(write {actor: ID}; weights go under weights:)",
                )
                return None
            if "actor" not in value:
                self.error(path, "expected a term, {actor: ID} or {near: [...], within: N}")
                return None
            return self.actor_ref(value["actor"], (*path, "actor"))
        value = scalar_text(value)
        if isinstance(value, str):
            return self.term(value, path)
        self.error(path, "expected a term, {actor: ID} or {near: [...], within: N}")
        return None

    def actor_ref(self, actor_id: Any, path: Path) -> ActorRef | None:
        if not isinstance(actor_id, str) or actor_id not in self.actors:
            self.error(path, f"unknown actor {actor_id!r}" + suggest(str(actor_id), self.actors))
            return None
        return ActorRef(actor_id)

    def term_value(self, value: Any, path: Path, language: str | None = None) -> Term | None:
        """A term written as text or as ``{term: TEXT, exact: BOOL, language: CODE}``."""
        exact = False
        if isinstance(value, dict):
            unknown = sorted(set(value) - set(TERM_KEYS))
            if unknown:
                self.error(
                    (*path, unknown[0]),
                    f"unknown key {unknown[0]!r} in a term (expected {', '.join(TERM_KEYS)})",
                )
                return None
            exact = value.get("exact", False)
            if not isinstance(exact, bool):
                self.error((*path, "exact"), f"exact must be true or false, not {exact!r}")
                return None
            code = value.get("language", language)
            if code is not None and not (isinstance(code, str) and LANGUAGE.match(code)):
                self.error((*path, "language"), f"{code!r} is not a language code such as de")
                return None
            language = code
            path = (*path, "term")
            value = value.get("term")
        value = scalar_text(value)
        if not isinstance(value, str):
            self.error(path, "expected a term (text)")
            return None
        term = self.term(value, path)
        if term is None or (language is None and not exact):
            return term
        code = language.split("-", 1)[0].lower() if language else None
        return dataclasses.replace(term, language=code, exact=exact)

    def term(self, value: str, path: Path) -> Term | None:
        try:
            term = parse_term(value)
        except ValueError as exc:
            self.error(path, str(exc))
            return None
        if not term.case_sensitive and not term.open_end and len(term.key) <= 2:
            self.warn(
                path,
                f"short term {value!r} matches in any case; write ={value} if it is an acronym",
            )
        return term

    def near(self, slots: Any, within: Any, path: Path, key: str) -> Near | None:
        if within is None:
            within = DEFAULT_WITHIN
        ok = True
        if isinstance(within, bool) or not isinstance(within, int) or within < 0:
            self.error((*path, "within"), f"{within!r} is not a number of words (0 or more)")
            ok = False
        if not isinstance(slots, list) or len(slots) < 2:
            self.error(
                (*path, key),
                "near needs a list of at least two terms (each may be a list of alternatives)",
            )
            return None
        parsed: list[tuple[Word, ...]] = []
        for i, slot in enumerate(slots):
            alternatives = slot if isinstance(slot, list) else [slot]
            where: Path = (*path, key, i)
            words = [
                self.word(v, (*where, j) if isinstance(slot, list) else where)
                for j, v in enumerate(alternatives)
            ]
            if not alternatives:
                self.error(where, "empty list of alternatives")
            if not all(words) or not alternatives:
                ok = False
            parsed.append(tuple(w for w in words if w))
        return Near(tuple(parsed), within) if ok else None

    def near_groups(self, raw: list[Any] | None, path: Path) -> tuple[Near, ...]:
        if raw is None:
            return ()
        if not raw:
            self.error(path, "near: is empty; remove it or give at least one group")
        out = []
        for i, group in enumerate(raw):
            where = (*path, i)
            if not isinstance(group, dict) or "terms" not in group:
                self.error(where, "expected {terms: [...], within: N}")
                continue
            unknown = sorted(set(group) - {"terms", "within"})
            if unknown:
                self.error(
                    (*where, unknown[0]), f"unknown key {unknown[0]!r} (expected terms and within)"
                )
                continue
            near = self.near(group["terms"], group.get("within"), where, "terms")
            if near is not None:
                out.append(near)
        return tuple(out)

    def weights(self, raw: dict[str, float] | None, path: Path) -> tuple[tuple[Word, float], ...]:
        out: list[tuple[Word, float]] = []
        for key, weight in (raw or {}).items():
            where = (*path, key)
            word: Word | None
            if key.startswith(ACTOR_KEY):
                word = self.actor_ref(key[len(ACTOR_KEY) :].strip(), where)
            else:
                word = self.term(key, where)
            if weight == 0:
                self.error(where, "a weight of 0 does nothing; remove the term")
            elif word is not None:
                out.append((word, weight))
        if raw is not None and not raw:
            self.error(path, "weights: is empty")
        return tuple(out)
