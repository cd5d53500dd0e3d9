"""The validated configuration, cached in the state directory (issue 15: start-up time).

Validating ``feeds.yaml`` and ``keywords.yaml`` imports ruamel.yaml, pydantic and
email_validator and builds the watchlist rules: most of what a cron ``monitor poll``
with nothing due used to spend.  After a successful validation the result is written to
``STATE/config.cache``; the next command whose files are unchanged reads it back instead.

A cached configuration is used only when all of this is as it was when it was written:

- each file's path as given and resolved, its size, modification time and the SHA-256
  of its bytes (read again every time: an edit that keeps the size and the time is
  still seen);
- monitor's version, the Python version, and the size and modification time of every
  module that decides what a valid file is (``monitor/config``, the rule syntax, the
  value types, the template check) and of the libraries they use (pydantic,
  ruamel.yaml, email_validator, jinja2): an edited or upgraded validator never reads a
  result of the old one.

Invalid files are never cached: their errors come from the loaders as before.  A
missing, unreadable, foreign or corrupt cache file is a miss, and a cache that cannot
be written (a read-only state directory) is skipped: the cache never changes what a
command does, only how soon.  The file is read with an unpickler that builds only the
configuration's own value types (:class:`_Unpickler`), so a planted file cannot run
code.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import logging
import os
import pickle
import sys
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType
from typing import Any

from monitor import __version__

log = logging.getLogger(__name__)

CACHE_NAME = "config.cache"
FORMAT = 1
MAX_FILE_BYTES = 1024 * 1024
"""Configuration files larger than this are not cached (``bounded.MAX_BYTES``: the loader
refuses them; checked by tests/config/test_cache.py)."""

_MONITOR = Path(__file__).resolve().parents[1]
# The modules whose code decides what a valid configuration is and what it becomes.
_VALIDATOR_FILES = (
    "config/*.py",
    "match/syntax.py",
    "match/terms.py",
    "match/normalize.py",
    "models.py",
    "errors.py",
    "render/telegram_template.py",
)
_LIBRARIES = ("pydantic", "pydantic_core", "ruamel.yaml", "email_validator", "jinja2")

# What a cached configuration is made of: nothing else is built when it is read.
_ALLOWED = {
    "monitor.config.specs": {
        "ActorSpec",
        "DestinationSpec",
        "FeedsConfig",
        "FetchSettings",
        "KeywordsConfig",
        "WatchlistSpec",
    },
    "monitor.models": {"FeedSpec"},
    "monitor.match.terms": {"ActorRef", "Near", "Rule", "Term"},
    "monitor.config.cache": {"_mapping"},
    "datetime": {"time", "timedelta"},
    "builtins": {"frozenset", "set"},
}


def _mapping(items: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(items)


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        # KeywordsConfig holds read-only views (MappingProxyType), which pickle cannot.
        if isinstance(obj, MappingProxyType):
            return _mapping, (dict(obj),)
        return NotImplemented


class _Unpickler(pickle.Unpickler):
    """Builds only the types in ``_ALLOWED`` (the pickle documentation's "Restricting
    Globals"): any other global in the file makes it a miss."""

    def find_class(self, module: str, name: str) -> Any:
        if name in _ALLOWED.get(module, ()):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not part of a configuration")


def _stat_key(path: Path) -> tuple[str, int, int]:
    try:
        info = path.stat()
    except OSError:
        return (str(path), -1, -1)
    return (str(path), info.st_size, info.st_mtime_ns)


def _code_key() -> tuple[object, ...]:
    files: list[tuple[str, int, int]] = []
    for pattern in _VALIDATOR_FILES:
        files += [_stat_key(p) for p in sorted(_MONITOR.glob(pattern))]
    for name in _LIBRARIES:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        origin = spec.origin if spec is not None else None
        files.append(_stat_key(Path(origin)) if origin else (name, -1, -1))
    return (FORMAT, __version__, sys.version, tuple(files))


def _file_key(path: str) -> tuple[object, ...] | None:
    """What identifies one configuration file's contents, or None when it cannot be
    read here (the loader then says why)."""
    try:
        with open(path, "rb") as fh:
            info = os.fstat(fh.fileno())
            if info.st_size > MAX_FILE_BYTES:
                return None
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError:
        return None
    digest = hashlib.sha256(data).hexdigest()
    return (path, os.path.realpath(path), len(data), info.st_mtime_ns, digest)


def cache_key(paths: tuple[str, ...]) -> tuple[object, ...] | None:
    """The key of a configuration made from ``paths``, or None when one is unreadable."""
    keys = []
    for path in paths:
        key = _file_key(path)
        if key is None:
            return None
        keys.append(key)
    return (_code_key(), tuple(keys))


def load_cached(
    cache_dir: str | os.PathLike[str], paths: tuple[str, ...], validate: Callable[[], Any]
) -> Any:
    """``validate()``'s result for the files ``paths``, read from the cache in
    ``cache_dir`` when it was written for exactly these files and this validator;
    otherwise ``validate()`` is called and its result written there.

    Raises:
        Whatever ``validate()`` raises (invalid files are never cached).
    """
    cache = Path(cache_dir) / CACHE_NAME
    key = cache_key(paths)
    if key is not None:
        value = _read(cache, key)
        if value is not None:
            log.debug("configuration read from %s", cache)
            return value
    value = validate()
    # The files may have changed while they were validated: key them again, and cache
    # only when both keys agree (so a result is never stored under newer files' key).
    if key is not None and cache_key(paths) == key and Path(cache_dir).is_dir():
        _write(cache, key, value)
    return value


def _read(cache: Path, key: tuple[object, ...]) -> Any:
    try:
        data = cache.read_bytes()
    except OSError:
        return None
    try:
        stream = io.BytesIO(data)
        if _Unpickler(stream).load() != key:
            return None
        return _Unpickler(stream).load()
    except Exception as exc:  # corrupt, truncated or foreign: validate instead
        log.debug("configuration cache %s not used: %s", cache, exc)
        return None


def _write(cache: Path, key: tuple[object, ...], value: Any) -> None:
    buffer = io.BytesIO()
    try:
        _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(key)
        _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        log.debug("configuration not cached: %s", exc)
        return
    partial = cache.with_name(f".{cache.name}.{os.getpid()}")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(buffer.getvalue())
        os.replace(partial, cache)
    except OSError as exc:  # a read-only state directory: run uncached
        log.debug("configuration not cached in %s: %s", cache, exc)
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
