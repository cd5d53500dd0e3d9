"""Every e-mail is bounded, and a digest too large for the server is split (issue 10
item 3): titles, names, snippets and links cut to documented lengths; parts under
``max_bytes`` holding whole items, each item exactly once."""

from __future__ import annotations

import tracemalloc
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.models import AlertItem, Digest, DigestSection, Hit, Match
from monitor.render.email import (
    NAME_CHARS,
    NAMES_SHOWN,
    SNIPPET_CHARS,
    TITLE_CHARS,
    digest_subset,
    message_size,
    render_digest_email,
    render_digest_emails,
)
from tests.support.digest_sample import GPAI, sample_digest, snippet

MAIL_FROM = "EU Watch <watch@example.org>"
HUGE = "Brussels " * 120_000  # ~1 MB, words and spaces like a real (broken) feed


def huge_item(n: int) -> AlertItem:
    text = f"AI Act {n} " + HUGE
    hit = Hit("AI Act", "AI Act", "summary", 0, 6, snippet=snippet(text, "AI Act"))
    article = replace(
        GPAI, key=f"guid:{n}", title=f"Title {n} " + HUGE, url="https://example.eu/" + "a" * 5000
    )
    return AlertItem(
        outbox_id=n,
        article=article,
        source="S" * 500,
        matches=(Match("ai-act", 1.0, (hit,)),),
        watchlist_titles=("AI Act",),
        also=tuple(f"Outlet {i}" for i in range(40)),
    )


def digest_of(items: list[AlertItem]) -> Digest:
    return replace(sample_digest(), sections=(DigestSection("ai-act", "A" * 500, tuple(items)),))


def test_titles_snippets_names_and_links_are_cut() -> None:
    message = render_digest_email(digest_of([huge_item(1)]), mail_from=MAIL_FROM)
    lines = message.text.splitlines()
    [title] = [line for line in lines if "Title 1" in line]
    assert title.endswith("…")
    assert len(title.removeprefix("1. ")) <= TITLE_CHARS
    [quote] = [line for line in lines if line.strip().startswith(">")]
    assert quote.endswith("…")
    assert len(quote.strip().removeprefix("> ").replace("*", "")) <= SNIPPET_CHARS
    assert "S" * (NAME_CHARS + 1) not in message.text
    assert "A" * (NAME_CHARS + 1) not in message.text
    assert "aaaa" not in message.text  # a 5,000-character link is junk: not shown
    also = next(line for line in lines if "Also reported by" in line)
    assert also.count("Outlet") == NAMES_SHOWN
    assert also.endswith(f"and {40 - NAMES_SHOWN} more")
    assert message.html is not None
    assert len(message.html) < 10_000


def test_a_digest_of_huge_items_renders_in_bounded_memory() -> None:
    # Issue 10 item 3: 720 MB to render one digest with megabyte titles.  Twenty items
    # of 2 MB each now render into a few kilobytes each.
    items = [huge_item(n) for n in range(1, 21)]
    digest = digest_of(items)
    tracemalloc.start()
    try:
        message = render_digest_email(digest, mail_from=MAIL_FROM)
        size = message_size(message)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size < 20 * 6_000
    assert peak < 8_000_000


def test_a_digest_that_fits_is_one_message() -> None:
    out = render_digest_emails(sample_digest(), mail_from=MAIL_FROM)
    assert out.too_large == ()
    assert [m.subject for m in out.messages] == [
        render_digest_email(sample_digest(), mail_from=MAIL_FROM).subject
    ]


def test_a_digest_over_the_limit_is_split_into_numbered_parts() -> None:
    digest = sample_digest()
    whole = message_size(render_digest_email(digest, mail_from=MAIL_FROM))
    limit = whole * 2 // 3
    out = render_digest_emails(digest, mail_from=MAIL_FROM, max_bytes=limit)
    assert out.too_large == ()
    assert len(out.messages) >= 2
    assert all(message_size(m) <= limit for m in out.messages)
    n = len(out.messages)
    assert [(m.subject or "").split(" ")[0] for m in out.messages] == [
        f"({i}/{n})" for i in range(1, n + 1)
    ]
    assert all(
        f"EU watch digest, Mon 30 Nov 2026 (part {i} of {n})" in m.text
        for i, m in enumerate(out.messages, 1)
    )
    # Whole items, each once, in the digest's order; GPAI (two watchlists) travels whole.
    ids = [i for m in out.messages for i in m.outbox_ids]
    assert ids == [1, 2, 4, 3]
    gpai = [m for m in out.messages if 2 in m.outbox_ids]
    assert len(gpai) == 1
    assert gpai[0].text.count(GPAI.title) == 2
    assert len({dict(m.headers)["Message-ID"] for m in out.messages}) == n


def test_an_item_too_large_alone_is_set_aside() -> None:
    digest = sample_digest()
    alone = {
        i: message_size(render_digest_email(digest_subset(digest, [i]), mail_from=MAIL_FROM))
        for i in (1, 2, 3, 4)
    }
    biggest = max(alone, key=alone.__getitem__)
    limit = (alone[biggest] + max(v for k, v in alone.items() if k != biggest)) // 2
    out = render_digest_emails(digest, mail_from=MAIL_FROM, max_bytes=limit)
    [(item, size)] = out.too_large
    assert item.outbox_id == biggest
    assert size == alone[biggest]
    assert sorted(i for m in out.messages for i in m.outbox_ids) == sorted(set(alone) - {biggest})
    # Nothing fits at all: every item is set aside, nothing is sent.
    nothing = render_digest_emails(digest, mail_from=MAIL_FROM, max_bytes=1000)
    assert nothing.messages == ()
    assert sorted(item.outbox_id for item, _ in nothing.too_large) == [1, 2, 3, 4]


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=1, max_value=40), st.integers(min_value=6_000, max_value=60_000))
def test_parts_fit_and_hold_every_item_once(count: int, limit: int) -> None:
    items = [replace(huge_item(n), also=()) for n in range(1, count + 1)]
    out = render_digest_emails(digest_of(items), mail_from=MAIL_FROM, max_bytes=limit)
    assert all(message_size(m) <= limit for m in out.messages)
    sent = [i for m in out.messages for i in m.outbox_ids]
    aside = [item.outbox_id for item, _ in out.too_large]
    assert sorted(sent + aside) == list(range(1, count + 1))
    assert sent == sorted(sent)


def test_the_count_of_stories_left_out_is_said_once_in_the_last_part() -> None:
    digest = replace(sample_digest(), more=7)
    whole = message_size(render_digest_email(digest, mail_from=MAIL_FROM))
    out = render_digest_emails(digest, mail_from=MAIL_FROM, max_bytes=whole * 2 // 3)
    assert len(out.messages) >= 2
    said = ["7 more stories" in m.text for m in out.messages]
    assert said == [False] * (len(said) - 1) + [True]
