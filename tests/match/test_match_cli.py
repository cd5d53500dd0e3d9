"""``monitor match`` and ``monitor explain`` end to end (files, stdin, a local HTTP server)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from monitor.cli import build_parser, main
from monitor.plaintext import html_to_text
from tests.match.helpers import DATA, DEFAULT_KEYWORDS, ROOT, SEED

KW = ["--keywords", str(DEFAULT_KEYWORDS)]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([*argv, *KW])
    out, err = capsys.readouterr()
    return code, out, err


def test_match_a_plain_text_file(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "match", str(SEED))
    assert code == 0
    (line,) = out.splitlines()
    record = json.loads(line)
    assert record["id"] == str(SEED)
    assert [m["watchlist"] for m in record["matches"]] == [
        "ai-act",
        "edpb",
        "facial-recognition",
        "tudorache",
    ]
    text = SEED.read_text(encoding="utf-8")
    for m in record["matches"]:
        assert set(m) == {"watchlist", "score", "hit_count", "prominence", "hits"}
        for hit in m["hits"]:
            assert set(hit) == {"term", "text", "field", "start", "end"}
            assert text[hit["start"] : hit["end"]] == hit["text"]


def test_match_json_lines_with_html_summaries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = '<p>The <a href="https://x.eu/edps">board</a> &amp; the <b>EDPB</b>’s chair</p>'
    lines = [
        {
            "id": "1",
            "title": "MEPs &amp; the AI-Act",
            "summary": summary,
            "url": "https://x.eu/1",
            "published": "2023-12-08T10:00:00Z",
        },
        {
            "id": "2",
            "title": "Thai actors",
            "summary": "",
            "url": "https://x.eu/2",
            "published": None,
        },
    ]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    code, out, _ = run(capsys, "match", str(path))
    assert code == 0
    first, second = (json.loads(x) for x in out.splitlines())
    assert second == {"id": "2", "matches": []}
    assert [m["watchlist"] for m in first["matches"]] == ["ai-act", "edpb"]
    act, edpb = first["matches"]
    assert act["hits"] == [
        {"term": "AI Act", "text": "AI-Act", "field": "title", "start": 11, "end": 17}
    ]
    plain = html_to_text(summary)
    hit = edpb["hits"][0]
    assert (hit["field"], plain[hit["start"] : hit["end"]]) == ("summary", "EDPB")


def test_match_an_rss_file_and_only_matched(capsys: pytest.CaptureFixture[str]) -> None:
    feed = DATA / "replay" / "politico-eu" / "2023-12-08.xml"
    code, out, _ = run(capsys, "match", "--matched-only", str(feed))
    assert code == 0
    records = [json.loads(x) for x in out.splitlines()]
    assert len(records) == 1
    assert records[0]["matches"][0]["hits"][0]["text"] == "AI Act"
    assert "eu-strikes-tentative-deal-ai-act" in records[0]["id"]


def test_match_reads_standard_input() -> None:
    line = json.dumps(
        {"id": "x", "title": "Dragoş Tudorache", "summary": "", "url": "", "published": ""}
    )
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "match", *KW],
        input=line + "\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["matches"][0]["hits"][0] == {
        "term": "Dragoș Tudorache",
        "text": "Dragoş Tudorache",
        "field": "title",
        "start": 0,
        "end": 16,
    }


def test_match_reports_a_bad_line_and_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"id": "1", "title": "EDPB"}\n{"id": 2,\n{"id": "3", "published": "soon"}\n'
        '{"id": "4", "title": "AI Act"}\n',
        encoding="utf-8",
    )
    code, out, err = run(capsys, "match", str(path))
    assert code == 1
    assert f"{path}:2: not JSON" in err
    assert f"{path}:3: published 'soon' is not an ISO 8601 date" in err
    assert [json.loads(x)["id"] for x in out.splitlines()] == ["1", "4"]


def test_match_with_an_invalid_keywords_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "k.yaml"
    bad.write_text("watchlists:\n  w:\n    any: [AI*Act]\n", encoding="utf-8")
    code = main(["match", str(SEED), "--keywords", str(bad)])
    _, err = capsys.readouterr()
    assert code == 2
    assert f"{bad}:3: watchlists.w.any[0]: term 'AI*Act' has '*' inside" in err


def test_explain_a_file(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "explain", "--color", "never", str(SEED))
    assert code == 0
    assert "4 of 10 watchlists match" in out
    assert "MATCH tudorache: Dragoș Tudorache" in out
    assert "no    edps: European Data Protection Supervisor (EDPS)" in out
    assert "[EDPB]" in out
    assert "\x1b[" not in out
    code, out, _ = run(capsys, "explain", "--json", str(SEED))
    data = json.loads(out)
    assert {w["watchlist"] for w in data["watchlists"] if w["matched"]} == {
        "ai-act",
        "edpb",
        "facial-recognition",
        "tudorache",
    }


class _Page(BaseHTTPRequestHandler):
    body = (
        '<html lang="de"><head><title>Site</title></head><body><nav>Facial recognition menu'
        "</nav><article><h1>KI-Verordnung</h1><p>Der Europäische Datenschutzausschuss "
        "(EDSA) warnt.</p></article></body></html>"
    ).encode()

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def page_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/article"
    finally:
        server.shutdown()
        server.server_close()


def test_explain_a_url(page_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "explain", "--json", page_url)
    assert code == 0
    data = json.loads(out)
    assert data["language"] == "de"
    matched = {w["watchlist"]: w for w in data["watchlists"] if w["matched"]}
    # The navigation is not the article: only <article> counts.
    assert set(matched) == {"ai-act", "edpb"}
    assert [h["text"] for h in matched["edpb"]["hits"]] == [
        "Europäische Datenschutzausschuss",
        "EDSA",
    ]


@pytest.mark.parametrize("command", ["match", "explain"])
def test_commands_have_help(command: str) -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    child = sub.choices[command]  # type: ignore[index]
    assert child.description
    assert len(child.description) > 40
    assert any(
        a.help for a in child._actions if a.dest == ("files" if command == "match" else "source")
    )


def test_match_a_json_feed_file_reads_its_items(capsys: pytest.CaptureFixture[str]) -> None:
    # A pretty-printed JSON Feed starts with "{" like JSON Lines, but is one feed.
    feed = ROOT / "tests" / "data" / "parse" / "jsonfeed" / "eu-policy-1.1.jsonfeed"
    code, out, err = run(capsys, "match", str(feed))
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 5
    by_watchlist = {m["watchlist"] for r in records for m in r["matches"]}
    assert {"ai-act", "edpb"} <= by_watchlist


def test_explain_shows_hits_in_the_body(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = {
        "id": "a1",
        "title": "Data watchdogs write to negotiators",
        "summary": "A letter arrived …",
        "body": "In the afternoon the EDPB asked for a ban on live identification.",
    }
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps(line) + "\n", encoding="utf-8")
    code, out, _ = run(capsys, "explain", "--color", "never", str(path))
    assert code == 0
    assert "MATCH edpb:" in out
    assert "body: 65 chars" in out
    assert "hit body[21:25] 'EDPB'" in out
    code, out, _ = run(capsys, "explain", "--json", str(path))
    [edpb] = [w for w in json.loads(out)["watchlists"] if w["watchlist"] == "edpb"]
    assert edpb["matched"]
    assert {h["field"] for h in edpb["hits"]} == {"body"}
    assert edpb["hits"][0]["snippet"].startswith("In the afternoon the [EDPB] asked")
