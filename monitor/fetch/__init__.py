"""Fetch stage: HTTP polling of feeds (``Fetcher``) and the poll schedule (``schedule``)."""

from monitor.fetch.fetcher import DEFAULT_USER_AGENT, ERROR_KINDS, Fetcher, host_key
from monitor.fetch.schedule import backoff_delay, next_poll, parse_max_age, parse_retry_after

__all__ = [
    "DEFAULT_USER_AGENT",
    "ERROR_KINDS",
    "Fetcher",
    "backoff_delay",
    "host_key",
    "next_poll",
    "parse_max_age",
    "parse_retry_after",
]
