"""Configuration files are bounded (issue 10 item 1): anchors, aliases, merge keys, deep
nesting and files over 1 MiB are refused with ``file:line`` before anything is expanded."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from monitor.config.bounded import MAX_BYTES, MAX_DEPTH
from monitor.config.feeds import load_feeds
from monitor.config.keywords import load_keywords
from monitor.errors import ConfigError, ConfigErrors
from tests.support.hostile import alias_bomb

ROOT = Path(__file__).resolve().parents[2]
VALID = """\
destinations:
  eu:
    telegram: "@eu_ai_watch"
watchlists:
  ai-act:
    any: ["AI Act"]
    alert: [eu]
"""


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_keywords(path.name)
    assert not isinstance(info.value, ConfigErrors) or len(info.value.errors) == 1
    return str(info.value)


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_alias_bomb_is_refused_at_its_first_anchor(here: Path):
    (here / "keywords.yaml").write_text(alias_bomb(levels=4), encoding="utf-8")
    assert error_of(here / "keywords.yaml") == (
        "keywords.yaml:1: YAML anchor '&a0' refused: configuration files may not use anchors, "
        "aliases or merge keys (write the value out; a value that starts with '&' must be "
        'quoted: "&word")\n'
        '  1 | a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
        "    |     ^"
    )


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (VALID + "    ignore: *ai\n", 8, "keywords.yaml:8: YAML alias '*ai' refused"),
        (
            VALID.replace('["AI Act"]', '&terms ["AI Act"]'),
            6,
            "keywords.yaml:6: YAML anchor '&terms' refused",
        ),
        (
            VALID + "  dsa:\n    <<: {alert: [eu]}\n    any: [DSA]\n",
            9,
            "keywords.yaml:9: YAML merge key '<<' refused",
        ),
        (
            VALID + "  dsa:\n    !!merge x: {alert: [eu]}\n    any: [DSA]\n",
            9,
            "keywords.yaml:9: YAML merge key '<<' refused",
        ),
    ],
    ids=["alias", "anchor", "merge-key", "merge-tag"],
)
def test_anchors_aliases_and_merge_keys_are_refused_with_their_line(
    here: Path, text: str, line: int, message: str
):
    (here / "keywords.yaml").write_text(text, encoding="utf-8")
    error = error_of(here / "keywords.yaml")
    assert error.startswith(message), error
    assert f"\n  {line} | " in error  # the offending line is shown


def test_quoted_stars_ampersands_and_merge_signs_are_plain_text(tmp_path: Path):
    path = tmp_path / "keywords.yaml"
    text = VALID.replace("  ai-act:\n", '  ai-act:\n    title: "*AI &co <<"\n    "<<": 1\n')
    path.write_text(text + '    ignore: ["*surveillance"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"keywords\.yaml:7: watchlists\.ai-act\.<<: unknown key"):
        load_keywords(str(path))  # a quoted '<<' is a key like any other, not a merge
    path.write_text(text.replace('    "<<": 1\n', "") + '    ignore: ["*surveillance"]\n')
    [wl] = load_keywords(str(path)).watchlists.values()
    assert wl.title == "*AI &co <<"
    assert [t.text for t in wl.rule.ignore] == ["*surveillance"]


def test_nesting_deeper_than_the_limit_is_refused(here: Path):
    def nested(depth: int) -> str:
        # Three levels for watchlists.x.any, the rest nested lists inside it.
        inner = depth - 3
        return VALID + "    none: " + "[" * inner + "x" + "]" * inner + "\n"

    (here / "keywords.yaml").write_text(nested(MAX_DEPTH + 1), encoding="utf-8")
    error = error_of(here / "keywords.yaml")
    assert error.startswith(
        f"keywords.yaml:8: nested more than {MAX_DEPTH} levels deep "
        "(the limit for a configuration file)"
    ), error
    # Far deeper than Python's recursion limit: still a clean error, not a crash.
    (here / "keywords.yaml").write_text(nested(5000), encoding="utf-8")
    assert "nested more than" in error_of(here / "keywords.yaml")


def test_a_file_over_one_mebibyte_is_refused_before_parsing(here: Path):
    assert MAX_BYTES == 1024 * 1024
    path = here / "keywords.yaml"
    padding = "# " + "x" * 98 + "\n"  # 101 bytes a line
    body = VALID + padding * ((MAX_BYTES - len(VALID)) // len(padding))
    path.write_text(body, encoding="utf-8")
    assert len(load_keywords(path.name).watchlists) == 1  # just under the limit: fine
    path.write_text(body + "#" * (MAX_BYTES - len(body) + 1), encoding="utf-8")
    assert error_of(path) == (
        "keywords.yaml: the file is 1,048,577 bytes; a configuration file may have at most "
        "1,048,576 bytes (1 MiB)"
    )
    # The same for feeds.yaml, and no byte of a huge file is read.
    with open(here / "feeds.yaml", "wb") as fh:
        fh.truncate(8 * 1024**3)  # sparse: 8 GiB of nothing
    with pytest.raises(ConfigError, match=r"^feeds\.yaml: the file is 8,589,934,592 bytes"):
        load_feeds("feeds.yaml")


def test_a_fifo_in_place_of_the_file_is_refused_without_waiting(here: Path):
    os.mkfifo(here / "keywords.yaml")
    result: list[BaseException] = []

    def load() -> None:
        try:
            load_keywords("keywords.yaml")
        except BaseException as exc:
            result.append(exc)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(10)  # a blocked open() (no writer ever comes) leaves it running
    assert not worker.is_alive()
    assert [str(e) for e in result] == ["keywords.yaml: not a regular file"]


def test_monitor_check_refuses_the_alias_bomb_at_once(tmp_path: Path):
    # The 9-level bomb is ~460 bytes and expands to 387 million strings: on the old
    # loader `monitor check` took minutes and gigabytes before answering.
    bomb = tmp_path / "keywords.yaml"
    bomb.write_text(alias_bomb(), encoding="utf-8")
    assert bomb.stat().st_size < 501
    feeds = str(ROOT / "feeds.yaml")
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", "check", "--feeds", feeds, "--keywords", str(bomb)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 2
    assert f"{bomb}:1: YAML anchor '&a0' refused" in proc.stderr
