"""Configuration: ``feeds.yaml`` and ``keywords.yaml``, validated completely at load."""

from monitor.config.feeds import FeedsConfig, load_feeds
from monitor.config.source import Source

__all__ = ["FeedsConfig", "Source", "load_feeds"]
