"""Transports chosen from the settings (the environment), and the outbox worker built on them.

Secrets come only from the environment: ``TELEGRAM_BOT_TOKEN`` (else alerts go to the
console) and ``SMTP_*`` (else e-mails are written as ``.eml`` files under
``state/outbox/``), so a newcomer sees what would be sent without any credential.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from monitor.deliver.base import Sender
from monitor.deliver.console import ConsoleSender
from monitor.deliver.email import EmlFileSender, SmtpSender
from monitor.deliver.telegram import FloodLimiter, TelegramSender
from monitor.pipeline.build import Configs, feed_names, watchlist_titles
from monitor.pipeline.deliver import Deliverer
from monitor.settings import Settings
from monitor.store import Store

DEFAULT_TELEGRAM_API = "https://api.telegram.org"


def build_senders(
    state_dir: Path,
    settings: Settings,
    console: TextIO | None = None,
    limiter: FloodLimiter | None = None,
) -> dict[str, Sender]:
    """One transport per channel, from the settings (the environment).

    Raises:
        ConfigError: an ``SMTP_*`` variable has a bad value.
    """
    senders: dict[str, Sender] = {}
    if settings.telegram_token is not None:
        api = settings.telegram_api_url or DEFAULT_TELEGRAM_API
        token = settings.telegram_token.reveal()
        senders["telegram"] = TelegramSender(token, api_url=api, limiter=limiter)
    else:
        senders["telegram"] = ConsoleSender(console)
    smtp = settings.smtp()
    if smtp is not None:
        senders["email"] = SmtpSender(smtp)
    else:
        senders["email"] = EmlFileSender(state_dir / "outbox")
    return senders


def describe_senders(senders: Mapping[str, Sender]) -> dict[str, str]:
    out = {}
    for channel, sender in senders.items():
        if isinstance(sender, ConsoleSender | EmlFileSender):
            out[channel] = sender.via
        else:
            out[channel] = type(sender).__name__
    return out


def build_deliverer(
    cfg: Configs,
    store: Store,
    *,
    settings: Settings,
    console: TextIO | None = None,
    limiter: FloodLimiter | None = None,
    **kwargs: Any,
) -> Deliverer:
    """The outbox worker of ``cfg``, its transports chosen by ``settings``.

    Raises:
        ConfigError: an ``SMTP_*`` variable or ``MAIL_FROM`` has a bad value.
    """
    return Deliverer(
        store=store,
        senders=build_senders(store.state_dir, settings, console, limiter),
        feed_names=feed_names(cfg.feeds),
        watchlist_titles=watchlist_titles(cfg.keywords),
        watchlist_priorities={k: w.priority for k, w in cfg.keywords.watchlists.items()},
        public_url=settings.public_url,
        secret=settings.secret.reveal() if settings.secret else None,
        destinations=cfg.keywords.destinations,
        watchlists=cfg.keywords.watchlists,
        mail_from=settings.checked_mail_from(),
        **kwargs,
    )
