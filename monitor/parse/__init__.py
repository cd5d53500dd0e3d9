"""Parse stage: a fetched body becomes a ``ParsedFeed`` of plain-text ``Article`` values.

Flow: ``decode`` (charset, once for both engines) -> ``sniff`` (HTML page, JSON, empty)
-> ``entities`` (HTML entities in XML) -> an engine (``fast``: lxml on well-formed
RSS 0.9x-2.0 / RSS 1.0 / Atom 0.3 and 1.0; ``fallback``: feedparser for broken or unusual
feeds)
-> ``build`` (text, dates, language, identity keys).  A body that starts with ``{`` skips
sniff and entities and goes to ``jsonfeed`` (JSON Feed 1.0 / 1.1), then to ``build``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Literal

from monitor.errors import ParseError
from monitor.identity import canonical_url
from monitor.models import ParsedFeed
from monitor.parse import fallback, fast, jsonfeed
from monitor.parse.build import build
from monitor.parse.decode import decode
from monitor.parse.entities import replace_html_entities
from monitor.parse.sniff import first_tag, not_a_feed

__all__ = ["Engine", "canonical_url", "parse_feed"]

Engine = Literal["auto", "lxml", "feedparser"]

# decode() strips leading white space, so this fails on the first byte of an XML body.
_JSON_OBJECT = re.compile(rb"\s*\{")


def parse_feed(
    body: bytes,
    *,
    feed_id: str,
    url: str,
    now: datetime,
    content_type: str | None = None,
    language: str | None = None,
    engine: Engine = "auto",
) -> ParsedFeed:
    """Parse a feed body into articles; what was wrong with it goes to ``problems``.

    ``url`` resolves relative links; ``now`` (aware, UTC) stands in for missing dates
    and caps dates in the future; ``content_type`` is the HTTP header (its charset);
    ``language`` is the configured fallback.  ``engine`` is for tests and benchmarks:
    ``"auto"`` tries lxml and falls back to feedparser, the others force one engine.
    A JSON object (JSON Feed) is read by the JSON Feed engine whatever ``engine`` says.

    Every entry that can be read is read: an empty body, an HTML page, broken XML or a
    lying charset yield a ``ParsedFeed`` (perhaps with no articles) whose ``problems``
    say precisely what was wrong.

    Raises:
        ParseError: feedparser itself failed, or ``engine="lxml"`` was forced on a body
            that only feedparser can read.
    """
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    if not body.strip():
        return ParsedFeed(feed_id=feed_id, articles=(), problems=("empty body",))
    decoded = decode(body, content_type)
    problems = list(decoded.problems)
    data = decoded.data
    if not data.strip():
        return ParsedFeed(feed_id=feed_id, articles=(), problems=(*problems, "empty body"))
    if _JSON_OBJECT.match(data):
        reading = jsonfeed.read(data, url)
        problems.extend(reading.problems)
        if reading.feed is None:
            return ParsedFeed(feed_id=feed_id, articles=(), problems=tuple(problems))
        return build(reading.feed, feed_id=feed_id, now=now, language=language, problems=problems)
    verdict = not_a_feed(data)
    if verdict is not None:
        return ParsedFeed(feed_id=feed_id, articles=(), problems=(*problems, verdict))
    data, entities = replace_html_entities(data)
    if entities:
        problems.append(entities)
    raw = None
    if engine != "feedparser":
        try:
            raw = fast.read(data, url)
        except fast.Unsupported as exc:
            if engine == "lxml":
                raise ParseError(str(exc), url=url) from exc
    if raw is None:
        raw = fallback.read(data, url)
    if raw.not_a_feed:
        root = first_tag(data)
        what = f"the root element is <{root}>" if root else "no feed element was found"
        problems.append(f"not a feed: {what}, not rss, feed or rdf:RDF")
        if raw.malformed:
            problems.append(raw.malformed)
        return ParsedFeed(feed_id=feed_id, articles=(), problems=tuple(problems))
    return build(raw, feed_id=feed_id, now=now, language=language, problems=problems)
