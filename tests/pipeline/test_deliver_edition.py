"""The digest edition end to end (issue 17): the cap marks the stories it counts as
delivered, the layout comes from keywords.yaml, and alerts link to the cleaned URL."""

from __future__ import annotations

import re
from pathlib import Path

from tests.pipeline.test_deliver import deliver, env_for, outbox_rows
from tests.support.app import make_app
from tests.support.feedserver import FeedServer, rss_feed
from tests.support.smtp_server import SmtpServer
from tests.support.telegram_server import TelegramServer

KEYWORDS = """\
destinations:
  eu-channel:
    telegram: "@eu_ai_watch"
  policy-team:
    email: [policy@example.org]
    max_items: 3
  desk:
    email: [desk@example.org]
    layout: watchlists
watchlists:
  ai-act:
    title: EU AI Act
    any: ["AI Act"]
    alert: [eu-channel]
    digest: [policy-team, desk]
  gpai:
    title: GPAI
    any: ["GPAI"]
    digest: [policy-team, desk]
    priority: digest
"""
TOPICS = ["trilogue ends", "GPAI code published", "sandbox rules", "fines", "AI Office"]
ITEMS = [
    (f"g{n}", f"AI Act: {topic}", f"https://news.example.eu/{n}?utm_source=rss")
    for n, topic in enumerate(TOPICS)
]


def test_cap_layout_and_clean_links(
    feed_server: FeedServer,
    telegram_server: TelegramServer,
    smtp_server: SmtpServer,
    tmp_path: Path,
) -> None:
    channel = telegram_server.add_channel("@eu_ai_watch")
    feed_server.feed("/eu.xml", rss_feed("EU news", ITEMS[-1:]))
    app = make_app(tmp_path, {"eu": feed_server.url("/eu.xml")}, keywords=KEYWORDS)
    app.poll()
    feed_server.feed("/eu.xml", rss_feed("EU news", ITEMS))
    app.poll()
    env = env_for(telegram_server, smtp_server)
    deliver(app, env)
    [alert] = telegram_server.messages(channel)
    assert "https://news.example.eu/0" in alert.source
    assert "utm_source" not in alert.source  # the cleaned canonical link, as in the digest
    assert alert.text.count("AI Act: trilogue ends") == 1  # no snippet repeating the title

    env["MONITOR_PUBLIC_URL"] = "https://watch.example.org/"
    report = deliver(app, env, digests=True, force=True)
    assert report.digests == 2
    mails = {m.rcpt_tos[0]: m.message for m in smtp_server.messages}
    capped = mails["policy@example.org"].get_body(("plain",)).get_content()
    assert "Top stories (3)" in capped
    # Past the cap: counted, with a link to the period's list on the dashboard.
    assert "2 more stories matched and are not shown here: " in capped
    assert re.search(
        r"https://watch\.example\.org/articles\?since=\d{4}-\d\d-\d\d&until=\d{4}-\d\d-\d\d\.",
        capped,
    )
    assert sum(f"AI Act: {t}" in capped for t in TOPICS) == 3
    # GPAI matched two watchlists: the top story.
    assert capped.index("GPAI code published") < capped.index("Top stories (3)") + 200
    desk = mails["desk@example.org"].get_body(("plain",)).get_content()
    assert "(see above)" in desk  # the GPAI story, met again under its second watchlist
    assert "Top stories" not in desk
    # The stories past the cap were counted in the digest: delivered, not carried over.
    assert {r["status"] for r in outbox_rows(app) if r["kind"] == "digest"} == {"sent"}
    again = deliver(app, env, digests=True, force=True)
    assert again.digests == 0
    assert len(smtp_server.messages) == 2
