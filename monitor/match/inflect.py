"""Inflected forms of a term, from simplemma's dictionaries, computed when the matcher compiles.

A term written in a language (``by_language:`` of an actor or a watchlist, or
``{term: ..., language: pl}``) also matches the other forms of its words:
``rozpoznawanie twarzy`` matches ``rozpoznawaniem twarzy`` (issue 14).  simplemma stores
one ``form -> lemma`` dictionary per language; the forms of a word are every entry whose
lemma is the word's lemma.  Articles are never lemmatised: the forms become more keys of
the one automaton, so matching costs what it cost before.

Loading a dictionary takes seconds (Polish: 3.7 million forms), so the forms of each word
are cached: a cache shipped in the package for the words of the default keywords.yaml
(``inflections.json``, written by ``tools/inflections.py``) and one per user
(``$XDG_CACHE_HOME/monitor/inflections-<simplemma version>.json``).  A dictionary is
loaded only for a word in neither, once per language per compilation.

Bounds: a word has at most ``MAX_WORD_FORMS`` forms (its own first, then the closest); a
phrase has the cross product of its words' forms, at most ``MAX_FORMS``: while the product
is larger, the words on the complements' side (see ``HEAD_LAST``) keep only their closer
half of forms, down to the form as written.  Maltese has no dictionary in simplemma: its
terms match as written.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path

from monitor.match.normalize import fold

log = logging.getLogger(__name__)

MAX_WORD_FORMS = 48
MAX_FORMS = 400
MIN_COMPOUND_PART = 3
HEAD_LAST = frozenset({"da", "de", "en", "et", "fi", "hu", "lt", "lv", "nl", "sv"})
"""Languages whose noun phrases end with the noun that inflects (``Euroopan
tietosuojaneuvosto``, ``Eiropas Datu aizsardzības kolēģija``): their first words give up
forms first when a phrase has too many; elsewhere the last words do (``Europejska Rada
Ochrony Danych``)."""
SHIPPED = "inflections.json"
SIMPLEMMA_CODES: Mapping[str, str] = {"hr": "hbs"}
"""simplemma names Croatian with Serbian and Bosnian: ``hbs``."""
_PLAIN_WORD = re.compile(r"^[^\W\d_]+$")
"""Only plain words inflect: ``KI-Verordnung``, ``l'IA`` and ``2024`` stay as written."""

WordForms = dict[str, dict[str, list[str]]]
"""language -> lower-case word -> its forms (the word first)."""


def simplemma_version() -> str:
    """simplemma's version, from its package metadata: importing simplemma costs 80 ms
    and 2.6 MB, and every compile names the user cache by it (issue 12)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("simplemma")
    except PackageNotFoundError:  # not installed as a distribution
        import simplemma

        return str(simplemma.__version__)


def dictionary_code(language: str) -> str | None:
    """simplemma's code for ``language``, or None when it has no dictionary (Maltese)."""
    from simplemma.strategies.dictionaries.dictionary_factory import SUPPORTED_LANGUAGES

    code = SIMPLEMMA_CODES.get(language, language)
    return code if code in SUPPORTED_LANGUAGES else None


