"""A synonym spinner and the other content-farm edits, to build labelled copy pairs.

Content farms republish an article through a "spinner": a thesaurus swaps words for
synonyms, however bad ("live" -> "stay", "law" -> "regulation", "said" -> "stated"),
and the farm adds its own boilerplate.  ``spin`` imitates that on real feed texts:

* ``rate`` is the share of the text's words that are replaced (0.4 = 40 %).  The seed
  copy ``seed-spun-politico-2022.txt`` measures about 24 % against its reconstruction.
* A word is replaced by an entry of the thesaurus when it has one (the substitutions read
  off the seed, ``despin.tsv`` taken left to right, plus ``thesaurus.tsv``; several are
  multi-word, as real spinners' are), otherwise by another real word of the corpus: to a
  similarity measure a synonym is just a different token, and a corpus word does not
  share spelling with the original by accident.
* Names (capitalised inside a sentence) and numbers are not replaced, unless the
  thesaurus has them ("Commission" -> "Fee"): spinners' thesauri know few names.

Everything is seeded: the same call gives the same text.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).parent

# Words a spinner leaves alone unless its thesaurus has them ("in" -> "within").
_FUNCTION_TEXT = (
    "a an the of to in on at by for from with and or nor but so as than that this these those"
    " it its is are was were be been being has have had do does did not no he she they we you"
    " i his her their our your my me him them us who whom whose which what when where why how"
    " there here if then else all any each both few some such only own same very can will just"
    " into onto over under up down out off about again further once s t"
)
FUNCTION_WORDS = frozenset(_FUNCTION_TEXT.split())

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?|\S")
_SENTENCE_END = re.compile(r"[.!?:…]$")


def despin_pairs() -> list[tuple[str, str]]:
    """``(spun, plain)`` pairs of ``despin.tsv``."""
    out = []
    for line in (HERE / "despin.tsv").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            spun, plain = line.split("\t")
            out.append((spun, plain))
    return out


def despin(text: str) -> str:
    """The seed copy with the spinner's substitutions undone and the farm's footer cut."""
    text = text.split("\n\nBy admin")[0]
    pairs = sorted(despin_pairs(), key=lambda p: -len(p[0]))
    table = dict(pairs)
    pattern = re.compile(r"(?<!\w)(" + "|".join(re.escape(s) for s, _ in pairs) + r")(?!\w)")
    return pattern.sub(lambda m: table[m.group(1)], text)


def thesaurus() -> dict[str, tuple[str, ...]]:
    """Plain word -> spun replacements: ``thesaurus.tsv`` plus the seed's one-word entries."""
    out: dict[str, tuple[str, ...]] = {}
    for line in (HERE / "thesaurus.tsv").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            word, spun = line.split("\t")
            out[word] = tuple(spun.split("|"))
    for spun, plain in despin_pairs():
        if " " not in plain and plain.isalpha():
            out.setdefault(plain, (spun,))
    return out


def tokens(text: str) -> list[str]:
    return _WORD.findall(text)


def spin(text: str, rate: float, rng: random.Random, vocab: Sequence[str]) -> str:
    """``text`` with about ``rate`` of its words replaced (see the module docstring)."""
    table = thesaurus()
    common = set(vocab)
    matches = list(_WORD.finditer(text))
    toks = [m.group() for m in matches]
    # Spinners replace whole words; "30am" or "COVID19" is not a word of their thesaurus.
    words = [i for i, t in enumerate(toks) if t[0].isalpha()]
    spinnable = {i for i in words if not any(c.isdigit() for c in toks[i])}
    chosen: list[tuple[int, tuple[str, ...]]] = []
    for i in words:
        tok = toks[i]
        lower = tok.lower()
        options = tuple(s for s in table.get(tok, table.get(lower, ())) if s.lower() != lower)
        sentence_start = i == 0 or bool(_SENTENCE_END.search(toks[i - 1]))
        name = tok[0].isupper() and not sentence_start and lower not in common
        if i in spinnable and (options or not (name or lower in FUNCTION_WORDS or len(tok) == 1)):
            chosen.append((i, options))
    rng.shuffle(chosen)
    replaced: dict[int, str] = {}
    for i, options in chosen[: round(rate * len(words))]:
        tok = toks[i]
        new = rng.choice(options) if options else tok
        while new.lower() == tok.lower():
            new = rng.choice(vocab)
        if tok[0].isupper():
            new = new[0].upper() + new[1:]
        replaced[i] = new
    out: list[str] = []
    pos = 0
    for i, m in enumerate(matches):
        if i in replaced:
            out.append(text[pos : m.start()])
            out.append(replaced[i])
            pos = m.end()
    out.append(text[pos:])
    return "".join(out)
