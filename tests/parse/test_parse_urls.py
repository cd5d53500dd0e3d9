"""Canonical URLs: one spelling per article whatever tracking the feed added."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.identity import _PLAIN, canonical_url, normalize
from monitor.parse import parse_feed
from monitor.parse.urls import resolve

REPLAY = Path(__file__).parent.parent / "data" / "parse" / "replay"


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        # engadget adds ?src=rss to every link; Hacker News links the clean URL
        (
            "https://www.engadget.com/a-152034192.html?src=rss",
            "https://www.engadget.com/a-152034192.html",
        ),
        ("https://tech.example.com/x?utm_source=rss&utm_medium=feed", "https://tech.example.com/x"),
        (
            "https://tech.example.com/x?utm_source=rss&amp;utm_medium=feed",
            "https://tech.example.com/x",
        ),
        ("https://ex.com/p?fbclid=abc&gclid=x&id=3", "https://ex.com/p?id=3"),
        ("https://ex.com/p?mc_cid=1&mc_eid=2&q=eu", "https://ex.com/p?q=eu"),
        (
            "https://www.bbc.co.uk/news/t-1?at_medium=RSS&at_campaign=KARANGA",
            "https://www.bbc.co.uk/news/t-1",
        ),
        (
            "https://www.heise.de/news/x.html?wt_mc=rss.red.ho.ho.atom.beitrag.beitrag",
            "https://www.heise.de/news/x.html",
        ),
        ("https://ex.com/a?from=rss&p=12", "https://ex.com/a?p=12"),
        ("https://ex.com/a?ref=rss", "https://ex.com/a"),
        (
            "HTTPS://Tech.Example.COM:443/Path/Case?b=2&a=1#comments",
            "https://tech.example.com/Path/Case?a=1&b=2",
        ),
        ("http://ex.com:80/a", "http://ex.com/a"),
        ("https://ex.com:8443/a", "https://ex.com:8443/a"),
        ("https://ex.com", "https://ex.com/"),
        ("https://ex.com/a/#top", "https://ex.com/a/"),
        ("  https://ex.com/a  ", "https://ex.com/a"),
        ("https://ex.com/a b", "https://ex.com/a%20b"),
        # content-bearing parameters survive
        ("https://ex.com/index.php?p=123&lang=de", "https://ex.com/index.php?lang=de&p=123"),
        # not http(s): returned as given
        ("tag:example.com,2026:1", "tag:example.com,2026:1"),
        ("mailto:press@ex.com", "mailto:press@ex.com"),
        ("/relative/path", "/relative/path"),
        ("http://[::1", "http://[::1"),
    ],
)
def test_canonical_url(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical


def test_same_link_with_different_tracking_is_one_url() -> None:
    variants = [
        "https://news.example.org/markets/rate-decision-chips",
        "https://news.example.org/markets/rate-decision-chips?utm_source=twitter&utm_campaign=x",
        "https://NEWS.example.org:443/markets/rate-decision-chips?fbclid=IwAR0",
        "https://news.example.org/markets/rate-decision-chips#main",
        "https://news.example.org/markets/rate-decision-chips?src=rss",
    ]
    assert {canonical_url(v) for v in variants} == {variants[0]}


def test_engadget_and_hacker_news_link_the_same_article() -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    engadget = parse_feed(
        (REPLAY / "engadget-2023-11-22.xml").read_bytes(),
        feed_id="engadget",
        url="https://www.engadget.com/rss.xml",
        now=now,
    )
    hn = parse_feed(
        (REPLAY / "hn-frontpage-2023-11-22.xml").read_bytes(),
        feed_id="hn",
        url="https://hnrss.org/frontpage",
        now=now,
    )
    shared = {a.canonical_url for a in engadget.articles} & {a.canonical_url for a in hn.articles}
    url = "https://www.engadget.com/self-proclaimed-gay-furry-hackers-breach-nuclear-lab-152034192.html"
    assert shared == {url}
    [from_engadget] = [a for a in engadget.articles if a.canonical_url == url]
    assert from_engadget.url == url + "?src=rss"


def test_resolve_survives_garbled_hrefs() -> None:
    assert resolve("https://ex.com/feed/", "a/b") == "https://ex.com/feed/a/b"
    assert resolve("https://ex.com/feed/", "//[::1") == "//[::1"


_hosts = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\.[a-z]{2,5}){1,2}", fullmatch=True)
_paths = st.lists(st.from_regex(r"[A-Za-z0-9_.~!=:,%@+;é -]{0,12}", fullmatch=True), max_size=4)
_queries = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "utm_source",
                "id",
                "src",
                "p",
                "fbclid",
                "q",
                "ref",
                "lang",
                "mc_cid",
                "at_medium",
                "UTM_Medium",
                "resource",
                "from",
                "gclid",
                "",
            ]
        ),
        st.from_regex(r"[A-Za-z0-9 +%=-]{0,8}", fullmatch=True),
    ),
    max_size=4,
)


@st.composite
def urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "https", "HTTPS"]))
    host = draw(_hosts)
    if draw(st.booleans()):
        host = host.upper()
    path = "/".join(draw(_paths))
    query = "&".join(f"{k}={v}" for k, v in draw(_queries))
    fragment = draw(st.sampled_from(["", "#x", "#utm_source=a"]))
    return f"{scheme}://{host}/{path}" + (f"?{query}" if query else "") + fragment


@settings(max_examples=150, deadline=None)
@given(urls())
def test_canonical_url_is_idempotent(url: str) -> None:
    once = canonical_url(url)
    assert canonical_url(once) == once
    assert "#" not in once
    assert "utm_" not in once
    assert "fbclid" not in once


@st.composite
def plain_urls(draw: st.DrawFn) -> str:
    segment = st.from_regex(r"[A-Za-z0-9_.~!=:,%-]{1,12}", fullmatch=True)
    path = "".join("/" + s for s in draw(st.lists(segment, max_size=4)))
    url = f"{draw(st.sampled_from(['http', 'https']))}://{draw(_hosts)}{path}"
    url += draw(st.sampled_from(["", "/"]))
    query = "&".join(f"{k}={v}" for k, v in draw(_queries))
    return url + (f"?{query}" if query and draw(st.booleans()) else "")


@settings(max_examples=150, deadline=None)
@given(st.one_of(urls(), plain_urls()))
def test_shortcut_agrees_with_courlan(url: str) -> None:
    # canonical_url skips courlan for URLs that look canonical already: both must agree.
    assert canonical_url(url) == normalize(url)


def test_shortcut_is_taken_for_ordinary_article_links() -> None:
    assert _PLAIN.match("https://www.politico.eu/article/eu-strikes-tentative-deal-ai-act/")
    assert not _PLAIN.match("https://www.engadget.com/a.html?src=rss")
    assert not _PLAIN.match("https://xn--caf-dma.example/a")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_canonical_url_never_raises(text: str) -> None:
    assert isinstance(canonical_url(text), str)
    assert isinstance(canonical_url("https://" + text), str)
