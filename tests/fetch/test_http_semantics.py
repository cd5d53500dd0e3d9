"""Pure HTTP semantics of the fetch stage: bounded decoding, validators, redirect targets."""

from __future__ import annotations

import gzip
import zlib

import pytest

from monitor.errors import FetchError
from monitor.fetch.decode import BoundedDecoder, DecodingError, TooLargeError
from monitor.fetch.response import conditional_headers, redirect_target, size_text

TEXT = b"<rss><channel><title>EU</title></channel></rss>"


def decode(encoding: str | None, data: bytes, limit: int = 1 << 20, step: int = 7) -> bytes:
    decoder = BoundedDecoder(encoding, limit)
    out = [decoder.feed(data[i : i + step]) for i in range(0, len(data), step)]
    return b"".join([*out, decoder.flush()])


@pytest.mark.parametrize(
    ("encoding", "data"),
    [
        (None, TEXT),
        ("identity", TEXT),
        ("gzip", gzip.compress(TEXT, mtime=0)),
        ("x-gzip", gzip.compress(TEXT, mtime=0)),
        ("deflate", zlib.compress(TEXT)),  # RFC 9110: zlib-wrapped
        ("deflate", zlib.compress(TEXT)[2:-4]),  # what many servers send: raw deflate
        (
            "gzip",
            gzip.compress(TEXT[:10], mtime=0) + gzip.compress(TEXT[10:], mtime=0),
        ),  # two members
        ("gzip", gzip.compress(TEXT, mtime=0) + b"\0\0\0\0"),  # trailing padding, ignored
    ],
)
def test_bounded_decoder_decodes(encoding: str | None, data: bytes) -> None:
    assert decode(encoding, data) == TEXT


def test_bounded_decoder_stops_a_bomb_at_the_limit() -> None:
    bomb = gzip.compress(bytes(20 << 20))  # ~20 KiB that inflates to 20 MiB
    decoder = BoundedDecoder("gzip", 1 << 20)
    with pytest.raises(TooLargeError):
        decoder.feed(bomb)
    assert decoder.size == (1 << 20) + 1


def test_bounded_decoder_accepts_exactly_the_limit() -> None:
    assert len(decode("gzip", gzip.compress(bytes(1000)), limit=1000)) == 1000
    with pytest.raises(TooLargeError):
        decode("gzip", gzip.compress(bytes(1001)), limit=1000)


def test_bounded_decoder_rejects_corrupt_and_unknown_encodings() -> None:
    with pytest.raises(DecodingError, match="invalid gzip data"):
        decode("gzip", b"this is not gzip at all")
    with pytest.raises(DecodingError, match="unsupported Content-Encoding 'br'"):
        BoundedDecoder("br", 100)


def test_conditional_headers_send_validators_verbatim() -> None:
    assert conditional_headers('W/"abc"', "Tue, 14 Nov 2023 22:13:20 GMT") == [
        (b"If-None-Match", b'W/"abc"'),
        (b"If-Modified-Since", b"Tue, 14 Nov 2023 22:13:20 GMT"),
    ]
    assert conditional_headers('"caf\u00e9"', None) == [(b"If-None-Match", b'"caf\xe9"')]
    assert conditional_headers('"\u20ac"', "a\r\nInjected: 1") == []
    assert conditional_headers(None, "") == []


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("/feed/", "https://eu.example/feed/"),
        ("rss.xml", "https://eu.example/news/rss.xml"),
        ("//cdn.example/f.xml", "https://cdn.example/f.xml"),
        ("http://other.example/x#frag", "http://other.example/x"),
    ],
)
def test_redirect_target_is_absolute(location: str, expected: str) -> None:
    assert redirect_target("https://eu.example/news/old.xml", 301, location) == expected


@pytest.mark.parametrize("location", [None, " ", "ftp://eu.example/f.xml", "javascript:alert(1)"])
def test_redirect_target_refuses_what_cannot_be_followed(location: str | None) -> None:
    with pytest.raises(FetchError) as err:
        redirect_target("https://eu.example/f.xml", 302, location)
    assert err.value.kind == "redirect"
    assert str(err.value).startswith("fetcher: https://eu.example/f.xml: HTTP 302 redirect")


def test_size_text() -> None:
    assert [size_text(n) for n in (300, 1024, 1536, 5 << 20, 3 << 30)] == [
        "300 bytes",
        "1 KiB",
        "1.5 KiB",
        "5 MiB",
        "3 GiB",
    ]
