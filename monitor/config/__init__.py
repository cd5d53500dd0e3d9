"""Configuration: ``feeds.yaml`` and ``keywords.yaml``, validated completely at load.

The loaders (pydantic, ruamel.yaml) are imported on first use (PEP 562): importing
``monitor.config.durations`` or ``monitor.config.specs`` must not load them (issue 15).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from monitor.config.feeds import load_feeds
    from monitor.config.source import Source
    from monitor.config.specs import FeedsConfig

_LAZY = {"FeedsConfig": "specs", "Source": "source", "load_feeds": "feeds"}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = ["FeedsConfig", "Source", "load_feeds"]
