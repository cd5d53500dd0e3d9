"""Article text to the features that survive republication (pure).

A content farm's spinner swaps content words for synonyms ("live" -> "stay", "law" ->
"regulation") but leaves the sentence's skeleton alone: its function words ("the", "of",
"in", "to") and its names and numbers.  So copies are compared on

* ``shingles``: n-grams of the *function words only*, content words dropped (stop-word
  n-grams, Stamatatos 2011, "Plagiarism detection using stopword n-grams"): a copy keeps
  most of them however many content words were swapped, and two different texts almost
  never share a run of six;
* ``words``: the content words (a lightly spun copy keeps most of them);
* ``numbers``: every word holding a digit, years aside.  Spinners leave numbers alone, so a copy
  keeps them; two issues of a templated series ("Kurs EUR/PLN 22 listopada" and "... 23
  listopada", "top 10 destinations #6" and "#7") differ in little else.

Stories are compared on ``terms``: the anchors (names, acronyms and numbers:
capitalised inside a sentence, all capitals, or holding a digit, which spinners'
thesauri do not know) and the content words of the title and
the lead, content words cut to their first five letters so that "agrees", "agreed" and
"agreement" agree, and a few aliases ("European Union" = "EU").

Every feature is a 32-bit hash (BLAKE2b of the folded word, computed once per spelling;
stable across processes and versions, since hashes are stored).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from hashlib import blake2b
from typing import Any

import numpy as np
import numpy.typing as npt

from monitor.match.normalize import fold
from monitor.models import Article

SHINGLE = 6
"""Function words per shingle (tuned on tests/data/dedupe/pairs.json, see docs/benchmarks.md)."""
MAX_WORDS = 3000
"""Only the first words count: bounds the work for a very long text, and a truncated
copy is compared on the part it kept."""
LEAD_WORDS = 60
STEM = 5

# Function words of the languages monitor reads.  Words of other languages that are
# English content words ("war", "die", "son", "plus") are left out: they name events.
_FUNCTION_TEXT = (
    # English
    "a about above after again against all also am an and any are as at be because been",
    "before being below between both but by can could did do does doing down during each",
    "few for from further had has have having he her here hers him his how i if in into is",
    "it its itself just me more most my no nor not now of off on once only or other our",
    "ours out over own same she should so some such than that the their theirs them then",
    "there these they this those through to too under until up very was we were what when",
    "where which while who whom why will with would you your yours s t d ll re ve m",
    "may might must shall upon since though although yet whether either neither per via",
    # Polish
    "i w z na do się nie że to jest o od po przez dla jak ale a czy za przy tym jego ich",
    "tak już też może być są był była było które który która oraz lub także ze we",
    "tego tej jako gdy aby bez tylko jednak jeszcze",
    # German
    "der das und ist nicht ein eine einen einem einer dem des mit von zu auf für",
    "im ist sich auch als an bei nach wie aus es sie er wir ihr noch oder aber wenn nur",
    "um über vor zum zur dass hat haben wird werden wurde sind",
    # French
    "le la les de des du un une et est en que qui dans pour pas au aux avec",
    "cette ces il elle ils elles nous vous se sa ses leur leurs ne mais ou où",
    "été être a ont sont était comme",
    # Spanish and Italian
    "los las del y es por para una su sus como más pero sobre entre",
    "il di che e è per non una sono della delle degli nel nella alla",
)
FUNCTION_WORDS = frozenset(fold(w) for line in _FUNCTION_TEXT for w in line.split())
ALIASES = {
    "european union": "eu",
    "artificial intelligence": "ai",
    "united states": "us",
    "united kingdom": "uk",
    "european commission": "commission",
    "european parliament": "parliament",
    "u s": "us",
    "u k": "uk",
}
_PAIRS = {tuple(phrase.split()): alias for phrase, alias in ALIASES.items()}
_SENTENCE_MARKS = frozenset(".!?…:;\n")
_TOKEN = re.compile(r"[^\W_]+|[.!?…:;\n]")
_WORDS = re.compile(r"[^\W_]+")
_NUMBER = re.compile(r"\d")
# A year is as likely to come from a footer ("© 2023") as from the news: not evidence.
_YEAR = re.compile(r"(?:19|20)\d\d")
_TITLE_CASE_SHARE = 0.6


def hash64(text: str) -> int:
    """A stable 64-bit hash of ``text`` (BLAKE2b of its UTF-8)."""
    return int.from_bytes(blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def hash32(text: str) -> int:
    """The low 32 bits of :func:`hash64`."""
    return hash64(text) & 0xFFFFFFFF


class _Cache(dict[str, Any]):
    # Words repeat across articles: fold and hash each spelling once (bounded).
    def __init__(self, compute: Callable[[str], Any]) -> None:
        super().__init__()
        self.compute = compute

    def __missing__(self, word: str) -> Any:
        if len(self) > 200_000:
            self.clear()
        out = self[word] = self.compute(word)
        return out


_FOLDS = _Cache(lambda word: fold(word).replace(" ", ""))
_HASHES = _Cache(hash64)
# A shingle's hash is a polynomial of its words' hashes (mod 2**64, folded to 32 bits):
# numpy computes every window at once, and words are hashed once per spelling.
_BASE = np.uint64(0x9E3779B97F4A7C15)
_LOW = np.uint64(0xFFFFFFFF)


def shingle_hashes(word_hashes: npt.NDArray[np.uint64], n: int) -> npt.NDArray[np.uint32]:
    """One hash per run of ``n`` consecutive words (none when there are fewer words)."""
    m = len(word_hashes) - n + 1
    if m <= 0:
        return np.zeros(0, dtype=np.uint32)
    h = word_hashes[:m].copy()
    for j in range(1, n):
        h *= _BASE
        h += word_hashes[j : j + m]
    return ((h ^ (h >> np.uint64(32))) & _LOW).astype(np.uint32)


@dataclass(frozen=True, slots=True, eq=False)
class Features:
    """What one article contributes to the index: 32-bit hashes (repeats allowed)."""

    shingles: npt.NDArray[np.uint32]
    words: npt.NDArray[np.uint32]
    numbers: npt.NDArray[np.uint32]
    terms: tuple[int, ...]
    """Story terms, title terms first (``title_terms`` of them)."""
    title_terms: int
    title_key: int | None
    """Hash of the whole folded title when it has at least four content words."""
    body_words: int
    """How many words the text beyond the title has (a thin body: only the title counts)."""


def body_of(article: Article) -> str:
    """The article text beyond its title: the page's text when full text fetched it (a
    teaser feed's summary is a line of it), else the content, or the summary when longer
    or apart."""
    if article.body.strip():
        return article.body.strip()
    summary, content = article.summary.strip(), article.content.strip()
    if not content:
        return summary
    if not summary or summary[:60] in content or len(summary) > len(content):
        return content if len(content) >= len(summary) else summary
    return summary + "\n" + content


@dataclass(frozen=True, slots=True)
class Tokens:
    """Folded words of a text and which of them are anchors (names, acronyms, numbers)."""

    words: list[str]
    anchors: list[bool]


def tokenize(text: str, title_case: bool = False, limit: int = MAX_WORDS) -> Tokens:
    """Split ``text`` into folded words, marking anchors; at most ``limit`` words.

    A capitalised word counts as a name unless it opens a sentence (or the text is a
    title in Title Case, where capitals say nothing).
    """
    folds = _FOLDS
    words: list[str] = []
    anchors: list[bool] = []
    start = True
    for tok in _TOKEN.findall(unicodedata.normalize("NFC", text)):
        if tok in _SENTENCE_MARKS:
            start = True
            continue
        lower = folds[tok]
        if not lower:
            continue
        if lower in FUNCTION_WORDS:
            anchor = False
        elif tok[0].isdigit() or (len(tok) > 1 and tok.isupper()):
            anchor = True
        else:
            anchor = tok[0].isupper() and not start and not title_case
        start = False
        words.append(lower)
        anchors.append(anchor)
        if len(words) >= limit:
            break
    return Tokens(words, anchors)


def is_title_case(title: str) -> bool:
    caps = [w[0].isupper() for w in _WORDS.findall(title) if _FOLDS[w] not in FUNCTION_WORDS]
    return len(caps) > 2 and sum(caps) >= _TITLE_CASE_SHARE * len(caps)


def _terms(toks: Tokens, stop: int) -> list[str]:
    """Story terms: anchors whole, other content words cut to ``STEM`` letters, and each
    aliased pair of words ("european union") replaced by its alias ("eu")."""
    words, anchors = toks.words[:stop], toks.anchors[:stop]
    out: list[str] = []
    i = 0
    while i < len(words):
        alias = _PAIRS.get((words[i], words[i + 1])) if i + 1 < len(words) else None
        if alias is not None:
            out.append(alias)
            i += 2
            continue
        w = words[i]
        if len(w) > 1 and w not in FUNCTION_WORDS:
            out.append(w if anchors[i] or w.isdigit() else w[:STEM])
        i += 1
    return list(dict.fromkeys(out))


def features(article: Article, shingle: int = SHINGLE) -> Features:
    """The features of one article (pure)."""
    title = tokenize(article.title, is_title_case(article.title))
    body = tokenize(body_of(article))
    words = title.words + body.words
    anchors = title.anchors + body.anchors
    hashes = _HASHES
    skeleton = np.fromiter((hashes[w] for w in words if w in FUNCTION_WORDS), dtype=np.uint64)
    content = {
        w: a for w, a in zip(words, anchors, strict=True) if len(w) > 1 and w not in FUNCTION_WORDS
    }
    title_terms = [hashes[t] for t in _terms(title, len(title.words))]
    seen = set(title_terms)
    lead_terms = [h for h in (hashes[t] for t in _terms(body, LEAD_WORDS)) if h not in seen]
    title_content = sum(1 for w in title.words if w not in FUNCTION_WORDS)
    return Features(
        shingles=shingle_hashes(skeleton, shingle),
        words=np.fromiter((hashes[w] for w in content), dtype=np.uint64, count=len(content)).astype(
            np.uint32
        ),
        numbers=np.fromiter(
            (hashes[w] for w in set(words) if _NUMBER.search(w) and not _YEAR.fullmatch(w)),
            dtype=np.uint64,
        ).astype(np.uint32),
        terms=tuple(h & 0xFFFFFFFF for h in title_terms + lead_terms),
        title_terms=len(title_terms),
        title_key=hash32(" ".join(title.words)) if title_content >= 4 else None,
        body_words=len(body.words),
    )
