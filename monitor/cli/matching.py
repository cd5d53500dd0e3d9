"""``monitor match`` and ``monitor explain``: run the watchlists over files, stdin or a URL."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor.errors import MonitorError
from monitor.models import FIELDS, Article, Match

_HTML_START = re.compile(
    rb"\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b",
    re.IGNORECASE | re.DOTALL,
)
_TIMEOUT = 30.0
# A JSON Lines field is HTML when it holds a tag or a character reference; anything else
# is plain text and kept exactly as given, so offsets slice it (issue 10 item 7).
_MARKUP = re.compile(r"<[a-zA-Z/!?]|&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[a-zA-Z][a-zA-Z0-9]*);")


class InputError(MonitorError):
    """An input file or URL could not be read as articles."""


def register(sub: Any) -> None:
    from monitor.cli import add_config_args

    p = sub.add_parser(
        "match",
        help="match articles from files or stdin against the watchlists",
        description="Read articles from RSS/Atom files, JSON Lines files (one "
        '{"id", "title", "summary", "url", "published"} per line; summary may hold HTML) '
        "or plain-text files, or from standard input, and print one JSON line per article: "
        '{"id", "matches": [{"watchlist", "score", "hit_count", "prominence", "hits": [{"term", '
        '"text", "field", '
        '"start", "end"}]}]}. Offsets count characters in the article\'s text: plain '
        "text exactly as given, the visible text of HTML (see --with-text).",
    )
    p.add_argument(
        "files", nargs="*", metavar="FILE", help="input files; '-' or none reads standard input"
    )
    p.add_argument(
        "--matched-only",
        action="store_true",
        help="print only articles that matched at least one watchlist",
    )
    p.add_argument(
        "--with-text",
        action="store_true",
        help='add "text": {"title", "summary", "content", "body"}, the text the offsets refer to '
        "(for HTML input, its visible text)",
    )
    add_config_args(p)
    p.set_defaults(func=cmd_match)

    e = sub.add_parser(
        "explain",
        help="show why each watchlist matches an article or not",
        description="For each article in FILE or at URL (a feed, an HTML page, JSON Lines "
        "or plain text), list every watchlist with what matched and where, or what was "
        "missing for any/all/near/threshold. Coloured on a terminal.",
    )
    e.add_argument("source", metavar="FILE|URL", help="a file, '-' for stdin, or an http(s) URL")
    e.add_argument("--id", help="only the article with this id (JSON Lines id or feed key)")
    e.add_argument("--json", action="store_true", help="print the explanation as JSON lines")
    e.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour output (default: auto, on a terminal unless NO_COLOR is set)",
    )
    add_config_args(e)
    e.set_defaults(func=cmd_explain)


def cmd_match(args: argparse.Namespace) -> int:
    from monitor.config.keywords import load_keywords
    from monitor.match import compile_matcher

    matcher = compile_matcher(load_keywords(args.keywords))
    names = args.files or ["-"]
    failed = False
    out = sys.stdout
    for name in names:
        try:
            for item in read_articles(name):
                if isinstance(item, InputError):
                    print(f"monitor: {item}", file=sys.stderr)
                    failed = True
                    continue
                matches = matcher.match(item)
                if args.matched_only and not matches:
                    continue
                record = match_record(item, matches, with_text=args.with_text)
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
        except InputError as exc:
            print(f"monitor: {exc}", file=sys.stderr)
            failed = True
    return 1 if failed else 0


def cmd_explain(args: argparse.Namespace) -> int:
    from monitor.config.keywords import load_keywords
    from monitor.match import compile_matcher
    from monitor.match.report import explanation_json, explanation_text

    matcher = compile_matcher(load_keywords(args.keywords))
    source: str = args.source
    found = (
        fetch_articles(source)
        if source.startswith(("http://", "https://"))
        else list(read_articles(source))
    )
    articles = []
    for item in found:
        if isinstance(item, InputError):
            print(f"monitor: {item}", file=sys.stderr)
        else:
            articles.append(item)
    if args.id is not None:
        articles = [a for a in articles if a.key == args.id]
        if not articles:
            raise InputError(f"{source}: no article with id {args.id!r}")
    if not articles:
        raise InputError(f"{source}: no article found")
    color = args.color == "always" or (
        args.color == "auto" and sys.stdout.isatty() and not args.settings.no_color
    )
    for article in articles:
        explanations = matcher.explain(article)
        if args.json:
            sys.stdout.write(
                json.dumps(explanation_json(article, explanations), ensure_ascii=False) + "\n"
            )
        else:
            sys.stdout.write(explanation_text(article, explanations, color=color))
    return 0


def match_record(
    article: Article, matches: list[Match], *, with_text: bool = False
) -> dict[str, Any]:
    """The JSON line ``monitor match`` prints for one article; ``with_text``: with the
    text of each field that the offsets refer to."""
    record: dict[str, Any] = {
        "id": article.key,
        "matches": [
            {
                "watchlist": m.watchlist,
                "score": m.score,
                "hit_count": m.hit_count,
                "prominence": m.prominence,
                "hits": [
                    {
                        "term": h.term,
                        "text": h.text,
                        "field": h.field,
                        "start": h.start,
                        "end": h.end,
                    }
                    for h in m.hits
                ],
            }
            for m in matches
        ],
    }
    if with_text:
        record["text"] = {name: article.text(name) for name in FIELDS}
    return record


def read_articles(name: str) -> Iterator[Article | InputError]:
    """Articles from a file (or ``-``): RSS/Atom, JSON Lines, HTML page or plain text.

    A JSON line that cannot be read comes out as an ``InputError`` in its place, so that
    one bad line does not hide the others.

    Raises:
        InputError: the file cannot be read, or holds neither articles nor text.
    """
    if name == "-":
        body = sys.stdin.buffer.read()
        label = "stdin"
    else:
        try:
            body = Path(name).read_bytes()
        except OSError as exc:
            raise InputError(f"{name}: cannot read: {exc.strerror}") from exc
        label = name
    yield from articles_from_bytes(body, label, url=None)


def fetch_articles(url: str) -> list[Article | InputError]:
    """Download ``url`` and read it like a file.

    Raises:
        InputError: the request failed or the answer was not 2xx.
    """
    import httpx

    try:
        response = httpx.get(
            url,
            follow_redirects=True,
            timeout=_TIMEOUT,
            headers={"User-Agent": "monitor-explain/0.1"},
        )
    except httpx.HTTPError as exc:
        raise InputError(f"{url}: {exc}") from exc
    if not response.is_success:
        raise InputError(f"{url}: HTTP {response.status_code}")
    return list(
        articles_from_bytes(
            response.content,
            url,
            url=str(response.url),
            content_type=response.headers.get("content-type"),
        )
    )


def articles_from_bytes(
    body: bytes, label: str, *, url: str | None, content_type: str | None = None
) -> Iterator[Article | InputError]:
    from monitor.parse.jsonfeed import declares_json_feed  # parse imports lxml: lazily

    stripped = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"{") and declares_json_feed(stripped):
        yield from _feed(body, label, url, content_type)  # a JSON Feed, not JSON Lines
    elif stripped.startswith(b"{"):
        yield from _json_lines(body.decode("utf-8", "replace"), label)
    elif _HTML_START.match(stripped):
        yield _html_page(body.decode("utf-8", "replace"), label, url)
    elif stripped.startswith(b"<"):
        yield from _feed(body, label, url, content_type)
    else:
        text = body.decode("utf-8", "replace")
        if not text.strip():
            raise InputError(f"{label}: empty input")
        yield Article(feed_id="file", key=label, title="", content=text)


def _feed(body: bytes, label: str, url: str | None, content_type: str | None) -> Iterator[Article]:
    from monitor.parse import parse_feed

    source_url = url or Path(label).resolve().as_uri()
    parsed = parse_feed(
        body,
        feed_id=Path(label).stem or "feed",
        url=source_url,
        now=datetime.now(UTC),
        content_type=content_type,
    )
    for problem in parsed.problems:
        print(f"monitor: {label}: {problem}", file=sys.stderr)
    yield from parsed.articles


def _json_lines(text: str, label: str) -> Iterator[Article | InputError]:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                yield _json_article(line, label, number)
            except InputError as exc:
                yield exc


def _json_article(line: str, label: str, number: int) -> Article:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"{label}:{number}: not JSON ({exc.msg})") from exc
    if not isinstance(record, dict):
        raise InputError(f"{label}:{number}: expected a JSON object")
    ident = record.get("id") or record.get("url") or f"{label}:{number}"
    return Article(
        feed_id=str(record.get("feed") or "jsonl"),
        key=str(ident),
        title=_text(record.get("title")),
        url=record.get("url"),
        summary=_text(record.get("summary")),
        content=_text(record.get("content")),
        body=_text(record.get("body")),
        published=_when(record.get("published"), label, number),
        language=record.get("language"),
    )


def _text(value: Any) -> str:
    """A JSON Lines field: the visible text of HTML, plain text exactly as given."""
    from monitor.plaintext import html_to_text

    text = str(value or "")
    return html_to_text(text) if _MARKUP.search(text) else text


def _when(value: Any, label: str, number: int) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError(f"{label}:{number}: published {value!r} is not an ISO 8601 date") from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _html_page(page: str, label: str, url: str | None) -> Article:
    from selectolax.lexbor import LexborHTMLParser

    from monitor.plaintext import html_to_text

    tree = LexborHTMLParser(page)
    title_node = tree.css_first("meta[property='og:title']")
    title = title_node.attributes.get("content") if title_node is not None else None
    if not title:
        node = tree.css_first("title")
        title = node.text() if node is not None else ""
    # The article body, not the site's navigation, when the page marks it.
    body = tree.css_first("article") or tree.css_first("main") or tree.body
    html_node = tree.css_first("html")
    language = html_node.attributes.get("lang") if html_node is not None else None
    return Article(
        feed_id="page",
        key=url or label,
        title=html_to_text(title or ""),
        url=url,
        content=html_to_text(body.html or "") if body is not None else "",
        language=language or None,
    )
