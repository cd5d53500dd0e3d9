"""A state database holding feeds, matched articles, stories and sent alerts, written with
the store's own functions, and the dashboard served from it on 127.0.0.1 in a thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from monitor.models import Article, FeedSpec, Hit, Match, Route, Snippet, Target
from monitor.pipeline.build import load_configs
from monitor.pipeline.runtime import build_deliverer
from monitor.service.metrics import HttpEndpoint, HttpLimits, Metrics
from monitor.settings import Settings
from monitor.store import Store, unsubscribe
from monitor.store import feeds as store_feeds
from monitor.store import outbox as ob
from monitor.store import stories as st
from monitor.store.articles import add_articles
from monitor.web.app import Site
from tests.support.engines import engine_url

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
EVIL = "<img src=x onerror=alert(1)>"

FEEDS = ("eu-parliament", "euractiv", "lemonde", "quiet")
DIGEST = Target("policy", "email", "policy@example.org")
SECRET = "a-secret-for-unsubscribe-links"
KEYWORDS = """\
destinations:
  newsroom:
    telegram: "@newsroom"
  policy:
    email: [policy@example.org]
watchlists:
  ai-act:
    title: EU AI Act
    any: ["AI Act"]
    alert: [newsroom]
    digest: [policy]
  dma:
    title: Digital Markets Act
    any: ["Digital Markets Act"]
    alert: [newsroom]
