"""A local Telegram Bot API server on 127.0.0.1 for tests and demos.

It answers python-telegram-bot (``Bot(token, base_url=server.bot_url)``, or monitor's
sender with ``TELEGRAM_API_URL=server.base_url``) like api.telegram.org does, and
enforces the rules that bite real bots: Telegram's HTML subset (see ``telegram_html``),
4096 UTF-16 code units after entity parsing, chats that do not exist, bots kicked from
channels or blocked by users, and (optionally) the flood limits.

Usage::

    with TelegramServer() as server:                 # or the ``telegram_server`` fixture
        channel = server.add_channel("@eu_ai_watch")
        user = server.add_user("Ada")
        ...                                           # send through the real client
        server.messages("@eu_ai_watch")[-1].text      # what a reader sees (entities parsed)
        server.rate_limit(7, chat=channel)            # next sendMessage there: 429, retry 7 s
        server.kick(channel)                          # 403 from now on (+ my_chat_member update)
        server.user_message(user, "/subscribe ai-act")  # for getUpdates long polling

Methods: ``getMe``, ``sendMessage``, ``editMessageText``, ``deleteMessage``,
``sendChatAction``, ``getChat``, ``getUpdates`` (long polling, offsets, 409 when a
second poller arrives), ``setMyCommands``/``getMyCommands``/``deleteMyCommands``,
``deleteWebhook``, ``getWebhookInfo``.  Error bodies are exactly
``{"ok": false, "error_code": N, "description": "...", "parameters": {...}}`` (the
``parameters`` key only when Telegram sends one, i.e. with ``retry_after``).

Faults (:meth:`fail` and its shortcuts) apply to sending methods by default, for one
chat or any, for the next ``times`` calls (``None``: until :meth:`clear_faults`).
``flood=FloodLimits(...)`` answers 429 when a sliding window is exceeded; the defaults
are Telegram's published limits, tests pass small windows.  :meth:`slow` makes sending
methods answer late (a backlog held back by Telegram, a hung connection); a request
whose client hangs up while it waits is never handled, as if it had not arrived.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from tests.support.httpbase import OwnedServer, TrackedHandler
from tests.support.telegram_botapi import BotApiMethods
from tests.support.telegram_html import utf16_len
from tests.support.telegram_types import (
    ADMIN_RIGHTS,
    ApiCall,
    ApiError,
    Chat,
    ChatType,
    Drop,
    Fault,
    FloodLimits,
    SentMessage,
    Topic,
    decode_params,
    max_in_window,
)

__all__ = ["ApiCall", "Chat", "FloodLimits", "SentMessage", "TelegramServer", "max_in_window"]


@dataclass
class Slowness:
    """Calls of ``methods`` wait ``seconds`` before they are handled; ``remaining`` counts
    down (None: until :meth:`TelegramServer.clear_faults`)."""

    seconds: float
    methods: frozenset[str]
    remaining: int | None = None
    hits: int = 0


class TelegramServer(BotApiMethods):
    """A threaded Bot API server on 127.0.0.1 (see the module docstring)."""

    def __init__(
        self,
        token: str = "123456789:TEST-token-for-local-server",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        flood: FloodLimits | None = None,
        bot_username: str = "monitor_test_bot",
    ) -> None:
        self.token = token
        self.flood = flood
        self.bot = {
            "id": int(token.split(":")[0]) if token.split(":")[0].isdigit() else 1,
            "is_bot": True,
            "first_name": "monitor",
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self.calls: list[ApiCall] = []
        self.commands: dict[str, list[dict[str, str]]] = {}
        self.webhook_url = ""
        self._lock = threading.RLock()
        self._updates_changed = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._chats: dict[int, Chat] = {}
        self._history: dict[int, list[SentMessage]] = {}
        self._faults: list[Fault] = []
        self._slow: list[Slowness] = []
        self._sends: dict[int, deque[float]] = {}
        self._all_sends: deque[float] = deque()
        self._updates: list[dict[str, Any]] = []
        self.callback_answers: dict[str, dict[str, Any]] = {}
        """``answerCallbackQuery`` parameters by callback query id."""
        self._queries: dict[str, dict[str, Any]] = {}
        self._next_update = 1
        self._poller = 0
        self._next_id = {"private": 1000, "group": 4000, "channel": 1_001_000_000_000}
        self._sockets: set[socket.socket] = set()
        self._httpd = OwnedServer((host, port), _Handler, owner=self, backlog=256)
        self.host = host
        self.port: int = self._httpd.server_address[1]
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------
    def start(self) -> TelegramServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"telegram-server:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Wake long polls, close every connection, join the threads."""
        self._stop.set()
        with self._lock:
            self._updates_changed.notify_all()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(5)
            self._thread = None
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()

    def __enter__(self) -> TelegramServer:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """What ``TELEGRAM_API_URL`` is set to: ``http://127.0.0.1:PORT``."""
        return f"http://{self.host}:{self.port}"

    @property
    def bot_url(self) -> str:
        """python-telegram-bot's ``base_url`` (the token is appended by the library)."""
        return self.base_url + "/bot"

    # -- chats ---------------------------------------------------------------------
    def add_channel(
        self,
        username: str | None = None,
        *,
        title: str | None = None,
        type: ChatType = "channel",
        id: int | None = None,
    ) -> Chat:
        """A channel (or ``type="supergroup"``/``"group"``) where the bot may post."""
        name = username.removeprefix("@") if username else None
        with self._lock:
            if id is None:
                key = "group" if type == "group" else "channel"
                self._next_id[key] += 1
                id = -self._next_id[key]
            chat = Chat(id, type, title=title or name or f"chat {id}", username=name)
            self._chats[id] = chat
        return chat

    def add_user(
        self, first_name: str = "Ada", *, username: str | None = None, id: int | None = None
    ) -> Chat:
        """A user who started the bot: a private chat whose id is the user's id."""
        with self._lock:
            if id is None:
                self._next_id["private"] += 1
                id = self._next_id["private"]
            chat = Chat(id, "private", username=username, first_name=first_name, status="member")
            self._chats[id] = chat
        return chat

    def add_forum(self, username: str | None = None, *, title: str | None = None) -> Chat:
        """A supergroup with forum topics (add them with :meth:`add_topic`)."""
        chat = self.add_channel(username, title=title, type="supergroup")
        with self._lock:
            chat.is_forum = True
        return chat

    def add_topic(self, chat: Chat | int | str, name: str) -> int:
        """A new forum topic; returns its ``message_thread_id``."""
        forum = self.chat(chat)
        with self._lock:
            history = self._history.setdefault(forum.id, [])
            # Like Telegram: the topic's id is the id of its "topic created" message.
            thread = len(history) + 1
            history.append(SentMessage(thread, forum.id, "", (), "", None, 0, False, deleted=True))
            forum.topics[thread] = Topic(thread, name)
        return thread

    def close_topic(self, chat: Chat | int | str, thread: int) -> None:
        with self._lock:
            self.chat(chat).topics[thread].closed = True

    def reopen_topic(self, chat: Chat | int | str, thread: int) -> None:
        with self._lock:
            self.chat(chat).topics[thread].closed = False

    def delete_topic(self, chat: Chat | int | str, thread: int) -> None:
        with self._lock:
            self.chat(chat).topics[thread].deleted = True

    def remove_chat(self, chat: Chat | int | str) -> None:
        """Forget a chat: the Bot API answers "chat not found" from now on."""
        with self._lock:
            self._chats.pop(self.chat(chat).id, None)

    def chat(self, ref: Chat | int | str) -> Chat:
        """Look a chat up by object, id, ``"-100..."`` or ``"@username"``; KeyError if unknown."""
        if isinstance(ref, Chat):
            return ref
        with self._lock:
            found = self._resolve(ref)
        if found is None:
            raise KeyError(ref)
        return found

    def kick(self, chat: Chat | int | str, *, notify: bool = True) -> None:
        """The bot is removed from a channel/group (or blocked by a private chat's user).

        Sending there answers 403 from now on; with ``notify`` a ``my_chat_member``
        update is queued, as Telegram does.
        """
        target = self.chat(chat)
        old = target.status
        with self._lock:
            target.status = "blocked" if target.type == "private" else "kicked"
        if notify:
            self.push_update({"my_chat_member": self._member_update(target, old, "kicked")})

    block = kick

    def _member_update(self, chat: Chat, old: str, new: str) -> dict[str, Any]:
        actor = {"id": 1, "is_bot": False, "first_name": "Admin"}
        if chat.type == "private":
            actor = chat.user_json()
        bot_user = {k: self.bot[k] for k in ("id", "is_bot", "first_name", "username")}
        status = {"blocked": "kicked"}.get(old, old)
        old_member: dict[str, Any] = {"status": status, "user": bot_user}
        if status == "administrator":
            old_member.update(ADMIN_RIGHTS)
        new_member: dict[str, Any] = {"status": new, "user": bot_user}
        if new == "kicked":
            new_member["until_date"] = 0
        return {
            "chat": chat.to_json(),
            "from": actor,
            "date": int(time.time()),
            "old_chat_member": old_member,
            "new_chat_member": new_member,
        }

    # -- faults --------------------------------------------------------------------
    def fail(
        self,
        status: int,
        description: str,
        *,
        chat: Chat | int | str | None = None,
        times: int | None = 1,
        methods: Iterable[str] | None = ("sendMessage", "editMessageText"),
        parameters: dict[str, Any] | None = None,
        drop: bool = False,
    ) -> Fault:
        """Answer the next ``times`` matching calls with this error (or drop them)."""
        chat_id = self.chat(chat).id if chat is not None else None
        fault = Fault(
            status,
            description,
            parameters,
            drop,
            chat_id,
            frozenset(m.lower() for m in methods) if methods is not None else None,
            times,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def rate_limit(
        self, retry_after: int, *, chat: Chat | int | str | None = None, times: int | None = 1
    ) -> Fault:
        """429 ``Too Many Requests: retry after N`` with ``parameters.retry_after``."""
        return self.fail(
            429,
            f"Too Many Requests: retry after {retry_after}",
            chat=chat,
            times=times,
            parameters={"retry_after": retry_after},
        )

    def server_error(
        self, status: int = 500, *, chat: Chat | int | str | None = None, times: int | None = 1
    ) -> Fault:
        text = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}.get(
            status, "Internal Server Error"
        )
        return self.fail(status, text, chat=chat, times=times)

    def drop_connection(
        self, *, chat: Chat | int | str | None = None, times: int | None = 1
    ) -> Fault:
        """Read the request, then close the connection without answering."""
        return self.fail(0, "connection dropped", chat=chat, times=times, drop=True)

    def slow(
        self,
        seconds: float,
        *,
        times: int | None = None,
        methods: Iterable[str] = ("sendMessage", "editMessageText"),
    ) -> Slowness:
        """Answer the next ``times`` calls of ``methods`` (None: every one, until
        :meth:`clear_faults`) only after ``seconds``; a call whose client hangs up
        meanwhile is dropped unhandled (its message never reaches the chat)."""
        slowness = Slowness(seconds, frozenset(m.lower() for m in methods), times)
        with self._lock:
            self._slow.append(slowness)
        return slowness

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._slow.clear()

    def _delay(self, path: str) -> float:
        method = urlsplit(path).path.rsplit("/", 1)[-1].lower()
        with self._lock:
            for slowness in self._slow:
                if method not in slowness.methods:
                    continue
                if slowness.remaining is not None:
                    if slowness.remaining <= 0:
                        continue
                    slowness.remaining -= 1
                slowness.hits += 1
                return slowness.seconds
        return 0.0

    def _wait(self, path: str, conn: socket.socket) -> bool:
        """Wait out the slowness of this call; False when the client hung up meanwhile."""
        end = time.monotonic() + self._delay(path)
        while (left := end - time.monotonic()) > 0 and not self._stop.is_set():
            readable, _, _ = select.select([conn], [], [], min(left, 0.05))
            try:
                if readable and not conn.recv(1, socket.MSG_PEEK):
                    return False  # EOF: the client is gone
            except OSError:
                return False
        return True

    # -- updates -------------------------------------------------------------------
    def push_update(self, payload: dict[str, Any]) -> int:
        """Queue an update for ``getUpdates``; returns its ``update_id``."""
        with self._lock:
            update_id = self._next_update
            self._next_update += 1
            self._updates.append({"update_id": update_id, **payload})
            self._updates_changed.notify_all()
        return update_id

    def user_message(
        self,
        user: Chat | int | str,
        text: str,
        *,
        chat: Chat | int | str | None = None,
        thread: int | None = None,
    ) -> int:
        """The user writes ``text`` to the bot in their private chat, or in a group
        ``chat`` (in its forum topic ``thread``); commands get entities."""
        author = self.chat(user)
        where = author if chat is None else self.chat(chat)
        with self._lock:
            history = self._history.setdefault(where.id, [])
            message_id = len(history) + 1
            history.append(
                SentMessage(
                    message_id,
                    where.id,
                    text,
                    (),
                    text,
                    None,
                    int(time.time()),
                    False,
                    thread=thread,
                    from_user=author.id,
                )
            )
            topic = where.topics.get(thread) if thread is not None else None
        message: dict[str, Any] = {
            "message_id": message_id,
            "from": author.user_json(),
            "chat": where.to_json(),
            "date": int(time.time()),
            "text": text,
        }
        if thread is not None:
            message["message_thread_id"] = thread
            message["is_topic_message"] = True
            message["reply_to_message"] = {
                "message_id": thread,
                "chat": where.to_json(),
                "date": int(time.time()),
                "message_thread_id": thread,
                "forum_topic_created": {
                    "name": topic.name if topic else "topic",
                    "icon_color": 7322096,
                },
            }
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_len(command)}
            ]
        return self.push_update({"message": message})

    def press(self, user: Chat | int | str, message: SentMessage, data: str) -> str:
        """The user taps an inline button of ``message``; returns the callback query id."""
        author = self.chat(user)
        chat = self.chat(message.chat_id)
        with self._lock:
            query_id = str(len(self._queries) + 1)
            query = {
                "id": query_id,
                "from": author.user_json(),
                "message": self._message_json(chat, message),
                "chat_instance": str(chat.id),
                "data": data,
            }
            self._queries[query_id] = query
        self.push_update({"callback_query": query})
        return query_id

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._updates)

    # -- observation ---------------------------------------------------------------
    def messages(self, chat: Chat | int | str) -> list[SentMessage]:
        """The chat's history (bot messages and user messages), deleted ones excluded."""
        target = self.chat(chat)
        with self._lock:
            return [m for m in self._history.get(target.id, []) if not m.deleted]

    def calls_to(self, method: str, *, ok: bool | None = None) -> list[ApiCall]:
        with self._lock:
            return [
                c
                for c in self.calls
                if c.method.lower() == method.lower() and (ok is None or c.ok == ok)
            ]

    def send_times(self, chat: Chat | int | str | None = None) -> list[float]:
        """Monotonic receive times of accepted ``sendMessage`` calls (to one chat, or all)."""
        ids = None if chat is None else {str(self.chat(chat).id), f"@{self.chat(chat).username}"}
        return [
            c.at for c in self.calls_to("sendMessage", ok=True) if ids is None or c.chat_id in ids
        ]

    # -- connections ---------------------------------------------------------------
    def _opened(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def _closed(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)


class _Handler(TrackedHandler):
    server: OwnedServer  # whose owner is a TelegramServer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        owner = self.server.owner
        url = urlsplit(self.path)
        if not owner._wait(self.path, self.connection):
            self.close_connection = True
            return
        try:
            params = decode_params(url.query, body, self.headers.get("Content-Type") or "")
            status, payload = owner._handle(self.path, params)
        except ApiError as err:
            status = err.code
            payload = {"ok": False, "error_code": err.code, "description": err.description}
        except Drop:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        data = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST

    def log_message(self, format: str, *args: object) -> None:
        pass

    def version_string(self) -> str:
        return "telegram-test-server/1"
