"""Article page extraction (trafilatura) on a page written for the tests."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.errors import ParseError
from monitor.parse.extract import MAX_BODY_CHARS, extract_body

PAGE = Path(__file__).parent.parent / "data" / "fulltext" / "edpb-letter.html"


def test_the_article_text_without_the_boilerplate() -> None:
    body = extract_body(PAGE.read_bytes(), url="https://wire.example.eu/edpb")
    assert body.startswith("Negotiators from the Parliament and the Council met")
    for words in ("The EDPB repeated its call", "European Data Protection Supervisor"):
        assert words in body
    for boilerplate in ("Sign up to our newsletter", "Most read", "Farm ministers", "cookies"):
        assert boilerplate not in body
    assert "  " not in body  # white space as in the other fields
    assert "\n" not in body


@pytest.mark.parametrize(
    "page", [b"", b"   \n", b"<html><head><title>x</title></head><body></body></html>"]
)
def test_a_page_without_text_is_a_parse_error(page: bytes) -> None:
    with pytest.raises(ParseError, match=r"^parser: https://x\.eu/p: "):
        extract_body(page, url="https://x.eu/p")


def test_a_long_body_is_cut() -> None:
    paragraphs = "".join(
        f"<p>Paragraph {i} of a very long report on data rules.</p>" for i in range(5000)
    )
    body = extract_body(f"<html><body><article>{paragraphs}</article></body></html>".encode())
    assert len(body) == MAX_BODY_CHARS


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=2000) | st.text(max_size=2000).map(lambda t: f"<p>{t}</p>".encode()))
def test_extraction_raises_only_parse_errors(page: bytes) -> None:
    with contextlib.suppress(ParseError):
        assert isinstance(extract_body(page), str)