def compute_forms(language: str, words: Iterable[str]) -> dict[str, list[str]]:
    """The forms of each of ``words`` (lower case) in ``language``: one dictionary pass.

    A word's forms are the dictionary's forms of its lemma and of the word itself taken as a
    lemma (simplemma sometimes picks another lemma: Latvian ``kolēģija`` -> ``kolēģis``).
    A word the dictionary does not know is taken as a compound: the longest known tail
    inflects and the head stays (``kasvojen|tunnistus`` -> ``kasvojentunnistuksen``).
    Forms are ordered by closeness to the word (longest common prefix first).
    """
    wanted = sorted(set(words))
    code = dictionary_code(language)
    if code is None or not wanted:
        return {w: [w] for w in wanted}
    import simplemma
    from simplemma.strategies.dictionaries.dictionary_factory import (
        _load_dictionary_from_disk,
    )

    dictionary = _load_dictionary_from_disk(code)

    def known(word: str) -> bool:
        return word.encode() in dictionary or word.capitalize().encode() in dictionary

    parts: dict[str, tuple[str, str, str]] = {}
    for word in wanted:
        head, tail = "", word
        if not known(word):
            for cut in range(MIN_COMPOUND_PART, len(word) - MIN_COMPOUND_PART + 1):
                if known(word[cut:]):
                    head, tail = word[:cut], word[cut:]
                    break
        parts[word] = (head, tail, simplemma.lemmatize(tail, lang=code).lower())
    by_lemma: dict[bytes, set[str]] = {}
    for _, tail, lemma in parts.values():
        by_lemma.setdefault(lemma.encode(), {lemma})
        by_lemma.setdefault(tail.encode(), {tail})
    for form, of in dictionary.items():
        found = by_lemma.get(of)
        if found is None and of[:1].isupper():
            found = by_lemma.get(of.decode().lower().encode())
        if found is not None:
            found.add(form.decode().lower())
    out = {}
    for word, (head, tail, lemma) in parts.items():
        tails = by_lemma[lemma.encode()] | by_lemma[tail.encode()]
        others = {head + t for t in tails} - {word}
        ordered = sorted(others, key=lambda f: (-_common_prefix(f, word), len(f), f))
        out[word] = [word, *ordered[: MAX_WORD_FORMS - 1]]
    return out


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class Inflector:
    """The forms of terms' words, from the caches and, for a missing word, simplemma.

    ``cache``: the user cache file to read and extend (None: none); ``shipped``: read the
    package's cache; ``compute``: False to use only the caches (a missing word then
    matches as written).
    """

    def __init__(
        self, cache: Path | None = None, *, shipped: bool = True, compute: bool = True
    ) -> None:
        self.cache = cache
        self.compute = compute
        self.forms: WordForms = {}
        self._expanded: dict[tuple[str, str], tuple[str, ...]] = {}
        if shipped:
            self._merge(_read(resources.files("monitor.match").joinpath(SHIPPED)))
        if cache is not None and cache.exists():
            self._merge(_read(cache))

    def _merge(self, data: WordForms) -> None:
        for language, words in data.items():
            self.forms.setdefault(language, {}).update(words)

    def prepare(self, terms: Iterable[tuple[str, str]]) -> None:
        """Make sure the forms of every word of these ``(language, text)`` are known."""
        missing: dict[str, set[str]] = {}
        for language, text in terms:
            known = self.forms.get(language, {})
            for word in words_of(text):
                if word not in known and _PLAIN_WORD.match(word):
                    missing.setdefault(language, set()).add(word)
        if not missing or not self.compute:
            return
        added: WordForms = {}
        for language, words in sorted(missing.items()):
            added[language] = compute_forms(language, words)
        self._merge(added)
        self._expanded.clear()
        if self.cache is not None:
            try:
                self.cache.parent.mkdir(parents=True, exist_ok=True)
                old = _read(self.cache) if self.cache.exists() else {}
                for language, found in added.items():
                    old.setdefault(language, {}).update(found)
                tmp = self.cache.with_suffix(".tmp")
                tmp.write_text(dump(old), "utf-8")
                tmp.replace(self.cache)
            except OSError as exc:  # a read-only home: the forms are only not kept
                log.warning("inflection cache %s not written: %s", self.cache, exc)

    def expand(self, language: str, text: str) -> tuple[str, ...]:
        """The folded keys of ``text``'s forms in ``language``, its own first."""
        found = self._expanded.get((language, text))
        if found is None:
            found = self._expanded[(language, text)] = self._expand(language, text)
        return found

    def _expand(self, language: str, text: str) -> tuple[str, ...]:
        words = words_of(text)
        known = self.forms.get(language, {})
        per_word = [known.get(w, [w]) if _PLAIN_WORD.match(w) else [w] for w in words]
        order = range(len(words)) if language in HEAD_LAST else range(len(words) - 1, -1, -1)
        while _product(per_word) > MAX_FORMS:
            # The complements' side first, halving (closest forms kept): see HEAD_LAST.
            index = next(i for i in order if len(per_word[i]) > 1)
            per_word[index] = per_word[index][: len(per_word[index]) // 2]
        folded = [list(dict.fromkeys(f for f in map(fold, forms) if f)) for forms in per_word]
        keys = dict.fromkeys(" ".join(c) for c in itertools.product(*(f for f in folded if f)))
        keys.pop("", None)
        return tuple(keys)


def dump(forms: WordForms) -> str:
    """A cache file's text (the version says which dictionaries the forms came from)."""
    data = {"simplemma": simplemma_version(), "forms": forms}
    return json.dumps(data, ensure_ascii=False, sort_keys=True, indent=0)


def words_of(text: str) -> list[str]:
    return text.lower().split()


def default_cache() -> Path:
    """``$XDG_CACHE_HOME/monitor/inflections-<simplemma version>.json`` (or ``~/.cache``)."""
    from monitor.settings import cache_home

    return cache_home() / "monitor" / f"inflections-{simplemma_version()}.json"


def _product(lists: list[list[str]]) -> int:
    total = 1
    for forms in lists:
        total *= len(forms)
    return total


def _read(path: object) -> WordForms:
    try:
        data = json.loads(path.read_text("utf-8"))  # type: ignore[attr-defined]
    except (OSError, ValueError) as exc:
        log.warning("inflection cache %s not read: %s", path, exc)
        return {}
    forms = data.get("forms", data) if isinstance(data, dict) else {}
    return forms if isinstance(forms, dict) else {}
