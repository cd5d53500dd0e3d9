"""The daily digest as one edition (issue 17): each story once, the most important first.

Pure functions of a :class:`Digest` (one :class:`AlertItem` per story, as the outbox
worker folds a story's rows) and the watchlists' priorities.  The renderers (e-mail and
Telegram) lay out what this returns.

Importance score, highest first (ties: newest first, then the oldest row)::

    2.0 x sources (the outlet and each "also reported by", at most 10)
  + 1.5 x watchlists matched
  + 1.0 if any of them is an ``instant`` watchlist
  + recency: 1.0 for a story published at the end of the period, down to 0 at 24 hours

Sources weigh most: a story several outlets carry is the day's news; a story touching
several watchlists concerns more readers; priority is the maintainer's own word; recency
only breaks near-ties.  See docs/design.md.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from monitor.models import AlertItem, Digest, DigestSection, Snippet
from monitor.render.cut import ELLIPSIS, cut, shorten

TOP_STORIES = 5
"""Stories in the "Top stories" head of a ``stories`` edition."""
SOURCES_SHOWN = 2
"""Outlets named before "and N more"."""
SUBJECT_CHARS = 78
"""Subject lines are cut to this: what most mail clients show in a list."""
TOP_TITLE = "Top stories"
RECENT = timedelta(hours=24)


def stories(digest: Digest) -> list[AlertItem]:
    """The digest's items, each once, in the order they first appear."""
    seen: dict[int, AlertItem] = {}
    for section in digest.sections:
        for item in section.items:
            seen.setdefault(item.outbox_id, item)
    return list(seen.values())


def one_per_story(items: Sequence[AlertItem], story_of: Mapping[int, int]) -> list[AlertItem]:
    """``items`` with each story once (``story_of``: item id -> story id): a story's
    later items fold into its first, which is also tagged with the watchlists they
    matched.  Items of no story stay as they are."""
    first: dict[int, int] = {}
    out: list[AlertItem] = []
    for item in items:
        story = story_of.get(item.outbox_id)
        if story is None or story not in first:
            if story is not None:
                first[story] = len(out)
            out.append(item)
            continue
        kept = out[first[story]]
        known = {m.watchlist for m in kept.matches}
        titles = item.watchlist_titles
        extra = [
            (m, titles[i] if i < len(titles) else m.watchlist)
            for i, m in enumerate(item.matches)
            if m.watchlist not in known
        ]
        if extra:
            out[first[story]] = dataclasses.replace(
                kept,
                matches=(*kept.matches, *(m for m, _ in extra)),
                watchlist_titles=(*kept.watchlist_titles, *(t for _, t in extra)),
            )
    return out


def importance(item: AlertItem, priorities: Mapping[str, str], period_end: datetime) -> float:
    """The documented score of one story (module docstring)."""
    sources = min(1 + len(item.also), 10)
    watchlists = len({m.watchlist for m in item.matches})
    instant = any(priorities.get(m.watchlist, "instant") == "instant" for m in item.matches)
    recency = 0.0
    published = item.article.published
    if published is not None:
        age = period_end - published
        recency = min(max(1.0 - age / RECENT, 0.0), 1.0)
    return 2.0 * sources + 1.5 * watchlists + (1.0 if instant else 0.0) + recency


def ranked(
    items: Sequence[AlertItem], priorities: Mapping[str, str], period_end: datetime
) -> list[AlertItem]:
    """``items`` by importance, highest first; ties newest first, then by row."""

    def key(item: AlertItem) -> tuple[float, float, int]:
        published = item.article.published
        stamp = published.timestamp() if published is not None else float("-inf")
        return (-importance(item, priorities, period_end), -stamp, item.outbox_id)

    return sorted(items, key=key)


def main_watchlist(item: AlertItem) -> tuple[str, str]:
    """(id, title) of the watchlist the story matched best (the first on a tie)."""
    best = max(range(len(item.matches)), key=lambda i: (item.matches[i].score, -i), default=None)
    if best is None:
        return "", ""
    titles = item.watchlist_titles
    title = titles[best] if best < len(titles) else item.matches[best].watchlist
    return item.matches[best].watchlist, title


def stories_edition(
    digest: Digest, priorities: Mapping[str, str], max_items: int
) -> tuple[Digest, list[AlertItem]]:
    """``digest`` in the ``stories`` layout: a "Top stories" section (up to
    :data:`TOP_STORIES`), then the rest under their main watchlist, each story once, at
    most ``max_items`` in all.  Returns it and the stories left out (to be counted, and
    marked delivered with the digest)."""
    order = ranked(stories(digest), priorities, digest.period_end)
    shown, left = order[:max_items], order[max_items:]
    sections = [DigestSection("", TOP_TITLE, tuple(shown[:TOP_STORIES]))] if shown else []
    groups: dict[str, list[AlertItem]] = {}
    titles: dict[str, str] = {}
    for item in shown[TOP_STORIES:]:
        wl, title = main_watchlist(item)
        groups.setdefault(wl, []).append(item)
        titles[wl] = title
    sections += [DigestSection(wl, titles[wl], tuple(items)) for wl, items in groups.items()]
    edition = dataclasses.replace(
        digest, sections=tuple(sections), layout="stories", stories=len(order), more=len(left)
    )
    return edition, left


