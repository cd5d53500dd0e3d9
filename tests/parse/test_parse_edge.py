"""Broken and unusual feeds: every readable entry is read, and problems say what was wrong."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.errors import ParseError
from monitor.models import ParsedFeed
from monitor.parse import Engine, parse_feed

DATA = Path(__file__).parent.parent / "data" / "parse"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
BOTH: list[Engine] = ["lxml", "feedparser"]


def parse(
    body: bytes,
    content_type: str | None = None,
    language: str | None = None,
    engine: Engine = "auto",
) -> ParsedFeed:
    return parse_feed(
        body,
        feed_id="f",
        url="https://ex.example/feed",
        now=NOW,
        content_type=content_type,
        language=language,
        engine=engine,
    )


def rss(items: str, channel: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>T</title>'
        f"{channel}{items}</channel></rss>"
    ).encode()


# -- charsets ---------------------------------------------------------------------------

LATIN1 = (DATA / "edge" / "latin1-undeclared.xml").read_bytes()
TITLE = "Grève à la SNCF – “tout” le réseau à l’arrêt"


def test_latin1_without_declaration_is_read_as_windows_1252() -> None:
    feed = parse(LATIN1)
    assert feed.problems == (
        "no charset declared and the body is not valid utf-8; decoded as windows-1252",
    )
    assert feed.articles[0].title == TITLE


def test_header_says_utf8_but_body_is_windows_1252() -> None:
    feed = parse(LATIN1, "application/rss+xml; charset=utf-8")
    assert feed.problems == (
        "declared charset utf-8 but the body is not valid utf-8; decoded as windows-1252",
    )
    assert feed.articles[0].title == TITLE


def test_header_says_windows_1252_but_body_is_utf8() -> None:
    body = LATIN1.decode("cp1252").encode("utf-8")
    feed = parse(body, "text/xml; charset=windows-1252")
    assert feed.problems == (
        "declared charset windows-1252 but the body is utf-8; decoded as utf-8",
    )
    assert feed.articles[0].title == TITLE


def test_latin1_label_means_windows_1252_and_is_not_a_problem() -> None:
    body = b'<?xml version="1.0" encoding="ISO-8859-1"?>' + LATIN1
    feed = parse(body)
    assert feed.problems == ()
    assert feed.articles[0].title == TITLE  # curly quotes from the 0x80-0x9f range


def test_header_charset_wins_over_the_xml_declaration() -> None:
    body = b'<?xml version="1.0" encoding="utf-8"?>' + LATIN1
    feed = parse(body, "text/xml; charset=iso-8859-1")
    assert feed.problems == ()
    assert feed.articles[0].title == TITLE


def test_utf16_with_byte_order_mark() -> None:
    body = LATIN1.decode("cp1252").encode("utf-16")
    feed = parse(body)
    assert feed.problems == ()
    assert feed.articles[0].title == TITLE


def test_unknown_charset_label_is_reported_and_ignored() -> None:
    feed = parse(
        rss("<item><title>Zürich</title><guid>1</guid></item>"), "text/xml; charset=klingon"
    )
    assert feed.problems == (
        "unknown charset 'klingon' declared in the Content-Type header; ignored",
    )
    assert feed.articles[0].title == "Zürich"


def test_forbidden_control_characters_are_removed() -> None:
    feed = parse(rss("<item><title>Data\x0bprotection\x1f</title><guid>1</guid></item>"))
    assert feed.problems == ("removed 2 control characters that XML forbids",)
    assert feed.articles[0].title == "Dataprotection"


# -- not feeds, broken feeds --------------------------------------------------------------


@pytest.mark.parametrize("body", [b"", b"   \r\n\t", b"\xef\xbb\xbf", b"\xef\xbb\xbf  \n"])
def test_empty_body(body: bytes) -> None:
    feed = parse(body)
    assert feed.articles == ()
    assert feed.problems[-1] == "empty body"


def test_html_page_instead_of_a_feed() -> None:
    feed = parse((DATA / "edge" / "html-page.html").read_bytes(), "text/html")
    assert feed.articles == ()
    assert feed.problems == ("not a feed: the server sent an HTML page (title 'Just a moment...')",)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (
            b"<html><body><p>Login</p></body></html>",
            "not a feed: the server sent an HTML page (no title)",
        ),
        (b'{"error": "rate limited"}', "not a feed: the body is JSON, not RSS or Atom"),
        (
            b"Service Unavailable\n",
            "not a feed: the body is not XML (it starts with 'Service Unavailable')",
        ),
        (
            b"<?xml version='1.0'?><sitemap><url/></sitemap>",
            "not a feed: the root element is <sitemap>, not rss, feed or rdf:RDF",
        ),
    ],
)
def test_other_bodies_that_are_not_feeds(body: bytes, problem: str) -> None:
    feed = parse(body)
    assert feed.articles == ()
    assert feed.problems == (problem,)


def test_bozo_feed_still_yields_its_entries() -> None:
    feed = parse((DATA / "edge" / "bozo-mismatched.xml").read_bytes())
    assert feed.problems == ("malformed XML at line 9: mismatched tag; 4 entries read",)
    assert [a.key for a in feed.articles] == ["guid:b-1", "guid:b-2", "guid:b-3", "guid:b-4"]


def test_truncated_feed_reports_line_and_reads_what_came() -> None:
    body = rss("<item><title>Kept</title><guid>k</guid></item>")[:-30] + b"\n<item><title>Cut"
    feed = parse(body)
    assert [a.title for a in feed.articles][:1] == ["Kept"]
    assert feed.problems[0].startswith("malformed XML at line 2: ")


def test_malformed_without_any_entry() -> None:
    feed = parse(b'<rss version="2.0"><channel><title>x</titl></channel></rss>')
    assert feed.articles == ()
    assert feed.problems == ("malformed XML at line 1: mismatched tag; no entry read",)


def test_html_entities_in_xml_are_read_as_html_by_both_engines() -> None:
    body = rss("<item><title>Caf&eacute;&nbsp;&amp; bar</title><guid>1</guid></item>")
    for engine in BOTH:
        feed = parse(body, engine=engine)
        assert feed.articles[0].title == "Café & bar"
        assert feed.problems == (
            "HTML entities that XML does not define (&eacute;, &nbsp;); read as HTML",
        )


def test_html_entities_inside_cdata_or_with_a_dtd_are_left_alone() -> None:
    cdata = parse(rss("<item><title><![CDATA[a&nbsp;b]]></title><guid>1</guid></item>"))
    assert (cdata.problems, cdata.articles[0].title) == ((), "a b")
    dtd = (
        b'<!DOCTYPE rss [<!ENTITY nbsp "&#160;">]>'
        + rss("<item><title>a&nbsp;b</title><guid>1</guid></item>").split(b"?>", 1)[1]
    )
    declared = parse(dtd, engine="lxml")
    assert (declared.problems, declared.articles[0].title) == ((), "a b")


def test_an_entity_that_is_not_html_either_is_malformed_xml() -> None:
    feed = parse(rss("<item><title>a &bogus; b</title><guid>1</guid></item>"))
    assert feed.problems == ("malformed XML at line 1: undefined entity; 1 entry read",)
    assert feed.articles[0].key == "guid:1"


def test_forcing_the_fast_engine_on_broken_xml_raises_parse_error() -> None:
    with pytest.raises(ParseError, match=r"parser: https://ex\.example/feed: lxml"):
        parse((DATA / "edge" / "bozo-mismatched.xml").read_bytes(), engine="lxml")


def test_huge_number_of_entries_is_capped() -> None:
    items = "".join(f"<item><title>t{i}</title><guid>g{i}</guid></item>" for i in range(10_050))
    feed = parse(rss(items))
    assert len(feed.articles) == 10_000
    assert feed.problems == ("the feed has 10050 entries; read the first 10000",)


# -- text -------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", BOTH)
def test_plain_text_title_keeps_its_markup_characters(engine: Engine) -> None:
    feed = parse(rss("<item><title>3 &lt; 5 &amp; co</title><guid>1</guid></item>"), engine=engine)
    assert feed.articles[0].title == "3 < 5 & co"


@pytest.mark.parametrize("engine", BOTH)
def test_html_in_a_title_is_stripped_and_entities_decoded(engine: Engine) -> None:
    items = (
        "<item><title>Q&amp;amp;A on the &lt;em&gt;AI&#160;Act&lt;/em&gt;</title>"
        "<guid>1</guid></item>"
        "<item><title><![CDATA[AT&T <i>wins</i>]]></title><guid>2</guid></item>"
    )
    titles = [a.title for a in parse(rss(items), engine=engine).articles]
    assert titles == ["Q&A on the AI Act", "AT&T wins"]


@pytest.mark.parametrize("engine", BOTH)
def test_summary_html_becomes_plain_text(engine: Engine) -> None:
    desc = "<![CDATA[<p>ransom<b>ware</b>&nbsp;hits <a href='https://x.example/eu'>EU</a></p><p>next</p>]]>"
    feed = parse(
        rss(f"<item><title>t</title><guid>1</guid><description>{desc}</description></item>"),
        engine=engine,
    )
    assert feed.articles[0].summary == "ransomware hits EU next"


# -- identity ---------------------------------------------------------------------------


@pytest.mark.parametrize("engine", BOTH)
def test_missing_guid_uses_the_canonical_link(engine: Engine) -> None:
    feed = parse((DATA / "synthetic" / "markets.xml").read_bytes(), engine=engine)
    assert feed.articles[0].key == "link:https://news.example.org/markets/rate-decision-chips"


@pytest.mark.parametrize("engine", BOTH)
def test_only_web_links_become_article_urls(engine: Engine) -> None:
    items = (
        "<item><title>a</title><link>javascript:alert(1)</link></item>"
        "<item><title>b</title><link>HTTPS://Ex.Example/b</link></item>"
    )
    feed = parse(rss(items), engine=engine)
    assert [(a.url, a.canonical_url) for a in feed.articles] == [
        (None, None),
        ("HTTPS://Ex.Example/b", "https://ex.example/b"),
    ]


def test_tracking_parameters_do_not_change_the_link_key() -> None:
    one = parse(
        rss("<item><title>a</title><link>https://ex.example/a?utm_source=rss</link></item>")
    )
    two = parse(rss("<item><title>a</title><link>https://ex.example/a?fbclid=1#top</link></item>"))
    assert one.articles[0].key == two.articles[0].key == "link:https://ex.example/a"


@pytest.mark.parametrize("engine", BOTH)
def test_repeated_guid_falls_back_to_guid_and_link(engine: Engine) -> None:
    items = (
        "<item><title>a</title><guid isPermaLink='false'>same</guid><link>https://ex.example/a</link></item>"
        "<item><title>b</title><guid isPermaLink='false'>same</guid><link>https://ex.example/b</link></item>"
        "<item><title>c</title><guid isPermaLink='false'>own</guid><link>https://ex.example/c</link></item>"
    )
    feed = parse(rss(items), engine=engine)
    assert [a.key for a in feed.articles] == [
        "guid+link:same|https://ex.example/a",
        "guid+link:same|https://ex.example/b",
        "guid:own",
    ]
    assert feed.problems == (
        "2 entries share their guid with another entry; identified by guid and link",
    )


def test_shared_guid_and_link_fall_back_to_a_text_hash_and_repeats_are_dropped() -> None:
    items = (
        "<item><title>One</title><guid>x</guid><link>https://ex.example/</link></item>"
        "<item><title>Two</title><guid>x</guid><link>https://ex.example/</link></item>"
        "<item><title>Two</title><guid>x</guid><link>https://ex.example/</link></item>"
    )
    feed = parse(rss(items))
    assert [a.title for a in feed.articles] == ["One", "Two"]
    assert all(a.key.startswith("hash:") for a in feed.articles)
    assert "dropped 1 entry repeating an earlier one" in feed.problems[-1]


def test_text_hash_ignores_case_and_spacing() -> None:
    one = parse(rss("<item><title>EU  AI Act</title><description>Deal.</description></item>"))
    two = parse(rss("<item><title>eu ai act</title><description> deal. </description></item>"))
    assert one.articles[0].key == two.articles[0].key


def test_keys_are_unique_in_every_golden_feed() -> None:
    for path in sorted(DATA.glob("*/*.x*")) + sorted(DATA.glob("*/*.atom")):
        keys = [a.key for a in parse(path.read_bytes()).articles]
        assert len(keys) == len(set(keys)), path.name


# -- dates ------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", BOTH)
def test_missing_garbled_and_future_dates_use_the_poll_time(engine: Engine) -> None:
    items = (
        "<item><title>none</title><guid>1</guid></item>"
        "<item><title>garbled</title><guid>2</guid><pubDate>last Tuesday</pubDate></item>"
        "<item><title>future</title><guid>3</guid>"
        "<pubDate>Fri, 01 Jan 2100 00:00:00 GMT</pubDate></item>"
        "<item><title>ok</title><guid>4</guid>"
        "<pubDate>Fri, 27 Nov 2026 09:15:00 +0100</pubDate></item>"
    )
    feed = parse(rss(items), engine=engine)
    when = [(a.published, a.date_from_feed) for a in feed.articles]
    assert when == [
        (NOW, False),
        (NOW, False),
        (NOW, False),
        (datetime(2026, 11, 27, 8, 15, tzinfo=UTC), True),
    ]
    assert feed.problems == (
        "1 entry has an unreadable date (first: 'last Tuesday'); used the poll time",
        "1 entry is dated more than a day in the future; used the poll time",
    )


def test_a_date_within_a_day_ahead_is_kept() -> None:
    soon = (NOW + timedelta(hours=20)).strftime("%a, %d %b %Y %H:%M:%S +0000")
    feed = parse(rss(f"<item><title>t</title><guid>1</guid><pubDate>{soon}</pubDate></item>"))
    assert feed.articles[0].published == NOW + timedelta(hours=20)


@pytest.mark.parametrize("engine", BOTH)
def test_atom_entry_with_updated_only(engine: Engine) -> None:
    feed = parse((DATA / "synthetic" / "security.atom").read_bytes(), engine=engine)
    second = feed.articles[1]
    assert second.published == datetime(2026, 11, 26, 14, 0, tzinfo=UTC)
    assert second.date_from_feed


def test_naive_now_is_taken_as_utc() -> None:
    feed = parse_feed(
        rss("<item><title>t</title><guid>1</guid></item>"),
        feed_id="f",
        url="",
        now=NOW.replace(tzinfo=None),
    )
    assert feed.articles[0].published == NOW


# -- feed metadata ----------------------------------------------------------------------


def test_language_cascade_item_feed_configured() -> None:
    items = (
        "<item><title>a</title><guid>1</guid><dc:language>de-de</dc:language></item>"
        "<item><title>b</title><guid>2</guid></item>"
    )
    with_feed = parse(rss(items, "<language>fr_fr</language>"), language="pl")
    assert [a.language for a in with_feed.articles] == ["de-DE", "fr-FR"]
    without = parse(rss(items), language="PL")
    assert [a.language for a in without.articles] == ["de-DE", "pl"]
    assert without.language == "pl"


@pytest.mark.parametrize(
    ("ttl", "minutes", "problems"),
    [
        ("<ttl>60</ttl>", 60, ()),
        ("<ttl> 15 </ttl>", 15, ()),
        ("<ttl>soon</ttl>", None, ("ttl 'soon' is not a number of minutes; ignored",)),
        ("<ttl>99999999</ttl>", None, ("ttl of 99999999 minutes is more than a year; ignored",)),
        ("", None, ()),
    ],
)
def test_ttl(ttl: str, minutes: int | None, problems: tuple[str, ...]) -> None:
    feed = parse(rss("<item><title>a</title><guid>1</guid></item>", ttl))
    assert feed.ttl == (timedelta(minutes=minutes) if minutes else None)
    assert feed.problems == problems


def test_feed_level_fields() -> None:
    feed = parse((DATA / "synthetic" / "tech.xml").read_bytes())
    assert (feed.title, feed.link, feed.language, feed.format) == (
        "Harness Tech Wire",
        "https://tech.example.com/",
        "en-US",
        "rss20",
    )
    assert feed.articles[0].authors == ("Jane Doe",)
    assert feed.articles[0].tags == ("Security",)
