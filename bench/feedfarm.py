"""A lean feed farm for the benchmarks: many realistic feeds, served from their own process.

    .venv/bin/python bench/feedfarm.py [--feeds 1000] [--items 30] [--hosts 100]
                                       [--latency 0.05:0.25] [--seed 1] [--replay DIR]

The benchmarks start it with :meth:`FeedFarm.start` and talk to it over HTTP, so its CPU
is never counted as the client's.  It prints one JSON line when it is ready (the feed
URLs and the control URL), then serves until it is terminated or its stdin closes.

Content.  Every item of the replay fixtures (``shared/fixtures/replay``: real RSS from
real outlets, 2023) goes into one pool per outlet.  Feed ``i`` takes the channel header of
outlet ``i mod outlets`` and 30 consecutive items of that outlet's pool (from a seeded
offset), exactly as published (CDATA, HTML descriptions, ``content:encoded``, Polish,
French...), except that its ``<link>`` and ``<guid>`` get a path segment unique to the
feed and the item (``/f17n3/``), so that no two feeds share an article.

HTTP.  ``http://127.0.0.X:PORT/feed/I.xml``, feeds spread round-robin over ``--hosts``
loopback addresses (all of 127.0.0.0/8 is loopback on Linux) so that per-host politeness
limits apply as they would with real publishers.  Each answer waits a random
``--latency`` (uniform, seeded), like a real site; ETag and Last-Modified on every feed,
``If-None-Match`` / ``If-Modified-Since`` honoured with 304; gzip when the client accepts
it (precomputed); HTTP/1.1 keep-alive.  Unknown paths get 404.

Control (no latency), on any address:

``/_bench/publish?count=N&seed=S``
    one new item (dated now) on top of N randomly chosen feeds; the oldest item drops
    out, as on a real feed.  Answers the changed feed indices as JSON.
``/_bench/hot?title=T&summary=S``
    a new item on top of ``/feed/hot.xml`` (a feed the service benchmark polls often).
``/_bench/stats``
    responses by status since the last reset, and the time (``time.monotonic()``, which
    is system-wide on Linux) at which each version of the hot feed was first answered.
``/_bench/reset``
    zero the counters.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import json
import random
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
MARK = "@@"  # replaced by the feed/item token in every item's link and guid
BASE_TIME = 1_700_000_000  # Last-Modified of version 0 (2023-11-14)
CONTENT_TYPE = b"application/rss+xml; charset=utf-8"


def default_replay() -> Path:
    shared = ROOT.parent / "shared" / "fixtures" / "replay"
    return shared if shared.is_dir() else ROOT / "tests" / "data" / "parse" / "replay"


# -- content ---------------------------------------------------------------------------


@dataclass
class Outlet:
    name: str
    header: str  # everything before the first <item>
    items: list[str]  # serialised <item> elements with MARK in link and guid


def _marked(url: str) -> str:
    parts = urlsplit(url.strip())
    if not parts.scheme:
        return url.strip() + "-" + MARK
    return urlunsplit(parts._replace(path=f"/{MARK}{parts.path or '/'}"))


def load_outlets(replay: Path, min_items: int) -> list[Outlet]:
    """One pool of items per outlet folder, in the order of the replay days."""
    parser = etree.XMLParser(strip_cdata=False, resolve_entities=False)
    outlets = []
    for folder in sorted(p for p in replay.iterdir() if p.is_dir()):
        files = sorted(folder.glob("*.xml"))
        if not files:
            continue
        items: list[str] = []
        header = ""
        for path in files:
            raw = path.read_bytes()
            if not header:
                text = raw.decode("utf-8")
                header = text[: text.index("<item")] if "<item" in text else ""
            root = etree.fromstring(raw, parser)
            for item in root.iter("item"):
                for tag in ("link", "guid"):
                    node = item.find(tag)
                    if node is not None and node.text:
                        node.text = _marked(node.text)
                if item.find("link") is None and item.find("guid") is None:
                    continue
                item.tail = "\n"
                items.append(etree.tostring(item, encoding="unicode"))
        if header and len(items) >= min_items:
            outlets.append(Outlet(folder.name, header, items))
    return outlets


@dataclass
class Feed:
    path: str
    outlet: Outlet
    token: str
    items: list[tuple[int, str]]  # (serial, template), newest first
    serial: int
    version: int = 0
    etag: bytes = b""
    last_modified: bytes = b""
    body: bytes = b""
    gz: bytes = b""

    def render(self) -> None:
        parts = [self.outlet.header]
        parts += [t.replace(MARK, f"{self.token}n{n}") for n, t in self.items]
        parts.append("</channel>\n</rss>\n")
        self.body = "".join(parts).encode("utf-8")
        self.gz = gzip.compress(self.body, compresslevel=6, mtime=0)
        self.etag = f'"{self.token}-v{self.version}"'.encode()
        self.last_modified = formatdate(BASE_TIME + 60 * self.version, usegmt=True).encode()

    def push(self, template: str) -> None:
        """A new item on top; the oldest one drops out (the feed keeps its length)."""
        self.items.insert(0, (self.serial, template))
        self.items.pop()
        self.serial += 1
        self.version += 1
        self.render()


def new_item(title: str, summary: str, now: float) -> str:
    esc = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
    t, s = (re.sub(r"[&<>]", lambda m: esc[m.group()], x) for x in (title, summary))
    return (
        f"<item>\n\t\t<title>{t}</title>\n"
        f"\t\t<link>https://news.example.eu/{MARK}/story</link>\n"
        f'\t\t<guid isPermaLink="false">https://news.example.eu/{MARK}/story</guid>\n'
        f"\t\t<pubDate>{formatdate(now, usegmt=True)}</pubDate>\n"
        f"\t\t<description><![CDATA[<p>{s}</p>]]></description>\n\t</item>\n"
    )


@dataclass
class Farm:
    feeds: dict[str, Feed]
    latency: tuple[float, float]
    rng: random.Random
    spare: list[str] = field(default_factory=list)  # items for new entries
    status: Counter[int] = field(default_factory=Counter)
    hot_answers: dict[int, float] = field(default_factory=dict)

    @classmethod
    def build(
        cls, outlets: list[Outlet], count: int, items: int, latency: tuple[float, float], seed: int
    ) -> Farm:
        rng = random.Random(seed)
        feeds: dict[str, Feed] = {}
        paths = [f"/feed/{i}.xml" for i in range(count)] + ["/feed/hot.xml"]
        for i, path in enumerate(paths):
            outlet = outlets[i % len(outlets)]
            start = rng.randrange(len(outlet.items))
            chosen = [outlet.items[(start + k) % len(outlet.items)] for k in range(items)]
            token = f"f{i}" if i < count else "hot"
            feed = Feed(path, outlet, token, list(enumerate(chosen)), serial=items)
            feed.render()
            feeds[path] = feed
        spare = [t for o in outlets for t in o.items]
        return cls(feeds=feeds, latency=latency, rng=rng, spare=spare)

    # -- control ---------------------------------------------------------------------
    def control(self, path: str, query: dict[str, list[str]]) -> Any:
        def arg(name: str, default: str = "") -> str:
            return query.get(name, [default])[0]

        if path == "/_bench/publish":
            rng = random.Random(int(arg("seed", "0")))
            names = sorted(p for p in self.feeds if p != "/feed/hot.xml")
            chosen = rng.sample(names, min(int(arg("count", "0")), len(names)))
            for p in chosen:
                self.feeds[p].push(rng.choice(self.spare))
            return sorted(chosen)
        if path == "/_bench/hot":
            feed = self.feeds["/feed/hot.xml"]
            feed.push(new_item(arg("title"), arg("summary"), time.time()))
            return {"version": feed.version}
        if path == "/_bench/stats":
            return {
                "status": {str(k): v for k, v in sorted(self.status.items())},
                "requests": sum(self.status.values()),
                "hot_answers": {str(k): v for k, v in self.hot_answers.items()},
            }
        if path == "/_bench/reset":
            self.status.clear()
            return {"ok": True}
        return None

    # -- HTTP ------------------------------------------------------------------------
    def answer(self, path: str, headers: dict[str, str]) -> tuple[int, list[bytes], bytes]:
        feed = self.feeds.get(path)
        if feed is None:
            return 404, [b"Content-Type: text/plain"], b"not found\n"
        validators = [b"ETag: " + feed.etag, b"Last-Modified: " + feed.last_modified]
        if _not_modified(feed, headers):
            return 304, validators, b""
        if path == "/feed/hot.xml":
            self.hot_answers.setdefault(feed.version, time.monotonic())
        hdrs = [b"Content-Type: " + CONTENT_TYPE, b"Vary: Accept-Encoding", *validators]
        if "gzip" in headers.get("accept-encoding", ""):
            return 200, [*hdrs, b"Content-Encoding: gzip"], feed.gz
        return 200, hdrs, feed.body


def _not_modified(feed: Feed, headers: dict[str, str]) -> bool:
    inm = headers.get("if-none-match")
    if inm is not None:  # RFC 9110 §13.1.2: If-Modified-Since is ignored when INM is sent
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return "*" in tags or feed.etag.decode() in tags
    ims = headers.get("if-modified-since")
    if ims is None:
        return False
    try:
        return parsedate_to_datetime(ims) >= parsedate_to_datetime(feed.last_modified.decode())
    except (TypeError, ValueError):
        return False


REASONS = {200: b"OK", 304: b"Not Modified", 404: b"Not Found"}


class _Connection(asyncio.Protocol):
    """HTTP/1.1 with keep-alive, one request at a time per connection (no pipelining)."""

    def __init__(self, farm: Farm) -> None:
        self.farm = farm
        self.buf = b""
        self.busy = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        self._next()

    def _next(self) -> None:
        end = self.buf.find(b"\r\n\r\n")
        if self.busy or end < 0:
            return
        head, self.buf = self.buf[:end].decode("latin-1"), self.buf[end + 4 :]
        lines = head.split("\r\n")
        parts = lines[0].split(" ")
        target = parts[1] if len(parts) > 1 else "/"
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        close = headers.get("connection", "").lower() == "close" or lines[0].endswith("1.0")
        url = urlsplit(target)
        self.busy = True
        if url.path.startswith("/_bench/"):
            result = self.farm.control(url.path, parse_qs(url.query))
            body = json.dumps(result).encode()
            self._write(200, [b"Content-Type: application/json"], body, close)
            return
        delay = self.farm.rng.uniform(*self.farm.latency)
        asyncio.get_running_loop().call_later(delay, self._answer, url.path, headers, close)

    def _answer(self, path: str, headers: dict[str, str], close: bool) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        status, hdrs, body = self.farm.answer(path, headers)
        self.farm.status[status] += 1
        self._write(status, hdrs, body, close)

    def _write(self, status: int, headers: list[bytes], body: bytes, close: bool) -> None:
        assert self.transport is not None
        head = [b"HTTP/1.1 %d %s" % (status, REASONS.get(status, b"OK")), *headers]
        head.append(b"Content-Length: %d" % len(body))
        if close:
            head.append(b"Connection: close")
        self.transport.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        self.busy = False
        if close:
            self.transport.close()
        else:
            self._next()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


def loopback(index: int) -> str:
    """The ``index``-th loopback address from 127.0.0.2 on (127.0.0.0/8 is all loopback)."""
    n = 2 + index
    return f"127.0.{n // 254}.{n % 254 + (1 if n // 254 else 0)}" if n > 253 else f"127.0.0.{n}"


async def serve(farm: Farm, hosts: int) -> None:
    loop = asyncio.get_running_loop()
    servers = []
    for h in range(hosts):
        server = await loop.create_server(
            lambda: _Connection(farm), loopback(h), 0, backlog=1024, reuse_address=True
        )
        servers.append(server)
    bases = ["http://{}:{}".format(*s.sockets[0].getsockname()[:2]) for s in servers]
    paths = [p for p in farm.feeds if p != "/feed/hot.xml"]
    urls = [bases[i % hosts] + p for i, p in enumerate(paths)]
    ready = {
        "urls": urls,
        "hot": bases[0] + "/feed/hot.xml",
        "control": bases[0] + "/_bench",
        "bytes": sum(len(f.body) for f in farm.feeds.values()),
        "gzip_bytes": sum(len(f.gz) for f in farm.feeds.values()),
        "outlets": sorted({f.outlet.name for f in farm.feeds.values()}),
    }
    print(json.dumps(ready), flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # The parent closing our stdin (or dying) also stops the farm.
    loop.add_reader(sys.stdin.fileno(), lambda: stop.set() if not sys.stdin.read(1) else None)
    await stop.wait()
    for server in servers:
        server.close()


# -- the client side -------------------------------------------------------------------


class FeedFarm:
    """A feed farm in a child process: ``with FeedFarm.start(...) as farm: farm.urls``."""

    def __init__(self, proc: subprocess.Popen[str], ready: dict[str, Any]) -> None:
        self.proc = proc
        self.urls: list[str] = ready["urls"]
        self.hot: str = ready["hot"]
        self.control_url: str = ready["control"]
        self.bytes: int = ready["bytes"]
        self.gzip_bytes: int = ready["gzip_bytes"]
        self.outlets: list[str] = ready["outlets"]

    @classmethod
    def start(
        cls,
        *,
        feeds: int = 1000,
        items: int = 30,
        hosts: int = 100,
        latency: tuple[float, float] = (0.05, 0.25),
        seed: int = 1,
        replay: Path | None = None,
    ) -> FeedFarm:
        cmd = [
            sys.executable, str(Path(__file__).resolve()), "--feeds", str(feeds),
            "--items", str(items), "--hosts", str(hosts),
            "--latency", f"{latency[0]}:{latency[1]}", "--seed", str(seed),
        ]  # fmt: skip
        if replay is not None:
            cmd += ["--replay", str(replay)]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            proc.wait()
            raise RuntimeError(f"feed farm did not start (exit code {proc.returncode})")
        return cls(proc, json.loads(line))

    @staticmethod
    def control(control_url: str, action: str, **params: object) -> Any:
        """Call a control endpoint of a farm (also from another process than its parent)."""
        query = "&".join(f"{k}={urllib.request.quote(str(v))}" for k, v in params.items())
        with urllib.request.urlopen(f"{control_url}/{action}?{query}", timeout=30) as r:
            return json.loads(r.read())

    def call(self, action: str, **params: object) -> Any:
        return self.control(self.control_url, action, **params)

    def publish(self, count: int, seed: int) -> list[str]:
        return list(self.call("publish", count=count, seed=seed))

    def publish_hot(self, title: str, summary: str) -> int:
        return int(self.call("hot", title=title, summary=summary)["version"])

    def stats(self) -> dict[str, Any]:
        return dict(self.call("stats"))

    def reset(self) -> None:
        self.call("reset")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()

    def __enter__(self) -> FeedFarm:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--items", type=int, default=30)
    ap.add_argument("--hosts", type=int, default=100, help="loopback addresses to spread over")
    ap.add_argument("--latency", default="0.05:0.25", help="MIN:MAX seconds before answering")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--replay", type=Path, default=default_replay())
    args = ap.parse_args()
    low, high = (float(x) for x in args.latency.split(":"))
    outlets = load_outlets(args.replay, min_items=args.items)
    if not outlets:
        raise SystemExit(f"no outlet with {args.items} items under {args.replay}")
    farm = Farm.build(outlets, args.feeds, args.items, (low, high), args.seed)
    asyncio.run(serve(farm, args.hosts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
