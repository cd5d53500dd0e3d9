"""The ASGI application: ``/healthz``, ``/metrics``, the dashboard pages and ``/api``.

Handlers are ``async``: ``/healthz`` and ``/metrics`` read the service's own state on
its event loop, and the dashboard's queries go to a worker thread with a read-only
connection of their own (``Reader``), so a slow search never holds up polling.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, quote

from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from monitor.match.matcher import Matcher
from monitor.models import OutgoingMessage, Target
from monitor.store import dashboard as db
from monitor.store import unsubscribe as unsub_store
from monitor.web import lab, views
from monitor.web import unsubscribe as unsub

T = TypeVar("T")
HERE = Path(__file__).parent
COOKIE = "monitor_session"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
EMAIL_CSP = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
)
"""A rendered e-mail digest, framed by /digests: its inline styles and nothing else."""
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]
ONE_SHOT = {"Connection": "close"}
"""Scrapers ask once per interval: their connection is closed at once, never held idle."""
LAB_LIMIT = 20_000
"""Articles a lab run replays at most (the newest ones)."""
OPEN_PATHS = ("/healthz", "/metrics", "/login", "/static/", "/unsubscribe")
"""Paths without the dashboard token: scrapers, the login itself, and digest recipients
(their unsubscribe link is signed instead)."""


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Site:
    """The dashboard: the state database it reads and who may see it."""

    database: Path
    database_url: str | None = None
    """PostgreSQL's URL when the service's store is there (None: the SQLite ``database``)."""
    token: str | None = None
    """``MONITOR_WEB_TOKEN``: when set, every page but /healthz and /metrics needs it."""
    status: Callable[[], dict[str, Any]] = field(default=lambda: {})
    """The service's live status for the overview (health, configuration reload)."""
    now: Callable[[], datetime] = utcnow
    secure_cookie: bool = False
    keywords: Path | None = None
    """The service's keywords.yaml: ``/lab`` compares a candidate with it (read only)."""
    digests: Callable[[], list[tuple[Target, list[OutgoingMessage]]]] = field(default=lambda: [])
    """Each target's next digest, rendered as it will be sent (nothing is sent)."""
    secret: str | None = None
    """``MONITOR_SECRET``: signs the unsubscribe links; without it /unsubscribe is off."""
    set_unsubscribed: Callable[[Target, bool], None] | None = None
    """Record or remove a recipient's unsubscribe (the service's own connection)."""
    matcher: Callable[[], Matcher | None] = field(default=lambda: None)
    """The service's matcher of ``keywords`` (None: not compiled yet): the lab compares
    a candidate with it rather than compiling the file again."""


