"""Issue 10 item 2: one item that repeats a watched word 25,000 times costs its length.

A match reports at most ``MAX_HITS_PER_FIELD`` hits a field and the exact number of
hits; only those few are mapped back to the text and get a snippet.  The work is
counted at its seams (look-ups that scan the text, snippets built), never timed.
"""

from __future__ import annotations

import random

import pytest

from monitor.match import matcher as matcher_module
from monitor.match import offsets
from monitor.match.matcher import MAX_HITS_PER_FIELD
from tests.match.helpers import article, matcher

KEYWORDS = """
watchlists:
  privacy:
    any: [privacy]
  edpb:
    any: ["=EDPB"]
  ai-act:
    any: [AI Act]
    ignore: [Colorado AI Act]
  surveillance:
    near: [{terms: [privacy, surveillance], within: 2}]
"""


class _Counted:
    """Counts calls of a function at one seam, and passes them on."""

    def __init__(self, func, *, snippets: bool = False):  # type: ignore[no-untyped-def]
        self.func = func
        self.snippets = snippets
        self.calls = 0
        self.marks = 0
        """The most marks one snippet was given."""

    def __call__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.calls += 1
        if self.snippets:  # build_hit(results, fast, text, start, end, marks, ...)
            self.marks = max(self.marks, len(args[5]))
        return self.func(*args, **kwargs)


def test_25000_repetitions_report_ten_hits_and_the_exact_count() -> None:
    m = matcher(KEYWORDS)
    summary = "privacy " * 25_000  # 200 KB, as issue 10's 150 KB item
    title = "Privacy and privacy"
    found = {x.watchlist: x for x in m.match(article(title, summary))}
    hits = found["privacy"].hits
    assert found["privacy"].hit_count == 25_002
    assert [h.field for h in hits] == ["title"] * 2 + ["summary"] * MAX_HITS_PER_FIELD
    assert found["privacy"].more_hits == 25_002 - 2 - MAX_HITS_PER_FIELD
    # The first hits of each field, in text order, slicing the text.
    assert [h.start for h in hits[2:]] == [8 * i for i in range(MAX_HITS_PER_FIELD)]
    for hit in hits:
        field = title if hit.field == "title" else summary
        assert field[hit.start : hit.end] == hit.text
    # The snippet marks only the hits it reports.
    assert len(hits[2].snippet.marks) <= MAX_HITS_PER_FIELD
    explained = {e.watchlist: e for e in m.explain(article(title, summary))}["privacy"]
    assert (len(explained.hits), explained.hit_count) == (12, 25_002)


def test_the_work_per_hit_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Snippets are built for the reported hits only, and after a few look-ups the
    offsets come from an index, not from scanning the text again (``_find_word``)."""
    # Every hit reported gets its snippet in ``build_hit``, compiled or not.
    snippets = _Counted(matcher_module.build_hit, snippets=True)
    monkeypatch.setattr(matcher_module, "build_hit", snippets)
    lookups = _Counted(offsets._find_word)
    monkeypatch.setattr(offsets, "_find_word", lookups)
    m = matcher(KEYWORDS)
    # A case-sensitive term checks the case of every hit against the original text.
    text = "EDPB privacy surveillance Colorado AI Act " * 5_000
    found = {x.watchlist: x for x in m.match(article(content=text))}
    assert found["edpb"].hit_count == 5_000
    assert found["privacy"].hit_count == 5_000
    assert found["surveillance"].hit_count == 2  # the closest pair
    assert "ai-act" not in found  # every "AI Act" is inside "Colorado AI Act"
    assert snippets.calls <= 3 * MAX_HITS_PER_FIELD
    assert 0 < snippets.marks <= MAX_HITS_PER_FIELD
    assert lookups.calls <= 2 * offsets.DIRECT_LOOKUPS
    for match in found.values():
        for hit in match.hits:
            assert text[hit.start : hit.end] == hit.text


def test_hits_beyond_the_bound_are_those_of_a_longer_text() -> None:
    """The reported hits do not depend on how many follow them."""
    m = matcher(KEYWORDS)
    short = m.match(article(content="privacy " * MAX_HITS_PER_FIELD))
    long = m.match(article(content="privacy " * 3_000))
    assert [(h.start, h.end) for h in short[0].hits] == [(h.start, h.end) for h in long[0].hits]
    assert (short[0].hit_count, long[0].hit_count) == (MAX_HITS_PER_FIELD, 3_000)


def test_non_ascii_text_with_many_hits_maps_every_offset() -> None:
    """A text no code page can fold goes through UTF-8 bytes; offsets stay exact."""
    m = matcher("watchlists: {w: {any: [βιομετρία, privacy]}}")
    text = "Η βιομετρία 🙂 privacy, " * 4_000
    found = m.match(article(content=text))[0]
    assert found.hit_count == 8_000
    for hit in found.hits:
        assert text[hit.start : hit.end] == hit.text


def _reference_near(spans: list[list[tuple[tuple[int, int], int]]]) -> int | None:
    """The smallest gap of a window with one hit of every slot (brute force)."""
    best = None
    for i, anchors in enumerate(spans):
        for (a_start, a_stop), _ in anchors:
            last_start = a_start
            for j, options in enumerate(spans):
                if j == i:
                    continue
                later = [s for (s, e), _ in options if e >= a_stop]
                if not later:
                    break
                last_start = max(last_start, min(later))
            else:
                gap = max(0, last_start - a_stop)
                best = gap if best is None else min(best, gap)
    return best


@pytest.mark.parametrize("seed", range(40))
def test_near_and_ignore_decide_as_a_pass_over_every_pair(seed: int) -> None:
    rng = random.Random(seed)
    words = ["privacy", "surveillance", "colorado", "ai", "act", "other", "news"]
    text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 60)))
    m = matcher(
        """
watchlists:
  near:
    near: [{terms: [privacy, surveillance], within: 1}]
  act:
    any: [AI Act]
    ignore: [Colorado AI Act]
"""
    )
    found = {x.watchlist for x in m.match(article(content=text))}
    tokens = text.split()
    positions = {w: [i for i, t in enumerate(tokens) if t == w] for w in words}
    slots = [[((i, i + 1), i) for i in positions[w]] for w in ("privacy", "surveillance")]
    gap = _reference_near(slots) if all(slots) else None
    assert ("near" in found) == (gap is not None and gap <= 1)
    acts = [i for i in range(len(tokens) - 1) if tokens[i : i + 2] == ["ai", "act"]]
    free = [i for i in acts if i == 0 or tokens[i - 1] != "colorado"]
    assert ("act" in found) == bool(free)
