"""An article page's main text (full text), extracted by trafilatura.

Extraction is left to trafilatura (docs/design.md): it finds the article among the
navigation, teasers, comments and footers of real news pages, and was the strongest of
the libraries measured for the issue (about 16 ms per page median, ahead of
readability-lxml and newspaper4k).  No hand-written extraction: boilerplate removal is
the part every hand-written version gets wrong on the next site's template.
"""

from __future__ import annotations

import logging
import warnings

from monitor.errors import ParseError

log = logging.getLogger(__name__)

MAX_BODY_CHARS = 100_000
"""The body is cut here: the matcher scans it, storage keeps it until retention."""


def extract_body(page: bytes, *, url: str | None = None) -> str:
    """The main text of an HTML article page as plain text: white space runs become one
    space, as in the other article fields.

    ``page`` is the raw HTML; trafilatura detects its encoding (meta charset, then
    a guess).

    Raises:
        ParseError: the page has no recognisable main text (empty, not HTML, a paywall
            or consent stub with nothing left after boilerplate removal).
    """
    if not page.strip():
        raise ParseError("the article page is empty", url=url)
    # Imported on first use: importing trafilatura (and lxml, justext, htmldate) takes
    # about 1 s, which every CLI command and every feed without full text would pay.
    with warnings.catch_warnings():
        # trafilatura's own downloader (unused here) warns that urllib3 lacks PySocks.
        warnings.filterwarnings("ignore", message="SOCKS support in urllib3")
        import trafilatura

    try:
        text = trafilatura.extract(
            page,
            url=url,
            include_comments=False,
            include_tables=False,
            include_images=False,
            include_links=False,
            with_metadata=False,
            deduplicate=False,
        )
    except Exception as exc:  # a library boundary: whatever it raises becomes a ParseError
        raise ParseError(f"extraction failed: {type(exc).__name__}: {exc}", url=url) from exc
    if not text:
        raise ParseError("no article text found on the page", url=url)
    body = " ".join(text.split())
    return body[:MAX_BODY_CHARS]
