"""Fidelity against feedparser (issue 16): no entry and no word that feedparser reads is lost.

One minimal feed per construct that ``bench/diff_corpus.py`` found on feedparser's own test
corpus (the corpus stays in ``../shared``; these feeds are written here).  Each test checks
the default parse and, where the fast engine takes the feed, that it reads what the
feedparser engine reads.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from monitor.models import ParsedFeed
from monitor.parse import Engine, parse_feed

NOW = datetime(2026, 12, 1, tzinfo=UTC)
URL = "https://feed.example/dir/feed.xml"
XHTML = 'xmlns="http://www.w3.org/1999/xhtml"'


def parse(body: str, engine: Engine = "auto") -> ParsedFeed:
    return parse_feed(body.encode(), feed_id="f", url=URL, now=NOW, engine=engine)


def fast_and_reference(body: str) -> ParsedFeed:
    """The default parse; it must be the fast engine's and equal the feedparser engine's."""
    auto = parse(body)
    assert parse(body, "lxml") == auto
    assert parse(body, "feedparser") == auto
    return auto


def rss(items: str, *, version: str = ' version="2.0"', ns: str = "", channel: str = "") -> str:
    return (
        f"<rss{version}{ns}><channel><title>T</title><link>https://ex.example/</link>"
        f"{channel}{items}</channel></rss>"
    )


def atom(entries: str, *, head: str = "<title>T</title>") -> str:
    return f'<feed xmlns="http://www.w3.org/2005/Atom">{head}{entries}</feed>'


def texts(feed: ParsedFeed) -> list[tuple[str, str, str]]:
    return [(a.title, a.summary, a.content) for a in feed.articles]


@pytest.mark.parametrize("version", [' version="0.91"', ' version="0.92"', ' version="0.94"', ""])
def test_rss_09x_and_versionless_rss_are_read_by_the_fast_engine(version: str) -> None:
    body = rss(
        "<item><title>One</title><link>https://ex.example/1</link>"
        "<description>&lt;p&gt;Text&lt;/p&gt;</description></item>",
        version=version,
    )
    feed = fast_and_reference(body)
    assert texts(feed) == [("One", "Text", "")]
    assert feed.format == {"": "rss", ' version="0.91"': "rss091u"}.get(version, feed.format)


def test_items_outside_the_channel_are_read() -> None:
    body = "<rss><item><title>Loose</title><link>https://ex.example/l</link></item></rss>"
    assert [a.title for a in fast_and_reference(body).articles] == ["Loose"]


@pytest.mark.parametrize(
    "element",
    [
        "<body><p>Body <b>text</b></p></body>",
        f'<xhtml:body xmlns:xhtml="{XHTML[7:-1]}"><p>Body <b>text</b></p></xhtml:body>',
        "<fullitem>&lt;p&gt;Body &lt;b&gt;text&lt;/b&gt;&lt;/p&gt;</fullitem>",
    ],
    ids=["body", "xhtml:body", "fullitem"],
)
def test_an_item_whose_text_is_only_in_body_or_fullitem_is_kept(element: str) -> None:
    feed = fast_and_reference(rss(f"<item>{element}</item>"))
    assert texts(feed) == [("", "Body text", "Body text")]


def test_body_keeps_the_text_around_its_elements() -> None:
    body = rss('<item><body>safe<script type="text/javascript">x()</script> words</body></item>')
    assert texts(fast_and_reference(body)) == [("", "safe words", "safe words")]


def test_dublin_core_title_and_description() -> None:
    dc = ' xmlns:dc="http://purl.org/dc/elements/1.1/"'
    body = rss(
        "<item><dc:title>DC title</dc:title><dc:description>DC text</dc:description></item>",
        ns=dc,
        channel="",
    ).replace("<title>T</title>", "<dc:title>Channel</dc:title>")
    feed = fast_and_reference(body)
    assert texts(feed) == [("DC title", "DC text", "")]
    assert feed.title == "Channel"


@pytest.mark.parametrize(
    ("mime", "payload", "kept"),
    [
        ("application/octet-stream", b"Example <b>Atom</b>", "Example <b>Atom</b>"),
        ("image/png", b"\x89PNG\r\n\x1a\n\x00\x00", None),
    ],
)
def test_atom_base64_text_is_decoded_and_binary_is_not(
    mime: str, payload: bytes, kept: str | None
) -> None:
    encoded = base64.b64encode(payload).decode()
    body = atom(
        f'<entry><id>urn:x:1</id><title type="{mime}">\n  {encoded}\n</title>'
        f'<summary type="{mime}">{encoded}</summary></entry>'
    )
    feed = fast_and_reference(body)
    assert [a.title for a in feed.articles] == [kept or ""]
    assert [a.summary for a in feed.articles] == [kept or ""]


def test_atom_style_elements_without_a_namespace_in_rss() -> None:
    body = rss(
        '<item><title>Fiat Lux</title><link href="https://ex.example/p/1"/>'
        '<link rel="enclosure" type="audio/mpeg" href="https://ex.example/f.mp3"/>'
        "<id>urn:uuid:3241</id><updated>2026-11-26T23:25:19Z</updated>"
        "<summary>First episode</summary></item>"
    )
    feed = fast_and_reference(body)
    (article,) = feed.articles
    assert (article.title, article.summary, article.url) == (
        "Fiat Lux",
        "First episode",
        "https://ex.example/p/1",
    )
    assert article.key == "guid:urn:uuid:3241"
    assert article.published == datetime(2026, 11, 26, 23, 25, 19, tzinfo=UTC)


@pytest.mark.parametrize("field", ["title", "summary", "content"])
def test_escaped_markup_in_an_xhtml_div_stays_text(field: str) -> None:
    body = atom(
        f'<entry><id>urn:x:1</id><{field} type="xhtml"><div {XHTML}>History of the '
        f"&lt;blink&gt; tag</div></{field}></entry>"
    )
    (article,) = fast_and_reference(body).articles
    assert getattr(article, field) == "History of the <blink> tag"


def test_an_html_field_that_wraps_a_div_is_html() -> None:
    body = atom(
        f'<entry><id>urn:x:1</id><content type="html"><div {XHTML}>Example '
        "&lt;b&gt;Atom&lt;/b&gt;</div></content></entry>"
    )
    assert texts(fast_and_reference(body)) == [("", "Example Atom", "Example Atom")]


@pytest.mark.parametrize(
    ("first", "second"),
    [("description", "summary"), ("summary", "description")],
)
def test_rss_summary_and_description_are_both_kept(first: str, second: str) -> None:
    body = rss(f"<item><{first}>First text</{first}><{second}>Second text</{second}></item>")
    assert texts(fast_and_reference(body)) == [("", "First text", "Second text")]


def test_a_plain_text_content_copied_into_the_summary_stays_plain() -> None:
    # The feedparser engine's own bug: the copy had no type and was read as HTML.
    body = atom(
        '<entry><id>urn:x:1</id><content type="text">History of the &lt;blink&gt; tag'
        "</content></entry>"
    )
    (article,) = parse(body, "feedparser").articles
    assert article.summary == "History of the <blink> tag"
    assert texts(fast_and_reference(body)) == [("", article.summary, article.summary)]


def test_an_empty_type_is_text_in_the_feedparser_engine() -> None:
    # A broken document (feedparser's loose parser) whose title says type="".
    body = atom('<entry><title type="">evil</title><id>urn:x:1</id></entry>') + "<broken"
    assert [a.title for a in parse(body).articles] == ["evil"]


def test_media_title_is_a_fallback_and_media_description_is_read_inside_a_group() -> None:
    media = ' xmlns:media="http://search.yahoo.com/mrss/"'
    body = rss(
        '<item><media:title type="plain">Media</media:title><title>Own</title>'
        "<link>https://ex.example/1</link></item>"
        "<item><link>https://ex.example/2</link><media:group><media:title>Video</media:title>"
        '<media:description type="plain">Said &lt;here&gt;</media:description></media:group>'
        "</item>",
        ns=media,
    )
    assert texts(fast_and_reference(body)) == [("Own", "", ""), ("Video", "Said <here>", "")]


@pytest.mark.parametrize(
    ("content", "text"),
    [
        ('<content type="text/html" mode="escaped">&lt;p&gt;Esc &lt;b&gt;x&lt;/b&gt;</content>',
         "Esc x"),
        (f'<content type="text/plain" mode="base64">{base64.b64encode(b"B <i>64</i>").decode()}'
         "</content>", "B <i>64</i>"),
        (f'<content type="application/xhtml+xml" mode="xml"><div {XHTML}>In <b>line</b></div>'
         "</content>", "In line"),
    ],
    ids=["escaped", "base64", "xml"],
)  # fmt: skip
def test_atom_03_is_read_by_the_fast_engine(content: str, text: str) -> None:
    body = (
        '<feed version="0.3" xmlns="http://purl.org/atom/ns#"><title>T</title>'
        '<link rel="alternate" type="text/html" href="https://ex.example/"/>'
        "<entry><title>E</title><id>tag:ex,2026:1</id><issued>2026-11-20T10:00:00Z</issued>"
        f'<link rel="alternate" type="text/html" href="https://ex.example/e"/>{content}</entry>'
        "</feed>"
    )
    feed = fast_and_reference(body)
    assert feed.format == "atom03"
    assert texts(feed) == [("E", text, text)]
    assert [a.url for a in feed.articles] == ["https://ex.example/e"]


def test_an_item_the_fast_engine_cannot_read_goes_to_feedparser() -> None:
    # feedparser takes the title of an <image> inside a <category>; the fast engine reads
    # nothing in this item, so the whole feed goes to feedparser instead of losing it.
    body = rss(
        "<item><category>Cat<image><url>https://ex.example/i.jpg</url>"
        "<title>Savage Love</title><link>https://ex.example/sl</link></image></category></item>"
    )
    assert [a.title for a in parse(body).articles] == ["Savage Love"]
    assert parse(body) == parse(body, "feedparser")


@pytest.mark.parametrize("codec", ["cp037", "cp500", "cp875"])
def test_an_ebcdic_feed_is_decoded_by_its_declaration(codec: str) -> None:
    text = "Ø" if codec != "cp875" else "΅"
    body = (
        f'<?xml version="1.0" encoding="{codec}"?>'
        f'<feed version="0.3" xmlns="http://purl.org/atom/ns#"><title>{text}</title>'
        "<entry><title>Entry</title><id>tag:ex,2026:1</id></entry></feed>"
    ).encode(codec)
    feed = parse_feed(body, feed_id="f", url=URL, now=NOW)
    assert (feed.title, [a.title for a in feed.articles], feed.problems) == (text, ["Entry"], ())


def test_an_xhtml_doctype_before_an_rss_root_is_still_a_feed() -> None:
    body = (
        '<?xml version="1.0" encoding="utf-8"?><!DOCTYPE html PUBLIC '
        '"-//W3C//DTD XHTML 1.0 Transitional//EN" "http://site.invalid/">'
        "<rss><channel><title>found</title><item><title>Kept</title></item></channel></rss>"
    )
    feed = parse(body)
    assert (feed.title, [a.title for a in feed.articles]) == ("found", ["Kept"])
