"""The threaded HTTP server under the test servers (feeds, Telegram Bot API): each keeps
its open sockets, so that a test can count connections and a stop can close them."""

from __future__ import annotations

import contextlib
import socket
import socketserver
from http.server import BaseHTTPRequestHandler
from typing import Protocol


class Owner(Protocol):
    """The test server that a connection belongs to."""

    def _opened(self, sock: socket.socket) -> None: ...
    def _closed(self, sock: socket.socket) -> None: ...


class OwnedServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        addr: tuple[str, int],
        handler: type[TrackedHandler],
        *,
        owner: Owner,
        backlog: int = 256,
    ) -> None:
        self.owner = owner
        self.request_queue_size = backlog
        super().__init__(addr, handler)

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients that give up mid-request or mid-response are expected; stay quiet."""


class TrackedHandler(BaseHTTPRequestHandler):
    """Tells the owner when its connection opens and closes."""

    protocol_version = "HTTP/1.1"
    server: OwnedServer

    def setup(self) -> None:
        super().setup()
        self.server.owner._opened(self.connection)

    def finish(self) -> None:
        self.server.owner._closed(self.connection)
        with contextlib.suppress(OSError):
            super().finish()
