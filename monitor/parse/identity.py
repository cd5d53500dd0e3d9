"""Entry identity within one feed, by cascade: ``guid:``, ``guid+link:``, ``link:``, ``hash:``.

Each entry takes the first key that is unique among the entries still unkeyed at that
level: its guid; its guid with its canonical link (feeds that give every item the same
guid); its canonical link (feeds without guids); a hash of its normalised title and
summary (``monitor.identity.text_hash``; feeds without either, or with one shared
link).  Entries identical down to the hash are one entry published twice: the first is
kept.

Caveat, inherent in the cascade: a guid that becomes shared later (a second item
arrives with the same guid) moves the older entry from ``guid:`` to ``guid+link:``;
storage also dedupes by canonical URL, which keeps such an entry from coming back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from monitor.identity import text_hash


@dataclass(frozen=True, slots=True)
class IdentityParts:
    guid: str | None
    link: str | None
    """The canonical link (or the link as given when it is not an http(s) URL)."""
    title: str
    summary: str


def assign_keys(entries: Sequence[IdentityParts]) -> tuple[list[str | None], list[str]]:
    """Return one key per entry (None for a repeat to drop) and the problems seen."""
    keys: list[str | None] = [None] * len(entries)
    todo = list(range(len(entries)))
    problems: list[str] = []

    def level(prefix: str, value_of: dict[int, str]) -> None:
        nonlocal todo
        if not value_of:
            return
        # Most feeds have distinct ids: a set answers that without counting each value.
        unique = len(set(value_of.values())) == len(value_of)
        counts = None if unique else Counter(value_of.values())
        rest = []
        for i in todo:
            value = value_of.get(i)
            if value is not None and (counts is None or counts[value] == 1):
                keys[i] = prefix + value
            else:
                rest.append(i)
        todo = rest

    level("guid:", {i: g for i in todo if (g := entries[i].guid)})
    if todo:
        level(
            "guid+link:",
            {i: f"{e.guid}|{e.link}" for i in todo if (e := entries[i]).guid and e.link},
        )
    if todo:
        level("link:", {i: link for i in todo if (link := entries[i].link)})
    seen: set[str] = set()
    dropped = weak = 0
    for i in todo:
        digest = text_hash(entries[i].title, entries[i].summary)
        if digest in seen:
            dropped += 1
            continue
        seen.add(digest)
        keys[i] = "hash:" + digest
        weak += bool(entries[i].guid or entries[i].link)
    paired = sum(1 for k in keys if k and k.startswith("guid+link:"))
    if paired:
        problems.append(
            f"{_n(paired, 'entry shares its', 'entries share their')} guid "
            "with another entry; identified by guid and link"
        )
    if weak:
        problems.append(
            f"{_n(weak, 'entry has', 'entries have')} neither a unique guid "
            "nor a unique link; identified by a hash of title and summary"
        )
    if dropped:
        problems.append(
            f"dropped {_n(dropped, 'entry', 'entries')} repeating an earlier one "
            "(no distinct guid or link, same title and summary)"
        )
    return keys, problems


def _n(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"
