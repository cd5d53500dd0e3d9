"""Why an article matched, as plain text for the "Why?" button of a Telegram alert.

Built from the stored matches (the terms, the fields they were found in and the
snippets around them), so a button pressed days later says what matching said then.
The short form fits a callback popup (200 characters); the long one is sent as a
reply when it does not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from monitor.models import Button, Match, Snippet

POPUP_CHARS = 200
"""Telegram's limit for ``answerCallbackQuery`` text."""
CALLBACK_PREFIX = "why:"
MAX_BUTTONS = 10
"""Most "Why?" buttons on one message: a burst is split so every item keeps one."""
LABEL_CHARS = 40
SNIPPETS_SHOWN = 3


def why_button(outbox_id: int, title: str | None = None) -> Button:
    """The "Why?" button of one alert item (``title`` when the message has several)."""
    label = "Why?"
    if title:
        short = " ".join(title.split())
        if len(short) > LABEL_CHARS:
            short = short[: LABEL_CHARS - 1].rstrip() + "…"
        label = f"Why? {short}"
    return Button(label, f"{CALLBACK_PREFIX}{outbox_id}")


def outbox_id_of(data: str) -> int | None:
    """The outbox row a callback's data names; None when it is not a "Why?" button."""
    if not data.startswith(CALLBACK_PREFIX):
        return None
    rest = data[len(CALLBACK_PREFIX) :]
    return int(rest) if rest.isdigit() and len(rest) < 19 else None


def _quoted(snippet: Snippet) -> str:
    return " ".join(snippet.marked("«", "»").split())


def summary_lines(matches: Sequence[Match], titles: Mapping[str, str]) -> list[str]:
    """One line per watchlist: its title and each distinct term with its fields."""
    lines = []
    for match in matches:
        fields: dict[str, list[str]] = {}
        for hit in match.hits:
            where = fields.setdefault(hit.term, [])
            if hit.field not in where:
                where.append(hit.field)
        terms = "; ".join(f"“{term}” in {', '.join(where)}" for term, where in fields.items())
        lines.append(f"{titles.get(match.watchlist, match.watchlist)}: {terms or 'matched'}")
    return lines


def explanation(matches: Sequence[Match], titles: Mapping[str, str]) -> str:
    """The full explanation: the summary, then the snippets around the hits."""
    lines = ["Why this alert:", *summary_lines(matches, titles)]
    seen: set[str] = set()
    for match in matches:
        for hit in match.hits:
            text = _quoted(hit.snippet) if hit.snippet.text.strip() else ""
            if text and text not in seen and len(seen) < SNIPPETS_SHOWN:
                seen.add(text)
                lines.append(f"{hit.field}: {text}")
    return "\n".join(lines)


def popup(matches: Sequence[Match], titles: Mapping[str, str]) -> str | None:
    """The summary if it fits a callback popup, else None (send :func:`explanation`)."""
    text = "\n".join(summary_lines(matches, titles))
    return text if 0 < len(text) <= POPUP_CHARS else None
