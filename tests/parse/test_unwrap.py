"""Redirect wrappers: FeedBurner, Google Alerts and Google News links become the real URL.

The sample feeds under tests/data/parse/unwrap/ were written for these tests (their
SOURCE.md says how); they are golden cases too.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.identity import canonical_url
from monitor.models import ParsedFeed
from monitor.parse import Engine, parse_feed
from monitor.parse.build import article_link
from monitor.parse.raw import RawEntry
from monitor.parse.urls import is_web, unwrap_link
from tests.support.app import make_app
from tests.support.feedserver import FeedServer, rss_feed

DATA = Path(__file__).parent.parent / "data" / "parse" / "unwrap"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
POLITICO = "https://www.politico.eu/article/eu-agrees-ai-act-deal/"
ATOM_TYPE = "application/atom+xml; charset=utf-8"


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        if not n:
            return bytes(out + bytes([byte]))
        out.append(byte | 0x80)


def news_id(payload: bytes, amp: bytes | None = None, prefix: bytes = b"\x08\x13\x22") -> str:
    """An old-format Google News article id, built the way Google builds them."""
    data = prefix + varint(len(payload)) + payload
    if amp is not None:
        data += b"\xd2\x01" + varint(len(amp)) + amp
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def news_link(ident: str, path: str = "/rss/articles/") -> str:
    return f"https://news.google.com{path}{ident}?oc=5"


# --- Google Alerts / google.*/url --------------------------------------------------------


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        (
            f"https://www.google.com/url?rct=j&sa=t&url={POLITICO}&ct=ga&cd=CAIyGg&usg=AOvVaw0",
            POLITICO,
        ),
        (f"https://google.com/url?url={POLITICO}", POLITICO),
        (f"http://www.google.com/url?sa=t&url={POLITICO}", POLITICO),
        (f"https://www.google.de/url?url={POLITICO}&ct=ga", POLITICO),
        (f"https://www.google.co.uk/url?url={POLITICO}", POLITICO),
        (f"https://www.google.com.au/url?url={POLITICO}", POLITICO),
        (f"https://WWW.Google.com/url?url={POLITICO}", POLITICO),  # host case
        (f"HTTPS://WWW.GOOGLE.DE/url?url={POLITICO}", POLITICO),
        # an encoded target, with its own query
        (
            "https://www.google.com/url?rct=j&url=https%3A%2F%2Fex.eu%2Fa%3Fid%3D3%26p%3D2&ct=ga",
            "https://ex.eu/a?id=3&p=2",
        ),
        # "+" in a target stays "+" (a URL has no spaces)
        ("https://www.google.com/url?url=https://ex.eu/a+b", "https://ex.eu/a+b"),
        # q= (Google search results), and url= preferred over q=
        (f"https://www.google.com/url?q={POLITICO}&sa=U&ved=2ah", POLITICO),
        (f"https://www.google.com/url?q=https://ex.eu/q&url={POLITICO}", POLITICO),
        (f"https://www.google.com/url?url=javascript:x&q={POLITICO}", POLITICO),
        # double-escaped ampersands from a feed
        (f"https://www.google.com/url?rct=j&amp;sa=t&amp;url={POLITICO}&amp;ct=ga", POLITICO),
        # surrounding white space in the link
        (f"  https://www.google.com/url?url={POLITICO}\n", POLITICO),
        # the port is never looked at (even a bad one): the host is Google's
        (f"https://www.google.com:99999/url?url={POLITICO}", POLITICO),
    ],
)
def test_google_redirect_is_unwrapped(link: str, expected: str) -> None:
    assert unwrap_link(link) == expected


@pytest.mark.parametrize(
    "link",
    [
        "https://www.google.com/url?rct=j&sa=t&ct=ga",  # no url= or q=
        "https://www.google.com/url",  # no query at all
        "https://www.google.com/url?url=",  # empty
        "https://www.google.com/url?url",  # a name without "="
        "https://www.google.com/url?url=javascript:alert(1)&ct=ga",  # not http(s)
        "https://www.google.com/url?url=javascript%3Aalert(1)",
        "https://www.google.com/url?url=data:text/html,x",
        "https://www.google.com/url?url=mailto:a@b.example",
        "https://www.google.com/url?url=/relative/path",  # relative
        "https://www.google.com/url?url=article/x",
        "https://www.google.com/url?url=//ex.eu/a",  # scheme-relative
        "https://www.google.com/url?url=https://",  # no host
        "https://www.google.com/url?url=https:///path",
        "https://www.google.com/url?url=https://ex.eu/a%20b",  # white space once decoded
        "https://www.google.com/url?url=https://ex.eu/a%0Ab",
        "https://www.google.com/url?url=https://[::1",  # not a URL
        "https://www.google.com/url?url=%ZZ",
        "https://www.google.com/search?q=https://ex.eu/a",  # not the /url path
        "https://www.google.com/url/x?url=https://ex.eu/a",
        "https://evil.example/url?url=https://ex.eu/a",  # not Google
        "https://google.evil.example/url?url=https://ex.eu/a",
        "https://www.google.com.evil.example/url?url=https://ex.eu/a",
        "https://www.google.com@evil.example/url?url=https://ex.eu/a",
        "https://notgoogle.com/url?url=https://ex.eu/a",
        "ftp://www.google.com/url?url=https://ex.eu/a",
        "javascript://www.google.com/url?url=https://ex.eu/a",
    ],
)
def test_google_redirect_without_a_web_target_is_kept(link: str) -> None:
    assert unwrap_link(link) == link


# --- Google News -------------------------------------------------------------------------


def test_google_news_old_format_id_is_decoded() -> None:
    ident = news_id(POLITICO.encode())
    assert ident.startswith("CBMi")
    assert unwrap_link(news_link(ident)) == POLITICO
    assert unwrap_link(news_link(ident, "/articles/")) == POLITICO
    assert unwrap_link(news_link(ident, "/read/")) == POLITICO
    assert unwrap_link(f"https://news.google.com/rss/articles/{ident}") == POLITICO
    assert unwrap_link(f"https://news.google.com/rss/articles/{ident}/?hl=de") == POLITICO


def test_google_news_pinned_id() -> None:
    """An id written out, so the decoder does not only agree with the test's encoder."""
    ident = "CBMiNmh0dHBzOi8vd3d3LnBvbGl0aWNvLmV1L2FydGljbGUvZXUtYWdyZWVzLWFpLWFjdC1kZWFsLw"
    assert unwrap_link(news_link(ident)) == POLITICO


