"""The fast engine: lxml on well-formed RSS (0.91 to 2.0, or no version), RSS 1.0 and Atom.

It reads the elements that ``Article`` needs and nothing else, following feedparser's
rules (``compat``) so that both engines agree, including the odd constructs that
feedparser reads (issue 16: ``<body>``, ``<fullitem>``, ``dc:title``, Atom 0.3 ``mode``,
base64, Media RSS); anything it does not handle (broken XML, CDF, unknown roots, an item
in which it reads nothing while a title or link sits deeper) raises ``Unsupported`` and
goes to feedparser.  The parse stage runs several times faster on this engine than on
feedparser (docs/benchmarks.md, "Parser" and "Parser fidelity").
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from lxml import etree

from monitor.parse.compat import author_name, content_type, fix_text
from monitor.parse.raw import RawEntry, RawFeed, RawText
from monitor.parse.urls import is_web, resolve
from monitor.parse.xmltext import XHTML, simple_text, text_construct

ATOM = "{http://www.w3.org/2005/Atom}"
ATOM03 = "{http://purl.org/atom/ns#}"
_DC = "{http://purl.org/dc/elements/1.1/}"
_DCTERMS = "{http://purl.org/dc/terms/}"
_CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
_RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
_RSS10 = "{http://purl.org/rss/1.0/}"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_FEEDBURNER = "{http://rssnamespace.org/feedburner/ext/1.0}"
_ITUNES = "{http://www.itunes.com/DTDs/PodCast-1.0.dtd}"
_MEDIA = "{http://search.yahoo.com/mrss/}"
# feedparser's names for the RSS versions it knows (feedparser/namespaces/_base.py).
_MEDIA_GROUPS = frozenset(
    m + name for m in (_MEDIA, _MEDIA.replace("/}", "}")) for name in ("group", "content")
)
_DEEP = 1 << 30
_BURIED = frozenset({"title", "link", "description", "summary", "content", "id", "guid"})
_COPIED = frozenset({"text/plain", "text/html", "application/xhtml+xml"})
_RSS_VERSIONS = {"0.91": "rss091u", "0.92": "rss092", "0.93": "rss093", "0.94": "rss094"}

(
    TITLE,
    LINK,
    GUID,
    SUMMARY,
    CONTENT,
    PUBLISHED,
    UPDATED,
    AUTHOR,
    ATOM_AUTHOR,
    CATEGORY,
    LANGUAGE,
    ATOM_LINK,
    TTL,
    ORIG_LINK,
    RSS_SUMMARY,
    BODY,
    FULLITEM,
    MEDIA_TITLE,
    MEDIA_GROUP,
) = range(19)

_COMMON = {
    _DC + "creator": AUTHOR,
    _DC + "author": AUTHOR,
    _DC + "subject": CATEGORY,
    _DC + "date": UPDATED,
    _DC + "language": LANGUAGE,
    _DCTERMS + "issued": PUBLISHED,
    _DCTERMS + "modified": UPDATED,
    _CONTENT + "encoded": CONTENT,
    ATOM + "link": ATOM_LINK,
    ATOM + "author": ATOM_AUTHOR,
    ATOM03 + "author": ATOM_AUTHOR,
    ATOM + "category": CATEGORY,
    _FEEDBURNER + "origLink": ORIG_LINK,
    _MEDIA + "title": MEDIA_TITLE,
    _MEDIA + "description": SUMMARY,
    _MEDIA.replace("/}", "}") + "title": MEDIA_TITLE,
    _MEDIA.replace("/}", "}") + "description": SUMMARY,
    **dict.fromkeys(_MEDIA_GROUPS, MEDIA_GROUP),
}
# Elements that feedparser reads in any RSS flavour (it ignores the namespace of
# unknown prefixes and takes Atom-style names without one: issue 16).
_RSS_EXTRA = {
    _DC + "title": TITLE,
    _DC + "description": SUMMARY,
    "summary": RSS_SUMMARY,
    "body": BODY,
    XHTML + "body": BODY,
    "fullitem": FULLITEM,
    _ITUNES + "summary": RSS_SUMMARY,
    _ITUNES.lower() + "summary": RSS_SUMMARY,
    "id": GUID,
    "updated": UPDATED,
    "modified": UPDATED,
    "published": PUBLISHED,
    "issued": PUBLISHED,
}
_RSS = {
    "title": TITLE,
    "link": LINK,
    "guid": GUID,
    "description": SUMMARY,
    "pubDate": PUBLISHED,
    "author": AUTHOR,
    "category": CATEGORY,
    "language": LANGUAGE,
    "ttl": TTL,
    **_COMMON,
    **_RSS_EXTRA,
}
_RDF_ITEM = {
    _RSS10 + "title": TITLE,
    _RSS10 + "link": LINK,
    _RSS10 + "description": SUMMARY,
    **_COMMON,
    **_RSS_EXTRA,
}
_ATOM = {
    ATOM + "title": TITLE,
    ATOM + "id": GUID,
    ATOM + "summary": SUMMARY,
    ATOM + "content": CONTENT,
    ATOM + "published": PUBLISHED,
    ATOM + "issued": PUBLISHED,
    ATOM + "updated": UPDATED,
    ATOM + "modified": UPDATED,
    **_COMMON,
}
# feedparser matches element names case-insensitively (<PubDate>, <Guid> occur in the wild).
# Atom 0.3 has the same elements in its own namespace (and a ``mode`` attribute, _text).
_ATOM03 = {
    **{(ATOM03 + k[len(ATOM) :] if k.startswith(ATOM) else k): v for k, v in _ATOM.items()},
    **_COMMON,
}
_ATOM_VERSIONS = {"0.1": "atom01", "0.2": "atom02", "0.3": "atom03"}
for _table in (_RSS, _RDF_ITEM, _ATOM, _ATOM03):
    _table.update({key.lower(): value for key, value in list(_table.items())})

_local = threading.local()


class Unsupported(Exception):
    """The body is not well-formed RSS, RSS 1.0 or Atom that this engine reads; use feedparser."""


def _parser() -> etree.XMLParser:
    # lxml releases the GIL while parsing, so a parser object is never shared by threads.
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            encoding="utf-8",
            remove_comments=True,
            remove_pis=True,
            no_network=True,
            collect_ids=False,
        )  # lxml >= 5 resolves internal entities only: no XXE, no network
        _local.parser = parser
    return parser


def read(data: bytes, base_url: str) -> RawFeed:
    """Read a UTF-8 feed body with lxml.

    Raises:
        Unsupported: the body is not well-formed XML in one of the three formats.
    """
    try:
        if base_url:
            root = etree.fromstring(data, _parser(), base_url=base_url)
        else:
            root = etree.fromstring(data, _parser())
    except (etree.LxmlError, ValueError) as exc:
        raise Unsupported(f"lxml: {exc}") from exc
    if root is None:
        raise Unsupported("lxml: no root element")
    tag = root.tag
    if tag == "rss":
        version = root.get("version") or ""
        fmt = _RSS_VERSIONS.get(version) or ("rss20" if version.startswith("2.") else "rss")
        if fmt != "rss20" and b"<!DOCTYPE" in data[:4096]:
            # Netscape's RSS 0.91 DTD and its entities: feedparser knows them (rss091n).
            raise Unsupported("rss with a DOCTYPE is left to feedparser")
        return _read_rss(root, root.find("channel"), fmt)
    elif tag == ATOM + "feed":
        return _read_atom(root, ATOM, _ATOM, "atom10")
    elif tag == ATOM03 + "feed":
        return _read_atom(
            root, ATOM03, _ATOM03, _ATOM_VERSIONS.get(root.get("version") or "", "atom")
        )
    elif tag == _RDF + "RDF":
        channel = root.find(_RSS10 + "channel")
        if channel is not None:
            return _read_rdf(root, channel)
    raise Unsupported(f"root element {tag!r} is not handled by the fast engine")


def _html_link(el: etree._Element) -> str | None:
    rel = (el.get("rel") or "alternate").strip()
    mime = content_type(el.get("type"), "text/html")
    href = el.get("href") or el.get("url") or el.get("uri")
    if rel != "alternate" or mime not in ("text/html", "application/xhtml+xml") or not href:
        return None
    href = href.strip()
    return href if is_web(href) else resolve(el.base or "", href)


def _lang(el: etree._Element, inherited: str | None) -> str | None:
    """The xml:lang in force on ``el``; an explicit empty one cancels the inherited."""
    value = el.get(_XML_LANG)
    return inherited if value is None else (value or None)


class _Nested(Exception):
    """The item has a <media:group> or <media:content>: read it again, descending."""


def _entry(item: etree._Element, table: dict[str, int], fmt: str, lang: str | None) -> RawEntry:
    try:
        return _read_entry(item, table, fmt, lang, nested=False)
    except _Nested:
        # Rare: walking the nested elements costs a generator step per element.
        return _read_entry(item, table, fmt, lang, nested=True)


def _read_entry(
    item: etree._Element, table: dict[str, int], fmt: str, lang: str | None, *, nested: bool
) -> RawEntry:
    e = RawEntry()
    guess = fmt != "atom10"
    guid_is_link = fmt != "rss10"
    item_lang = _lang(item, lang)
    # feedparser reports an entry's language from its own dc:language, else from the
    # xml:lang in force on its title, else on its summary; the same here.
    own_lang = title_lang = summary_lang = None
    has_summary = has_content = False
    title_level = summary_level = _DEEP
    title_block: int | None = None
    # Depth below the item, only where <media:group>/<media:content> nest elements.
    levels = dict(_flat(item, 0)) if nested else None
    for child in item if levels is None else list(levels):
        tag = child.tag
        if type(tag) is not str:  # an unresolved entity reference node
            continue
        kind = table.get(tag)
        if kind is None:
            kind = table.get(tag.lower())
            if kind is None:
                continue
        if kind in (TITLE, MEDIA_TITLE):
            # feedparser: the first non-empty <title> counts, a <media:title> only stands
            # in for a missing one, and a nested element never replaces a shallower one.
            level = 0 if levels is None else levels[child]
            if level > title_level or (title_block is not None and title_block <= level):
                continue
            e.title = text_construct(child, "text/plain", guess)
            title_lang = _lang(child, item_lang) or ""
            title_level = level
            if kind == TITLE and e.title is not None and e.title.value:
                title_block = level
        elif kind in (SUMMARY, RSS_SUMMARY):
            if has_summary and not has_content:
                # feedparser: a second summary-like element (a <summary> after the
                # <description>, or the reverse) is the entry's content.
                text = text_construct(child, "text/plain", guess)
                e.content = e.content or text
                has_content = True
                continue
            has_summary = True
            level = 0 if levels is None else levels[child]
            if level > summary_level:
                # feedparser keeps the shallower summary's text but takes the deeper
                # element's type (its ``summary_detail`` is overwritten whatever the
                # depth): a <summary> read as plain text becomes HTML when a
                # <media:description> follows inside a <media:group>.
                if e.summary is not None:
                    default = "text/html" if guess and kind == SUMMARY else "text/plain"
                    deeper = text_construct(child, default, guess)
                    if deeper is not None:
                        e.summary = RawText(e.summary.value, deeper.html)
                continue
            default = "text/html" if guess and kind == SUMMARY else "text/plain"
            e.summary = text_construct(child, default, guess)
            summary_lang = _lang(child, item_lang) or ""
            summary_level = level
        elif kind in (CONTENT, FULLITEM, BODY):
            # content:encoded is HTML by definition, even inside Atom; <body> and
            # <xhtml:body> are XHTML.
            if kind == BODY:
                default = "application/xhtml+xml"
            elif guess or kind == FULLITEM or tag.endswith("encoded"):
                default = "text/html"
            else:
                default = "text/plain"
            text = text_construct(child, default, guess and kind != BODY)
            if e.content is None:
                e.content = text  # feedparser lists every content; the first one counts
            if e.summary is None and content_type(child.get("type"), default) in _COPIED:
                # feedparser copies a text or HTML content into a missing summary.
                e.summary = text
                has_summary = True
            has_content = has_content or kind != BODY
        elif kind == LINK:
            if child.get("href") is not None:
                href = _html_link(child)  # an Atom-style <link href> without a namespace
                if href:
                    e.link = href
                continue
            e.link = simple_text(child)
        elif kind == GUID:
            if e.guid is not None and fmt == "rss20":
                # <guid> and <id>: feedparser makes the first a link and keeps the last.
                raise Unsupported("an item with two ids")
            e.guid = simple_text(child)
            if fmt == "rss20":
                guid_is_link = _attr(child, "ispermalink", "true") == "true"
        elif kind == PUBLISHED:
            e.published = simple_text(child)
        elif kind == UPDATED:
            e.updated = simple_text(child)
        elif kind == AUTHOR:
            name = author_name(simple_text(child))
            if name:
                e.authors.append(name)
        elif kind == ATOM_AUTHOR:
            name = _atom_person(child)
            if name:
                e.authors.append(name)
        elif kind == CATEGORY:
            term = (child.get("term") or "").strip() or simple_text(child)
            if term:
                e.tags.append(fix_text(term))
        elif kind == LANGUAGE:
            own_lang = simple_text(child)
        elif kind == ATOM_LINK:
            href = _html_link(child)
            if href:
                e.link = href
        elif kind == MEDIA_GROUP:
            if not nested:
                raise _Nested
        elif kind == ORIG_LINK:
            # feedparser keeps the last one, as it is (the builder decides if it is a URL).
            e.orig_link = simple_text(child) or None
    if not _readable(e) and _buried(item):
        # Nothing this engine reads, but a title or link deeper down (an <image> inside
        # a <category>): feedparser reads those at any depth, let it decide; an entry is
        # never dropped unread (issue 16).
        raise Unsupported("an item with no element the fast engine reads")
    if fmt == "rss10":
        about = item.get(_RDF + "about")
        e.guid = about.strip() if about else e.guid
    if e.link is None:
        # A permalink guid stands in for a missing <link> (even an empty one counts).
        if e.guid and guid_is_link and is_web(e.guid):
            e.link = e.guid
    elif e.link and not is_web(e.link):
        e.link = resolve(item.base or "", e.link)
    e.link = e.link or None
    e.language = own_lang or (title_lang if title_lang is not None else summary_lang) or None
    return e


def _flat(el: etree._Element, level: int) -> Iterator[tuple[etree._Element, int]]:
    """The item's children and their depth, with those of <media:group> and <media:content>
    in their place: feedparser reads a <media:description> or <media:title> at any depth
    (YouTube's feeds keep the text there)."""
    for child in el:
        yield child, level
        if child.tag in _MEDIA_GROUPS:
            yield from _flat(child, level + 1)


def _buried(item: etree._Element) -> bool:
    """A title, text, link or id below the item's children (feedparser reads them, but
    keeps those of an Atom <source> apart)."""
    return any(
        type(el.tag) is str and el.tag.rpartition("}")[2].lower() in _BURIED
        for child in item
        if type(child.tag) is str and child.tag.rpartition("}")[2] != "source"
        for el in child.iterdescendants()
    )


def _readable(e: RawEntry) -> bool:
    """The entry has a link, an id or some text: what the builder needs to keep it."""
    return bool(
        e.link
        or e.guid
        or (e.title and e.title.value)
        or (e.summary and e.summary.value)
        or (e.content and e.content.value)
    )


def _attr(el: etree._Element, lname: str, default: str) -> str:
    for key, value in el.attrib.items():
        if str(key).lower() == lname:
            return str(value)
    return default


def _atom_person(el: etree._Element) -> str | None:
    name = email = None
    for child in el:
        tag = child.tag
        if tag == ATOM + "name" or tag == _DC + "creator" or tag == ATOM03 + "name":
            name = simple_text(child) or name
        elif tag == ATOM + "email" or tag == ATOM03 + "email":
            email = simple_text(child) or email
    return name or email


def _read_rss(root: etree._Element, channel: etree._Element | None, fmt: str) -> RawFeed:
    # RSS 0.9x and version-less RSS read like RSS 2.0 (feedparser reads them alike);
    # items may sit outside the channel, or there may be no channel at all.
    feed = RawFeed(fmt, [])
    for child in () if channel is None else channel:
        tag = child.tag
        if tag == "item" or type(tag) is not str:
            continue
        kind = _RSS.get(tag) or _RSS.get(tag.lower())
        if kind == TITLE:
            if feed.title is None or not feed.title.value:
                feed.title = text_construct(child, "text/plain", True)
        elif kind == LINK:
            feed.link = simple_text(child) or feed.link
        elif kind == LANGUAGE:
            feed.language = simple_text(child) or ""
        elif kind == TTL:
            feed.ttl = simple_text(child)
    root_lang = _lang(root, None)
    feed.language = root_lang if feed.language is None else feed.language or None
    lang = root_lang if channel is None else _lang(channel, root_lang)
    feed.entries = [_entry(item, _RSS, "rss20", lang) for item in root.iter("item")]
    return feed


def _read_rdf(root: etree._Element, channel: etree._Element) -> RawFeed:
    feed = RawFeed("rss10", [])
    for child in channel:
        tag = child.tag
        if tag == _RSS10 + "title":
            if feed.title is None or not feed.title.value:
                feed.title = text_construct(child, "text/plain", True)
        elif tag == _RSS10 + "link":
            feed.link = simple_text(child) or feed.link
        elif tag == _DC + "language":
            feed.language = simple_text(child) or ""
    root_lang = _lang(root, None)
    feed.language = root_lang if feed.language is None else feed.language or None
    lang = _lang(channel, root_lang)
    feed.entries = [_entry(item, _RDF_ITEM, "rss10", lang) for item in root.iter(_RSS10 + "item")]
    return feed


def _read_atom(root: etree._Element, ns: str, table: dict[str, int], fmt: str) -> RawFeed:
    feed = RawFeed(fmt, [])
    entries = []
    lang = _lang(root, None)
    first_id = None
    for child in root:
        tag = child.tag
        if tag == ns + "entry":
            entries.append(_entry(child, table, "atom10", lang))
        elif tag == ns + "id":
            first_id = simple_text(child) if first_id is None else first_id
        elif tag == ns + "title":
            if feed.title is None or not feed.title.value:
                feed.title = text_construct(child, "text/plain", False)
        elif tag == ns + "link":
            feed.link = _html_link(child) or feed.link
        elif tag == ns + "author" or tag == _DC + "creator":
            name = _atom_person(child) if tag == ns + "author" else author_name(simple_text(child))
            if name:
                feed.authors.append(name)
        elif tag == _DC + "language":
            feed.language = simple_text(child) or ""
    feed.language = lang if feed.language is None else feed.language or None
    if feed.link is None and first_id and is_web(first_id):
        # feedparser's rule: without an alternate link, the feed's id is its link (when
        # it is a URL: a Google Alerts feed's "tag:google.com,2005:..." id is not).
        feed.link = first_id
    feed.entries = entries
    return feed
