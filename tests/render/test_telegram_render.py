"""Telegram rendering: golden files, the 4096 limit after entity parsing, and escaping.

Every rendered HTML text is checked with the local Bot API server's parser (tdlib's
rules) in strict mode, so an unescaped ``&`` fails here even though Telegram would
only have shown it literally.  ``UPDATE_GOLDEN=1 pytest tests/render`` rewrites the
expected files after a deliberate change.
"""

from __future__ import annotations

import dataclasses
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.models import (
    Alert,
    AlertItem,
    Digest,
    DigestSection,
    Hit,
    Match,
    OutgoingMessage,
    Snippet,
)
from monitor.render.telegram import (
    MAX_LENGTH,
    render_alert,
    render_digest,
    render_story_update,
    render_test_message,
    utf16_len,
)
from tests.support.telegram_html import entity_texts, parse_html
from tests.support.telegram_samples import burst, item, load_case, target

GOLDEN = Path(__file__).parent.parent / "data" / "render" / "telegram"
NOW = datetime(2026, 11, 29, 15, 0, tzinfo=UTC)


def shown(message: OutgoingMessage) -> str:
    """What a Telegram reader sees for the HTML text (strict: every ``&`` escaped)."""
    return parse_html(message.text, strict_entities=True).text


def check_limits(messages: list[OutgoingMessage]) -> None:
    for m in messages:
        assert utf16_len(shown(m)) <= MAX_LENGTH
        assert utf16_len(m.plain) <= MAX_LENGTH
        assert m.plain.strip()


def dump(messages: list[OutgoingMessage]) -> str:
    out: list[str] = []
    for n, m in enumerate(messages, 1):
        ids = ", ".join(map(str, m.outbox_ids)) or "-"
        edit = f" · edit_of {m.edit_of}" if m.edit_of else ""
        out.append(f"##### message {n}/{len(messages)} · outbox {ids}{edit}\n")
        out.append(f"=== html ({utf16_len(shown(m))} chars shown)\n{m.text}\n")
        out.append(f"=== plain ({utf16_len(m.plain)} chars)\n{m.plain}\n")
    return "\n".join(out)


def render_case(name: str) -> list[OutgoingMessage]:
    case = load_case(GOLDEN / f"{name}.json")
    if case.digest is not None:
        return render_digest(case.digest)
    assert case.alert is not None
    if case.edit_of is not None:
        return [render_story_update(case.alert, now=case.now, edit_of=case.edit_of)]
    return render_alert(case.alert, now=case.now)


@pytest.mark.parametrize(
    "name", ["alert_single", "alert_burst", "alert_hostile", "story_update", "digest_multipart"]
)
def test_golden(name: str) -> None:
    messages = render_case(name)
    check_limits(messages)
    expected = GOLDEN / f"{name}.expected.txt"
    actual = dump(messages)
    if os.environ.get("UPDATE_GOLDEN"):
        expected.write_text(actual, encoding="utf-8")
    assert actual == expected.read_text(encoding="utf-8")


def test_digest_golden_is_really_multipart() -> None:
    messages = render_case("digest_multipart")
    assert len(messages) >= 2
    assert "(1/" in shown(messages[0])
    assert "continued" in shown(messages[1])
    ids = [i for m in messages for i in m.outbox_ids]
    assert sorted(ids) == list(range(1, 14))


def test_hits_are_bold_and_everything_else_is_text() -> None:
    a = item(
        1,
        "Deal on the [[AI Act]] & <GPAI>",
        snippets=("the [[AI Act]] and [[GPAI]] rules",),
        published=NOW,
    )
    (message,) = render_alert(Alert(target(), (a,)), now=NOW)
    parsed = parse_html(message.text, strict_entities=True)
    bold = entity_texts(parsed.text, parsed.entities, "bold")
    assert bold == ["AI Act", "AI Act", "GPAI"]
    assert "Deal on the AI Act & <GPAI>" in parsed.text
    links = [e.url for e in parsed.entities if e.type == "text_link"]
    assert links == ["https://www.euractiv.com/section/tech/news/x/"]