"""


def _hit(article: Article, term: str) -> Hit:
    field = "title" if term.lower() in article.title.lower() else "summary"
    text = article.title if field == "title" else article.summary
    start = text.lower().index(term.lower())
    end = start + len(term)
    return Hit(
        term=term,
        text=text[start:end],
        field=field,  # type: ignore[arg-type]
        start=start,
        end=end,
        snippet=Snippet(text, ((start, end),)),
    )


def seed(state: Path, now: datetime = NOW) -> dict[str, Any]:
    """Fill ``state/monitor.sqlite3``; returns the ids the tests look for."""
    ids: dict[str, Any] = {}
    with Store(state, database_url=engine_url()) as store:
        specs = [FeedSpec(id=f, url=f"https://{f}.example/feed") for f in FEEDS]
        store.sync_feeds(specs, now - timedelta(days=60))
        rows = [
            # (feed, days ago, title, summary, language, watchlists with their term)
            (
                "eu-parliament",
                0,
                "AI Act: Parliament adopts the rules",
                "The artificial intelligence act passed the plenary vote.",
                "en",
                {"ai-act": "AI Act"},
            ),
            (
                "euractiv",
                0,
                EVIL,
                "A title that tries markup; the AI Act is in its summary.",
                "en",
                {"ai-act": "AI Act"},
            ),
            (
                "euractiv",
                1,
                "Digital Markets Act: Apple fined",
                "The Commission fined Apple under the Digital Markets Act.",
                "en",
                {"dma": "Digital Markets Act"},
            ),
            (
                "lemonde",
                2,
                "Règlement sur l'IA : le AI Act entre en vigueur",
                "Le règlement européen sur l'intelligence artificielle s'applique.",
                "fr",
                {"ai-act": "AI Act"},
            ),
            (
                "eu-parliament",
                3,
                "Chat control vote postponed",
                "The CSAM regulation vote is postponed again.",
                "en",
                {"chat-control": "CSAM"},
            ),
            (
                "euractiv",
                9,
                "Data Act guidance published",
                "Guidance on the Data Act for connected devices.",
                "en",
                {"data-act": "Data Act"},
            ),
            ("lemonde", 1, "Météo : un hiver doux", "Rien sur la politique numérique.", "fr", {}),
        ]
        for n in range(30):  # enough AI Act coverage for a second page and a trend
            rows.append(
                (
                    "eu-parliament",
                    n % 20,
                    f"AI Act briefing number {n}",
                    f"Briefing {n} on the AI Act and general-purpose models.",
                    "en",
                    {"ai-act": "AI Act"},
                )
            )
        target = Target("newsroom", "telegram", "@newsroom")
        for i, (feed, ago, title, summary, lang, lists) in enumerate(rows):
            seen = now - timedelta(days=ago, minutes=i)
            article = Article(
                feed_id=feed,
                key=f"guid:{feed}-{i}",
                title=title,
                url=f"https://{feed}.example/{i}",
                canonical_url=f"https://{feed}.example/{i}",
                summary=summary,
                published=seen,
                language=lang,
            )
            with store.transaction() as conn:
                (new,) = add_articles(conn, feed, [article], seen)
                matches = [Match(w, 1.0 + len(t), (_hit(article, t),)) for w, t in lists.items()]
                if matches:
                    ob.record_matches(conn, new.id, matches, seen)
                    routes = [Route("alert", target, new.id, tuple(lists), seen)]
                    if ago == 0 and "ai-act" in lists and not title.startswith("AI Act:"):
                        routes.append(Route("digest", DIGEST, new.id, ("ai-act",), seen))
                    ob.enqueue(conn, routes, seen)
            ids[title] = new.id
        with store.transaction() as conn:
            alerts = "SELECT id FROM outbox WHERE kind = 'alert' ORDER BY id"
            for row in conn.execute(alerts).fetchall()[:-1]:
                ob.mark_sent(conn, [row[0]], now - timedelta(minutes=5), "1")
            # one story told by two outlets, first by the one with the evil title
            first, copy = ids[EVIL], ids["AI Act: Parliament adopts the rules"]
            st.add(
                conn,
                st.AssignmentRow(first, first, "first", None, 1.0),
                feed_id="euractiv",
                title=EVIL,
                seen=now - timedelta(minutes=30),
                sketch=b"",
                keys=b"",
            )
            st.add(
                conn,
                st.AssignmentRow(copy, first, "same-story", first, 0.8),
                feed_id="eu-parliament",
                title="AI Act: Parliament adopts the rules",
                seen=now - timedelta(minutes=20),
                sketch=b"",
                keys=b"",
            )
            lone = ids["Digital Markets Act: Apple fined"]
            st.add(
                conn,
                st.AssignmentRow(lone, lone, "first", None, 1.0),
                feed_id="euractiv",
                title=EVIL + " story",
                seen=now - timedelta(days=1),
                sketch=b"",
                keys=b"",
            )
            states = store_feeds.feed_states(conn)
            for n, feed in enumerate(FEEDS):
                state = replace(
                    states[feed],
                    last_attempt=now - timedelta(minutes=10),
                    last_success=now - timedelta(minutes=10 + 60 * n),
                    last_status=200,
                    next_poll=now + timedelta(minutes=5),
                    articles_seen=40,
                    last_new=now - timedelta(days=20 if feed == "quiet" else 0),
                )
                if feed == "lemonde":
                    state = replace(
                        state,
                        consecutive_failures=3,
                        last_status=503,
                        last_error=f"fetcher: https://lemonde.example/feed: HTTP 503 {EVIL}",
                    )
                store_feeds.save_feed_state(conn, state)
    return ids


class Served:
    """The dashboard on 127.0.0.1, served from an event loop in a thread."""

    def __init__(self, address: str, loop: asyncio.AbstractEventLoop) -> None:
        self.address = address
        self.url = f"http://{address}"
        self.loop = loop


@contextmanager
def serve(
    state: Path,
    *,
    token: str | None = None,
    now: datetime = NOW,
    address: str = "127.0.0.1:0",
    limits: HttpLimits | None = None,
    secret: str | None = SECRET,
) -> Iterator[Served]:
    keywords = state / "keywords.yaml"
    if not keywords.exists():
        keywords.write_text(KEYWORDS, encoding="utf-8")
    feeds = state / "feeds.yaml"
    feeds.write_text(
        "feeds:\n" + "".join(f"  - id: {f}\n    url: https://{f}.example/feed\n" for f in FEEDS),
        encoding="utf-8",
    )
    store = Store(state, database_url=engine_url())
    deliverer = build_deliverer(
        load_configs(str(feeds), str(keywords)),
        store,
        settings=Settings.from_env({"MAIL_FROM": "watch@example.org"}),
        clock=lambda: now,
    )

    def set_unsubscribed(target: Target, on: bool) -> None:
        with store.transaction() as conn:
            unsubscribe.set_unsubscribed(conn, target, on, now)

    site = Site(
        secret=secret,
        set_unsubscribed=set_unsubscribed,
        digests=deliverer.preview_digests,
        database=state / "monitor.sqlite3",
        database_url=store.url,
        keywords=keywords,
        token=token,
        status=lambda: {
            "health": {"ok": True, "feeds": len(FEEDS), "last_successful_poll": None},
            "reload": {"at": "2026-12-07T11:00:00+00:00", "error": f"keywords.yaml:3: {EVIL}"},
        },
        now=lambda: now,
    )
    endpoint = HttpEndpoint(Metrics(), lambda: {"ok": True}, lambda: None, limits, site=site)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    result: dict[str, Any] = {}

    def run() -> None:
        asyncio.set_event_loop(loop)

        async def main() -> None:
            try:
                result["address"] = await endpoint.start(address)
            except BaseException as exc:
                result["error"] = exc
                started.set()
                return
            stop = asyncio.Event()
            result["stop"] = stop
            started.set()
            await stop.wait()
            await endpoint.stop()

        loop.run_until_complete(main())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started.wait(30)
    if "error" in result:
        thread.join(10)
        loop.close()
        store.close()
        raise result["error"]
    try:
        yield Served(result["address"], loop)
    finally:
        loop.call_soon_threadsafe(result["stop"].set)
        thread.join(30)
        loop.close()
        store.close()
