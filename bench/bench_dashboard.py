"""Dashboard benchmark (issue 12): page and search times over a large archive.

    python bench/bench_dashboard.py [--articles 1000000] [--state DIR] [--requests 40]
                                    [--database postgresql://...]

Generates (once per ``--state``; reused when the database is there) ``--articles`` stored
articles over 365 days in 200 feeds, written with the store's own functions (so the FTS
index, the triggers and every index are the real ones): 5 % of them matched by one of 12
watchlists with a hit, one alert row each (sent), one story per 20 articles with a copy.
Then serves the dashboard on 127.0.0.1 (uvicorn in a thread of this process, as
``monitor run`` does) and asks each page ``--requests`` times with httpx, one request at a
time: p50 and p95 wall time per page and the process's CPU time per request (server and
client share the process), searches for a common word, a rare word and a phrase; the
load average before and after, since the machine may be shared.
Prints a Markdown table; also the process's RSS after the run (psutil, when installed).
With ``--database URL`` the dashboard reads that PostgreSQL database instead (filled
beforehand, e.g. by ``monitor db copy`` from a generated archive; nothing is generated).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.models import Article, FeedSpec, Hit, Match, Route, Snippet, Target
from monitor.store import Store, tallies
from monitor.store import outbox as ob
from monitor.store import stories as st
from monitor.store.articles import add_articles
from tests.support.dashboard import serve

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
WORDS = [
    "commission",
    "parliament",
    "council",
    "regulation",
    "directive",
    "proposal",
    "member",
    "states",
    "data",
    "platform",
    "market",
    "competition",
    "digital",
    "services",
    "privacy",
    "cloud",
    "cyber",
    "security",
    "network",
    "telecom",
    "spectrum",
    "chips",
    "semiconductor",
    "funding",
    "research",
    "innovation",
    "startup",
    "court",
    "ruling",
    "fine",
    "investigation",
    "consultation",
    "strategy",
    "report",
    "agency",
    "minister",
    "vote",
    "plenary",
    "committee",
]
WATCHLISTS = [
    ("ai-act", "AI Act"),
    ("dma", "Digital Markets Act"),
    ("dsa", "Digital Services Act"),
    ("gdpr", "GDPR"),
    ("chat-control", "chat control"),
    ("data-act", "Data Act"),
    ("nis2", "NIS2"),
    ("cra", "Cyber Resilience Act"),
    ("chips", "Chips Act"),
    ("emfa", "Media Freedom Act"),
    ("eidas", "digital identity wallet"),
    ("spectrum", "spectrum auction"),
]


def generate(state: Path, count: int) -> None:
    rng = random.Random(12)
    feeds = [f"feed-{n:03d}" for n in range(200)]
    target = Target("newsroom", "telegram", "@newsroom")
    started = time.perf_counter()
    with Store(state) as store:
        store.sync_feeds([FeedSpec(id=f, url=f"https://{f}.example/rss") for f in feeds], NOW)
        batch = 2000
        for start in range(0, count, batch):
            feed = feeds[(start // batch) % len(feeds)]
            items = []
            for n in range(start, min(start + batch, count)):
                words = rng.sample(WORDS, 9)
                lists = rng.random() < 0.05
                wl, term = WATCHLISTS[n % len(WATCHLISTS)] if lists else ("", "")
                title = " ".join(words[:6]).capitalize() + (f" {term}" if lists else "")
                items.append(
                    (
                        Article(
                            feed_id=feed,
                            key=f"guid:{n}",
                            title=title,
                            url=f"https://{feed}.example/{n}",
                            canonical_url=f"https://{feed}.example/{n}",
                            summary=" ".join(rng.sample(WORDS, 30)),
                            language=rng.choice(("en", "en", "en", "fr", "de")),
                        ),
                        NOW - timedelta(seconds=rng.randrange(365 * 86400)),
                        wl,
                        term,
                    )
                )
            with store.transaction() as conn:
                new = add_articles(conn, feed, [a for a, *_ in items], NOW)
                for stored, (article, seen, wl, term) in zip(new, items, strict=True):
                    conn.execute(
                        "UPDATE articles SET first_seen = ?, last_seen = ?, published = ?"
                        " WHERE id = ?",
                        (seen.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),) * 3 + (stored.id,),
                    )
                    if wl:
                        at = article.title.index(term)
                        hit = Hit(
                            term,
                            term,
                            "title",
                            at,
                            at + len(term),
                            Snippet(article.title, ((at, at + len(term)),)),
                        )
                        ob.record_matches(conn, stored.id, [Match(wl, 1.0, (hit,))], seen)
                        ob.enqueue(conn, [Route("alert", target, stored.id, (wl,), seen)], seen)
                    if stored.id % 20 == 0:
                        st.add(
                            conn,
                            st.AssignmentRow(stored.id, stored.id, "first", None, 1.0),
                            feed_id=feed,
                            title=article.title,
                            seen=seen,
                            sketch=b"",
                            keys=b"",
                        )
                    elif stored.id % 20 == 1:
                        st.add(
                            conn,
                            st.AssignmentRow(stored.id, stored.id - 1, "copy", stored.id - 1, 0.9),
                            feed_id=feed,
                            title=article.title,
                            seen=seen,
                            sketch=b"",
                            keys=b"",
                        )
                conn.execute(
                    "UPDATE outbox SET status = 'sent', sent_at = created WHERE status = 'pending'"
                )
        with store.transaction() as conn:
            # the generator back-dates first_seen after writing: count the days again
            tallies.rebuild(conn)
        store.conn.execute("ANALYZE")
    print(f"generated {count} articles in {time.perf_counter() - started:.0f} s", flush=True)


def measure(url: str, path: str, requests: int) -> tuple[float, float, float]:
    """p50 and p95 wall time of one request, and the mean CPU time of this process (the
    server and the client both) per request, in ms."""
    times = []
    with httpx.Client(base_url=url, timeout=60) as client:
        client.get(path).raise_for_status()  # warm
        cpu = time.process_time()
        for _ in range(requests):
            t0 = time.perf_counter()
            client.get(path).raise_for_status()
            times.append((time.perf_counter() - t0) * 1000)
        cpu = (time.process_time() - cpu) * 1000 / requests
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)], cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--state", type=Path, default=None)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument(
        "--database",
        default=None,
        metavar="URL",
        help="a filled postgresql:// database to serve instead of SQLite under --state",
    )
    args = parser.parse_args()
    state = args.state or Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
    state.mkdir(parents=True, exist_ok=True)
    if args.database:
        # the served Store (and the dashboard's reader, from store.url) open this URL
        os.environ["MONITOR_DATABASE_URL"] = args.database
        with Store(state, database_url=args.database) as store:
            row = store.conn.execute(
                "SELECT pg_database_size(current_database()), COUNT(*) FROM articles"
            ).fetchone()
        print(f"database: PostgreSQL, {row[1]} articles ({row[0] / 1e6:.0f} MB)")
    else:
        os.environ["MONITOR_DATABASE_URL"] = ""
        if not (state / "monitor.sqlite3").exists():
            generate(state, args.articles)
        size = (state / "monitor.sqlite3").stat().st_size / 1e6
        print(f"state: {state} ({size:.0f} MB)")
    pages = [
        "/",
        "/articles",
        "/articles?watchlist=gdpr",
        "/articles?page=40",
        "/articles?feed=feed-020",
        "/articles?language=fr&since=2026-11-01",
        "/feeds",
        "/stories",
        "/trends?days=7",
        "/trends?days=90",
        "/trends?days=90&by=feed",
        "/api/articles",
    ]
    searches = ["/articles?q=commission", "/articles?q=semiconductor+fine", '/articles?q="AI+Act"']
    print(f"load average at the start: {os.getloadavg()[0]:.1f}")
    print("\n| path | p50 ms | p95 ms | CPU ms |\n|---|---|---|---|")
    with serve(state) as served:
        for path in pages + searches:
            p50, p95, cpu = measure(served.url, path, args.requests)
            print(f"| `{path}` | {p50:.1f} | {p95:.1f} | {cpu:.1f} |", flush=True)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")
    try:
        import psutil

        print(f"\nRSS after the run: {psutil.Process().memory_info().rss / 1e6:.0f} MB")
    except ImportError:
        pass


if __name__ == "__main__":
    main()
