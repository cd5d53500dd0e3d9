"""JSON Feed 1.0 and 1.1: read like RSS and Atom, and every broken part said precisely."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.models import ParsedFeed
from monitor.parse import Engine, parse_feed
from monitor.parse.jsonfeed import NOT_JSON_FEED, read
from tests.support.app import make_app
from tests.support.feedserver import FeedServer

DATA = Path(__file__).parent.parent / "data" / "parse" / "jsonfeed"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
URL = "https://policy.example.eu/feed.json"
V11 = "https://jsonfeed.org/version/1.1"
JSON_FEED = "application/feed+json"


def parse(body: bytes, engine: Engine = "auto", url: str = URL) -> ParsedFeed:
    return parse_feed(body, feed_id="jf", url=url, now=NOW, content_type=JSON_FEED, engine=engine)


def feed(*items: Any, **top: Any) -> bytes:
    return json.dumps({"version": V11, "title": "T", **top, "items": list(items)}).encode()


def sample(version: str) -> bytes:
    return (DATA / f"eu-policy-{version}.jsonfeed").read_bytes()


# -- realistic documents ----------------------------------------------------------------


def test_json_feed_1_1_is_read_like_rss_and_atom() -> None:
    parsed = parse(sample("1.1"))
    assert parsed.problems == ()
    assert (parsed.format, parsed.title, parsed.link, parsed.language) == (
        "json11",
        "Digital Policy Watch – EU",
        "https://policy.example.eu/",
        "en-GB",
    )
    ai, edpb, frt, dsa, csam = parsed.articles
    assert ai.key == "guid:https://policy.example.eu/2026/11/27/ai-act-gpai-code"
    assert ai.canonical_url == "https://policy.example.eu/2026/11/27/ai-act-gpai-code"
    assert ai.content == (
        "The AI Office published the second draft of the code of practice for providers of "
        "general-purpose AI models under the AI Act. Comments are due by 15 January."
    )
    assert ai.summary.startswith("Providers of general-purpose AI models get more time")
    assert ai.published == datetime(2026, 11, 27, 8, 15, tzinfo=UTC)  # published beats modified
    assert ai.date_from_feed
    assert ai.authors == ("Ana Ionescu", "Jonas Weber")
    assert ai.tags == ("AI Act", "AI Office", "general-purpose AI")
    # A relative url is resolved against the feed URL; content_text stands in for summary.
    assert edpb.url == "https://policy.example.eu/2026/11/26/edpb-opinion-ai-models-personal-data"
    assert edpb.summary == edpb.content
    assert edpb.content.startswith("The European Data Protection Board adopted an opinion")
    assert edpb.authors == ("Digital Policy Watch desk",)  # the feed's authors, per the spec
    # A numeric id is a guid; an item's own language wins over the feed's.
    assert (frt.key, frt.language, frt.authors) == ("guid:20261125", "de-DE", ("Jonas Weber",))
    # external_url when there is no url; date_modified when there is no date_published.
    assert dsa.url == "https://news.example.org/dsa-enforcement-x"
    assert dsa.title == "Linked: DSA enforcement — Commission sends preliminary findings to X"
    assert dsa.published == datetime(2026, 11, 24, 8, 30, tzinfo=UTC)
    assert csam.title == (
        "Child sexual abuse regulation: Council presidency tries again on chat control"
    )


def test_json_feed_1_0_with_author_objects() -> None:
    parsed = parse(sample("1.0"), url="https://rights.example.org/feed.json")
    assert parsed.problems == ()
    assert (parsed.format, parsed.title, parsed.language) == (
        "json10",
        "Digital Rights Bulletin",
        None,
    )
    first, second = parsed.articles
    assert (first.key, first.authors) == ("guid:2", ("Maria Kowalska",))
    assert (second.key, second.authors) == ("guid:1", ("Bulletin team",))  # the feed's author
    assert first.summary == "Pseudonymised data are still personal data, the EDPB says."
    assert first.content == "The guidelines clarify that pseudonymised data remain personal data."


@pytest.mark.parametrize(
    ("version", "fmt"),
    [
        ("https://jsonfeed.org/version/1", "json10"),
        ("https://jsonfeed.org/version/1.0", "json10"),
        ("https://jsonfeed.org/version/1.1", "json11"),
        (" https://jsonfeed.org/version/1.1/ ", "json11"),
    ],
)
def test_format_names_the_version(version: str, fmt: str) -> None:
    body = json.dumps({"version": version, "items": [{"id": "1", "title": "AI Act"}]}).encode()
    assert parse(body).format == fmt


def test_identity_keys_are_stable_and_survive_re_dating() -> None:
    body = sample("1.1")
    first = [a.key for a in parse(body).articles]
    assert [a.key for a in parse(body).articles] == first
    doc = json.loads(body)
    for item in doc["items"]:
        item["date_published"] = "2026-11-28T07:00:00Z"
        item["date_modified"] = "2026-11-28T08:00:00Z"
    redated = parse(json.dumps(doc).encode()).articles
    assert [a.key for a in redated] == first
    assert {a.published for a in redated} == {datetime(2026, 11, 28, 7, 0, tzinfo=UTC)}


def test_items_without_id_are_identified_by_link_then_hash() -> None:
    items = [
        {"url": "https://ex.example/a?utm_source=feed", "title": "AI Act trilogue"},
        {"title": "EDPB plenary", "content_text": "Agenda published."},
    ]
    keys = [a.key for a in parse(feed(*items)).articles]
    assert keys[0] == "link:https://ex.example/a"
    assert keys[1].startswith("hash:")
    redated = [dict(item, date_published="2026-11-01T00:00:00Z") for item in items]
    assert [a.key for a in parse(feed(*redated)).articles] == keys


def test_whatever_the_engine_a_json_feed_goes_to_the_json_engine() -> None:
    expected = parse(sample("1.1"))
    engines: list[Engine] = ["lxml", "feedparser"]
    for engine in engines:
        assert parse(sample("1.1"), engine=engine) == expected


def test_byte_order_mark_and_white_space_before_the_object() -> None:
    parsed = parse(b"\xef\xbb\xbf \r\n\t" + feed({"id": "1", "title": "Zürich AI summit"}))
    assert parsed.problems == ()
    assert parsed.articles[0].title == "Zürich AI summit"


def test_null_means_absent_and_content_html_wins_over_content_text() -> None:
    item = {
        "id": "1",
        "url": None,
        "title": "DMA gatekeepers",
        "summary": None,
        "content_html": "<p>The <b>DMA</b> applies.</p>",
        "content_text": "ignored",
        "date_published": None,
        "authors": None,
        "tags": None,
    }
    parsed = parse(feed(item, authors=None, language=None))
    assert parsed.problems == ()
    article = parsed.articles[0]
    assert (article.url, article.content, article.authors, article.tags) == (
        None,
        "The DMA applies.",
        (),
        (),
    )
    assert not article.date_from_feed


# -- HTML in titles: the same reading as RSS --------------------------------------------


@pytest.mark.parametrize(
    "title",
    [
        "EDPB &amp; EDPS: <b>joint</b> opinion",
        "3 < 5 & co",
        "<Title> of a book",
        "Caf&eacute; &ndash; AI Act",
        "  spaced\n  out  ",
        "CafÃ© crème",
    ],
)
def test_titles_are_read_as_an_rss_title_would_be(title: str) -> None:
    from xml.sax.saxutils import escape

    rss = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        f"<item><guid>1</guid><title>{escape(title)}</title></item></channel></rss>"
    ).encode()
    expected = parse_feed(rss, feed_id="jf", url=URL, now=NOW).articles[0].title
    assert parse(feed({"id": "1", "title": title})).articles[0].title == expected


def test_html_title_examples() -> None:
    titles = [a.title for a in parse(feed(
        {"id": "1", "title": "EDPB &amp; EDPS: <b>joint</b> opinion"},
        {"id": "2", "title": "3 < 5 & co"},
    )).articles]  # fmt: skip
    assert titles == ["EDPB & EDPS: joint opinion", "3 < 5 & co"]


# -- not JSON Feeds, broken JSON ---------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'{"error": "rate limited"}', NOT_JSON_FEED),
        (b'{"version": "1.1", "items": []}', NOT_JSON_FEED),
        (b'{"version": 1.1, "items": []}', NOT_JSON_FEED),
        (b'{"version": "https://jsonfeed.org/version/10", "items": []}',
         "not a feed: JSON Feed version 'https://jsonfeed.org/version/10' is not supported"),
        (b'{"version": "https://jsonfeed.org/version/2", "items": []}',
         "not a feed: JSON Feed version 'https://jsonfeed.org/version/2' is not supported"),
        (b'[{"version": "https://jsonfeed.org/version/1.1"}]', NOT_JSON_FEED),
    ],
)  # fmt: skip
def test_json_that_is_not_a_json_feed(body: bytes, problem: str) -> None:
    parsed = parse(body)
    assert (parsed.articles, parsed.format, parsed.problems) == ((), None, (problem,))


def test_malformed_json_feed_says_where() -> None:
    body = b'{"version": "https://jsonfeed.org/version/1.1",\n "items": [{"id": "1",}]}'
    parsed = parse(body)
    assert (parsed.articles, parsed.format) == ((), None)
    assert parsed.problems == (
        "malformed JSON Feed at line 2, column 23: Expecting property name enclosed in "
        "double quotes; no entry read",
    )


def test_truncated_json_feed() -> None:
    body = sample("1.1")[:700]
    (problem,) = parse(body).problems
    assert problem.startswith("malformed JSON Feed at line ")
    assert problem.endswith("; no entry read")


def test_malformed_json_that_does_not_claim_to_be_a_feed() -> None:
    parsed = parse(b"{error: rate limited}")
    assert parsed.problems == (
        "not a feed: the body is malformed JSON (line 1, column 2: Expecting property name "
        "enclosed in double quotes)",
    )


def test_raw_control_characters_inside_strings_are_accepted() -> None:
    body = feed({"id": "1", "title": "AI\tAct", "content_text": "line one\nline two"})
    body = body.replace(b"\\t", b"\t").replace(b"\\n", b"\n")
    parsed = parse(body)
    assert parsed.problems == ()
    assert (parsed.articles[0].title, parsed.articles[0].content) == (
        "AI Act",
        "line one line two",
    )


@pytest.mark.parametrize("depth", [5_000, 1_000_000])
def test_deeply_nested_json_is_a_problem_not_a_crash(depth: int) -> None:
    nested = b'{"version": "https://jsonfeed.org/version/1.1", "items": [' + b"[" * depth
    parsed = parse(nested + b"]" * depth + b"]}")
    assert parsed.problems == ("malformed JSON Feed: nested too deeply to read; no entry read",)
    plain = parse(b'{"a": ' * depth + b"1" + b"}" * depth)
    assert plain.problems == ("not a feed: the body is JSON nested too deeply to read",)


def test_a_number_with_thousands_of_digits_is_a_problem_not_a_crash() -> None:
    body = b'{"version": "https://jsonfeed.org/version/1.1", "items": [{"id": 1' + b"0" * 5000
    (problem,) = parse(body + b"}]}").problems
    assert problem.startswith("malformed JSON Feed: Exceeds the limit (4300 digits)")


def test_huge_feed_is_capped_like_an_xml_feed() -> None:
    items = [{"id": str(i), "title": f"AI Act item {i}"} for i in range(25_000)]
    body = feed(*items)
    assert len(body) > 1_000_000
    started = time.perf_counter()
    parsed = parse(body)
    assert time.perf_counter() - started < 10
    assert parsed.problems == ("the feed has 25000 entries; read the first 10000",)
    assert len(parsed.articles) == 10_000
    assert parsed.articles[-1].key == "guid:9999"


# -- items that cannot be read, fields of the wrong type ---------------------------------


def test_items_that_are_not_objects_or_are_empty_are_skipped_and_the_rest_is_read() -> None:
    parsed = parse(feed(
        1, "AI Act", None, [], {},
        {"title": "Only a title"},
        {"id": "ok", "title": "EDPB plenary", "url": "https://ex.example/edpb"},
    ))  # fmt: skip
    assert [a.title for a in parsed.articles] == ["Only a title", "EDPB plenary"]
    assert parsed.format == "json11"
    assert parsed.problems == (
        "skipped 4 items that are not a JSON object (first: items[0] is a number)",
        "skipped 1 entry with no title, text, link or guid",
    )


def test_fields_of_the_wrong_type_are_ignored_and_counted() -> None:
    parsed = parse(feed(
        {"id": "1", "title": 2024, "summary": "AI Act: the year in review", "tags": "AI"},
        {"id": True, "url": "https://ex.example/2", "title": "EDPB", "tags": ["GDPR", 7, ""],
         "authors": {"name": "X"}, "date_published": 1732780800},
        {"id": "3", "title": "DSA", "content_html": ["<p>x</p>"], "content_text": "Plain.",
         "authors": [{"name": "Ana"}, "Jonas", {"name": 5}, {"url": "https://ex.example/b"}],
         "language": ["de"], "external_url": {"href": "https://ex.example/3"}},
        title=["Feed"], home_page_url=42,
    ))  # fmt: skip
    one, two, three = parsed.articles
    assert (one.key, one.title, one.summary, one.tags) == (
        "guid:1",
        "",
        "AI Act: the year in review",
        (),
    )
    assert (two.key, two.tags, two.authors, two.date_from_feed) == (
        "link:https://ex.example/2",
        ("GDPR",),
        (),
        False,
    )
    assert (three.content, three.authors, three.url, three.language) == (
        "Plain.",
        ("Ana",),
        None,
        None,
    )
    assert (parsed.title, parsed.link) == (None, None)
    assert parsed.problems == (
        "ignored 13 values of the wrong type (first: title is an array, expected a string)",
    )


def test_first_wrong_value_is_named_with_its_path() -> None:
    parsed = parse(feed({"id": "1", "title": "AI Act", "tags": ["x", {"t": 1}]}))
    assert parsed.problems == (
        "ignored 1 value of the wrong type (first: items[0].tags[1] is an object, "
        "expected a string)",
    )


@pytest.mark.parametrize(
    ("items", "problem"),
    [
        (None, 'the JSON Feed has no "items" array; no entry read'),
        ({"id": "1"}, '"items" is an object, not an array; no entry read'),
    ],
)
def test_feed_without_an_items_array_is_a_feed_with_a_problem(items: Any, problem: str) -> None:
    body = json.dumps({"version": V11, "title": "AI Watch", "items": items}).encode()
    parsed = parse(body)
    assert (parsed.format, parsed.title, parsed.articles, parsed.problems) == (
        "json11",
        "AI Watch",
        (),
        (problem,),
    )


def test_expired_feed_is_said() -> None:
    parsed = parse(feed({"id": "1", "title": "Last issue"}, expired=True))
    assert parsed.problems == ("the JSON Feed says it has expired: it will not be updated again",)
    assert len(parsed.articles) == 1


def test_read_is_pure_and_takes_text_or_bytes() -> None:
    body = feed({"id": 7, "url": "post/7", "title": "AI Act"})
    a, b = read(body, URL), read(body.decode(), URL)
    assert a == b
    assert a.feed is not None
    assert (a.feed.format, a.feed.entries[0].guid, a.feed.entries[0].link) == (
        "json11",
        "7",
        "https://policy.example.eu/post/7",
    )


# -- end to end: the real fetcher, poller and store ---------------------------------------


def json_feed(items: list[tuple[str, str, str]]) -> bytes:
    return json.dumps(
        {
            "version": V11,
            "title": "EU JSON",
            "home_page_url": "https://news.example.eu/",
            "items": [
                {
                    "id": guid,
                    "url": link,
                    "title": title,
                    "date_published": f"2023-11-1{4 - i}T10:00:00Z",
                }
                for i, (guid, title, link) in enumerate(items)
            ],
        }
    ).encode()


ITEMS = [
    ("j3", "EU agrees AI Act deal", "https://news.example.eu/ai-act-deal?utm_source=json"),
    ("j2", "Parliament debates facial recognition ban", "https://news.example.eu/frt"),
    ("j1", "Weather in Brussels", "/weather"),
]


def test_json_feed_is_polled_end_to_end(feed_server: FeedServer, tmp_path: Path) -> None:
    feed_server.raw("/eu.json", json_feed(ITEMS), JSON_FEED)
    app = make_app(tmp_path, {"eu": feed_server.url("/eu.json")})

    first = app.poll()
    assert [(r.status, r.new, r.matches, r.problems) for r in first.feeds] == [("ok", 3, 2, ())]
    accept = feed_server.requests_for("/eu.json")[-1].header("Accept")
    assert accept is not None
    assert "application/feed+json" in accept

    second = app.poll()
    assert second.new == 0
    assert second.feeds[0].status in ("ok", "not_modified")

    feed_server.raw(
        "/eu.json", json_feed([("j4", "EDPB fines", "https://n.example.eu/4"), *ITEMS]), JSON_FEED
    )
    third = app.poll()
    assert [(r.status, r.new) for r in third.feeds] == [("ok", 1)]
    assert app.poll().new == 0
    with app.store() as store:
        assert store.count_articles() == 4
