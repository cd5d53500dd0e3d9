"""E-mail digest rendering: golden files, subject, highlighting, headers, MIME structure.

Regenerate the golden files after an intended change with ``UPDATE_GOLDEN=1 pytest``
and review the diff.
"""

from __future__ import annotations

import html
import os
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.models import DigestSection, OutgoingMessage, Snippet, Target
from monitor.render.email import (
    build_email_message,
    format_when,
    highlight_html,
    highlight_text,
    render_digest_email,
)
from tests.support.digest_sample import sample_digest

GOLDEN = Path(__file__).parent.parent / "data" / "render"
MAIL_FROM = "EU Watch <watch@example.org>"


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(actual, encoding="utf-8")
    assert actual == path.read_text(encoding="utf-8"), f"{name} differs (UPDATE_GOLDEN=1)"


def test_text_part_matches_golden() -> None:
    check_golden("email_digest.txt", render_digest_email(sample_digest(), mail_from=MAIL_FROM).text)


def test_html_part_matches_golden() -> None:
    message = render_digest_email(sample_digest(), mail_from=MAIL_FROM)
    assert message.html is not None
    check_golden("email_digest.html", message.html)


def test_subject_says_what_happened_with_distinct_counts() -> None:
    # Issue 17: the first story's title and the counts, cut to what mail clients show.
    # GPAI is in two watchlists: four stories, not five; the empty section is not counted.
    message = render_digest_email(sample_digest(), mail_from=MAIL_FROM)
    assert message.subject == (
        "Dragoș Tudorache: the AI Act's… — 4 stories, AI Act 2, Digital Services Act 2"
    )
    assert len(message.subject) <= 78
    assert message.outbox_ids == (1, 2, 4, 3)
    assert message.plain == message.text


def test_heading_date_is_the_recipients_local_date() -> None:
    # 23:30 UTC on Sunday is already Monday in Brussels.
    digest = replace(sample_digest(), period_end=datetime(2026, 11, 29, 23, 30, tzinfo=UTC))
    text = render_digest_email(digest, mail_from=MAIL_FROM).text
    assert text.startswith("EU watch digest, Mon 30 Nov 2026\n")


def test_singular_counts() -> None:
    digest = sample_digest()
    digest = replace(digest, sections=(digest.sections[2],))
    message = render_digest_email(digest, mail_from=MAIL_FROM)
    expected = "Council agrees position on data retention — 1 story, Data & privacy 1"
    assert message.subject == expected


def test_empty_digest_says_so() -> None:
    digest = replace(sample_digest(), sections=(DigestSection("quiet", "Quiet", ()),))
    message = render_digest_email(digest, mail_from=MAIL_FROM)
    assert message.subject == "EU watch digest, Mon 30 Nov 2026: nothing new"
    assert "Nothing matched your watchlists since Sun 29 Nov, 08:00 CET." in message.text
    assert message.outbox_ids == ()


def test_html_escapes_titles_and_links_only_web_urls() -> None:
    html_part = render_digest_email(sample_digest(), mail_from=MAIL_FROM).html or ""
    assert "GPAI &lt;draft&gt; code &amp; the DSA" in html_part
    assert "<draft>" not in html_part
    assert "javascript:" not in html_part
    assert (
        'href="https://www.euractiv.com/section/tech/news/tudorache-code-of-practice/?utm=1&amp;x=2"'
        in html_part
    )


def test_https_unsubscribe_adds_one_click_post() -> None:
    headers = dict(render_digest_email(sample_digest(), mail_from=MAIL_FROM).headers)
    assert headers["List-Unsubscribe"] == "<https://example.org/unsub?u=1>"
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert headers["Auto-Submitted"] == "auto-generated"


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("mailto:unsub@example.org?subject=stop", "<mailto:unsub@example.org?subject=stop>"),
        (None, None),
        ("ftp://example.org/x", None),
    ],
)
def test_unsubscribe_without_one_click(uri: str | None, expected: str | None) -> None:
    message = render_digest_email(sample_digest(unsubscribe=uri), mail_from=MAIL_FROM)
    headers = dict(message.headers)
    assert headers.get("List-Unsubscribe") == expected
    assert "List-Unsubscribe-Post" not in headers
    assert ("Unsubscribe:" in message.text) == (expected is not None)


