"""The command line as users run it: exit codes, JSON shapes, help for every command."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.cli import build_parser, main
from tests.support.app import KEYWORDS, make_app
from tests.support.feedserver import FeedServer, rss_feed

ROOT = Path(__file__).resolve().parents[1]
ITEMS = [
    ("g2", "EU agrees AI Act deal", "https://n.example/ai-act"),
    ("g1", "Weather in Brussels", "https://n.example/weather"),
]


def commands() -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sorted(sub.choices)  # type: ignore[arg-type]


def test_every_command_has_help_and_a_description():
    names = commands()
    assert {
        "check",
        "poll",
        "feeds",
        "match",
        "explain",
        "backtest",
        "deliver",
        "digest",
        "send-test",
        "status",
        "run",
        "demo",
        "stories",
    } <= set(names)
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, p in sub.choices.items():  # type: ignore[union-attr]
        assert p.description, f"monitor {name} has no description"
        assert p.format_help().count("\n") > 3


def test_readme_documents_every_command():
    readme = (ROOT / "README.md").read_text()
    for name in commands():
        assert f"monitor {name}" in readme, name


def test_check_ok_and_error_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert (
        main(
            [
                "check",
                "--feeds",
                str(ROOT / "feeds.yaml"),
                "--keywords",
                str(ROOT / "keywords.yaml"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "feeds" in out
    assert "watchlists" in out
    assert out.strip().endswith("ok")
    assert len(out.splitlines()) < 40  # one screen
    bad = tmp_path / "keywords.yaml"
    bad.write_text("watchlists:\n  x:\n    any: []\n    colour: red\n")
    assert main(["check", "--feeds", str(ROOT / "feeds.yaml"), "--keywords", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:3" in err or f"{bad}:4" in err


def test_check_reads_paths_from_the_environment(tmp_path: Path):
    env = {
        **os.environ,
        "MONITOR_FEEDS": str(ROOT / "feeds.yaml"),
        "MONITOR_KEYWORDS": str(tmp_path / "missing.yaml"),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", "check"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "missing.yaml: file not found" in proc.stderr


def test_poll_json_feeds_and_status(
    feed_server: FeedServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    feed_server.feed("/eu.xml", rss_feed("EU", ITEMS))
    feed_server.status("/down.xml", 503, headers=[("Retry-After", "120")])
    app = make_app(
        tmp_path, {"eu": feed_server.url("/eu.xml"), "down": feed_server.url("/down.xml")}
    )
    args = [
        "--feeds",
        str(app.feeds_path),
        "--keywords",
        str(app.keywords_path),
        "--state",
        str(app.state),
    ]
    assert main(["poll", "--all", "--json", *args]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["new"] == 2
    by_id = {f["id"]: f for f in result["feeds"]}
    assert by_id["eu"] == {"id": "eu", "status": "ok", "new": 2, "http_status": 200, "matched": 1}
    assert by_id["down"]["status"] == "error"
    assert "503" in by_id["down"]["error"]
    assert result["delivered"]["sent"] == 1
    assert "EU agrees AI Act deal" in captured.err  # console alert kept off stdout

    assert main(["poll", "--all", "--json", "--no-deliver", *args]) == 0
    again = json.loads(capsys.readouterr().out)
    assert {f["id"]: f["status"] for f in again["feeds"]} == {"eu": "not_modified", "down": "error"}
    assert "delivered" not in again

    assert main(["feeds", *args]) == 0
    table = capsys.readouterr().out
    assert "failing x2" in table
    assert "HTTP 503" in table

    assert main(["status", *args]) == 0
    status = capsys.readouterr().out
    assert "alert:sent 1" in status
    assert "digest:pending 1" in status


def test_poll_unknown_feed_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    app = make_app(tmp_path, {"eu": "http://127.0.0.1:9/eu.xml"})
    code = main(
        [
            "poll",
            "--feed",
            "nope",
            "--feeds",
            str(app.feeds_path),
            "--keywords",
            str(app.keywords_path),
            "--state",
            str(app.state),
        ]
    )
    assert code == 2
    assert "unknown feed id nope" in capsys.readouterr().err


def test_backtest_lists_gains_and_losses(
    feed_server: FeedServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    feed_server.feed(
        "/eu.xml",
        rss_feed(
            "EU",
            [
                ("a", "EU agrees AI Act deal", "https://n.example/a"),
                ("b", "EDPB fines Meta over transfers", "https://n.example/b"),
                ("c", "Police trial facial recognition", "https://n.example/c"),
            ],
        ),
    )
    app = make_app(tmp_path, {"eu": feed_server.url("/eu.xml")})
    app.poll()
    proposed = tmp_path / "new-keywords.yaml"
    proposed.write_text(
        KEYWORDS.replace(
            'any: ["facial recognition", "face recognition"]', 'any: ["face recognition"]'
        )
        + '  edpb:\n    title: EDPB\n    any: ["=EDPB"]\n'
    )
    code = main(
        [
            "backtest",
            str(proposed),
            "--json",
            "--keywords",
            str(app.keywords_path),
            "--state",
            str(app.state),
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["articles"] == 3
    diffs = {d["watchlist"]: d for d in report["watchlists"]}
    assert [g["title"] for g in diffs["edpb"]["gained"]] == ["EDPB fines Meta over transfers"]
    assert [lost["title"] for lost in diffs["facial-recognition"]["lost"]] == [
        "Police trial facial recognition"
    ]
    assert diffs["ai-act"]["gained"] == []
    assert diffs["ai-act"]["lost"] == []
    assert diffs["ai-act"]["kept"] == 1


def test_console_script_is_installed():
    # The script installed beside this interpreter first: a `monitor` elsewhere on PATH may
    # belong to another Python (a pyenv shim of an older install).
    beside = Path(sys.executable).parent / "monitor"
    exe = str(beside) if beside.exists() else shutil.which("monitor") or str(beside)
    proc = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0
    assert "poll" in proc.stdout
