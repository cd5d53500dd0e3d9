"""A small but awkward digest for rendering and delivery tests.

Non-ASCII names, ``<`` and ``&`` in titles, an emoji, an article in two watchlists, one
without a link and one whose link is not a web link.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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


# --- a fixed day for the digest edition (issue 17) -----------------------------------------

DAY_END = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)  # Tue 1 Dec 2026, 08:00 in Brussels
DAY_PRIORITIES = {"ai-act": "instant", "edpb": "instant", "dsa": "digest", "csam": "digest"}
_TITLES = {
    "ai-act": "AI Act",
    "edpb": "EDPB",
    "dsa": "Digital Services Act",
    "csam": "Chat control",
}


def _story(
    n: int,
    title: str,
    source: str,
    hour: int,
    watchlists: dict[str, tuple[str, str]],
    also: tuple[str, ...] = (),
    url: str | None = None,
) -> AlertItem:
    """A story published ``hour`` o'clock UTC on 30 Nov; ``watchlists`` maps a watchlist
    to (term, summary snippet text) of its hit."""
    art = Article(
        feed_id=source.lower().replace(" ", "-"),
        key=f"guid:day-{n}",
        title=title,
        url=url or f"https://news.example.eu/2026/11/30/story-{n}",
        summary=next(iter(watchlists.values()))[1],
        published=datetime(2026, 11, 30, hour, 10, tzinfo=UTC),
    )
    matches = tuple(
        Match(wl, 2.0 - i * 0.5, (hit(term, text),))
        for i, (wl, (term, text)) in enumerate(watchlists.items())
    )
    return AlertItem(
        100 + n, art, source, matches, tuple(_TITLES[wl] for wl in watchlists), also=also
    )


def edition_day() -> Digest:
    """Nine stories of one day, as the outbox hands them over: several sources, stories
    in two or three watchlists (listed under each), one headline repeated as its summary."""
    stories = [
        _story(
            1,
            "AI Act: trilogue ends with a deal on general-purpose models",
            "POLITICO Europe",
            22,
            {
                "ai-act": (
                    "AI Act",
                    "Negotiators closed the AI Act trilogue at 2 a.m. with"
                    " obligations for general-purpose models and a review clause.",
                ),
                "edpb": ("EDPB", "The EDPB will sit on the AI Board as an observer."),
            },
            also=("Euractiv", "MLex", "Tagesspiegel Background", "Contexte"),
        ),
        _story(
            2,
            "EDPB adopts opinion on AI models and personal data",
            "EDPB",
            14,
            {
                "edpb": (
                    "EDPB",
                    "The EDPB adopted an opinion on the use of personal data for"
                    " training AI models, after a request from the Irish DPA.",
                ),
                "ai-act": (
                    "AI models",
                    "Training AI models on scraped data needs a legal basis, the opinion says.",
                ),
            },
            also=("IAPP",),
        ),
        _story(
            3,
            "Commission opens DSA proceedings against a marketplace",
            "Euractiv",
            10,
            {
                "dsa": (
                    "DSA",
                    "The Commission opened formal DSA proceedings over the"
                    " marketplace's recommender systems and dark patterns.",
                )
            },
            also=("Reuters", "MLex"),
        ),
        _story(
            4,
            "Council presidency tables new chat control compromise",
            "netzpolitik.org",
            16,
            {
                "csam": (
                    "chat control",
                    "The compromise keeps detection orders but drops"
                    " scanning of encrypted messages, for now.",
                )
            },
        ),
        _story(
            5,
            "GPAI code of practice: second draft published",
            "Euractiv",
            9,
            {
                "ai-act": (
                    "AI Act",
                    "The second draft of the code of practice under the AI Act"
                    " adds a copyright chapter.",
                ),
                "dsa": ("DSA", "Platforms designated under the DSA signed up first."),
            },
        ),
        _story(
            6,
            "CNIL fines data broker €1.2 million",
            "CNIL",
            12,
            {"edpb": ("GDPR", "CNIL fines data broker €1.2 million")},
        ),
        _story(
            7,
            "Parliament committee backs AI liability rules",
            "Parliament press",
            8,
            {
                "ai-act": (
                    "AI Act",
                    "The committee vote aligns liability with the AI Act's risk classes.",
                )
            },
        ),
        _story(
            8,
            "DSA transparency database passes 20 billion statements",
            "Tech Policy Press",
            6,
            {
                "dsa": (
                    "DSA",
                    "Researchers warn that the DSA database lacks free-text"
                    " reasons in most entries.",
                )
            },
        ),
        _story(
            9,
            "noyb files complaints over AI chatbot hallucinations",
            "noyb",
            7,
            {
                "edpb": (
                    "GDPR",
                    "noyb asks the Norwegian DPA to order the provider to"
                    " correct false data, citing the GDPR.",
                ),
                "ai-act": ("AI", "The AI Act does not cover the case, noyb says."),
            },
        ),
    ]
    sections = []
    for wl, title in _TITLES.items():
        items = tuple(s for s in stories if any(m.watchlist == wl for m in s.matches))
        sections.append(DigestSection(wl, title, items))
    return Digest(
        target=sample_target(),
        timezone="Europe/Brussels",
        period_end=DAY_END,
        period_start=DAY_END - timedelta(days=1),
        sections=tuple(sections),
        unsubscribe="mailto:watch@example.org?subject=unsubscribe%20policy-team",
    )