def test_google_news_amp_url_after_the_article_url_is_ignored() -> None:
    ident = news_id(POLITICO.encode(), amp=(POLITICO + "amp/").encode())
    assert unwrap_link(news_link(ident)) == POLITICO
    # So is whatever else follows the URL field.
    trailing = base64.urlsafe_b64decode(news_id(POLITICO.encode()) + "==") + b"\x00\xff"
    ident = base64.urlsafe_b64encode(trailing).rstrip(b"=").decode()
    assert unwrap_link(news_link(ident)) == POLITICO


def test_google_news_long_url_two_byte_length() -> None:
    url = "https://www.euractiv.com/section/tech/news/" + "a" * 150 + "/"
    ident = news_id(url.encode())
    assert base64.urlsafe_b64decode(ident + "==")[3] >= 0x80  # a two-byte varint
    assert unwrap_link(news_link(ident)) == url


def test_google_news_non_ascii_url() -> None:
    url = "https://www.lemonde.fr/pixels/article/2026/11/28/règlement-ia.html"
    assert unwrap_link(news_link(news_id(url.encode()))) == url


def test_google_news_new_format_is_kept() -> None:
    """Ids whose payload starts with AU_yqL need a request to Google: never decoded."""
    ident = news_id(b"AU_yqLNfakeopaqueidforthetestsonly0123456789abcdefghijklmnopqrstuv")
    link = news_link(ident)
    assert unwrap_link(link) == link
    bare = news_link("AU_yqLNfakeopaqueidforthetestsonly0123456789abcdefghijklmnop")
    assert unwrap_link(bare) == bare


@pytest.mark.parametrize(
    "payload",
    [
        b"javascript:alert(1)",
        b"data:text/html,<b>x</b>",
        b"/relative/article/",
        b"article/x",
        b"//www.politico.eu/a",
        b"https://",
        b"https://ex.eu/a b",
        b"https://ex.eu/a\nb",
        b"https://ex.eu/\xff\xfe",  # not UTF-8
        b"",
    ],
)
def test_google_news_payload_that_is_not_a_web_url_is_kept(payload: bytes) -> None:
    link = news_link(news_id(payload))
    assert unwrap_link(link) == link


