"""The validated configuration cached in the state directory (issue 15): used only for
the very files and validator it was written for, never stale, never trusted blindly."""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path

import pytest

from monitor.config import cache
from monitor.errors import ConfigErrors
from monitor.pipeline.build import Configs, load_configs

ROOT = Path(__file__).resolve().parents[2]

FEEDS = """\
feeds:
  - id: eu
    url: https://eu.example/feed.xml
    interval: 20s
"""
KEYWORDS = """\
destinations:
  policy-team:
    email: [policy@example.org]
watchlists:
  ai-act:
    any: ["AI Act"]
    digest: [policy-team]
"""


@pytest.fixture
def files(tmp_path: Path) -> tuple[str, str, Path]:
    feeds = tmp_path / "feeds.yaml"
    keywords = tmp_path / "keywords.yaml"
    feeds.write_text(FEEDS, encoding="utf-8")
    keywords.write_text(KEYWORDS, encoding="utf-8")
    state = tmp_path / "state"
    state.mkdir()
    return str(feeds), str(keywords), state


def load(files: tuple[str, str, Path]) -> Configs:
    feeds, keywords, state = files
    return load_configs(feeds, keywords, cache_dir=state)


def test_the_cached_configuration_equals_a_fresh_validation(files: tuple[str, str, Path]):
    first = load(files)
    assert (files[2] / cache.CACHE_NAME).is_file()

    second = load(files)

    fresh = load_configs(files[0], files[1])
    assert second == fresh == first
    assert second.feeds.warnings == fresh.feeds.warnings != ()  # the 20s interval warning
    assert second.keywords.destinations["policy-team"].email == ("policy@example.org",)


def test_the_shipped_files_round_trip(tmp_path: Path):
    feeds, keywords = str(ROOT / "feeds.yaml"), str(ROOT / "keywords.yaml")
    load_configs(feeds, keywords, cache_dir=tmp_path)
    assert load_configs(feeds, keywords, cache_dir=tmp_path) == load_configs(feeds, keywords)


def test_an_edit_with_the_same_size_and_time_is_seen(files: tuple[str, str, Path]):
    load(files)
    keywords = Path(files[1])
    before = keywords.stat()
    keywords.write_text(KEYWORDS.replace('"AI Act"', '"AI Bct"'), encoding="utf-8")
    os.utime(keywords, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = keywords.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)

    assert _rule(load(files)) == ["AI Bct"]


def test_an_edit_is_used_at_once(files: tuple[str, str, Path]):
    assert [t.text for t in load(files).keywords.watchlists["ai-act"].rule.any] == ["AI Act"]
    Path(files[1]).write_text(KEYWORDS.replace('"AI Act"', '"AI Act", "GPAI"'), "utf-8")

    assert [t.text for t in load(files).keywords.watchlists["ai-act"].rule.any] == [
        "AI Act",
        "GPAI",
    ]
    assert load(files) == load_configs(files[0], files[1])  # and cached again


def test_an_invalid_edit_reports_its_errors_and_is_not_cached(files: tuple[str, str, Path]):
    load(files)
    Path(files[0]).write_text(FEEDS.replace("interval: 20s", "interval: soon"), "utf-8")

    for _ in range(2):
        with pytest.raises(ConfigErrors, match=re.escape("feeds.yaml:4: feeds[0].interval")):
            load(files)

    Path(files[0]).write_text(FEEDS, "utf-8")
    assert load(files) == load_configs(files[0], files[1])


def test_the_same_files_under_another_path_are_keyed_apart(
    files: tuple[str, str, Path], tmp_path: Path
):
    load(files)
    other = tmp_path / "other.yaml"
    other.write_text(FEEDS, encoding="utf-8")

    cfg = load_configs(str(other), files[1], cache_dir=files[2])

    assert cfg.feeds.path == str(other)  # messages name the file given, not the cached one


def test_another_monitor_version_does_not_read_the_cache(
    files: tuple[str, str, Path], monkeypatch: pytest.MonkeyPatch
):
    # Plant, under the current files' key, the configuration of other files: reading it
    # back shows that the cache is consulted; another version must not consult it.
    gpai = Path(files[2]) / "gpai.yaml"
    gpai.write_text(KEYWORDS.replace('"AI Act"', '"AI Act", "GPAI"'), "utf-8")
    planted = load_configs(files[0], str(gpai))
    key = cache.cache_key(files[:2])
    assert key is not None
    cache._write(files[2] / cache.CACHE_NAME, key, (planted.feeds, planted.keywords))
    assert _rule(load(files)) == ["AI Act", "GPAI"]

    monkeypatch.setattr(cache, "__version__", "0.0.0-other")

    assert _rule(load(files)) == ["AI Act"]


def test_a_corrupt_cache_is_validated_again_and_replaced(files: tuple[str, str, Path]):
    load(files)
    path = files[2] / cache.CACHE_NAME
    path.write_bytes(path.read_bytes()[:100])

    assert load(files) == load_configs(files[0], files[1])
    assert len(path.read_bytes()) > 100


class _Boom:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("touch planted-ran",))


def test_a_planted_cache_runs_no_code(
    files: tuple[str, str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    key = cache.cache_key(files[:2])
    with (files[2] / cache.CACHE_NAME).open("wb") as fh:
        pickle.dump(key, fh)
        pickle.dump(_Boom(), fh)
    monkeypatch.chdir(tmp_path)

    assert load(files) == load_configs(files[0], files[1])
    assert not (tmp_path / "planted-ran").exists()


def test_no_state_directory_yet_means_no_cache(tmp_path: Path):
    feeds, keywords = tmp_path / "feeds.yaml", tmp_path / "keywords.yaml"
    feeds.write_text(FEEDS, "utf-8")
    keywords.write_text(KEYWORDS, "utf-8")

    cfg = load_configs(str(feeds), str(keywords), cache_dir=tmp_path / "missing")

    assert cfg == load_configs(str(feeds), str(keywords))
    assert not (tmp_path / "missing").exists()


def _rule(cfg: Configs) -> list[str]:
    return [t.text for t in cfg.keywords.watchlists["ai-act"].rule.any]
