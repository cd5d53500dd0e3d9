"""Differential property: on any well-formed feed the fast engine reads what feedparser reads.

Feeds are assembled from pieces that real feeds contain (escaped and CDATA markup,
relative and tracking links, permalink guids, odd dates and languages, authors in
e-mail form, XHTML text constructs, xml:lang and xml:base) in any order; whenever the
lxml engine accepts a document, both engines must return the same ``ParsedFeed``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from monitor.errors import ParseError
from monitor.parse import parse_feed

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)

TEXTS = st.sampled_from(
    [
        "Plain title", "3 &lt; 5 &amp; co", "&lt;b&gt;bold&lt;/b&gt; move", "Q&amp;amp;A",
        "<![CDATA[AT&T <i>x</i>]]>", "<![CDATA[<p>para</p><p>two</p>]]>", "a<![CDATA[ & ]]>b",
        "Café – “q”", "  spaced\n  out  ", "", "a &amp;#8217; b", "CafÃ©", "x\u0092y",
        "&lt;Title&gt; &amp;fake;", "<b>child</b> element", "<![CDATA[]]>",
    ]
)  # fmt: skip
LINKS = st.sampled_from(
    [None, "", "https://ex.example/a", "https://ex.example/a?utm_source=x", "/rel/path", "rel2",
     "  https://ex.example/b  ", "HTTP://EX.example/C", "javascript:x", "mailto:a@b.example",
     "https://ex.example/a&amp;b=1"]
)  # fmt: skip
GUIDS = st.sampled_from(
    [None, "", "g1", "g2", "  g3 ", "https://ex.example/a", "https://ex.example/z"]
)
PERMALINK = st.sampled_from(
    ["", ' isPermaLink="false"', ' isPermaLink="true"', ' isPermaLink="True"']
)
DATES = st.sampled_from(
    [None, "Fri, 27 Nov 2026 09:15:00 +0000", "garbage", "2026-11-27T09:15:00Z", "2026-11-27",
     "Fri, 01 Jan 2100 00:00:00 GMT", "27 Nov 26 09:15 EST", "Sun, 29 Nov 2026 06:00:00 +0000"]
)  # fmt: skip
LANGS = st.sampled_from([None, "", "de", "en_GB", "EN-us", "x", "123"])
PEOPLE = st.sampled_from(["Jane", "jane@ex.example (Jane D)", "jane@ex.example", "", " A  B "])
TAGS = st.sampled_from(["Tag", "tag", "", " T  a "])
XML_LANG = st.sampled_from(["", ' xml:lang="fr"', ' xml:lang=""'])


@st.composite
def rss_item(draw: st.DrawFn) -> str:
    parts = []
    if (title := draw(st.none() | TEXTS)) is not None:
        parts.append(f"<title{draw(XML_LANG)}>{title}</title>")
    if (link := draw(LINKS)) is not None:
        parts.append(f"<link>{link}</link>")
    if (guid := draw(GUIDS)) is not None:
        parts.append(f"<guid{draw(PERMALINK)}>{guid}</guid>")
    if draw(st.booleans()):
        parts.append(f"<description>{draw(TEXTS)}</description>")
    if draw(st.booleans()):
        parts.append(f"<content:encoded>{draw(TEXTS)}</content:encoded>")
    parts += [f"<dc:creator>{draw(PEOPLE)}</dc:creator>" for _ in range(draw(st.integers(0, 2)))]
    if draw(st.booleans()):
        parts.append(f"<author>{draw(PEOPLE)}</author>")
    parts += [f"<category>{draw(TAGS)}</category>" for _ in range(draw(st.integers(0, 2)))]
    if (date := draw(DATES)) is not None:
        parts.append(f"<pubDate>{date}</pubDate>")
    if (date := draw(DATES)) is not None:
        parts.append(f"<dc:date>{date}</dc:date>")
    if (lang := draw(LANGS)) is not None:
        parts.append(f"<dc:language>{lang}</dc:language>")
    if draw(st.booleans()):
        href = draw(st.sampled_from(["https://ex.example/al", "rel3"]))
        rel = draw(st.sampled_from(["alternate", "self"]))
        parts.append(f'<atom:link href="{href}" rel="{rel}"/>')
    # Constructs feedparser reads beyond RSS 2.0 proper (issue 16).
    extras = draw(st.lists(EXTRAS, max_size=3))
    parts += [extra.replace("TEXT", draw(TEXTS)) for extra in extras]
    return f"<item{draw(XML_LANG)}>" + "".join(draw(st.permutations(parts))) + "</item>"


EXTRAS = st.sampled_from(
    [
        "<dc:title>TEXT</dc:title>", "<dc:description>TEXT</dc:description>",
        "<summary>TEXT</summary>", "<fullitem>TEXT</fullitem>", "<body><p>B <i>b</i></p> t</body>",
        '<xhtml:body xmlns:xhtml="http://www.w3.org/1999/xhtml">x &lt;y&gt; <b>z</b></xhtml:body>',
        "<id>urn:x:1</id>", "<updated>2026-11-27T09:15:00Z</updated>",
        '<link href="https://ex.example/h"/>', '<link rel="enclosure" href="https://ex.example/e"/>',
        '<media:title type="plain">TEXT</media:title>',
        "<media:group><media:description>TEXT</media:description></media:group>",
    ]
)  # fmt: skip


@st.composite
def rss(draw: st.DrawFn) -> bytes:
    channel = [f"<title>{draw(TEXTS)}</title>", "<link>https://ex.example/</link>"]
    if (lang := draw(LANGS)) is not None:
        channel.append(f"<language>{lang}</language>")
    if draw(st.booleans()):
        channel.append(f"<ttl>{draw(st.sampled_from(['60', 'x', '0', '']))}</ttl>")
    items = draw(st.lists(rss_item(), max_size=4))
    version = draw(st.sampled_from([' version="2.0"', ' version="0.91"', ' version="0.92"', ""]))
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss{version} '
        'xmlns:media="http://search.yahoo.com/mrss/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        f'xmlns:atom="http://www.w3.org/2005/Atom"{draw(XML_LANG)}>'
        f"<channel{draw(XML_LANG)}>{''.join(channel)}{''.join(items)}</channel></rss>"
    ).encode()


ATOM_PARTS = [
    st.sampled_from(
        [
            "<title>Plain</title>",
            '<title type="html">&lt;b&gt;B&lt;/b&gt; &amp;amp;</title>',
            '<title type="text">3 &lt; 5</title>',
            '<title type="text">a <b>b</b></title>',
            '<title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">X <b>y</b></div>'
            "</title>",
            "<title/>",
            "<title>x</title><title>y</title>",
            '<title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">a &lt;b&gt; c</div>'
            "</title>",
            '<title type="application/octet-stream">RXhhbXBsZSA8Yj5BdG9tPC9iPg==</title>',
        ]
    ),
    st.sampled_from(
        [
            "",
            "<summary>s &lt;p&gt;</summary>",
            '<summary type="html">&lt;p&gt;S&lt;/p&gt;</summary>',
            '<summary type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>X</p></div></summary>',
        ]
    ),
    st.sampled_from(
        [
            "",
            '<content type="html">&lt;p&gt;C&lt;/p&gt;</content>',
            "<content>plain c</content>",
            '<content type="text/plain">tp</content>',
            '<content type="image/png">AAAA</content>',
            '<content type="text">History of the &lt;blink&gt; tag</content>',
            '<content src="https://ex.example/c"/>',
            '<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>C</p></div></content>',
        ]
    ),
    st.sampled_from(
        [
            "",
            '<link href="https://ex.example/e"/>',
            '<link rel="alternate" href="rel/e"/>',
            '<link rel="enclosure" href="https://ex.example/f.mp3"/>',
            '<link rel="alternate" type="application/pdf" href="https://ex.example/p.pdf"/>',
            '<link href="https://ex.example/e1"/><link href="https://ex.example/e2"/>',
        ]
    ),
    st.sampled_from(
        ["", "<id>urn:uuid:1</id>", "<id>https://ex.example/id</id>", "<id>tag:x,2026:2</id>"]
    ),
    st.sampled_from(
        [
            "",
            "<updated>2026-11-27T09:15:00Z</updated>",
            "<published>2026-11-26T09:15:00+02:00</published>",
            "<updated>bad</updated><published>2026-11-26T09:15:00Z</published>",
        ]
    ),
    st.sampled_from(
        [
            "",
            "<author><name>N</name></author>",
            "<author><email>e@x.example</email></author>",
            "<author><name>A</name></author><author><name>B</name></author>",
            '<dc:creator xmlns:dc="http://purl.org/dc/elements/1.1/">DC</dc:creator>',
        ]
    ),
    st.sampled_from(
        ["", '<category term="t"/>', '<category term="t" label="L"/><category term="u"/>']
    ),
]


@st.composite
def atom(draw: st.DrawFn) -> bytes:
    entries = []
    for _ in range(draw(st.integers(0, 3))):
        parts = draw(st.permutations([draw(part) for part in ATOM_PARTS]))
        entries.append(f"<entry{draw(XML_LANG)}>{''.join(parts)}</entry>")
    base = draw(st.sampled_from(["", ' xml:base="https://base.example/x/"']))
    head = draw(ATOM_PARTS[0]) + draw(ATOM_PARTS[6]) + '<link href="https://ex.example/"/>'
    ns = draw(
        st.sampled_from(
            [
                'xmlns="http://www.w3.org/2005/Atom"',
                'version="0.3" xmlns="http://purl.org/atom/ns#"',
            ]
        )
    )
    if "0.3" in ns:  # Atom 0.3: the same elements, and a mode attribute (issue 16)
        modes = ["", ' mode="escaped"', ' mode="xml"', ' mode="base64"']
        body = "".join(entries).replace("<content ", f"<content{draw(st.sampled_from(modes))} ")
        entries = [body]
    return (
        f'<?xml version="1.0" encoding="utf-8"?><feed {ns}'
        f"{draw(XML_LANG)}{base}>{head}{''.join(entries)}</feed>"
    ).encode()


@st.composite
def rdf(draw: st.DrawFn) -> bytes:
    items = []
    for i in range(draw(st.integers(0, 3))):
        about = draw(st.sampled_from(["", f' rdf:about="https://ex.example/r{i}"']))
        parts = [f"<title>{draw(TEXTS)}</title>", f"<link>{draw(LINKS) or ''}</link>"]
        if draw(st.booleans()):
            parts.append(f"<description>{draw(TEXTS)}</description>")
        if draw(st.booleans()):
            parts.append(f"<dc:date>{draw(DATES) or ''}</dc:date>")
        if draw(st.booleans()):
            parts.append(f"<dc:creator>{draw(PEOPLE)}</dc:creator>")
        items.append(f"<item{about}>{''.join(draw(st.permutations(parts)))}</item>")
    lang = draw(st.sampled_from(["", "<dc:language>pl</dc:language>"]))
    return (
        '<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f'<channel rdf:about="https://ex.example/"><title>{draw(TEXTS)}</title>'
        f"<link>https://ex.example/</link>{lang}</channel>{''.join(items)}</rdf:RDF>"
    ).encode()


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(rss(), atom(), rdf()))
def test_both_engines_read_every_well_formed_feed_alike(body: bytes) -> None:
    note(body.decode())
    url = "https://feed.example/dir/feed.xml"
    try:
        fast = parse_feed(body, feed_id="f", url=url, now=NOW, language="en", engine="lxml")
    except ParseError:
        return
    slow = parse_feed(body, feed_id="f", url=url, now=NOW, language="en", engine="feedparser")
    assert fast == slow


def test_a_nested_media_description_gives_its_type_to_the_summary() -> None:
    """Found by the property above: feedparser keeps a <summary>'s text but takes the type
    of a <media:description> deeper in a <media:group> (it overwrites ``summary_detail``
    whatever the depth), so the summary is read as HTML; the fast engine does the same."""
    item = (
        "<item><content:encoded>Plain title</content:encoded>"
        "<summary>&lt;Title&gt; &amp;fake;</summary>"
        "<media:group><media:description>Plain title</media:description></media:group></item>"
    )
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:media="http://search.yahoo.com/mrss/" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>t</title>'
        f"<link>https://ex.example/</link>{item}</channel></rss>"
    ).encode()
    url = "https://feed.example/dir/feed.xml"
    fast = parse_feed(body, feed_id="f", url=url, now=NOW, language="en", engine="lxml")
    slow = parse_feed(body, feed_id="f", url=url, now=NOW, language="en", engine="feedparser")
    assert fast == slow
    assert [a.summary for a in fast.articles] == ["&fake;"]