def valid_ident() -> str:
    return news_id(POLITICO.encode())


@pytest.mark.parametrize(
    "ident",
    [
        "CBMi",  # the prefix alone
        "CBMi_not-a-valid-payload-at-all",
        "CBMiNmh0dHBzOi8vd3d3",  # truncated: the length says more than is there
        valid_ident()[:-1] + "=",  # not base64url
        valid_ident() + "A" * ((1 - len(valid_ident())) % 4),  # length 1 mod 4: not base64
        "AAAAAAAAAAAAAAAA",  # zero bytes
        "________________",  # 0xff bytes
        news_id(POLITICO.encode(), prefix=b"\x08\x14\x22"),  # another message type
        news_id(POLITICO.encode(), prefix=b"\x22"),
        base64.urlsafe_b64encode(b"\x08\x13\x22\xff\xff\xff\xff\xff\x01" + POLITICO.encode())
        .rstrip(b"=")
        .decode(),  # a varint longer than the decoder reads
        base64.urlsafe_b64encode(b"\x08\x13\x22\xff\xff\xff\x7f" + POLITICO.encode())
        .rstrip(b"=")
        .decode(),  # a huge length
        base64.urlsafe_b64encode(b"\x08\x13\x22\x80").rstrip(b"=").decode(),  # cut varint
        "C" * 5000,  # longer than any real id
    ],
)
def test_garbage_google_news_ids_are_kept(ident: str) -> None:
    for path in ("/rss/articles/", "/articles/", "/read/"):
        link = news_link(ident, path)
        assert unwrap_link(link) == link


def test_every_truncation_of_a_valid_id_is_safe() -> None:
    ident = news_id(POLITICO.encode(), amp=(POLITICO + "amp/").encode())
    for end in range(len(ident)):
        link = news_link(ident[:end])
        result = unwrap_link(link)
        # Either untouched, or (once the whole URL is in) the article URL.
        assert result in (link, POLITICO)


@pytest.mark.parametrize(
    "link",
    [
        "https://news.google.com/topics/CAAqJggKIiBDQkFTRWdvSUwyMHZNRGx1YlY4U0FtVnVHZ0pWVXlnQVAB",
        "https://news.google.com/rss/search?q=AI+Act",
        "https://news.google.com/",
        "https://news.google.com/rss/articles/",
        "https://news.google.com/rss/articles/CBMi.x",  # not the base64url alphabet
        "https://news.google.com.evil.example/rss/articles/" + valid_ident(),
        "https://evil.example/rss/articles/" + valid_ident(),
        "https://news.google.de/rss/articles/" + valid_ident(),  # only news.google.com
        "mailto:news.google.com",
    ],
)
def test_other_google_news_links_are_kept(link: str) -> None:
    assert unwrap_link(link) == link


# --- General -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "link",
    [
        POLITICO,
        "https://www.politico.eu/article/google.eu-fine/?url=https://ex.eu/x",
        "http://feedproxy.google.com/~r/PolicyDesk/~3/Xy12abCD/",  # origLink's job, not this
        "tag:google.com,2013:googlealerts/feed:1",
        "",
        "google.",
    ],
)
def test_other_links_are_kept(link: str) -> None:
    assert unwrap_link(link) == link


def test_wrapper_inside_a_wrapper() -> None:
    news = news_link(news_id(POLITICO.encode()))
    assert unwrap_link(f"https://www.google.com/url?url={news}") == POLITICO
    # A chain of redirects to itself ends; it does not loop.
    loop = (
        "https://www.google.com/url?url=https://www.google.com/url?url=https://www.google.com/url"
    )
    assert unwrap_link(loop) == "https://www.google.com/url"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_unwrap_never_raises_on_any_text(text: str) -> None:
    for link in (
        text,
        "https://www.google.com/url?url=" + text,
        "https://news.google.com/rss/articles/" + text,
    ):
        result = unwrap_link(link)
        assert result == link or is_web(result)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_unwrap_never_raises_on_any_id(data: bytes) -> None:
    for raw in (data, b"\x08\x13\x22" + data):
        link = news_link(base64.urlsafe_b64encode(raw).rstrip(b"=").decode())
        result = unwrap_link(link)
        assert result == link or (is_web(result) and " " not in result)


