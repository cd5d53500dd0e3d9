"""``monitor run``'s options, and this process's name among several instances."""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TextIO

from monitor.service.metrics import HttpLimits
from monitor.service.tasks import Clock, utcnow
from monitor.settings import DEFAULT_HTTP, Settings

__all__ = ["ServiceOptions", "default_instance"]


def default_instance() -> str:
    """This process's name in leases and elections: ``host:pid:random`` (the random part
    tells apart two processes that reuse a pid, as containers' pid 1 all do).  The host
    name is cut to 40 characters: the name must fit PostgreSQL's 63-byte
    ``application_name``, where other instances look for it (``store.leases.GONE``)."""
    host = socket.gethostname().encode("ascii", "replace").decode()[:40]
    return f"{host}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass
class ServiceOptions:
    feeds_path: str
    keywords_path: str
    state_dir: Path
    settings: Settings = field(default_factory=Settings)
    """The environment, read once by the caller (``Settings.from_env()``)."""
    http: str | None = DEFAULT_HTTP
    """``host:port`` for /healthz and /metrics; None or empty disables it."""
    reload_every: float = 2.0
    digest_every: float = 30.0
    outbox_idle: float = 30.0
    shutdown_grace: float = 7.0
    health_time: str = "09:00"
    health_timezone: str = "Europe/Brussels"
    console: TextIO | None = None
    bot: bool = True
    http_limits: HttpLimits = field(default_factory=HttpLimits)
    requests_every: float = 1.0
    """How often to look for ``monitor poll`` / ``monitor deliver`` requests (seconds)."""
    database_url: str | None = None
    """``--database``: a ``postgresql://`` URL; None: ``settings.database_url``
    (``MONITOR_DATABASE_URL``), else SQLite."""
    clock: Clock = utcnow
    instance: str = field(default_factory=default_instance)
    lease: timedelta | None = None
    """``--lease``: how long a claimed feed or outbox row stays this instance's on
    PostgreSQL (None: five minutes, or three fetch timeouts if longer)."""
    elect_every: float = 5.0
    """How often an instance that does not run the Telegram bot asks whether it may (the
    leader's process may have died)."""
