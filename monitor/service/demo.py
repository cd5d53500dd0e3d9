"""``monitor demo``: the real service, offline, on bundled sample feeds, for newcomers."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import sys
import tempfile
import threading
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any

DATA = resources.files("monitor.service") / "demo_data"


class _Feeds:
    """The bodies the demo server serves, changeable while it runs."""

    def __init__(self) -> None:
        self.bodies: dict[str, bytes] = {}
        self.lock = threading.Lock()

    def get(self, path: str) -> bytes | None:
        with self.lock:
            return self.bodies.get(path)

    def put(self, path: str, body: bytes) -> None:
        with self.lock:
            self.bodies[path] = body


def _server(feeds: _Feeds) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = feeds.get(self.path)
            if body is None:
                self.send_error(404)
                return
            etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


def run_demo(seconds: float = 12.0, keep: Path | None = None, out: Any = None) -> int:
    """Run the demo; prints what Telegram and e-mail recipients would get."""
    out = out or sys.stdout
    workdir = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="monitor-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    feeds = _Feeds()
    wire = (DATA / "eu-wire.xml").read_bytes()
    feeds.put("/eu-wire.xml", wire)
    server = _server(feeds)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    (workdir / "feeds.yaml").write_text(
        "# monitor demo: a local server plays the publisher\n"
        # fulltext: never: the demo is offline, its article links lead nowhere.
        "defaults:\n  interval: 2s\n  backfill: 1\n  fulltext: never\n"
        f"feeds:\n  - id: eu-wire\n    name: EU Digital Wire (demo)\n"
        f"    url: http://127.0.0.1:{port}/eu-wire.xml\n    language: en\n",
        encoding="utf-8",
    )
    shutil.copyfile(str(DATA / "keywords.yaml"), workdir / "keywords.yaml")
    print(
        f"monitor demo: files in {workdir}; serving a sample feed on 127.0.0.1:{port}\n"
        "The first poll records the feed (only the newest match alerts); then a new item "
        "is published and its alert arrives on the next poll.\n",
        file=out,
    )
    try:
        return asyncio.run(_run(workdir, feeds, wire, seconds, out))
    finally:
        server.shutdown()
        server.server_close()
        if keep is None:
            shutil.rmtree(workdir, ignore_errors=True)


async def _run(workdir: Path, feeds: _Feeds, wire: bytes, seconds: float, out: Any) -> int:
    from monitor.service.runner import Service, ServiceOptions
    from monitor.settings import Settings

    service = Service(
        ServiceOptions(
            feeds_path=str(workdir / "feeds.yaml"),
            keywords_path=str(workdir / "keywords.yaml"),
            state_dir=workdir / "state",
            settings=Settings(),
            http=None,
            bot=False,
            console=out,
        )
    )
    task = asyncio.create_task(service.run())
    await asyncio.sleep(min(4.0, seconds / 3))
    item = (
        (DATA / "NEW-ITEM.xml")
        .read_text(encoding="utf-8")
        .replace("{now}", formatdate(usegmt=True))
    )
    feeds.put("/eu-wire.xml", wire.replace(b"    <item>", item.encode() + b"    <item>", 1))
    print(
        "\n>>> published a new item: 'EDPB warns police use of facial recognition ...'\n", file=out
    )
    await asyncio.sleep(max(1.0, seconds - min(4.0, seconds / 3)))
    print("\n>>> digest preview (what policy@example.org gets at 08:00 Brussels time):\n", file=out)
    deliverer = service.outbox.deliverer
    if deliverer is not None:
        for target, messages in deliverer.preview_digests():
            for message in messages:
                print(
                    f"=== {target.channel} digest for {target.destination} ({target.address}) ===",
                    file=out,
                )
                if message.subject:
                    print(f"Subject: {message.subject}\n", file=out)
                print(message.plain if target.channel != "email" else message.text, file=out)
    service.stop()
    return await task
