"""The watchlist rule language: terms, actor references, proximity groups and rules.

A term is plain text, matched on whole words after :func:`~monitor.match.normalize.fold`:

- ``facial recognition``: case-, accent-, hyphen- and punctuation-insensitive phrase;
- ``Gesichtserkennung*`` / ``*erkennung`` / ``*biometri*``: the word may continue after
  / begin before / do both around the written letters (compounds and inflections);
- ``=EDPB``: the letters must also have this case (acronyms such as ``=AI``).

There is no regular-expression form, so no rule can backtrack: matching cost depends
on the text length only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import product

from monitor.match.normalize import fold, fold_cased

CASE_MARK = "="
WILDCARD = "*"
MIN_WILDCARD_LETTERS = 3
_REGEX_SYNTAX = frozenset("\\|()[]{}^$?+")


@dataclass(frozen=True, slots=True)
class Term:
    """One term as written in keywords.yaml, with its folded search key."""

    text: str
    """As written (``=EDPB``, ``Gesichtserkennung*``): shown as ``Hit.term``."""
    key: str
    """The folded letters to search for (``edpb``, ``gesichtserkennung``)."""
    cased: str = ""
    """The letters with their case, checked against the article when ``case_sensitive``."""
    case_sensitive: bool = False
    open_start: bool = False
    """Written ``*word``: the matched word may begin before the letters."""
    open_end: bool = False
    """Written ``word*``: the matched word may continue after the letters."""
    language: str | None = None
    """The language it is written in (``by_language:``, ``language:``): it matches only in
    articles of that language (or of unknown language), in its inflected forms too."""
    exact: bool = False
    """Written ``{term: ..., exact: true}``: only the forms as written, no inflection."""

    @property
    def inflects(self) -> bool:
        """Whether the term stands for its inflected forms too (issue 14)."""
        return not (self.exact or self.case_sensitive or self.open_start or self.open_end)

    @property
    def label(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class ActorRef:
    """``{actor: id}`` in a rule: any of the actor's names and aliases."""

    actor: str

    @property
    def label(self) -> str:
        return f"actor {self.actor}"


Word = Term | ActorRef


@dataclass(frozen=True, slots=True)
class Near:
    """Words close to each other in one field.

    Each slot is a tuple of alternatives; one hit from every slot must fit in a window
    with at most ``within`` words between the first and the last of them (words of the
    hits in the middle count too).
    """

    slots: tuple[tuple[Word, ...], ...]
    within: int

    @property
    def label(self) -> str:
        parts = [" | ".join(w.label for w in slot) for slot in self.slots]
        return f"near({'; '.join(parts)}; within {self.within})"


Item = Term | ActorRef | Near


@dataclass(frozen=True, slots=True)
class Rule:
    """When a watchlist matches; every condition that is given must hold.

    ``any``: at least one item occurs; ``all``: every item occurs; ``near``: every
    group is satisfied; ``weights``/``threshold``: the weights of the distinct items
    that occur add up to at least the threshold; ``none``: no item occurs.
    ``ignore``: hits that lie inside one of these phrases do not count
    (``Colorado AI Act`` for a watchlist on the EU's ``AI Act``).
    """

    any: tuple[Item, ...] = ()
    all: tuple[Item, ...] = ()
    none: tuple[Item, ...] = ()
    near: tuple[Near, ...] = ()
    ignore: tuple[Term, ...] = ()
    weights: tuple[tuple[Word, float], ...] = ()
    threshold: float | None = None

    @property
    def positive(self) -> bool:
        return bool(self.any or self.all or self.near or self.weights)


def parse_term(raw: str) -> Term:
    """Parse one term written in keywords.yaml.

    Raises:
        ValueError: with a message for a configuration error (the caller adds the place).
    """
    text = raw.strip()
    body = text
    case_sensitive = body.startswith(CASE_MARK)
    if case_sensitive:
        body = body[len(CASE_MARK) :].strip()
    open_start = body.startswith(WILDCARD)
    open_end = body.endswith(WILDCARD) and len(body) > 1
    core = body[1 if open_start else 0 : len(body) - 1 if open_end else len(body)]
    if not core.strip(WILDCARD + " "):
        raise ValueError(f"term {raw!r} has no letters or digits")
    if WILDCARD in core:
        raise ValueError(
            f"term {raw!r} has '*' inside; '*' is allowed only at the start or end of a term"
        )
    regex = sorted(_REGEX_SYNTAX.intersection(core))
    if regex:
        raise ValueError(
            f"term {raw!r} contains {''.join(regex)!r}: terms are plain text, not regular "
            "expressions (use '*' at either end, or several terms)"
        )
    if (open_start and not core[0].isalnum()) or (open_end and not core[-1].isalnum()):
        raise ValueError(f"term {raw!r}: '*' must touch a letter or digit")
    key = fold(core)
    if not key:
        raise ValueError(f"term {raw!r} has no letters or digits")
    if (open_start or open_end) and len(key.replace(" ", "")) < MIN_WILDCARD_LETTERS:
        raise ValueError(
            f"term {raw!r}: a term with '*' needs at least {MIN_WILDCARD_LETTERS} letters "
            "or digits, otherwise it matches almost every word"
        )
    return Term(
        text=text,
        key=key,
        cased=fold_cased(core) if case_sensitive else "",
        case_sensitive=case_sensitive,
        open_start=open_start,
        open_end=open_end,
    )


