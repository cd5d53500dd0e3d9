"""The process settings: every environment variable monitor reads, read once.

``Settings.from_env()`` is called at the entry point (``monitor.cli.main``) and the result
is passed down; no other module reads ``os.environ`` (``tests/test_settings.py`` keeps it
so).  Secrets are :class:`Secret` values: their ``repr`` and ``str`` are ``'***'``, so a
logged or printed ``Settings`` never shows one; ``.reveal()`` gives the value to the one
place that needs it (a sender, the bot, the log redaction filter).

Values are kept as given, not validated here, so that a bad ``SMTP_PORT`` fails the commands
that send e-mail (as it always has) and not ``monitor check``: ``smtp()`` and
``admin_ids()`` raise :class:`~monitor.errors.ConfigError` naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from monitor.deliver.email import SmtpSettings

DEFAULT_HTTP = "127.0.0.1:9108"
PURE_MATCH_ENV = "MONITOR_MATCH_PURE"


def pure_match(environ: Mapping[str, str] | None = None) -> bool:
    """``MONITOR_MATCH_PURE`` set (to anything but ``0``): the pure-Python matcher and
    ``html_to_text`` even where the compiled ones are built (``monitor.speedups``).

    Read at import by ``monitor.speedups`` rather than through ``Settings``: it picks
    which code computes the same results, and the processes that turn HTML into text
    (the parser's, the tests', the benchmarks') never build ``Settings``.
    """
    env = os.environ if environ is None else environ
    return env.get(PURE_MATCH_ENV, "").strip() not in ("", "0")


@dataclass(frozen=True, slots=True)
class Secret:
    """A secret string that never shows itself in ``repr``, ``str`` or f-strings."""

    _value: str = field(repr=False)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __bool__(self) -> bool:
        return bool(self._value)


def _secret(environ: Mapping[str, str], key: str) -> Secret | None:
    value = environ.get(key, "").strip()
    return Secret(value) if value else None


def _text(environ: Mapping[str, str], key: str) -> str | None:
    return environ.get(key, "").strip() or None


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything monitor takes from the environment (see the README's Environment table)."""

    feeds_path: str = "feeds.yaml"
    keywords_path: str = "keywords.yaml"
    state_dir: Path = Path("state")
    http: str = DEFAULT_HTTP
    """``MONITOR_HTTP``: ``host:port`` of the dashboard, /healthz and /metrics; '' is off."""
    log_format: str = "text"
    database_url: Secret | None = None
    """``MONITOR_DATABASE_URL`` (a PostgreSQL URL may carry a password)."""
    telegram_token: Secret | None = None
    telegram_api_url: str | None = None
    telegram_admin_ids: str = ""
    """``TELEGRAM_ADMIN_IDS`` as written; :meth:`admin_ids` parses it."""
    telegram_admin_chat: str = ""
    smtp_host: str | None = None
    smtp_port: str = ""
    smtp_security: str = ""
    smtp_username: Secret | None = None
    smtp_password: Secret | None = None
    mail_from: str | None = None
    web_token: Secret | None = None
    public_url: str | None = None
    secret: Secret | None = None
    """``MONITOR_SECRET``: signs the unsubscribe links."""
    no_color: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the environment (``os.environ`` when None) once."""
        env = os.environ if environ is None else environ
        return cls(
            feeds_path=env.get("MONITOR_FEEDS") or "feeds.yaml",
            keywords_path=env.get("MONITOR_KEYWORDS") or "keywords.yaml",
            state_dir=Path(env.get("MONITOR_STATE_DIR") or "state"),
            http=env.get("MONITOR_HTTP", DEFAULT_HTTP),
            log_format=env.get("MONITOR_LOG_FORMAT") or "text",
            database_url=_secret(env, "MONITOR_DATABASE_URL"),
            telegram_token=_secret(env, "TELEGRAM_BOT_TOKEN"),
            telegram_api_url=_text(env, "TELEGRAM_API_URL"),
            telegram_admin_ids=env.get("TELEGRAM_ADMIN_IDS", ""),
            telegram_admin_chat=env.get("TELEGRAM_ADMIN_CHAT", ""),
            smtp_host=_text(env, "SMTP_HOST"),
            smtp_port=env.get("SMTP_PORT", ""),
            smtp_security=env.get("SMTP_SECURITY", ""),
            # not stripped: a password may end in a space
            smtp_username=Secret(v) if (v := env.get("SMTP_USERNAME")) else None,
            smtp_password=Secret(v) if (v := env.get("SMTP_PASSWORD")) else None,
            mail_from=_text(env, "MAIL_FROM"),
            web_token=_secret(env, "MONITOR_WEB_TOKEN"),
            public_url=_text(env, "MONITOR_PUBLIC_URL"),
            secret=_secret(env, "MONITOR_SECRET"),
            no_color=bool(env.get("NO_COLOR")),
        )

    def smtp(self) -> SmtpSettings | None:
        """The SMTP server to send through; None without ``SMTP_HOST`` (write ``.eml`` files).

        Raises:
            ConfigError: an ``SMTP_*`` variable or ``MAIL_FROM`` is invalid (named).
        """
        from monitor.deliver.email import SmtpSettings

        return SmtpSettings.from_env(self._smtp_env())

    def checked_mail_from(self) -> str:
        """``MAIL_FROM`` checked, or the default sender of ``.eml`` files.

        Raises:
            ConfigError: ``MAIL_FROM`` is not an e-mail address.
        """
        from monitor.deliver.email import mail_from_env

        return mail_from_env(self._smtp_env())

    def _smtp_env(self) -> dict[str, str]:
        env = {
            "SMTP_HOST": self.smtp_host or "",
            "SMTP_PORT": self.smtp_port,
            "SMTP_SECURITY": self.smtp_security,
            "MAIL_FROM": self.mail_from or "",
        }
        if self.smtp_username is not None:
            env["SMTP_USERNAME"] = self.smtp_username.reveal()
        if self.smtp_password is not None:
            env["SMTP_PASSWORD"] = self.smtp_password.reveal()
        return env

    def admin_ids(self) -> frozenset[int]:
        """The numeric user ids in ``TELEGRAM_ADMIN_IDS``.

        Raises:
            ConfigError: an entry is not a numeric Telegram user id.
        """
        from monitor.service.bot import admin_ids_from_env

        return admin_ids_from_env({"TELEGRAM_ADMIN_IDS": self.telegram_admin_ids})

    def admin_chats(self) -> list[str]:
        """Where admin notices go: ``TELEGRAM_ADMIN_CHAT``, else the ``TELEGRAM_ADMIN_IDS``."""
        for raw in (self.telegram_admin_chat, self.telegram_admin_ids):
            chats = [c.strip() for c in raw.split(",") if c.strip()]
            if chats:
                return chats
        return []

    def secret_values(self) -> list[str]:
        """The secrets that logs must never show (``RedactSecrets``); short ones are left
        out, they would blank ordinary words."""
        secrets = (self.telegram_token, self.smtp_password, self.smtp_username)
        return [s.reveal() for s in secrets if s is not None and len(s.reveal()) >= 4]


def cache_home() -> Path:
    """``$XDG_CACHE_HOME`` or ``~/.cache``, for caches built deep in the matcher, which
    no ``Settings`` reaches (a platform convention, not a monitor setting)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base)
