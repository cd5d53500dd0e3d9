"""Article pages for full text: fetched once each, politely, through the feed fetcher.

Every page goes through the same :class:`~monitor.fetch.Fetcher` as the feeds, so it
shares their per-host lanes and global limit, their redirect handling and their
streaming size cap; a page has its own deadline and size cap
(``settings.page_timeout``, ``settings.page_max_size``).  No conditional requests: each
page is fetched once, when its article is new.

robots.txt (RFC 9309) is read with :mod:`urllib.robotparser` and cached per origin for
a day (§2.4 allows at most 24 hours).  A missing robots.txt (4xx) allows everything
(§2.3.1.3); one that cannot be read (5xx, timeout, network) disallows everything for
this while (§2.3.1.4): the page is then counted as a failure, never fetched.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

from monitor.config.specs import FetchSettings
from monitor.fetch.fetcher import Fetcher
from monitor.models import FeedSpec, FeedState

log = logging.getLogger(__name__)

ROBOTS_TTL = timedelta(hours=24)
ROBOTS_RETRY = timedelta(hours=1)
ROBOTS_MAX_SIZE = 500 * 1024
"""RFC 9309 §2.5: crawlers must read at least the first 500 KiB."""
ROBOTS_AGENT = "monitor"
"""The product token matched against ``User-agent:`` lines."""
HTML_TYPES = ("text/html", "application/xhtml+xml")


@dataclass(frozen=True, slots=True)
class Page:
    """One article page: its HTML, or why there is none (``error``, ``kind``)."""

    url: str
    body: bytes | None = None
    error: str | None = None
    kind: str | None = None
    """``robots``, ``not_html`` or a :data:`~monitor.fetch.fetcher.ERROR_KINDS` value."""
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return self.body is not None


@dataclass
class _Robots:
    parser: RobotFileParser | None
    """None: robots.txt could not be read, nothing on this origin may be fetched."""
    until: datetime
    error: str | None = None


class PageFetcher:
    """Fetch article pages with the feed fetcher; remembers robots.txt per origin.

    Build one per poller (the robots cache lives here); use inside the fetcher's
    ``async with``.
    """

    def __init__(self, fetcher: Fetcher, settings: FetchSettings) -> None:
        self.fetcher = fetcher
        self.settings = settings
        self.timeout = settings.page_timeout
        self.max_size = settings.page_max_size
        self._robots: dict[str, _Robots] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def fetch(self, feed_id: str, url: str, now: datetime) -> Page:
        """The page at ``url`` if robots.txt allows it and it arrives in time and size.

        Never raises for a page problem: it comes back as ``Page.error``.
        """
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            return Page(url, error=f"not an http(s) URL: {url}", kind="url")
        origin = f"{parts.scheme}://{parts.netloc}"
        robots = await self._robots_for(feed_id, origin, now)
        if robots.parser is None:
            return Page(url, error=f"{origin}/robots.txt: {robots.error}", kind="robots")
        if not robots.parser.can_fetch(ROBOTS_AGENT, url):
            return Page(url, error=f"robots.txt of {origin} disallows {url}", kind="robots")
        result = await self.fetcher.fetch(self._spec(feed_id, url, self.max_size), _state(url), now)
        if result.outcome != "ok" or result.status != 200:
            return Page(
                url,
                error=result.error or f"HTTP {result.status}",
                kind=result.error_kind or "http",
                elapsed=result.elapsed,
            )
        ctype = (result.content_type or "").split(";")[0].strip().lower()
        if ctype and ctype not in HTML_TYPES:
            return Page(url, error=f"{url}: not an HTML page ({ctype})", kind="not_html")
        return Page(url, body=result.body or b"", elapsed=result.elapsed)

    def _spec(self, feed_id: str, url: str, max_size: int) -> FeedSpec:
        return FeedSpec(id=feed_id, url=url, timeout=self.timeout, max_size=max_size)

    async def _robots_for(self, feed_id: str, origin: str, now: datetime) -> _Robots:
        cached = self._robots.get(origin)
        if cached is not None and cached.until > now:
            return cached
        lock = self._locks.setdefault(origin, asyncio.Lock())
        async with lock:  # concurrent pages of one origin share one robots.txt request
            cached = self._robots.get(origin)
            if cached is not None and cached.until > now:
                return cached
            robots = await self._read_robots(feed_id, origin, now)
            self._robots[origin] = robots
            return robots

    async def _read_robots(self, feed_id: str, origin: str, now: datetime) -> _Robots:
        url = f"{origin}/robots.txt"
        spec = self._spec(feed_id, url, ROBOTS_MAX_SIZE)
        result = await self.fetcher.fetch(spec, _state(url), now)
        until = now + ROBOTS_TTL
        parser = RobotFileParser(url)
        status = result.status or 0
        if result.outcome == "ok" and 200 <= status < 300:
            text = (result.body or b"").decode("utf-8", "replace")
            parser.parse(text.splitlines())
            return _Robots(parser, until)
        if result.outcome == "ok" or (result.error_kind == "http" and 400 <= status < 500):
            parser.parse([])  # no robots.txt: everything is allowed
            return _Robots(parser, until)
        # 5xx, timeout, network, and a robots.txt over 500 KiB (the fetcher keeps no
        # partial body): unreadable.  Asked again sooner than a readable one.
        log.info("robots.txt of %s unreadable: %s", origin, result.error)
        return _Robots(None, now + ROBOTS_RETRY, error=f"unreadable ({result.error})")


def _state(url: str) -> FeedState:
    return FeedState(feed_id="", url=url, configured_url=url)