# --- The builder -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (RawEntry(link="https://fp.example/1", orig_link=POLITICO), POLITICO),
        (RawEntry(link=None, orig_link=POLITICO), POLITICO),
        (RawEntry(link="https://fp.example/1", orig_link="/relative"), "https://fp.example/1"),
        (RawEntry(link="https://fp.example/1", orig_link="javascript:x"), "https://fp.example/1"),
        (RawEntry(link="https://fp.example/1", orig_link=""), "https://fp.example/1"),
        (RawEntry(link=None, orig_link="/relative"), None),
        (RawEntry(link=""), None),
        (RawEntry(link=f"https://www.google.com/url?url={POLITICO}"), POLITICO),
        # an origLink that is itself a Google redirect is unwrapped too
        (RawEntry(link="https://fp.example/1", orig_link=f"https://google.com/url?q={POLITICO}"),
         POLITICO),
    ],
)  # fmt: skip
def test_article_link(entry: RawEntry, expected: str | None) -> None:
    assert article_link(entry) == expected


# --- Both engines on the sample feeds ----------------------------------------------------


def parse(name: str, engine: Engine, url: str = "https://feeds.example/feed") -> ParsedFeed:
    return parse_feed((DATA / name).read_bytes(), feed_id="t", url=url, now=NOW, engine=engine)


def links(feed: ParsedFeed) -> list[tuple[str | None, str | None]]:
    return [(a.url, a.canonical_url) for a in feed.articles]


def test_feedburner_rss_both_engines() -> None:
    fast, slow = parse("feedburner-rss.xml", "lxml"), parse("feedburner-rss.xml", "feedparser")
    assert fast == slow
    proxy = "http://feedproxy.google.com/~r/PolicyDesk/~3/"
    assert links(fast) == [
        (
            "https://policydesk.example.eu/2026/11/parliament-ai-act-position/"
            "?utm_source=feedburner&utm_medium=feed",
            "https://policydesk.example.eu/2026/11/parliament-ai-act-position/",
        ),
        ("https://policydesk.example.eu/2026/11/edpb-facial-recognition-guidelines/",) * 2,
        (proxy + "Rel00000/",) * 2,  # relative origLink: ignored
        (proxy + "Empty000/",) * 2,  # empty origLink: ignored
        (proxy + "Js000000/",) * 2,  # javascript: origLink: ignored
        ("https://policydesk.example.eu/2026/11/only-origlink/",) * 2,
    ]


def test_feedburner_atom_both_engines() -> None:
    fast, slow = parse("feedburner-atom.atom", "lxml"), parse("feedburner-atom.atom", "feedparser")
    assert fast == slow
    assert links(fast) == [
        (
            "https://netz.example.de/2026/gesichtserkennung/?wt_mc=rss.feedburner",
            "https://netz.example.de/2026/gesichtserkennung/",
        ),
        ("https://netz.example.de/2026/ohne-origlink/",) * 2,
    ]


ORIG_VARIANTS = [
    # element-name case (feedparser matches names case-insensitively)
    "<feedburner:origlink>https://ex.eu/lower</feedburner:origlink>",
    # two origLinks: the last one counts in both engines
    "<feedburner:origLink>https://ex.eu/first</feedburner:origLink>"
    "<feedburner:origLink>https://ex.eu/second</feedburner:origLink>",
    "<feedburner:origLink>https://ex.eu/first</feedburner:origLink>"
    "<feedburner:origLink></feedburner:origLink>",
    # an entity-escaped query
    "<feedburner:origLink>https://ex.eu/a?x=1&amp;y=2</feedburner:origLink>",
    # the element in another namespace is not FeedBurner's
    '<o:origLink xmlns:o="urn:other">https://ex.eu/other</o:origLink>',
    # an origLink that is a Google Alerts redirect
    "<feedburner:origLink>https://www.google.com/url?url=https://ex.eu/g&amp;ct=ga"
    "</feedburner:origLink>",
]