def test_local_time_follows_the_zone_and_daylight_saving() -> None:
    winter = item(1, "W", published=datetime(2026, 1, 15, 12, 0, tzinfo=UTC))
    summer = item(2, "S", published=datetime(2026, 7, 15, 12, 0, tzinfo=UTC))
    now = datetime(2026, 7, 15, 13, 0, tzinfo=UTC)
    (w,) = render_alert(Alert(target(), (winter,)), now=now)
    (s,) = render_alert(Alert(target(), (summer,)), now=now)
    assert "Thu 15 Jan, 13:00 CET" in shown(w)
    assert " 14:00 CEST" in shown(s)
    assert "Jul" not in shown(s)
    (other,) = render_alert(Alert(target(), (summer,), timezone="Asia/Tokyo"), now=now)
    assert "21:00 JST" in shown(other)


def test_a_burst_is_grouped_and_split_between_items() -> None:
    alert = burst(60)
    messages = render_alert(alert, now=NOW)
    check_limits(messages)
    assert len(messages) <= 8  # Telegram allows 20 a minute per channel
    ids = [i for m in messages for i in m.outbox_ids]
    assert ids == [i.outbox_id for i in alert.items]
    for m in messages:
        titles = [i.article.title for i in alert.items if i.outbox_id in m.outbox_ids]
        text = shown(m)
        assert all(t in text for t in titles)
        assert text.startswith(f"🔔 {len(titles)} new matches")


def test_an_item_too_long_alone_loses_snippet_words_not_tags() -> None:
    words = " ".join(f"word{n}" for n in range(3000))
    a = item(1, "Huge", snippets=(f"[[AI Act]] {words}", f"second [[AI Act]] {words}"))
    messages = render_alert(Alert(target(), (a,)), now=NOW)
    assert len(messages) == 1
    check_limits(messages)
    (snippet_line,) = [ln for ln in shown(messages[0]).splitlines() if "word1 " in ln][:1]
    assert snippet_line.endswith("…")
    last = snippet_line.removesuffix("…").split()[-1]
    assert last in words.split()  # cut at a word boundary


def test_a_huge_burst_item_is_shortened_too() -> None:
    long_title = "Title " + "x" * 5000
    items = tuple(
        item(
            n,
            long_title,
            url="https://e.eu/" + "p" * 1990,
            snippets=("y " * 3000,),
            watchlists=tuple(f"W{k}" * 30 for k in range(9)),
            also=tuple(f"Outlet {k}" * 10 for k in range(9)),
        )
        for n in range(1, 6)
    )
    messages = render_alert(Alert(target(), items), now=NOW)
    check_limits(messages)
    assert [i for m in messages for i in m.outbox_ids] == [1, 2, 3, 4, 5]


def test_links_only_for_web_urls() -> None:
    bad = item(1, "JS", url="javascript:alert(1)")
    (m,) = render_alert(Alert(target(), (bad,)), now=NOW)
    assert "<a " not in m.text
    assert "javascript" not in m.plain


def test_story_update_is_one_edit_with_the_other_sources() -> None:
    a = item(5, "Story", also=("Euractiv", "EUobserver"))
    m = render_story_update(Alert(target(), (a,)), now=NOW, edit_of="42")
    assert m.edit_of == "42"
    assert m.outbox_ids == (5,)
    assert "also: Euractiv, EUobserver" in shown(m)
    assert "<i>also: Euractiv, EUobserver</i>" in m.text


def test_empty_digest_says_so() -> None:
    digest = Digest(target(), "Europe/Brussels", NOW, (DigestSection("x", "X", ()),))
    (m,) = render_digest(digest)
    assert shown(m) == "📰 EU watch digest, Sun 29 Nov 2026\nNo new matches."
    assert m.outbox_ids == ()


def test_test_message() -> None:
    m = render_test_message(target(), now=NOW)
    assert "eu-channel (@eu_ai_watch) works" in shown(m)


# --- property -------------------------------------------------------------------------

_text = st.text(st.characters(codec="utf-8"), min_size=0, max_size=300)
_big = st.text(st.characters(codec="utf-8"), max_size=6000)


@st.composite
def _snippets(draw: st.DrawFn) -> Snippet:
    text = draw(st.one_of(_text, _big))
    marks = draw(
        st.lists(
            st.tuples(st.integers(-5, len(text) + 5), st.integers(-5, len(text) + 5)), max_size=6
        )
    )
    return Snippet(text, tuple(marks))


