"""Logging set-up: plain text or JSON lines, and secrets never printed."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime


class RedactSecrets(logging.Filter):
    """Replace every secret (``Settings.secret_values()``) by ``***`` in log records."""

    def __init__(self, secrets: Sequence[str] = ()) -> None:
        super().__init__()
        self.secrets = list(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        redacted = message
        for secret in self.secrets:
            redacted = redacted.replace(secret, "***")
        if redacted != message:
            record.msg = redacted
            record.args = None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        for key in ("feed", "destination", "watchlist", "article"):
            if hasattr(record, key):
                payload[key] = getattr(record, key)
        return json.dumps(payload, ensure_ascii=False)


def setup_logging(verbosity: int = 0, fmt: str = "text", secrets: Sequence[str] = ()) -> None:
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactSecrets(secrets))
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request with its URL at INFO; a Telegram URL carries the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


class Throttle:
    """Say a repeated message once per ``every`` seconds, with how often it was held back.

    ``check(key)`` returns None while ``key`` was already said within the window, else the
    number of times it was held back since it was last said (0 the first time).  A flood
    of one error (383,000 identical records in a minute when held connections exhausted
    the file descriptors, issue 10 item 4) becomes one line a minute with a count.
    ``clock`` is a parameter so that tests drive the time.
    """

    MAX_KEYS = 1024

    def __init__(self, every: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.every = every
        self.clock = clock
        self._said: dict[str, tuple[float, int]] = {}

    def check(self, key: str) -> int | None:
        now = self.clock()
        said = self._said.get(key)
        if said is not None and now - said[0] < self.every:
            self._said[key] = (said[0], said[1] + 1)
            return None
        if said is None and len(self._said) >= self.MAX_KEYS:
            self._said.pop(next(iter(self._said)))  # the oldest key: memory stays bounded
        self._said[key] = (now, 0)
        return said[1] if said is not None else 0

    def log(self, logger: logging.Logger, level: int, key: str, msg: str, *args: object) -> bool:
        """Log ``msg % args`` unless ``key`` was logged within the window; True if logged."""
        tail = self.suffix(key)
        if tail is None:
            return False
        logger.log(level, msg + tail.replace("%", "%%"), *args)
        return True

    def suffix(self, key: str) -> str | None:
        """None to hold the message back, else the text to append to it ("" or the count)."""
        held = self.check(key)
        if held is None:
            return None
        return (
            f" (and {held} more like it in the last {format_seconds(self.every)})" if held else ""
        )


def format_seconds(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"
