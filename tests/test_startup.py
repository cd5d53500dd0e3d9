"""Start-up cost of ``monitor poll`` when nothing is due (issue 15).

A cron ``monitor poll`` usually finds nothing due: it must then import neither the
fetcher, the parsers, the story index (numpy), nor any sender (python-telegram-bot,
aiosmtplib, jinja2), nor the dashboard.  The command runs as a real subprocess and
reports the modules it imported; the timings live in bench/bench_cli.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from monitor.cli import main
from tests.support.app import make_app
from tests.support.feedserver import FeedServer, rss_feed

ROOT = Path(__file__).resolve().parents[1]
ITEMS = [
    ("g2", "EU agrees AI Act deal", "https://n.example/ai-act"),
    ("g1", "Weather in Brussels", "https://n.example/weather"),
]

# Top-level packages (and monitor stages) a poll with nothing due must not import.
HEAVY = {
    "numpy",
    "datasketch",
    "telegram",
    "aiosmtplib",
    "jinja2",
    "starlette",
    "uvicorn",
    "httpx",
    "lxml",
    "feedparser",
    "courlan",
    "asyncio",
    "monitor.fetch",
    "monitor.parse",
    "monitor.dedupe",
    "monitor.deliver",
    "monitor.render",
    "monitor.plaintext",  # html.entities and its patterns: only articles need them
    "monitor.match.matcher",
    "monitor.match.automaton",
    "monitor.match.inflect",
    "monitor.pipeline.poll",
    "monitor.pipeline.runtime",
    "monitor.web",
    "monitor.service",
}

_WRAPPER = """\
import json, sys
from monitor.cli import main
code = main(sys.argv[2:])
with open(sys.argv[1], "w") as out:
    json.dump(sorted(sys.modules), out)
sys.exit(code)
"""


def run_cli(tmp: Path, *argv: str) -> tuple[dict[str, object], set[str]]:
    """``monitor *argv`` in a fresh interpreter: its JSON output and the modules it loaded."""
    modules_file = tmp / "modules.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", _WRAPPER, str(modules_file), *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), set(json.loads(modules_file.read_text()))


def heavy_in(modules: set[str]) -> set[str]:
    """The modules that are, or lie inside, one of ``HEAVY``."""
    return {m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)}


def test_warm_poll_no_deliver_with_nothing_due_imports_no_heavy_module(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    feed_server.feed("/eu.xml", rss_feed("EU", ITEMS))
    app = make_app(tmp_path, {"eu": feed_server.url("/eu.xml")})
    # The shipped watchlists: the ones a cron user runs with.
    app.keywords_path.write_text((ROOT / "keywords.yaml").read_text(encoding="utf-8"))
    args = ["--feeds", str(app.feeds_path), "--keywords", str(app.keywords_path)]
    args += ["--state", str(app.state)]
    assert main(["poll", "--no-deliver", "--json", *args]) == 0  # cold: the feed is polled

    out, modules = run_cli(tmp_path, "poll", "--no-deliver", "--json", *args)

    assert out == {"feeds": [], "new": 0}
    assert heavy_in(modules) == set()
    # The configuration is still validated (pydantic) and the state opened.
    assert {"monitor.config.keywords", "monitor.store"} <= modules


def test_warm_poll_with_an_empty_outbox_builds_no_sender(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    feed_server.feed("/eu.xml", rss_feed("EU", ITEMS))
    app = make_app(tmp_path, {"eu": feed_server.url("/eu.xml")})
    args = ["--feeds", str(app.feeds_path), "--keywords", str(app.keywords_path)]
    args += ["--state", str(app.state)]
    assert main(["poll", "--json", *args]) == 0  # polls, and sends the alert to the console

    out, modules = run_cli(tmp_path, "poll", "--json", *args)

    assert out == {
        "feeds": [],
        "new": 0,
        "delivered": {"sent": 0, "messages": 0, "retry": 0, "failed": 0},
    }
    assert heavy_in(modules) == set()


def test_a_due_alert_is_delivered_although_no_feed_is_due(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    feed_server.feed("/eu.xml", rss_feed("EU", ITEMS))
    app = make_app(tmp_path, {"eu": feed_server.url("/eu.xml")})
    args = ["--feeds", str(app.feeds_path), "--keywords", str(app.keywords_path)]
    args += ["--state", str(app.state)]
    assert main(["poll", "--no-deliver", "--json", *args]) == 0  # the alert waits in the outbox

    out, modules = run_cli(tmp_path, "poll", "--json", *args)

    assert out["feeds"] == []
    assert out["delivered"] == {"sent": 1, "messages": 1, "retry": 0, "failed": 0}
    assert "monitor.pipeline.runtime" in modules  # the deliverer was built for it


# What validating the configuration loads; a warm poll reads the cached configuration.
VALIDATION = {
    "pydantic",
    "pydantic_core",
    "ruamel.yaml",
    "email_validator",
    "monitor.config.keywords",
}


def test_a_warm_poll_reads_the_cached_configuration_until_a_file_changes(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    feed_server.feed("/eu.xml", rss_feed("EU", ITEMS))
    app = make_app(tmp_path, {"eu": feed_server.url("/eu.xml")})
    # The shipped watchlists: they have an e-mail destination (email_validator).
    app.keywords_path.write_text((ROOT / "keywords.yaml").read_text(encoding="utf-8"))
    args = ["--feeds", str(app.feeds_path), "--keywords", str(app.keywords_path)]
    args += ["--state", str(app.state)]
    assert main(["poll", "--no-deliver", "--json", *args]) == 0  # cold: creates the state
    _, validated = run_cli(tmp_path, "poll", "--no-deliver", "--json", *args)
    assert validated >= VALIDATION  # validated, and cached in the state directory

    out, cached = run_cli(tmp_path, "poll", "--no-deliver", "--json", *args)

    assert out == {"feeds": [], "new": 0}
    assert heavy_in(cached) == set()
    assert {m for m in cached if m.split(".")[0] in {"pydantic", "pydantic_core", "ruamel"}} == {
        "ruamel"  # the namespace package, found (not loaded) for the cache key
    }
    assert cached.isdisjoint(VALIDATION)

    app.keywords_path.write_text(KEYWORDS_TYPO, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", "poll", "--no-deliver", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr  # the edit is seen at once, errors and all
    assert "unknown destination 'eu-chanel'" in proc.stderr


KEYWORDS_TYPO = """\
destinations:
  eu-channel:
    telegram: "@eu_ai_watch"
watchlists:
  ai-act:
    any: ["AI Act"]
    alert: [eu-chanel]
"""
