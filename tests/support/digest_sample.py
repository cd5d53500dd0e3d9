"""A small but awkward digest for rendering and delivery tests.

Non-ASCII names, ``<`` and ``&`` in titles, an emoji, an article in two watchlists, one
without a link and one whose link is not a web link.
"""

from __future__ import annotations

from datetime import UTC, datetime

from monitor.models import (
    AlertItem,
    Article,
    Digest,
    DigestSection,
    Field,
    Hit,
    Match,
    Snippet,
    Target,
)

PERIOD_END = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)  # Mon 30 Nov 2026, 08:00 in Brussels
PERIOD_START = datetime(2026, 11, 29, 7, 0, tzinfo=UTC)


def snippet(text: str, *terms: str) -> Snippet:
    """A snippet of ``text`` with every occurrence of each term marked."""
    marks: list[tuple[int, int]] = []
    for term in terms:
        start = text.find(term)
        while start >= 0:
            marks.append((start, start + len(term)))
            start = text.find(term, start + 1)
    return Snippet(text, tuple(sorted(marks)))


def hit(term: str, text: str, field: Field = "summary") -> Hit:
    return Hit(
        term=term, text=term, field=field, start=0, end=len(term), snippet=snippet(text, term)
    )


def article(key: str, title: str, url: str | None, hour: int, summary: str = "") -> Article:
    return Article(
        feed_id="euractiv",
        key=f"guid:{key}",
        title=title,
        url=url,
        summary=summary,
        published=datetime(2026, 11, 29, hour, 5, tzinfo=UTC),
    )


TUDORACHE = article(
    "1",
    "Dragoș Tudorache: the AI Act's code of practice is “not optional”",
    "https://www.euractiv.com/section/tech/news/tudorache-code-of-practice/?utm=1&x=2",
    13,
)
TUDORACHE_TEXT = (
    "… MEP Dragoș Tudorache said the AI Act code for GPAI models would bind providers …"
)
GPAI = article("2", "GPAI <draft> code & the DSA: what changes 🚀", "https://example.eu/gpai", 16)
GPAI_TEXT = "The draft code links the AI Act and the DSA for very large platforms & search engines."
NO_LINK = article("3", "Council agrees position on data retention", None, 9)
BAD_LINK = article("4", "Commission opens DSA probe into marketplace", "javascript:alert(1)", 20)


def sample_target(address: str = "policy@example.org") -> Target:
    return Target(destination="policy-team", channel="email", address=address)


def sample_digest(
    address: str = "policy@example.org", unsubscribe: str | None = "https://example.org/unsub?u=1"
) -> Digest:
    """Three watchlists, four articles; GPAI is in both "AI Act" and "DSA"."""
    ai_tudorache = Match(
        "ai-act", 2.0, (hit("AI Act", TUDORACHE_TEXT), hit("GPAI", TUDORACHE_TEXT))
    )
    ai_gpai = Match("ai-act", 1.0, (hit("AI Act", GPAI_TEXT),))
    dsa_gpai = Match("dsa", 1.0, (hit("DSA", GPAI_TEXT),))
    dsa_probe = Match("dsa", 1.0, (hit("DSA", BAD_LINK.title, "title"),))
    data = Match("data", 1.0, (hit("data retention", "Ministers agree on data retention rules."),))
    tudorache_item = AlertItem(1, TUDORACHE, "Euractiv", (ai_tudorache,), ("AI Act",))
    gpai_item = AlertItem(
        2,
        GPAI,
        "Euractiv",
        (ai_gpai, dsa_gpai),
        ("AI Act", "Digital Services Act"),
        also=("Politico Europe", "MLex"),
    )
    probe_item = AlertItem(4, BAD_LINK, "Euractiv", (dsa_probe,), ("Digital Services Act",))
    data_item = AlertItem(3, NO_LINK, "Council of the EU", (data,), ("Data & privacy",))
    return Digest(
        target=sample_target(address),
        timezone="Europe/Brussels",
        period_end=PERIOD_END,
        period_start=PERIOD_START,
        sections=(
            DigestSection("ai-act", "AI Act", (tudorache_item, gpai_item)),
            DigestSection("dsa", "Digital Services Act", (gpai_item, probe_item)),
            DigestSection("data", "Data & privacy", (data_item,)),
            DigestSection("quiet", "Nothing today", ()),
        ),
        unsubscribe=unsubscribe,
    )