ACRONYM_LETTERS = (2, 6)
"""A word written in 2 to 6 capitals (``AI``, ``EDPB``) is an acronym (issue 18)."""
_ACRONYM = re.compile(r"[^\W\d_]+")
# How an acronym's hit must look in the article when it matched a variant key: dotted
# ("A.I.", "E.U."), or spaced in capitals with three letters or more ("E D P B": "a I"
# is too common in running text), or a plural in a lower-case "s" ("AIs", "NGOs").
_DOTTED = re.compile(r"(?<![^\W\d_])[^\W\d_](?:\.[^\W\d_]){1,5}(?![^\W\d_])")
_SPACED = re.compile(r"(?<![^\W\d_])[A-Z](?: [A-Z]){2,5}(?![^\W\d_])")
_PLURAL = re.compile(r"[A-Z]{2,6}s(?![^\W\d_])")


@dataclass(frozen=True, slots=True)
class Variant:
    """Another folded key for a term with acronyms, and what its hit must look like."""

    key: str
    spelled: bool
    """An acronym is spelled out letter by letter ("a i act" for "A.I. Act")."""
    plural: bool
    """The last acronym takes an "s" ("ais" for "AIs")."""

    def accepts(self, found: str) -> bool:
        """Whether the article slice ``found`` has the shape this variant stands for."""
        if self.spelled and not (_DOTTED.search(found) or _SPACED.search(found)):
            return False
        return not self.plural or _PLURAL.search(found) is not None


def variants(term: Term) -> tuple[Variant, ...]:
    """The keys under which the acronyms of ``term`` may also be written.

    ``AI Act``: ``a i act`` (``A.I. Act``); ``EDPB``: ``e d p b`` (``E.D.P.B.``, ``E D P B``)
    and ``edpbs`` (``EDPBs``).  Only words written in capitals in keywords.yaml count.
    """
    body = term.text.removeprefix(CASE_MARK).strip().strip(WILDCARD)
    low, high = ACRONYM_LETTERS
    acronyms = {
        fold(word)
        for word in _ACRONYM.findall(body)
        if word.isupper() and low <= len(word) <= high and word.isascii()
    }
    words = term.key.split(" ")
    if not acronyms.intersection(words):
        return ()
    options: list[list[tuple[str, bool, bool]]] = []
    for number, word in enumerate(words):
        choice = [(word, False, False)]
        if word in acronyms:
            choice.append((" ".join(word), True, False))
            if number == len(words) - 1 and not term.open_end:
                choice.append((word + "s", False, True))
        options.append(choice)
    out: list[Variant] = []
    for combo in product(*options):
        key = " ".join(w for w, _, _ in combo)
        if key != term.key:
            spelled = any(s for _, s, _ in combo)
            plural = any(p for _, _, p in combo)
            out.append(Variant(key, spelled, plural))
    return tuple(out)


def cased_matches(term: Term, found: str) -> bool:
    """Whether ``found`` (an article slice that matched ``term`` folded) has the term's case.

    An acronym may be spelled out ("E.D.P.B.") or take a plural "s" ("EDPBs").
    """
    got = fold_cased(found)
    want = term.cased
    if " " not in want and " " in got:
        got = got.replace(" ", "")
    if got == want + "s" and not term.open_end:
        got = want
    if term.open_start and term.open_end:
        return want in got
    if term.open_end:
        return got.startswith(want)
    if term.open_start:
        return got.endswith(want)
    return got == want


def primary_language(tag: str) -> str:
    """``en-US`` -> ``en``: languages are compared by their primary subtag."""
    return tag.split("-", 1)[0].split("_", 1)[0].strip().lower()
