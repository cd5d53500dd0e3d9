"""Build the runtime objects from configuration and environment (used by CLI and service)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from monitor.config.specs import FeedsConfig, KeywordsConfig
from monitor.errors import ConfigError, ConfigErrors
from monitor.store import StateLock, Store, cache_for, ensure_state_dir

if TYPE_CHECKING:
    # Imported where used: the matcher and the poller pull in the parsers, numpy and
    # httpx, which `monitor poll` with nothing due never needs (issue 15).
    from monitor.match import Matcher
    from monitor.pipeline.poll import Routing


@dataclass(frozen=True)
class Configs:
    feeds: FeedsConfig
    keywords: KeywordsConfig


def load_configs(
    feeds_path: str, keywords_path: str, *, cache_dir: str | os.PathLike[str] | None = None
) -> Configs:
    """Load and validate both files, reporting the errors of both at once, sorted by
    file and line.  With ``cache_dir`` (the state directory), a configuration validated
    earlier from the very same files is read from the cache there instead
    (``monitor.config.cache``).

    Raises:
        ConfigErrors: every error found, each with file, line and key path.
    """
    if cache_dir is None:
        return _validate(feeds_path, keywords_path)
    from monitor.config.cache import load_cached

    feeds, keywords = load_cached(
        cache_dir,
        (feeds_path, keywords_path),
        lambda: _as_pair(_validate(feeds_path, keywords_path)),
    )
    return Configs(feeds=feeds, keywords=keywords)


def _as_pair(cfg: Configs) -> tuple[FeedsConfig, KeywordsConfig]:
    return cfg.feeds, cfg.keywords


def _validate(feeds_path: str, keywords_path: str) -> Configs:
    # Imported here: the loaders pull in ruamel.yaml, pydantic and the rule syntax,
    # which a cached configuration does without (issue 15).
    from monitor.config.feeds import load_feeds
    from monitor.config.keywords import load_keywords

    errors: list[ConfigError] = []
    feeds = keywords = None
    for loader, path in ((load_feeds, feeds_path), (load_keywords, keywords_path)):
        try:
            value = loader(path)
        except ConfigErrors as exc:
            errors.extend(exc.errors)
            continue
        except ConfigError as exc:
            errors.append(exc)
            continue
        if loader is load_feeds:
            feeds = value
        else:
            keywords = value
    if errors:
        raise ConfigErrors(sorted(errors, key=lambda e: (e.file or "", e.line or 0)))
    assert isinstance(feeds, FeedsConfig)
    assert isinstance(keywords, KeywordsConfig)
    return Configs(feeds=feeds, keywords=keywords)


def routing(keywords: KeywordsConfig) -> Routing:
    from monitor.pipeline.poll import Routing

    return Routing(watchlists=keywords.watchlists, destinations=keywords.destinations)


def matcher(keywords: KeywordsConfig) -> Matcher:
    from monitor.match import compile_matcher

    return compile_matcher(keywords)


def open_state(
    state_dir: str | os.PathLike[str],
    *,
    lock: bool = True,
    database_url: str | None = None,
    feeds: int | None = None,
) -> tuple[Store, StateLock | None]:
    """Open the state database (``database_url``, else SQLite in ``state_dir``), taking
    the state directory's process lock when ``lock``; ``feeds``: how many the
    configuration has (SQLite's page cache is sized by it, ``store.db.cache_for``).

    Raises:
        StateLockedError: another monitor process uses this state directory.
        StorageError: the directory is not writable, or the database is empty or corrupt.
    """
    path = ensure_state_dir(state_dir)
    state_lock = None
    if lock:
        state_lock = StateLock(path)
        state_lock.acquire()
    try:
        if feeds is None:
            store = Store(path, database_url=database_url)
        else:
            store = Store(path, database_url=database_url, cache_mib=cache_for(feeds))
    except BaseException:
        if state_lock:
            state_lock.release()
        raise
    return store, state_lock


def feed_names(feeds: FeedsConfig) -> Mapping[str, str]:
    return {f.id: f.label for f in feeds.feeds}


def watchlist_titles(keywords: KeywordsConfig) -> Mapping[str, str]:
    return {k: w.title for k, w in keywords.watchlists.items()}
