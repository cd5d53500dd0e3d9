"""How prominent a watchlist's hits are in an article: its main topic, or a passing mention.

Issue 18: a watched phrase once in a 20-item newsletter round-up ("Morning Tech: farm
subsidies, fish quotas and more") is not what a channel wants as an instant alert.
The score, from 0 to 1, looks at where the hits are (title, the start of the summary or
the body), how much of the text they take, and whether the item is a list of unrelated
headlines; ``min_prominence:`` on a watchlist sends matches below it to digests only.

The score uses the first reported hit of each field and the hit count, so its cost
does not depend on the number of hits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import ModuleType

from ahocorasick_rs import AhoCorasick

from monitor.models import Article, Field, Hit

MAIN_TOPIC = 0.5
"""From this score on, the hits are the item's main topic; below, a passing mention."""
LEAD_CHARS = 300
"""A hit this close to the start of the summary or the body is in the lead."""
# Titles of round-ups and newsletters, in the languages of the shipped feeds.
_ROUNDUP_TITLE = re.compile(
    r"\b(?:round-?up|briefing|newsletter|digest|in brief|news in brief|week in review|"
    r"what we(?:'|’)re reading|and more|morning|evening|daily|weekly|the download|"
    r"revue de presse|en bref|kurz gemeldet|überblick|rassegna|in breve)\b",
    re.IGNORECASE,
)
# The same words as plain strings, looked for in the lower-cased title by one
# Aho-Corasick pass (2.5 times as fast as the case-sensitive search, itself 2.5 times as
# fast as the one above: this runs for every matched article), each occurrence then
# checked for the word boundaries of ``\b``.  They find the same, except where
# re.IGNORECASE pairs letters that lower() does not (dotless ı with i, long ſ with s) or
# lower() makes two characters of one (İ): such titles take the IGNORECASE search.
_ROUNDUP_WORDS = AhoCorasick(
    [
        *("roundup", "round-up", "briefing", "newsletter", "digest", "in brief"),
        *("news in brief", "week in review", "what we're reading", "what we’re reading"),
        *("and more", "morning", "evening", "daily", "weekly", "the download"),
        *("revue de presse", "en bref", "kurz gemeldet", "überblick", "rassegna", "in breve"),
    ]
).find_matches_as_indexes
_CASE_UNEVEN = ("ı", "ſ", "İ")
# "Topic: a, b, c and d" or many list items in the text: several unrelated headlines.
_LIST_TITLE = re.compile(r":[^:]*,[^:,]*,[^:]*(?:\band\b|&|\+|…)")
_BULLETS = ("•", "·", "▪", "►", "■")
_MIN_LIST_ITEMS = 5


@dataclass(frozen=True, slots=True)
class Prominence:
    """The score and what it comes from, for ``explain``."""

    score: float
    reasons: tuple[str, ...]

    @property
    def label(self) -> str:
        return "main topic" if self.score >= MAIN_TOPIC else "mentioned"


def is_roundup(article: Article, fast: ModuleType | None = None) -> bool:
    """Whether ``article`` looks like a list of unrelated headlines (a newsletter).

    ``fast``: the compiled module (``monitor.speedups``) to count the list marks with.
    """
    title = article.title
    # _CASE_UNEVEN spelled out: a generator over it cost more than the search.
    if title.isascii() or ("ı" not in title and "ſ" not in title and "İ" not in title):
        if _roundup_words(title.lower()):
            return True
    elif _ROUNDUP_TITLE.search(title):
        return True
    if ":" in title and _LIST_TITLE.search(title):
        return True
    # Bullets and separators, counted by C-level str.count (this runs for every match);
    # the bullets are not ASCII, the list marks need a line break, the separator a "|".
    body = article.summary or article.content
    if fast is not None:  # the same count in one pass (this runs for every match)
        return bool(fast.list_marks(body) >= _MIN_LIST_ITEMS)
    count = 0 if body.isascii() else sum(body.count(bullet) for bullet in _BULLETS)
    if "\n" in body:
        count += body.count("\n- ") + body.count("\n* ")
    if "|" in body:
        count += body.count(" | ")
    return count >= _MIN_LIST_ITEMS


def _roundup_words(title: str) -> bool:
    """Whether the lower-cased ``title`` holds a round-up word as a whole word: what
    ``_ROUNDUP_TITLE`` finds (each word begins and ends with a word character)."""
    for _, start, end in _ROUNDUP_WORDS(title, overlapping=True):
        # ``\b``: no word character (str.isalnum() or "_", as in re) either side.
        before = title[start - 1] if start else " "
        after = title[end] if end < len(title) else " "
        if not (before.isalnum() or before == "_" or after.isalnum() or after == "_"):
            return True
    return False


def prominence(
    article: Article, hits: tuple[Hit, ...], hit_count: int, *, roundup: bool
) -> Prominence:
    """How prominent ``hits`` (one match's, in text order) are in ``article``;
    ``roundup``: :func:`is_roundup` of the article (computed once for every match)."""
    first: dict[Field, Hit]
    if len(hits) == 1:  # most matches
        first = {hits[0].field: hits[0]}
    else:
        first = {}
        for hit in hits:
            first.setdefault(hit.field, hit)
    if "title" in first:
        place = 0
    elif "summary" in first and first["summary"].start < LEAD_CHARS:
        place = 1
    elif "content" in first and first["content"].start < LEAD_CHARS:
        place = 2
    else:
        place = 3
    # About seven characters a word in EU-language news.
    size = 0
    for name in first:
        size += len(getattr(article, name))
    many = hit_count >= 3 or hit_count / (size / 7 or 1.0) >= 0.02
    # The result depends on these four values only, and is frozen: shared (it is made
    # for every match; a few dozen distinct values in practice).
    key = (place, hit_count if many else 0, roundup)
    found = _MADE.get(key)
    if found is None:
        found = _made(place, hit_count if many else None, roundup)
        if hit_count < 100:
            _MADE[key] = found
    return found


_PLACES = (
    (1.0, "in the title"),
    (0.7, "in the lead of the summary"),
    (0.6, "in the lead of the body"),
    (0.3, "only further down"),
)
_MADE: dict[tuple[int, int, bool], Prominence] = {}


def _made(place: int, hit_count: int | None, roundup: bool) -> Prominence:
    """The score and reasons of a hit place, a hit count that counts (or None), a round-up."""
    score, reason = _PLACES[place]
    reasons = [reason]
    if hit_count is not None:
        score = min(1.0, score + 0.2)
        reasons.append(f"{hit_count} hits")
    if roundup:
        score = min(score, 0.3)
        reasons.append("a round-up of several stories")
    return Prominence(round(score, 2), tuple(reasons))