@pytest.mark.parametrize("orig", ORIG_VARIANTS)
def test_origlink_variants_agree_between_engines(orig: str) -> None:
    ns = 'xmlns:feedburner="http://rssnamespace.org/feedburner/ext/1.0"'
    bodies = [
        f'<?xml version="1.0"?><rss version="2.0" {ns}><channel><title>F</title>'
        f"<item><title>T</title><link>http://feedproxy.google.com/~r/f/~3/x/</link>{orig}"
        "</item></channel></rss>",
        f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" {ns}><title>F</title>'
        "<entry><id>urn:x:1</id><title>T</title>"
        f'<link href="http://feedproxy.google.com/~r/f/~3/x/"/>{orig}</entry></feed>',
    ]
    for body in bodies:
        got = [
            parse_feed(body.encode(), feed_id="t", url="https://f.example/", now=NOW, engine=e)
            for e in ("lxml", "feedparser")
        ]
        assert got[0] == got[1]
        assert len(got[0].articles) == 1


def test_google_feeds_both_engines_name_the_publishers_url() -> None:
    for name in ("google-alerts.atom", "google-news.xml"):
        fast, slow = parse(name, "lxml"), parse(name, "feedparser")
        assert fast == slow
        assert fast.articles[0].url == POLITICO
    publisher = parse("publisher.xml", "auto")
    assert publisher.articles[0].canonical_url == POLITICO
    alerts = parse("google-alerts.atom", "auto")
    news = parse("google-news.xml", "auto")
    assert [a.url for a in alerts.articles] == [
        POLITICO,
        "https://www.heise.de/news/KI-Verordnung-Einigung.html?seite=2",
        "https://www.google.com/url?rct=j&sa=t&url=javascript:alert(1)&ct=ga",
    ]
    assert alerts.link is None  # the feed's id is a tag: URI, not a link
    assert [a.url for a in news.articles][1:3] == [
        "https://netzpolitik.org/2026/gesichtserkennung-im-bundestag/",  # not its AMP URL
        "https://www.euractiv.com/section/tech/news/commission-opens-consultation-on-the-"
        "general-purpose-ai-code-of-practice-and-the-guidelines-for-providers/",
    ]
    # The new-format id and the garbled one stay Google News links.
    kept = [a.url or "" for a in news.articles[3:]]
    assert len(kept) == 2
    assert all(u.startswith("https://news.google.com/rss/articles/CBMi") for u in kept)
    assert canonical_url(news.articles[0].url or "") == POLITICO


# --- End to end --------------------------------------------------------------------------

PUBLISHER_ITEMS = [
    ("https://www.politico.eu/?p=5551234", "EU agrees AI Act deal",
     POLITICO + "?utm_source=RSS_Feed&utm_medium=RSS"),
]  # fmt: skip


@pytest.mark.parametrize("first", ["alerts", "politico"])
def test_google_alerts_and_publisher_feed_are_one_article(
    feed_server: FeedServer, tmp_path: Path, first: str
) -> None:
    feed_server.raw("/alerts.atom", (DATA / "google-alerts.atom").read_bytes(), ATOM_TYPE)
    feed_server.feed("/politico.xml", rss_feed("POLITICO Europe", PUBLISHER_ITEMS))
    feed_server.raw("/news.xml", (DATA / "google-news.xml").read_bytes(), "application/xml")
    app = make_app(
        tmp_path,
        {
            "alerts": feed_server.url("/alerts.atom"),
            "politico": feed_server.url("/politico.xml"),
            "gnews": feed_server.url("/news.xml"),
        },
    )
    second = "politico" if first == "alerts" else "alerts"
    report = app.poll(only=(first,))
    assert report.new == (3 if first == "alerts" else 1)
    report = app.poll(only=(second,))
    # The POLITICO article is known from the first feed: only the alerts' other two are new.
    assert report.new == (0 if second == "politico" else 2)
    # Google News carries it too (and four others, two of them left wrapped).
    assert app.poll(only=("gnews",)).new == 4
    assert app.poll().new == 0
    with app.store() as store:
        assert store.count_articles() == 3 + 4
        politico = [s.article for s in store.iter_articles() if s.article.canonical_url == POLITICO]
    assert len(politico) == 1
    [article] = politico
    assert article.feed_id == first
    # What alerts link to is the publisher's page, never a Google redirect.
    assert article.url is not None
    assert article.url.startswith(POLITICO)