def test_message_id_is_stable_per_rows_and_recipient() -> None:
    def mid(address: str) -> str:
        message = render_digest_email(sample_digest(address), mail_from=MAIL_FROM)
        return dict(message.headers)["Message-ID"]

    assert mid("a@example.org") != mid("b@example.org")
    assert re.fullmatch(r"<digest\.[0-9a-f]{24}@example\.org>", mid("a@example.org"))
    # A retry renders the same rows later: same message.  Other rows: another message.
    later = replace(sample_digest(), period_end=datetime(2026, 11, 30, 9, 30, tzinfo=UTC))
    assert dict(render_digest_email(later, mail_from=MAIL_FROM).headers)["Message-ID"] == mid(
        "policy@example.org"
    )
    fewer = replace(sample_digest(), sections=sample_digest().sections[:1])
    assert dict(render_digest_email(fewer, mail_from=MAIL_FROM).headers)["Message-ID"] != mid(
        "policy@example.org"
    )


def test_local_time_follows_daylight_saving() -> None:
    brussels = ZoneInfo("Europe/Brussels")
    assert format_when(datetime(2026, 7, 1, 6, 0, tzinfo=UTC), brussels) == "Wed 1 Jul, 08:00 CEST"
    assert format_when(datetime(2026, 12, 1, 7, 0, tzinfo=UTC), brussels) == "Tue 1 Dec, 08:00 CET"


def test_highlight_merges_overlapping_and_clamps_marks() -> None:
    snippet = Snippet("a < b & c", ((0, 3), (2, 5), (8, 99), (4, 4)))
    assert highlight_text(snippet) == "*a < b* & *c*"
    assert str(highlight_html(snippet)).count("<mark") == 2
    assert "&lt; b</mark> &amp; " in str(highlight_html(snippet))


@given(
    st.text(max_size=60),
    st.lists(st.tuples(st.integers(-5, 70), st.integers(-5, 70)), max_size=6),
)
def test_highlight_html_only_adds_mark_tags(text: str, marks: list[tuple[int, int]]) -> None:
    out = str(highlight_html(Snippet(text, tuple(marks))))
    assert html.unescape(re.sub(r"<mark[^>]*>|</mark>", "", out)) == text
    assert "<" not in re.sub(r"<mark[^>]*>|</mark>", "", out)


def test_build_email_message_structure() -> None:
    rendered = render_digest_email(sample_digest(), mail_from=MAIL_FROM)
    msg = build_email_message(rendered, date=datetime(2026, 11, 30, 7, 0, 5, tzinfo=UTC))
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert msg["Date"] == "Mon, 30 Nov 2026 07:00:05 +0000"
    assert msg["To"] == "policy@example.org"
    assert msg["From"] == MAIL_FROM
    assert msg["Message-ID"] == dict(rendered.headers)["Message-ID"]
    plain = msg.get_body(("plain",))
    assert plain is not None
    assert plain.get_content() == rendered.text


def test_build_email_message_without_html_is_single_part() -> None:
    target = Target("ops", "email", "ops@example.org")
    message = OutgoingMessage(
        target, "Test ✓", "Test ✓", (), subject="Test ✓", headers=(("From", MAIL_FROM),)
    )
    msg = build_email_message(message, date=datetime(2026, 1, 1, tzinfo=UTC))
    assert msg.get_content_type() == "text/plain"
    assert msg["Message-ID"].endswith("@example.org>")


def test_build_email_message_refuses_what_it_cannot_send() -> None:
    telegram = OutgoingMessage(Target("c", "telegram", "@c"), "x", "x", ())
    with pytest.raises(ValueError, match="not an e-mail target"):
        build_email_message(telegram, date=datetime(2026, 1, 1, tzinfo=UTC))
    no_from = OutgoingMessage(Target("p", "email", "p@example.org"), "x", "x", ())
    with pytest.raises(ValueError, match="no From header"):
        build_email_message(no_from, date=datetime(2026, 1, 1, tzinfo=UTC))


def test_an_item_with_more_hits_than_reported_says_how_many_more() -> None:
    """Issue 10: a match keeps ten hits a field and counts the rest."""
    digest = sample_digest()
    section = digest.sections[0]
    first = section.items[0]
    many = replace(first, matches=tuple(replace(m, hit_count=25_000) for m in first.matches))
    shown = len(first.matches[0].hits)
    section = replace(section, items=(many, *section.items[1:]))
    digest = replace(digest, sections=(section, *digest.sections[1:]))
    message = render_digest_email(digest, mail_from=MAIL_FROM)
    assert f"(and {25_000 - shown:,} more hits)" in message.text
    assert f"and {25_000 - shown:,} more hits</div>" in (message.html or "")
    assert "more hits" not in render_digest_email(sample_digest(), mail_from=MAIL_FROM).text
    # The digest edition's stories layout (issue 17) says it too.
    stories = render_digest_email(replace(digest, layout="stories"), mail_from=MAIL_FROM)
    assert "more hits)" in stories.text
