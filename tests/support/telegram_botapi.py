"""The Bot API methods of the local server, and how a request becomes an answer.

A mixin of :class:`tests.support.telegram_server.TelegramServer`, which owns the state
declared below and the HTTP plumbing; split out to keep each module readable.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from typing import Any
from urllib.parse import urlsplit

from tests.support.telegram_html import (
    EntityParseError,
    Parsed,
    parse_html,
    strip_message,
    utf16_len,
)
from tests.support.telegram_types import (
    ADMIN_RIGHTS,
    MAX_TEXT,
    NOT_MODIFIED,
    ApiCall,
    ApiError,
    Chat,
    Drop,
    Fault,
    FloodLimits,
    SentMessage,
    scope_key,
)


class BotApiMethods:
    """Answers Bot API calls from the server's state (every access under ``_lock``)."""

    token: str
    flood: FloodLimits | None
    bot: dict[str, Any]
    calls: list[ApiCall]
    commands: dict[str, list[dict[str, str]]]
    webhook_url: str
    _lock: threading.RLock
    _updates_changed: threading.Condition
    _stop: threading.Event
    _chats: dict[int, Chat]
    _history: dict[int, list[SentMessage]]
    _faults: list[Fault]
    _sends: dict[int, deque[float]]
    _all_sends: deque[float]
    _updates: list[dict[str, Any]]
    _poller: int
    callback_answers: dict[str, dict[str, Any]]
    _queries: dict[str, dict[str, Any]]

    def _resolve(self, ref: Any) -> Chat | None:
        text = str(ref).strip()
        if text.startswith("@"):
            name = text[1:].lower()
            return next(
                (
                    c
                    for c in self._chats.values()
                    if c.type != "private" and (c.username or "").lower() == name
                ),
                None,
            )
        try:
            return self._chats.get(int(text))
        except ValueError:
            return None

    # -- request handling (handler threads) ----------------------------------------
    def _handle(self, path: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        at, wall = time.monotonic(), time.time()
        method = urlsplit(path).path.rsplit("/", 1)[-1]
        try:
            result = self._route(path, params)
            status, body, description = 200, {"ok": True, "result": result}, None
        except ApiError as err:
            status, description = err.code, err.description
            body = {"ok": False, "error_code": err.code, "description": err.description}
            if err.parameters:
                body["parameters"] = err.parameters
        except Drop:
            self._record(ApiCall(method, params, at, wall, 0, "connection dropped"))
            raise
        self._record(ApiCall(method, params, at, wall, status, description))
        return status, body

    def _record(self, call: ApiCall) -> None:
        with self._lock:
            self.calls.append(call)

    def _route(self, path: str, params: dict[str, Any]) -> Any:
        parts = urlsplit(path).path.split("/")
        if len(parts) != 3 or not parts[1].startswith("bot"):
            raise ApiError(404, "Not Found")
        if parts[1][3:] != self.token:
            raise ApiError(401, "Unauthorized")
        method = parts[2]
        handler = getattr(self, f"_api_{method.lower()}", None)
        if handler is None:
            raise ApiError(404, "Not Found")
        self._apply_faults(method, params)
        return handler(params)

    def _apply_faults(self, method: str, params: dict[str, Any]) -> None:
        with self._lock:
            chat = self._resolve(params["chat_id"]) if "chat_id" in params else None
            for fault in self._faults:
                if fault.methods is not None and method.lower() not in fault.methods:
                    continue
                if fault.chat is not None and (chat is None or chat.id != fault.chat):
                    continue
                if fault.remaining is not None:
                    if fault.remaining <= 0:
                        continue
                    fault.remaining -= 1
                fault.hits += 1
                if fault.drop:
                    raise Drop
                raise ApiError(fault.status, fault.description, fault.parameters)

    def _target(self, params: dict[str, Any]) -> Chat:
        if params.get("chat_id") in (None, ""):
            raise ApiError(400, "Bad Request: chat_id is empty")
        chat = self._resolve(params["chat_id"])
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        if chat.status == "blocked":
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if chat.status in ("kicked", "left"):
            kind = {"channel": "channel", "group": "group"}.get(chat.type, "supergroup")
            raise ApiError(403, f"Forbidden: bot was kicked from the {kind} chat")
        return chat

    def _parse_text(self, params: dict[str, Any]) -> tuple[Parsed, str | None]:
        source = str(params.get("text") or "")
        mode = params.get("parse_mode")
        if not mode:
            parsed = Parsed(source, ())
        elif str(mode).lower() == "html":
            try:
                parsed = parse_html(source)
            except EntityParseError as err:
                raise ApiError(400, f"Bad Request: can't parse entities: {err}") from err
        else:
            # Only HTML is implemented here; say so rather than pretend.
            raise ApiError(400, "Bad Request: unsupported parse_mode (test server: HTML only)")
        parsed = strip_message(parsed)
        if not parsed.text:
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(parsed.text) > MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        return parsed, str(mode) if mode else None

    def _check_flood(self, chat: Chat, now: float) -> None:
        if self.flood is None:
            return
        per_chat = self.flood.private if chat.type == "private" else self.flood.group
        sends = self._sends.setdefault(chat.id, deque())
        for window, (limit, period) in ((sends, per_chat), (self._all_sends, self.flood.overall)):
            while window and now - window[0] >= period:
                window.popleft()
            if len(window) >= limit:
                wait = max(1, math.ceil(window[0] + period - now))
                raise ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})

    def _message_json(self, chat: Chat, m: SentMessage) -> dict[str, Any]:
        out: dict[str, Any] = {
            "message_id": m.message_id,
            "date": m.date,
            "chat": chat.to_json(),
            "text": m.text,
        }
        bot_user = {k: self.bot[k] for k in ("id", "is_bot", "first_name", "username")}
        if chat.type == "channel":
            out["sender_chat"] = chat.to_json()
        else:
            out["from"] = bot_user
        if m.entities:
            out["entities"] = [e.to_json() for e in m.entities]
        if m.edit_date is not None:
            out["edit_date"] = m.edit_date
        if m.link_preview_disabled:
            out["link_preview_options"] = {"is_disabled": True}
        if m.thread is not None:
            out["message_thread_id"] = m.thread
            out["is_topic_message"] = True
        if m.reply_markup:
            out["reply_markup"] = m.reply_markup
        return out

    def _topic_of(self, chat: Chat, params: dict[str, Any]) -> int | None:
        """The forum topic a message goes to, checked as Telegram does."""
        raw = params.get("message_thread_id")
        if raw in (None, ""):
            return None
        try:
            thread = int(raw)
        except (TypeError, ValueError):
            raise ApiError(400, "Bad Request: message thread not found") from None
        topic = chat.topics.get(thread)
        if not chat.is_forum or topic is None or topic.deleted:
            raise ApiError(400, "Bad Request: message thread not found")
        if topic.closed:
            raise ApiError(400, "Bad Request: TOPIC_CLOSED")
        return thread

    def _markup(self, params: dict[str, Any]) -> dict[str, Any] | None:
        """An inline keyboard, checked against the Bot API's rules."""
        markup = params.get("reply_markup")
        if markup in (None, ""):
            return None
        rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        buttons = [b for row in rows for b in row]
        if len(buttons) > 100:
            raise ApiError(400, "Bad Request: reply markup is too long")
        for button in buttons:
            if not str(button.get("text") or "").strip():
                raise ApiError(400, "Bad Request: inline keyboard button text is empty")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return dict(markup)

    # -- Bot API methods -------------------------------------------------------------
    def _api_getme(self, params: dict[str, Any]) -> Any:
        return dict(self.bot)

    def _api_sendmessage(self, params: dict[str, Any]) -> Any:
        chat = self._target(params)
        parsed, mode = self._parse_text(params)
        thread = self._topic_of(chat, params)
        markup = self._markup(params)
        preview = params.get("link_preview_options") or {}
        disabled = bool(preview.get("is_disabled") if isinstance(preview, dict) else False)
        disabled = disabled or params.get("disable_web_page_preview") in (True, "true")
        with self._lock:
            now = time.monotonic()
            self._check_flood(chat, now)
            self._sends.setdefault(chat.id, deque()).append(now)
            self._all_sends.append(now)
            history = self._history.setdefault(chat.id, [])
            m = SentMessage(
                len(history) + 1,
                chat.id,
                parsed.text,
                parsed.entities,
                str(params["text"]),
                mode,
                int(time.time()),
                disabled,
                thread=thread,
                silent=params.get("disable_notification") in (True, "true"),
                reply_markup=markup,
                link_preview=preview if isinstance(preview, dict) else None,
            )
            history.append(m)
            return self._message_json(chat, m)

    def _find(self, chat: Chat, params: dict[str, Any], missing: str) -> SentMessage:
        try:
            message_id = int(params.get("message_id") or 0)
        except (TypeError, ValueError):
            raise ApiError(400, "Bad Request: message identifier is not specified") from None
        for m in self._history.get(chat.id, []):
            if m.message_id == message_id and not m.deleted:
                return m
        raise ApiError(400, f"Bad Request: {missing}")

    def _api_editmessagetext(self, params: dict[str, Any]) -> Any:
        chat = self._target(params)
        with self._lock:
            m = self._find(chat, params, "message to edit not found")
            parsed, mode = self._parse_text(params)
            markup = self._markup(params)
            if (parsed.text, parsed.entities, markup) == (m.text, m.entities, m.reply_markup):
                raise ApiError(400, NOT_MODIFIED)
            m.reply_markup = markup  # an edit without reply_markup removes the keyboard
            m.text, m.entities, m.source, m.parse_mode = (
                parsed.text,
                parsed.entities,
                str(params["text"]),
                mode,
            )
            m.edit_date = int(time.time())
            m.edits += 1
            return self._message_json(chat, m)

    def _api_deletemessage(self, params: dict[str, Any]) -> Any:
        chat = self._target(params)
        with self._lock:
            self._find(chat, params, "message to delete not found").deleted = True
        return True

    def _api_sendchataction(self, params: dict[str, Any]) -> Any:
        self._target(params)
        return True

    def _api_getchat(self, params: dict[str, Any]) -> Any:
        chat = self._target(params)
        gifts = dict.fromkeys(
            (
                "unlimited_gifts",
                "limited_gifts",
                "unique_gifts",
                "premium_subscription",
                "gifts_from_channels",
            ),
            False,
        )
        return {
            **chat.to_json(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": gifts,
        }

    def _api_getupdates(self, params: dict[str, Any]) -> Any:
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        with self._lock:
            if self.webhook_url:
                raise ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is "
                    "active; use deleteWebhook to delete the webhook first",
                )
            self._poller += 1
            me = self._poller
            self._updates_changed.notify_all()
            if offset > 0:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            while True:
                if me != self._poller:
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; "
                        "make sure that only one bot instance is running",
                    )
                ready = self._updates[offset:] if offset < 0 else self._updates
                left = deadline - time.monotonic()
                if ready or left <= 0 or self._stop.is_set():
                    return [dict(u) for u in ready[:limit]]
                self._updates_changed.wait(left)

    def _api_answercallbackquery(self, params: dict[str, Any]) -> Any:
        query_id = str(params.get("callback_query_id") or "")
        text = str(params.get("text") or "")
        if len(text) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        with self._lock:
            if query_id not in self._queries or query_id in self.callback_answers:
                raise ApiError(
                    400,
                    "Bad Request: query is too old and response timeout expired or "
                    "query ID is invalid",
                )
            self.callback_answers[query_id] = dict(params)
        return True

    def _api_getchatmember(self, params: dict[str, Any]) -> Any:
        chat = self._target(params)
        try:
            user_id = int(params.get("user_id") or 0)
        except (TypeError, ValueError):
            raise ApiError(400, "Bad Request: invalid user_id specified") from None
        with self._lock:
            user = self._chats.get(user_id)
            if user is None or user.type != "private":
                raise ApiError(400, "Bad Request: user not found")
            status = "administrator" if user_id in chat.admins else "member"
            out: dict[str, Any] = {"status": status, "user": user.user_json()}
            if status == "administrator":
                out.update(ADMIN_RIGHTS)
            return out

    def _api_deletewebhook(self, params: dict[str, Any]) -> Any:
        with self._lock:
            self.webhook_url = ""
            if params.get("drop_pending_updates") in (True, "true"):
                self._updates.clear()
        return True

    def _api_getwebhookinfo(self, params: dict[str, Any]) -> Any:
        with self._lock:
            return {
                "url": self.webhook_url,
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }

    def _api_setmycommands(self, params: dict[str, Any]) -> Any:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, 'Bad Request: parameter "commands" is required')
        for command in commands:
            name = str(command.get("command", ""))
            if not (1 <= len(name) <= 32) or not all(
                c.islower() or c.isdigit() or c == "_" for c in name
            ):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        with self._lock:
            self.commands[scope_key(params)] = [
                {"command": str(c["command"]), "description": str(c["description"])}
                for c in commands
            ]
        return True

    def _api_getmycommands(self, params: dict[str, Any]) -> Any:
        with self._lock:
            return list(self.commands.get(scope_key(params), []))

    def _api_deletemycommands(self, params: dict[str, Any]) -> Any:
        with self._lock:
            self.commands.pop(scope_key(params), None)
        return True
