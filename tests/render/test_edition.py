"""The daily digest as one edition (issue 17): each story once, the most important
first, the cap, a subject that says what happened, never a snippet that repeats the
title; golden files for both layouts of a fixed day.

``UPDATE_GOLDEN=1 pytest tests/render`` rewrites the golden files after a deliberate
change (review the diff).
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.models import AlertItem, Digest, DigestSection
from monitor.render import edition
from monitor.render.email import render_digest_email
from monitor.render.telegram import MAX_LENGTH, render_digest, utf16_len
from tests.render.test_telegram_render import dump
from tests.support.digest_sample import DAY_PRIORITIES, edition_day, sample_digest
from tests.support.telegram_html import parse_html
from tests.support.telegram_samples import item, target

GOLDEN = Path(__file__).parent.parent / "data" / "render"
MAIL_FROM = "EU Watch <watch@example.org>"
END = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(actual, encoding="utf-8")
    assert actual == path.read_text(encoding="utf-8"), f"{name} differs (UPDATE_GOLDEN=1)"


def day(max_items: int = 8) -> Digest:
    """A fixed day: nine stories, several sources, overlapping watchlists; capped at 8 so
    that one story is over the cap."""
    return edition.stories_edition(edition_day(), DAY_PRIORITIES, max_items=max_items)[0]


def test_stories_golden_text_html_and_telegram() -> None:
    message = render_digest_email(day(), mail_from=MAIL_FROM)
    check_golden("email_digest_day_stories.txt", message.text)
    assert message.html is not None
    check_golden("email_digest_day_stories.html", message.html)
    check_golden("telegram/digest_day_stories.txt", dump(render_digest(day())))
    # The top story's title, cut so that the counts stay within what clients show.
    assert message.subject == "AI Act: trilogue ends with a deal on… — 9 stories, AI Act 5, EDPB 4"
    assert len(message.subject) <= edition.SUBJECT_CHARS


def test_watchlists_golden_text_and_html() -> None:
    digest = edition.watchlists_edition(edition_day(), max_items=40)[0]
    message = render_digest_email(digest, mail_from=MAIL_FROM)
    check_golden("email_digest_day_watchlists.txt", message.text)
    assert message.html is not None
    check_golden("email_digest_day_watchlists.html", message.html)


def test_each_story_once_with_tags_sources_and_the_cap() -> None:
    text = render_digest_email(day(), mail_from=MAIL_FROM).text
    # The trilogue story: five outlets, two watchlists, an instant one: the top story.
    assert text.count("AI Act: trilogue ends") == 1
    assert text.index("AI Act: trilogue ends") < text.index("Top stories (5)") + 40
    assert "POLITICO Europe, Euractiv and 3 more" in text
    assert "Watchlists: AI Act, EDPB" in text
    assert "1 more story matched and is not shown here." in text
    # A summary that only repeats the headline is not shown as a snippet.
    cnil = text[text.index("CNIL fines") :].split("\n\n")[0]
    assert ">" not in cnil


def test_watchlists_layout_says_see_above() -> None:
    digest = edition.watchlists_edition(sample_digest(), max_items=40)[0]
    text = render_digest_email(digest, mail_from=MAIL_FROM).text
    assert text.count("GPAI <draft> code & the DSA: what changes 🚀 (see above)") == 1
    assert text.count("https://example.eu/gpai") == 1


def test_subject_is_cut_to_what_mail_clients_show() -> None:
    long = sample_digest()
    first = long.sections[0].items[0]
    article = replace(first.article, title="Trilogue " * 40)
    digest = replace(
        long, sections=(DigestSection("ai-act", "AI Act", (replace(first, article=article),)),)
    )
    subject = edition.subject(digest, "fallback")
    assert len(subject) <= edition.SUBJECT_CHARS
    assert subject.endswith("— 1 story, AI Act 1")
    assert "Trilogue Trilogue" in subject


def test_the_snippet_never_repeats_the_title() -> None:
    story = item(1, "Commission opens DSA probe", snippets=("Commission opens [[DSA]] probe",))
    assert edition.best_snippet(story) is None
    story = item(
        2,
        "Commission opens DSA probe",
        snippets=("Commission opens [[DSA]] probe",),
        summary="The Commission opened formal proceedings against a marketplace.",
    )
    best = edition.best_snippet(story)
    assert best is not None
    assert best.text.startswith("The Commission opened formal proceedings")


# --- properties ------------------------------------------------------------------------

_names = st.text(st.characters(codec="ascii", categories=["L", "Zs"]), min_size=1, max_size=12)


@st.composite
def stories(draw: st.DrawFn, count: int) -> list[AlertItem]:
    out = []
    for n in range(1, count + 1):
        title = draw(_names)
        out.append(
            item(
                n,
                title,
                watchlists=tuple(
                    draw(
                        st.lists(
                            st.sampled_from(["AI Act", "DSA", "EDPB"]),
                            min_size=1,
                            max_size=3,
                            unique=True,
                        )
                    )
                ),
                also=tuple(draw(st.lists(_names, max_size=6))),
                published=END - timedelta(hours=draw(st.integers(0, 48))),
                snippets=tuple(draw(st.lists(st.one_of(st.just(title), _names), max_size=2))),
                summary=draw(st.one_of(st.just(title), _names)),
            )
        )
    return out


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_every_story_once_in_score_order_and_no_snippet_is_the_title(data: st.DataObject) -> None:
    count = data.draw(st.integers(1, 30))
    items = data.draw(stories(count))
    max_items = data.draw(st.integers(1, 40))
    # The outbox lists a story under every watchlist it matched.
    sections = {}
    for story in items:
        for match in story.matches:
            sections.setdefault(match.watchlist, []).append(story)
    digest = Digest(
        target(),
        "Europe/Brussels",
        END,
        tuple(DigestSection(k, k, tuple(v)) for k, v in sections.items()),
    )
    priorities = {"ai-act": "instant"}
    ed, left = edition.stories_edition(digest, priorities, max_items)
    shown = [i for s in ed.sections for i in s.items]
    ids = [i.outbox_id for i in shown] + [i.outbox_id for i in left]
    assert sorted(ids) == list(range(1, count + 1))  # every story exactly once
    assert len(shown) == min(count, max_items)
    assert ed.more == len(left)

    def score(i: AlertItem) -> float:
        return edition.importance(i, priorities, END)

    top = ed.sections[0].items
    assert len(top) <= edition.TOP_STORIES
    assert [score(i) for i in top] == sorted((score(i) for i in top), reverse=True)
    rest = [i for s in ed.sections[1:] for i in s.items]
    assert all(score(t) >= score(r) for t in top for r in rest)
    assert all(score(s) >= score(o) for s in shown for o in left)
    for section in ed.sections[1:]:
        scores = [score(i) for i in section.items]
        assert scores == sorted(scores, reverse=True)
    for story in shown:
        best = edition.best_snippet(story)
        assert best is None or not edition.repeats_title(best.text, story.article.title)
    subject = edition.subject(ed, "fallback")
    assert len(subject) <= edition.SUBJECT_CHARS
    assert f"— {count} stor" in subject  # the counts never give way to the title
    # Telegram: the same edition, split between entries, each entry whole and once.
    parts = render_digest(ed)
    for part in parts:
        assert utf16_len(parse_html(part.text, strict_entities=True).text) <= MAX_LENGTH
    assert sorted(i for p in parts for i in p.outbox_ids) == sorted(i.outbox_id for i in shown)


def test_telegram_watchlists_layout_says_see_above_and_stories_layout_tags() -> None:
    by_watchlist = edition.watchlists_edition(edition_day(), max_items=40)[0]
    text = "\n".join(m.plain for m in render_digest(by_watchlist))
    trilogue = "AI Act: trilogue ends with a deal on general-purpose models"
    assert text.count(trilogue) == 2
    assert text.count(f"{trilogue} (see above)") == 1
    stories_text = "\n".join(m.plain for m in render_digest(day()))
    assert stories_text.count(trilogue) == 1
    meta = "POLITICO Europe, Euractiv and 3 more · Mon 30 Nov, 23:10 CET · AI Act, EDPB"
    assert meta in stories_text
    assert stories_text.rstrip().endswith("1 more story not shown.")


def test_the_count_past_the_cap_links_to_the_dashboard_when_it_has_a_public_url() -> None:
    url = "https://watch.example.org/articles?since=2026-11-30&until=2026-12-01"
    linked = replace(day(), more_url=url)
    message = render_digest_email(linked, mail_from=MAIL_FROM)
    assert f"1 more story matched and is not shown here: {url}." in message.text
    assert message.html is not None
    assert f'<a href="{url.replace("&", "&amp;")}"' in message.html
    [part] = render_digest(linked)
    assert f'not shown: <a href="{url.replace("&", "&amp;")}">see them all</a>' in part.text
    assert part.plain.rstrip().endswith(f"not shown: {url}")
    # A link that is not a web link is left out.
    odd = render_digest_email(replace(day(), more_url="javascript:alert(1)"), mail_from=MAIL_FROM)
    assert "javascript" not in odd.text


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_one_per_story_keeps_each_story_once_with_all_its_watchlists(
    data: st.DataObject,
) -> None:
    """The bot's /latest and /digest (issue 17) fold a story's articles into its first."""
    items = data.draw(stories(data.draw(st.integers(1, 20))))
    story_of = {
        i.outbox_id: s
        for i in items
        if (s := data.draw(st.one_of(st.none(), st.integers(1, 4)))) is not None
    }
    out = edition.one_per_story(items, story_of)
    keys = [story_of.get(i.outbox_id, -i.outbox_id) for i in out]
    assert len(keys) == len(set(keys))  # each story once ...
    assert {story_of.get(i.outbox_id, -i.outbox_id) for i in items} == set(keys)  # ... all
    assert [i.outbox_id for i in out] == sorted(i.outbox_id for i in out)  # first kept
    for kept in out:
        story = story_of.get(kept.outbox_id)
        members = [i for i in items if story is not None and story_of.get(i.outbox_id) == story]
        wanted = {m.watchlist for i in members or [kept] for m in i.matches}
        assert {m.watchlist for m in kept.matches} == wanted
        assert len(kept.watchlist_titles) == len(kept.matches)