class Reader:
    """One read-only connection, used by one worker thread at a time."""

    def __init__(self, path: Path, url: str | None = None) -> None:
        self.path = path
        self.url = url
        self._conn: Any = None
        self._lock = threading.Lock()

    def _call(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        with self._lock:
            if self._conn is None:
                self._conn = db.open_reader(self.path, self.url)
            return fn(self._conn, *args)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(self._call, fn, args)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def session_value(token: str) -> str:
    """The cookie a login sets: derived from the token, never the token itself."""
    return hmac.new(token.encode(), b"monitor-web-session", hashlib.sha256).hexdigest()


class SecurityMiddleware:
    """Security headers on every answer; the token check before every closed path."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token
        self.session = session_value(token) if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                # a response that set its own policy (the framed e-mail) keeps it
                headers += [(n, v) for n, v in SECURITY_HEADERS if n not in present]
                message["headers"] = headers
            await send(message)

        path: str = scope["path"]
        if self.token and not path.startswith(OPEN_PATHS) and not self._allowed(scope):
            if path.startswith("/api/"):
                answer: Response = JSONResponse(
                    {"error": "unauthorized: send Authorization: Bearer MONITOR_WEB_TOKEN"},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
            else:
                target = path + (
                    f"?{scope['query_string'].decode()}" if scope["query_string"] else ""
                )
                answer = RedirectResponse(f"/login?next={quote(target)}", status_code=303)
            await answer(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)

    def _allowed(self, scope: Scope) -> bool:
        assert self.token is not None
        assert self.session is not None
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, given = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer" and hmac.compare_digest(
                    given.strip().encode(), self.token.encode()
                ):
                    return True
            elif name == b"cookie":
                for part in value.decode("latin-1").split(";"):
                    key, _, given = part.strip().partition("=")
                    if key == COOKIE and hmac.compare_digest(given.encode(), self.session.encode()):
                        return True
        return False


def to_jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
        for prop in ("pages", "total"):  # computed fields worth having in the API
            if hasattr(type(value), prop) and isinstance(getattr(type(value), prop), property):
                out[prop] = getattr(value, prop)
        return out
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def api(data: Any) -> Response:
    body = json.dumps(to_jsonable(data), ensure_ascii=False, indent=1)
    return Response(body, media_type="application/json")


def create_app(
    health: Callable[[], dict[str, Any]],
    metrics: Callable[[], bytes],
    site: Site | None = None,
) -> tuple[ASGIApp, Callable[[], None]]:
    """``/healthz`` and ``/metrics``, and with ``site`` the dashboard; with the function
    that closes what the app opened."""

    async def healthz(request: Request) -> Response:
        data = health()
        code = 200 if data.get("ok") else 503
        # json.dumps' own spacing: the body stays byte for byte what it was before uvicorn
        return Response(json.dumps(data), code, ONE_SHOT, media_type="application/json")

    async def metrics_page(request: Request) -> Response:
        return Response(metrics(), media_type=CONTENT_TYPE_LATEST, headers=ONE_SHOT)

    async def not_found(request: Request, exc: Exception) -> Response:
        hint = "see / for the dashboard" if site else "try /healthz or /metrics"
        return PlainTextResponse(f"not found: {hint}\n", status_code=404)

    routes: list[Route | Mount] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics_page, methods=["GET"]),
    ]
    reader = Reader(site.database, site.database_url) if site is not None else None
    if site is not None and reader is not None:
        routes += pages(site, reader)
        routes.append(Mount("/static", StaticFiles(directory=HERE / "static"), name="static"))
    app = Starlette(routes=routes, exception_handlers={404: not_found})

    def close() -> None:
        if reader is not None:
            reader.close()

    return SecurityMiddleware(app, site.token if site else None), close


def pages(site: Site, reader: Reader) -> list[Route | Mount]:
    Handler = Callable[[Request], Awaitable[Response]]

    def both(
        build: Callable[[Request], Awaitable[tuple[str, dict[str, Any], Any]]],
    ) -> tuple[Handler, Handler]:
        """A page and its ``/api`` twin from one function giving (template, context, data)."""

        async def page(request: Request) -> Response:
            try:
                template, context, _ = await build(request)
            except views.BadRequest as exc:
                return HTMLResponse(views.render("error.html.j2", message=str(exc)), 400)
            authed = bool(site.token)
            return HTMLResponse(
                views.render(template, request_path=request.url.path, login=authed, **context)
            )

        async def data(request: Request) -> Response:
            try:
                _, _, payload = await build(request)
            except views.BadRequest as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            return api(payload)

        return page, data

    async def overview(request: Request) -> tuple[str, dict[str, Any], Any]:
        now = site.now()
        summary = await reader.run(db.overview, now)
        status = site.status()
        return (
            "overview.html.j2",
            {"o": summary, "status": status, "now": now},
            {
                "overview": summary,
                "status": status,
            },
        )

    async def articles(request: Request) -> tuple[str, dict[str, Any], Any]:
        query = views.article_query(request.query_params)
        found = await reader.run(db.articles, query)
        facets = await reader.run(db.facets)
        return "articles.html.j2", {"page": found, "facets": facets}, found

    async def feeds(request: Request) -> tuple[str, dict[str, Any], Any]:
        now = site.now()
        rows = await reader.run(db.feed_health, now)
        marked = [views.feed_status(r, now) for r in rows]
        return (
            "feeds.html.j2",
            {"feeds": marked, "now": now},
            [
                {**to_jsonable(r), "status": s.status, "silent": s.silent}
                for r, s in zip(rows, marked, strict=True)
            ],
        )

    async def stories(request: Request) -> tuple[str, dict[str, Any], Any]:
        days = views.int_param(request.query_params, "days", 7, 1, 90)
        rows = await reader.run(db.stories, site.now(), days)
        return "stories.html.j2", {"stories": rows, "days": days}, rows

    async def trends(request: Request) -> tuple[str, dict[str, Any], Any]:
        days = views.choice(request.query_params, "days", ("7", "30", "90"), "30")
        by = views.choice(request.query_params, "by", tuple(db.TREND_GROUPS), "watchlist")
        found = await reader.run(db.trends, site.now(), int(days), by)
        chart = views.chart(found)
        return "trends.html.j2", {"trends": found, "chart": chart, "days": days, "by": by}, found

    async def lab_form(request: Request) -> Response:
        text = await asyncio.to_thread(lab.current_text, site.keywords)
        return HTMLResponse(
            views.render(
                "lab.html.j2",
                request_path="/lab",
                login=bool(site.token),
                result=lab.LabResult(text),
                days=14,
                limit=LAB_LIMIT,
            )
        )

    async def lab_backtest(request: Request) -> tuple[lab.LabResult, int] | Response:
        """The lab's form (or, for ``/api/lab``, a JSON object) replayed: the result and
        the days asked for, or the answer that refuses the request."""
        body = await request.body()
        if len(body) > 3 * lab.MAX_YAML:  # URL-encoding triples the size at most
            return PlainTextResponse("the candidate file is too large\n", status_code=413)
        try:
            fields = views.lab_fields(body, request.headers.get("content-type", ""))
            days = views.int_param(fields, "days", 14, 1, 365)
            explain_id = views.int_param(fields, "explain", 0, 0, 2**62)
        except views.BadRequest as exc:
            if request.url.path.startswith("/api/"):
                return JSONResponse({"error": str(exc)}, status_code=400)
            return HTMLResponse(views.render("error.html.j2", message=str(exc)), 400)
        text = fields.get("yaml", "").replace("\r\n", "\n")
        since = site.now() - timedelta(days=days)
        if site.keywords is None:
            return PlainTextResponse("the lab needs the service's keywords.yaml\n", 404)
        result = await lab.run_apart(
            site.database,
            site.database_url,
            site.keywords,
            text,
            since,
            LAB_LIMIT,
            explain_id,
            site.matcher(),
        )
        return result, days

    async def lab_run(request: Request) -> Response:
        done = await lab_backtest(request)
        if isinstance(done, Response):
            return done
        result, days = done
        return HTMLResponse(
            views.render(
                "lab.html.j2",
                request_path="/lab",
                login=bool(site.token),
                result=result,
                days=days,
                limit=LAB_LIMIT,
            ),
            status_code=422 if result.errors else 200,
        )

    async def lab_api(request: Request) -> Response:
        done = await lab_backtest(request)
        if isinstance(done, Response):
            return done
        result, days = done
        payload = {"days": days, "limit": LAB_LIMIT, **lab.as_data(result)}
        return Response(
            json.dumps(to_jsonable(payload), ensure_ascii=False, indent=1),
            status_code=422 if result.errors else 200,
            media_type="application/json",
        )

    async def digests(request: Request) -> tuple[str, dict[str, Any], Any]:
        # On the loop: the preview reads the service's own connection, like /healthz.
        found = site.digests()
        data = [
            {
                "destination": target.destination,
                "channel": target.channel,
                "address": target.address,
                "messages": [
                    {
                        "subject": m.subject,
                        "text": m.plain if target.channel != "email" else m.text,
                        "html": m.html,
                        "headers": dict(m.headers),
                    }
                    for m in messages
                ],
            }
            for target, messages in found
        ]
        found_overrides = await reader.run(unsub_store.overrides)
        return (
            "digests.html.j2",
            {"digests": data, "overrides": found_overrides},
            {"digests": data, "unsubscribed": found_overrides},
        )

    async def unsubscribe(request: Request) -> Response:
        """RFC 8058: a mail client POSTs ``List-Unsubscribe=One-Click`` to the link; a
        person opens it (GET) and confirms, or resubscribes, with a button (POST)."""
        if not site.secret or site.set_unsubscribed is None:
            return PlainTextResponse("unsubscribe links are off (no MONITOR_SECRET)\n", 404)
        fields: dict[str, list[str]] = {}
        if request.method == "POST":
            body = await request.body()
            fields = parse_qs(body[:8192].decode("utf-8", "replace"))
        token = request.query_params.get("t") or (fields.get("t") or [""])[0]
        try:
            target = unsub.read_token(site.secret, token)
        except unsub.BadToken as exc:
            return HTMLResponse(views.render("error.html.j2", message=str(exc)), 400)
        done = None
        if request.method == "POST":
            one_click = (fields.get("List-Unsubscribe") or [""])[0] == "One-Click"
            action = "unsubscribe" if one_click else (fields.get("action") or [""])[0]
            if action not in ("unsubscribe", "resubscribe"):
                return HTMLResponse(views.render("error.html.j2", message="no action"), 400)
            site.set_unsubscribed(target, action == "unsubscribe")
            done = action
        off = await reader.run(unsub_store.is_unsubscribed, target)
        return HTMLResponse(
            views.render(
                "unsubscribe.html.j2", target=target, token=token, unsubscribed=off, done=done
            )
        )

    async def digest_html(request: Request) -> Response:
        index = views.int_param(request.path_params, "n", 0, 0, 10_000)
        found = site.digests()
        emails = [m for _, messages in found for m in messages if m.html]
        if index >= len(emails):
            return PlainTextResponse("no such digest (the preview has changed)\n", 404)
        html_body = emails[index].html
        assert html_body is not None
        # Shown in a sandboxed frame: the e-mail's own inline styles, no script, no fetch.
        return HTMLResponse(
            html_body,
            headers={"Content-Security-Policy": EMAIL_CSP, "X-Frame-Options": "SAMEORIGIN"},
        )

    async def login_form(request: Request) -> Response:
        return HTMLResponse(
            views.render("login.html.j2", next=views.safe_next(request.query_params.get("next")))
        )

    async def login(request: Request) -> Response:
        body = await request.body()
        fields = parse_qs(body[:4096].decode("utf-8", "replace"))
        given = (fields.get("token") or [""])[0]
        target = views.safe_next((fields.get("next") or ["/"])[0])
        if not site.token or not hmac.compare_digest(given.encode(), site.token.encode()):
            return HTMLResponse(
                views.render("login.html.j2", next=target, failed=True), status_code=401
            )
        answer = RedirectResponse(target, status_code=303)
        answer.set_cookie(
            COOKIE,
            session_value(site.token),
            httponly=True,
            samesite="strict",
            secure=site.secure_cookie or request.url.scheme == "https",
            max_age=30 * 24 * 3600,
        )
        return answer

    async def logout(request: Request) -> Response:
        answer = RedirectResponse("/login", status_code=303)
        answer.delete_cookie(COOKIE)
        return answer

    routes: list[Route | Mount] = []
    for path, build in (
        ("/", overview),
        ("/articles", articles),
        ("/feeds", feeds),
        ("/stories", stories),
        ("/trends", trends),
        ("/digests", digests),
    ):
        page, data = both(build)
        routes.append(Route(path, page, methods=["GET"]))
        routes.append(
            Route("/api/overview" if path == "/" else f"/api{path}", data, methods=["GET"])
        )
    routes += [
        Route("/digests/{n}/email.html", digest_html, methods=["GET"]),
        Route("/unsubscribe", unsubscribe, methods=["GET", "POST"]),
        Route("/lab", lab_form, methods=["GET"]),
        Route("/lab", lab_run, methods=["POST"]),
        Route("/api/lab", lab_api, methods=["POST"]),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
    ]
    return routes
