"""feeds.yaml: golden error messages with file, line and key path."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.config import load_feeds
from monitor.config.durations import format_duration, parse_duration
from monitor.errors import ConfigError, ConfigErrors

ROOT = Path(__file__).resolve().parents[2]


def errors_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_feeds(path.name)
    err = info.value
    return [str(e) for e in err.errors] if isinstance(err, ConfigErrors) else [str(err)]


def test_golden_errors(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    shutil.copy(data_dir / "config" / "bad-feeds.yaml", tmp_path)
    monkeypatch.chdir(tmp_path)
    expected = (data_dir / "config" / "bad-feeds.expected.txt").read_text().splitlines()
    assert errors_of(tmp_path / "bad-feeds.yaml") == expected


def test_duplicate_id_names_both_lines(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    shutil.copy(data_dir / "config" / "dup-feeds.yaml", tmp_path)
    monkeypatch.chdir(tmp_path)
    assert errors_of(tmp_path / "dup-feeds.yaml") == [
        "dup-feeds.yaml:6: feeds[2].id: duplicate feed id 'politico-eu' (first used at line 2)"
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("feeds:\n  - id: a\n    url: https://a.eu\n  - id: b\n    url: [\n", "invalid YAML"),
        (
            "feeds:\n  - id: a\n    url: https://a.eu\n    url: https://b.eu\n",
            "duplicate key 'url'",
        ),
        ("- just\n- a list\n", "the top level must be a mapping"),
        ("defaults:\n  interval: 15m\n", "feeds: required key is missing"),
    ],
)
def test_structural_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str
):
    (tmp_path / "f.yaml").write_text(text)
    monkeypatch.chdir(tmp_path)
    [error] = errors_of(tmp_path / "f.yaml")
    assert error.startswith("f.yaml:")
    assert message in error


def test_missing_file(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"nope\.yaml: file not found"):
        load_feeds(str(tmp_path / "nope.yaml"))


def test_defaults_apply_and_feed_overrides(tmp_path: Path):
    path = tmp_path / "f.yaml"
    path.write_text(
        "defaults:\n  interval: 1h\n  language: de\n  tags: [national]\n"
        "feeds:\n  - id: a\n    url: https://a.eu/feed\n"
        "  - id: b\n    url: https://b.eu/feed\n    interval: 30s\n    tags: []\n"
        "    enabled: false\n    backfill: null\n"
    )
    cfg = load_feeds(str(path))
    a, b = cfg.feeds
    assert (a.interval, a.language, a.tags, a.enabled) == (
        timedelta(hours=1),
        "de",
        ("national",),
        True,
    )
    assert (b.interval, b.tags, b.enabled, b.backfill) == (timedelta(seconds=30), (), False, None)
    assert a.backfill == 3
    assert [f.id for f in cfg.enabled()] == ["a"]
    assert len(cfg.warnings) == 1
    assert "below one minute" in cfg.warnings[0]


def test_shipped_feeds_file_is_valid():
    cfg = load_feeds(str(ROOT / "feeds.yaml"))
    assert len(cfg.enabled()) >= 13
    languages = {(f.language or "")[:2] for f in cfg.feeds}
    assert {"en", "de", "fr", "pl", "it", "es", "ro"} <= languages


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("15m", 900),
        ("1h", 3600),
        ("1h30m", 5400),
        ("7d", 604800),
        (45, 45),
        ("2w", 1209600),
    ],
)
def test_durations(text: object, seconds: int):
    assert parse_duration(text).total_seconds() == seconds
    assert parse_duration(format_duration(parse_duration(text))) == parse_duration(text)


@pytest.mark.parametrize("bad", ["5 minutes", "m", "", "-5m", "0s", True, "1y"])
def test_bad_durations(bad: object):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


def test_fulltext_default_defaults_and_per_feed(tmp_path: Path):
    path = tmp_path / "f.yaml"
    path.write_text("feeds:\n  - id: a\n    url: https://a.eu/feed\n")
    assert load_feeds(str(path)).feeds[0].fulltext == "auto"
    path.write_text(
        "settings:\n  page_timeout: 5s\n  page_max_size: 1MB\n"
        "defaults:\n  fulltext: never\n"
        "feeds:\n  - id: a\n    url: https://a.eu/feed\n"
        "  - id: b\n    url: https://b.eu/feed\n    fulltext: always\n"
    )
    cfg = load_feeds(str(path))
    assert [f.fulltext for f in cfg.feeds] == ["never", "always"]
    assert (cfg.settings.page_timeout, cfg.settings.page_max_size) == (
        timedelta(seconds=5),
        1000**2,
    )


def test_fulltext_must_be_one_of_three(tmp_path: Path):
    path = tmp_path / "f.yaml"
    path.write_text("feeds:\n  - id: a\n    url: https://a.eu/feed\n    fulltext: yes\n")
    with pytest.raises(ConfigError) as err:
        load_feeds(str(path))
    assert "f.yaml:4: feeds[0].fulltext: " in str(err.value)
    assert "'always', 'auto' or 'never'" in str(err.value)