@st.composite
def _items(draw: st.DrawFn, outbox_id: int) -> AlertItem:
    base = item(
        outbox_id,
        "x",
        url=draw(
            st.one_of(
                st.none(),
                st.just("https://e.eu/a?b=1&c=<2>"),
                _text.map(lambda s: "https://e.eu/" + s),
            )
        ),
        source=draw(_text),
        watchlists=tuple(draw(st.lists(_text, max_size=8))),
        also=tuple(draw(st.lists(_text, max_size=8))),
        published=draw(st.one_of(st.none(), st.datetimes(timezones=st.just(UTC)))),
    )
    title = draw(st.one_of(_text, _big))
    hits = [Hit("t", "t", "summary", 0, 1, s) for s in draw(st.lists(_snippets(), max_size=3))]
    start, end = draw(st.integers(-3, len(title) + 3)), draw(st.integers(-3, len(title) + 3))
    hits.append(Hit("t", title[start:end] if start >= 0 else "t", "title", start, end))
    article = dataclasses.replace(base.article, title=title, summary=draw(_text))
    matches = tuple(dataclasses.replace(m, hits=tuple(hits)) for m in base.matches) or (
        Match("w", 1.0, tuple(hits)),
    )
    return dataclasses.replace(base, article=article, matches=matches)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.data())
def test_every_message_parses_and_fits(data: st.DataObject) -> None:
    count = data.draw(st.integers(1, 12))
    items = tuple(data.draw(_items(n)) for n in range(1, count + 1))
    alert = Alert(target(), items)
    messages = render_alert(alert, now=NOW)
    check_limits(messages)
    assert [i for m in messages for i in m.outbox_ids] == list(range(1, count + 1))
    half = count // 2
    digest = Digest(
        target(),
        "Europe/Brussels",
        NOW,
        (
            DigestSection("a", data.draw(_text), items[:half]),
            DigestSection("b", data.draw(_text), items[half:]),
        ),
    )
    parts = render_digest(digest)
    check_limits(parts)
    assert sorted(i for m in parts for i in m.outbox_ids) == list(range(1, count + 1))


def test_an_item_with_more_hits_than_reported_says_how_many_more() -> None:
    """Issue 10: a match keeps ten hits a field and counts the rest."""
    a = item(1, "The [[AI Act]]", snippets=("the [[AI Act]] again",), published=NOW)
    a = dataclasses.replace(
        a, matches=tuple(dataclasses.replace(m, hit_count=25_000) for m in a.matches)
    )
    (message,) = render_alert(Alert(target(), (a,)), now=NOW)
    parsed = parse_html(message.text, strict_entities=True)
    assert "and 24,998 more hits" in parsed.text
    (plain,) = render_alert(Alert(target(), (item(1, "The [[AI Act]]"),)), now=NOW)
    assert "more hits" not in plain.text


def test_a_template_gets_the_more_hits_line() -> None:
    """Issue 10 with the templates: ``more_hits`` is the same line, empty when all shown."""
    template = "{{ title }}{% if more_hits %} ({{ more_hits }}){% endif %}"
    a = item(1, "The [[AI Act]]", published=NOW)
    many = dataclasses.replace(
        a, matches=tuple(dataclasses.replace(m, hit_count=25_000) for m in a.matches)
    )
    (message,) = render_alert(Alert(target(), (many,), template=template), now=NOW)
    assert message.text == "🔔 The AI Act (and 24,999 more hits)"
    (plain,) = render_alert(Alert(target(), (a,), template=template), now=NOW)
    assert plain.text == "🔔 The AI Act"


def test_a_passing_mention_says_mentioned_and_a_main_topic_goes_unsaid() -> None:
    """Issue 18 item 6: the alert says "mentioned" for a passing mention."""
    a = item(1, "Morning Tech: fish, farms and the [[AI Act]]", published=NOW)
    low = dataclasses.replace(
        a, matches=tuple(dataclasses.replace(m, prominence=0.3) for m in a.matches)
    )
    (message,) = render_alert(Alert(target(), (low,)), now=NOW)
    meta = parse_html(message.text, strict_entities=True).text.splitlines()[1]
    assert meta.endswith(" · mentioned")
    edge = dataclasses.replace(
        a, matches=tuple(dataclasses.replace(m, prominence=0.5) for m in a.matches)
    )
    for main in (a, edge):
        (message,) = render_alert(Alert(target(), (main,)), now=NOW)
        assert "mentioned" not in message.text
    template = "{{ title }} ({{ prominence }})"
    (message,) = render_alert(Alert(target(), (low,), template=template), now=NOW)
    assert message.text.endswith("(mentioned)")
    (message,) = render_alert(Alert(target(), (a,), template=template), now=NOW)
    assert message.text.endswith("(main topic)")
