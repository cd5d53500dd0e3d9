"""Transports chosen from the environment, and the outbox worker built on them.

Secrets come only from the environment: ``TELEGRAM_BOT_TOKEN`` (else alerts go to the
console) and ``SMTP_*`` (else e-mails are written as ``.eml`` files under
``state/outbox/``), so a newcomer sees what would be sent without any credential.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from monitor.deliver.base import Sender
from monitor.deliver.console import ConsoleSender
from monitor.deliver.email import EmlFileSender, SmtpSender, SmtpSettings, mail_from_env
from monitor.deliver.telegram import FloodLimiter, TelegramSender
from monitor.pipeline.build import Configs, feed_names, watchlist_titles
from monitor.pipeline.deliver import Deliverer
from monitor.store import Store

DEFAULT_TELEGRAM_API = "https://api.telegram.org"


def build_senders(
    state_dir: Path,
    environ: Mapping[str, str] | None = None,
    console: TextIO | None = None,
    limiter: FloodLimiter | None = None,
) -> dict[str, Sender]:
    """One transport per channel, from the environment.

    Raises:
        ConfigError: an ``SMTP_*`` variable has a bad value.
    """
    env = os.environ if environ is None else environ
    senders: dict[str, Sender] = {}
    token = env.get("TELEGRAM_BOT_TOKEN", "").strip()
    if token:
        api = env.get("TELEGRAM_API_URL", "").strip() or DEFAULT_TELEGRAM_API
        senders["telegram"] = TelegramSender(token, api_url=api, limiter=limiter)
    else:
        senders["telegram"] = ConsoleSender(console)
    smtp = SmtpSettings.from_env(env)
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
    environ: Mapping[str, str] | None = None,
    console: TextIO | None = None,
    limiter: FloodLimiter | None = None,
    **kwargs: Any,
) -> Deliverer:
    env = os.environ if environ is None else environ
    return Deliverer(
        store=store,
        senders=build_senders(store.state_dir, env, console, limiter),
        feed_names=feed_names(cfg.feeds),
        watchlist_titles=watchlist_titles(cfg.keywords),
        watchlist_priorities={k: w.priority for k, w in cfg.keywords.watchlists.items()},
        public_url=env.get("MONITOR_PUBLIC_URL", "").strip() or None,
        secret=env.get("MONITOR_SECRET", "").strip() or None,
        destinations=cfg.keywords.destinations,
        watchlists=cfg.keywords.watchlists,
        mail_from=mail_from_env(env),
        **kwargs,
    )