def watchlists_edition(digest: Digest, max_items: int) -> tuple[Digest, list[AlertItem]]:
    """``digest`` in the ``watchlists`` layout, at most ``max_items`` stories (in the
    order of the sections); the renderers show a story met again as "see above"."""
    order = stories(digest)
    keep = {item.outbox_id for item in order[:max_items]}
    sections = tuple(
        DigestSection(s.watchlist, s.title, tuple(i for i in s.items if i.outbox_id in keep))
        for s in digest.sections
    )
    edition = dataclasses.replace(
        digest,
        sections=tuple(s for s in sections if s.items),
        layout="watchlists",
        stories=len(order),
        more=max(len(order) - max_items, 0),
    )
    return edition, order[max_items:]


# --- what an entry shows -----------------------------------------------------------------


def sources_line(item: AlertItem, shown: int = SOURCES_SHOWN) -> str:
    """ "POLITICO Europe, Euractiv and 3 more": the outlet, then the others of the story."""
    names = list(dict.fromkeys(n for n in (item.source, *item.also) if n.strip()))
    named = [cut(n, 60) for n in names[:shown]]
    rest = len(names) - shown
    if rest > 0:
        return f"{', '.join(named)} and {rest} more"
    if len(named) == 2:
        return f"{named[0]} and {named[1]}"
    return ", ".join(named)


def tags(item: AlertItem) -> tuple[str, ...]:
    """The story's watchlists (titles), each once, best match first."""
    order = sorted(range(len(item.matches)), key=lambda i: (-item.matches[i].score, i))
    titles = [
        item.watchlist_titles[i] if i < len(item.watchlist_titles) else item.matches[i].watchlist
        for i in order
    ]
    return tuple(dict.fromkeys(cut(t, 60) for t in titles))


_FOLD = re.compile(r"\W+")


def _folded(text: str) -> str:
    return _FOLD.sub(" ", text.replace(ELLIPSIS, " ")).strip().casefold()


def repeats_title(text: str, title: str) -> bool:
    """True when ``text`` says nothing the title does not: the same words, or a part of
    them (a summary that only repeats the headline)."""
    # Only the start of a title is ever shown: a megabyte title is not folded whole.
    folded, head = _folded(text[:2000]), _folded(title[:2000])
    return not folded or folded in head


def best_snippet(item: AlertItem, limit: int = 300) -> Snippet | None:
    """The snippet to show for a story: from the summary or body, never a copy of the
    title; the one with the most hits marked (then the longest), else the start of the
    summary; None when there is nothing but the title."""
    title = item.article.title
    candidates: dict[str, list[tuple[int, int]]] = {}
    for match in item.matches:
        for hit in match.hits:
            text = hit.snippet.text
            if hit.field != "title" and text.strip() and not repeats_title(text, title):
                candidates.setdefault(text, []).extend(hit.snippet.marks)
    if candidates:
        text, marks = max(candidates.items(), key=lambda kv: (len(set(kv[1])), len(kv[0])))
        return _bounded(text, marks, limit)
    summary = " ".join(item.article.summary[: limit * 4].split())
    if summary and not repeats_title(summary, title):
        return _bounded(summary, [], limit)
    return None


def _bounded(text: str, marks: Sequence[tuple[int, int]], limit: int) -> Snippet:
    short, kept = shorten(text, marks, limit)
    return Snippet(short, tuple(dict.fromkeys(kept)))


def counts_line(digest: Digest, limit: int = 3, name_chars: int = 60) -> str:
    """ "12 stories, AI Act 5, EDPB 3": the stories and the busiest watchlists."""
    items = stories(digest)
    total = digest.stories or len(items)
    if not total:
        return ""
    per: dict[str, int] = {}
    for item in items:
        for tag in tags(item):
            per[tag] = per.get(tag, 0) + 1
    busiest = sorted(per.items(), key=lambda kv: -kv[1])[:limit]
    word = "story" if total == 1 else "stories"
    return ", ".join([f"{total} {word}", *(f"{cut(t, name_chars)} {n}" for t, n in busiest)])


SUBJECT_TITLE_CHARS = 30
"""The least of the top story's title a subject keeps: counts give way first."""


def subject(digest: Digest, fallback: str, chars: int = SUBJECT_CHARS) -> str:
    """ "AI Act: trilogue ends — 12 stories, AI Act 5, EDPB 3", at most ``chars``: the top
    story's title is cut to leave room for the counts; ``fallback`` for an empty day."""
    items = stories(digest)
    if not items:
        return cut(fallback, chars)
    title = " ".join(items[0].article.title[:2000].split()) or "(untitled)"
    # Two watchlists, then one, then none, until the title keeps enough room.
    for limit in (2, 1, 0):
        counts = counts_line(digest, limit=limit, name_chars=24)
        room = chars - len(counts) - 3
        if room >= min(SUBJECT_TITLE_CHARS, len(title)):
            break
    return f"{cut(title, max(room, 1))} — {counts}"
