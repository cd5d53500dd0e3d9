"""Hypothesis properties of the parse stage: it never raises but ParseError, and its
shortcuts agree with the general code they bypass."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from feedparser.datetimes import _parse_date
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.errors import ParseError
from monitor.parse import parse_feed
from monitor.parse.dates import _quick, parse_date
from monitor.plaintext import collapse_space, html_to_text

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)

_PIECES = [
    b'<?xml version="1.0" encoding="utf-8"?>',
    b'<?xml version="1.0" encoding="iso-8859-1"?>',
    b'<?xml version="1.0" encoding="utf-16"?>',
    b'<?xml version="1.0" encoding="zlib"?>',
    b'<rss version="2.0">',
    b"</rss>",
    b"<channel>",
    b"</channel>",
    b"<item>",
    b"</item>",
    b"<title>",
    b"</title>",
    b"<link>",
    b"</link>",
    b"<guid>",
    b"</guid>",
    b"<description>",
    b"</description>",
    b"<![CDATA[",
    b"]]>",
    b"&amp;",
    b"&lt;b&gt;",
    b"&nbsp;",
    b"&#0;",
    b'<feed xmlns="http://www.w3.org/2005/Atom">',
    b"<entry>",
    b"</entry>",
    b'<link href="//[::1"/>',
    b"<link>http://[x</link>",
    b'<content type="xhtml"><div>',
    b"<pubDate>Fri, 27 Nov 2026 09:15:00 +0000</pubDate>",
    b"<updated>9999-99-99</updated>",
    b"<ttl>99999999999999999999</ttl>",
    b"<dc:creator>a@b.example (A)</dc:creator>",
    b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">',
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\x00",
    b"\xe9",
    b"\x92",
    b"<html>",
    b"<!DOCTYPE html>",
    b"<!--",
    b"-->",
    b"<!DOCTYPE rss [<!ENTITY e 'x'>]>",
    b"&e;",
    b"\n",
]
_CONTENT_TYPES = [
    None,
    "text/xml; charset=utf-8",
    "text/html; charset=windows-1252",
    "application/xml; charset=rot13",
    "text/xml; charset=undefined",
]


def _check(body: bytes, content_type: str | None) -> None:
    try:
        feed = parse_feed(
            body, feed_id="f", url="https://ex.example/f", now=NOW, content_type=content_type
        )
    except ParseError:
        return
    assert all(isinstance(p, str) and p for p in feed.problems)
    assert len({a.key for a in feed.articles}) == len(feed.articles)
    assert all(a.published is not None and a.published.tzinfo is not None for a in feed.articles)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300), st.sampled_from(_CONTENT_TYPES))
def test_arbitrary_bytes_never_raise_anything_but_parse_error(body: bytes, ct: str | None) -> None:
    _check(body, ct)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.sampled_from(_PIECES), st.binary(max_size=6), st.text(max_size=6).map(str.encode)
        ),
        max_size=40,
    ),
    st.sampled_from(_CONTENT_TYPES),
)
def test_feed_like_bytes_never_raise_anything_but_parse_error(
    parts: list[bytes], ct: str | None
) -> None:
    _check(b"".join(parts), ct)


_DAYS = st.sampled_from(["Mon, ", "tue, ", "SUN ", ""])
_MONTHS = st.sampled_from(
    ["Jan", "feb", "MAR", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec", "Foo"]
)
_ZONES = st.sampled_from(["+0000", "-0130", "+2359", "GMT", "UT", "Z", "utc", "+0960"])


@st.composite
def rfc822(draw: st.DrawFn) -> str:
    seconds = draw(st.sampled_from(["", ":00", ":59", ":60", ":61"]))
    return (
        f"{draw(_DAYS)}{draw(st.integers(0, 39))} {draw(_MONTHS)} {draw(st.integers(1, 9999)):04d} "
        f"{draw(st.integers(0, 25)):02d}:{draw(st.integers(0, 61)):02d}{seconds} {draw(_ZONES)}"
    )


@st.composite
def iso(draw: st.DrawFn) -> str:
    zone = draw(st.sampled_from(["Z", "+01:00", "-05:30", "+14:00", "+24:00"]))
    year, month, day = (
        draw(st.integers(1, 9999)),
        draw(st.integers(0, 13)),
        draw(st.integers(0, 32)),
    )
    hour, minute, second = (
        draw(st.integers(0, 24)),
        draw(st.integers(0, 60)),
        draw(st.integers(0, 61)),
    )
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}{zone}"


@settings(max_examples=500, deadline=None)
@given(st.one_of(rfc822(), iso()))
def test_date_shortcut_agrees_with_feedparser(value: str) -> None:
    # parse_date reads the two common spellings itself; feedparser must agree.
    quick = _quick(value)
    if quick is None:
        return
    reference = _parse_date(value)
    assert reference is not None
    year, month, day, hour, minute, second = reference[:6]
    assert quick == datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)


def test_date_shortcut_is_taken_for_the_common_spellings() -> None:
    assert _quick("Wed, 20 Dec 2023 23:01:53 +0000") == datetime(
        2023, 12, 20, 23, 1, 53, tzinfo=UTC
    )
    assert _quick("2026-11-27T08:00:00+01:00") == datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
    assert _quick("2026-11-27") is None
    assert parse_date("2026-11-27") == datetime(2026, 11, 27, tzinfo=UTC)
    assert parse_date("not a date") is None


_SPACE_REFERENCE = re.compile(r"[\s\u00a0\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")


@given(st.text())
def test_collapse_space_matches_its_definition(text: str) -> None:
    # monitor.plaintext replaced this regex by str.split(); the behaviour must not move.
    assert collapse_space(text) == _SPACE_REFERENCE.sub(" ", text).strip()


def test_html_to_text_block_and_inline_elements() -> None:
    assert html_to_text("ransom<b>ware</b>") == "ransomware"
    assert html_to_text("<p>one</p><P>two<BR>three</P>") == "one two three"
    assert html_to_text("<p>a<script>var x = '<p>';</script>b</p>") == "ab"
    assert html_to_text("AT&amp;T&nbsp;&mdash; 3 &lt; 5") == "AT&T — 3 < 5"
