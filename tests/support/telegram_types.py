"""Values of the local Bot API server: chats, sent messages, recorded calls, faults.

Split from ``telegram_server`` so that the server module holds behaviour only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl

from tests.support.telegram_html import Entity, entity_texts

ChatType = Literal["private", "group", "supergroup", "channel"]
MAX_TEXT = 4096
SEND_METHODS = frozenset({"sendmessage", "editmessagetext"})
JSON_PARAMS = frozenset(
    {
        "link_preview_options",
        "reply_markup",
        "entities",
        "commands",
        "scope",
        "allowed_updates",
        "reply_parameters",
    }
)
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


class ApiError(Exception):
    """An error answer: HTTP status = ``error_code``."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


class Drop(Exception):
    """Close the connection without answering."""


@dataclass
class Chat:
    """A chat the bot knows; for a private chat ``id`` is the user's id."""

    id: int
    type: ChatType
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    status: Literal["member", "administrator", "kicked", "left", "blocked"] = "administrator"
    is_forum: bool = False
    topics: dict[int, Topic] = field(default_factory=dict)
    """Forum topics by ``message_thread_id``."""
    admins: set[int] = field(default_factory=set)
    """User ids that ``getChatMember`` reports as administrators."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "type": self.type}
        for key in ("title", "username", "first_name"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.is_forum:
            out["is_forum"] = True
        return out

    def user_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "is_bot": False,
            "first_name": self.first_name or "User",
            "language_code": "en",
        }
        if self.username:
            out["username"] = self.username
        return out


@dataclass
class Topic:
    """A forum topic of a supergroup."""

    id: int
    name: str
    closed: bool = False
    deleted: bool = False


@dataclass
class SentMessage:
    """A message in a chat's history, as a reader sees it now."""

    message_id: int
    chat_id: int
    text: str
    """The text after entity parsing (what Telegram shows and counts)."""
    entities: tuple[Entity, ...]
    source: str
    """The ``text`` parameter exactly as the bot sent it."""
    parse_mode: str | None
    date: int
    link_preview_disabled: bool
    edit_date: int | None = None
    edits: int = 0
    deleted: bool = False
    thread: int | None = None
    """The forum topic (``message_thread_id``) it was posted in."""
    silent: bool = False
    """Sent with ``disable_notification``."""
    reply_markup: dict[str, Any] | None = None
    link_preview: dict[str, Any] | None = None
    """``link_preview_options`` as sent."""
    from_user: int | None = None
    """For a message a user wrote: their id."""

    def buttons(self) -> list[tuple[str, str]]:
        """The inline keyboard as ``(text, callback_data)`` pairs, row by row."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]

    def bold(self) -> list[str]:
        """The bold passages, decoded (a convenience for assertions)."""
        return entity_texts(self.text, self.entities, "bold")

    def links(self) -> list[str]:
        return [e.url for e in self.entities if e.type == "text_link" and e.url]


@dataclass(frozen=True)
class ApiCall:
    """One request: its method and parameters, when it came, and what was answered."""

    method: str
    params: dict[str, Any]
    at: float
    """``time.monotonic()`` when the request was received."""
    wall: float
    status: int
    """HTTP status answered; 0 when the connection was dropped."""
    description: str | None = None

    @property
    def chat_id(self) -> str | None:
        value = self.params.get("chat_id")
        return None if value is None else str(value)

    @property
    def text(self) -> str | None:
        value = self.params.get("text")
        return None if value is None else str(value)

    @property
    def parse_mode(self) -> str | None:
        value = self.params.get("parse_mode")
        return None if value is None else str(value)

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass
class Fault:
    """A programmed failure; ``remaining`` counts down (None: until cleared)."""

    status: int
    description: str
    parameters: dict[str, Any] | None = None
    drop: bool = False
    chat: int | None = None
    methods: frozenset[str] | None = SEND_METHODS
    remaining: int | None = 1
    hits: int = 0


@dataclass(frozen=True)
class FloodLimits:
    """Sliding windows (count, seconds); defaults are Telegram's published limits."""

    overall: tuple[int, float] = (30, 1.0)
    group: tuple[int, float] = (20, 60.0)
    """Groups, supergroups and channels."""
    private: tuple[int, float] = (1, 1.0)


def max_in_window(times: Iterable[float], period: float) -> int:
    """The largest number of ``times`` that fall within any window of ``period`` seconds."""
    ordered = sorted(times)
    best = 0
    start = 0
    for end, t in enumerate(ordered):
        while t - ordered[start] >= period:
            start += 1
        best = max(best, end - start + 1)
    return best


ADMIN_RIGHTS = dict.fromkeys(
    (
        "can_be_edited",
        "is_anonymous",
        "can_manage_chat",
        "can_delete_messages",
        "can_manage_video_chats",
        "can_restrict_members",
        "can_promote_members",
        "can_change_info",
        "can_invite_users",
        "can_post_stories",
        "can_edit_stories",
        "can_delete_stories",
    ),
    False,
) | {"can_post_messages": True}


def scope_key(params: dict[str, Any]) -> str:
    scope = params.get("scope") or {"type": "default"}
    return json.dumps(scope, sort_keys=True) + "|" + str(params.get("language_code") or "")


def decode_params(query: str, body: bytes, content_type: str) -> dict[str, Any]:
    """Query string, form or JSON body, as the Bot API accepts them."""
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    if "json" in content_type:
        loaded = json.loads(body or b"{}")
        if not isinstance(loaded, dict):
            raise ApiError(400, "Bad Request: request body must be a JSON object")
        params.update(loaded)
        return params
    if "multipart" in content_type:
        raise ApiError(400, "Bad Request: multipart bodies are not supported by the test server")
    params.update(parse_qsl(body.decode("utf-8", "surrogateescape"), keep_blank_values=True))
    # python-telegram-bot form-encodes objects as JSON strings.
    for key in JSON_PARAMS & params.keys():
        if isinstance(params[key], str):
            try:
                params[key] = json.loads(params[key])
            except json.JSONDecodeError:
                raise ApiError(400, f"Bad Request: can't parse {key} JSON object") from None
    return params
