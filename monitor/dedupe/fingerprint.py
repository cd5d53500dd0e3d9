"""An article's fingerprint: its sketches, story terms and index keys, and their bytes.

The fingerprint is what the index stores for an article while it is in the window
(a few hundred bytes for a feed item, at most about 1.5 KB) and what a later article is
compared with; ``keys`` are what it files in the in-memory index (and stores beside
the fingerprint, to rebuild that index after a restart).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from monitor import identity
from monitor.dedupe.sketch import Sketch
from monitor.dedupe.text import Features, features, hash32
from monitor.identity import canonical_url
from monitor.models import Article

SHINGLE_SKETCH = 128
WORD_SKETCH = 128
NUMBER_SKETCH = 32
MAX_TERMS = 16
KEYS = 12
"""Shingle keys per article: the smallest hashes of its shingle sketch."""

# A key is a 32-bit hash xor its kind's tag, so one index holds every kind.
SHINGLE, TERM, TITLE, URL = 0, 0x9E3779B9, 0x7F4A7C15, 0x85EBCA6B

_VERSION = 1


def url_key(url: str | None) -> int | None:
    """``monitor.identity.url_key`` of the URL, hashed to 32 bits (None: no key).

    Looser than an entry's key on purpose: a tracking parameter or the AMP page of an
    article is the same article, so equal keys in the window mean a copy.
    """
    key = identity.url_key(canonical_url(url)) if url else None
    return None if key is None else hash32(key)


@dataclass(frozen=True, slots=True, eq=False)
class Fingerprint:
    """Sketches of an article's features plus its story terms and exact keys."""

    shingles: Sketch
    words: Sketch
    numbers: Sketch
    terms: tuple[int, ...]
    title_terms: int
    title_key: int | None
    url_key: int | None
    body_words: int
    norm: float = 0.0
    """The length of its weighted term vector when it was indexed (for the cosine)."""
    shingle_keys: int = KEYS
    """How many of its smallest shingle hashes it files as keys."""

    @classmethod
    def of(cls, article: Article, *, keys: int = KEYS, max_terms: int = MAX_TERMS) -> Fingerprint:
        """Fingerprint an article: ``keys`` shingle keys, at most ``max_terms`` story terms."""
        f: Features = features(article)
        return cls(
            shingles=Sketch.of(f.shingles, SHINGLE_SKETCH),
            words=Sketch.of(f.words, WORD_SKETCH),
            numbers=Sketch.of(f.numbers, NUMBER_SKETCH),
            terms=f.terms[:max_terms],
            title_terms=min(f.title_terms, max_terms),
            title_key=f.title_key,
            url_key=_article_url_key(article),
            body_words=f.body_words,
            shingle_keys=keys,
        )

    def keys(self) -> dict[int, int]:
        """The index keys of this article (32-bit) and their kinds (``SHINGLE``, ...)."""
        out = {int(h) ^ SHINGLE: SHINGLE for h in self.shingles.hashes[: self.shingle_keys]}
        out.update((h ^ TERM, TERM) for h in self.terms)
        if self.title_key is not None:
            out[self.title_key ^ TITLE] = TITLE
        if self.url_key is not None:
            out[self.url_key ^ URL] = URL
        return out

    def with_norm(self, norm: float) -> Fingerprint:
        return Fingerprint(
            self.shingles,
            self.words,
            self.numbers,
            self.terms,
            self.title_terms,
            self.title_key,
            self.url_key,
            self.body_words,
            norm,
            self.shingle_keys,
        )

    def encode(self) -> bytes:
        """The bytes stored with the article (little-endian, versioned)."""
        header = _pack_header(self)
        arrays = np.concatenate(
            [
                self.shingles.hashes,
                self.words.hashes,
                self.numbers.hashes,
                np.asarray(self.terms, dtype=np.uint32),
            ]
        ).astype("<u4")
        return header + arrays.tobytes()

    @classmethod
    def decode(cls, data: bytes) -> Fingerprint:
        """Rebuild a fingerprint from :meth:`encode`'s bytes.

        Raises:
            ValueError: the bytes are not a fingerprint of this version.
        """
        fields = _LAYOUT.unpack_from(data)
        (
            version,
            shingle_keys,
            n_terms,
            sh_size,
            w_size,
            a_size,
            sh_n,
            w_n,
            a_n,
            title_terms,
            has,
            title_key,
            url_key,
            body_words,
            norm,
        ) = fields
        if version != _VERSION:
            raise ValueError(f"dedupe: fingerprint version {version} is not {_VERSION}")
        arrays = np.frombuffer(data, dtype="<u4", offset=_LAYOUT.size)
        if arrays.dtype != np.uint32:  # a big-endian machine
            arrays = arrays.astype(np.uint32)
        a, b, c = sh_n, sh_n + w_n, sh_n + w_n + a_n
        return cls(
            shingles=Sketch(arrays[:a], sh_size),
            words=Sketch(arrays[a:b], w_size),
            numbers=Sketch(arrays[b:c], a_size),
            terms=tuple(arrays[c : c + n_terms].tolist()),
            title_terms=title_terms,
            title_key=title_key if has & 1 else None,
            url_key=url_key if has & 2 else None,
            body_words=body_words,
            norm=norm,
            shingle_keys=shingle_keys,
        )


def _article_url_key(article: Article) -> int | None:
    if article.canonical_url:  # canonical already (the parser made it): skip the normaliser
        key = identity.url_key(article.canonical_url)
        return None if key is None else hash32(key)
    return url_key(article.url)


# version, shingle keys, terms, three set sizes, three sketch lengths, title terms,
# which optional keys are present, title key, URL key, body words, norm.
_LAYOUT = struct.Struct("<BBHIIIHHHHBIIIf")


def _pack_header(fp: Fingerprint) -> bytes:
    has = (fp.title_key is not None) | ((fp.url_key is not None) << 1)
    return _LAYOUT.pack(
        _VERSION,
        fp.shingle_keys,
        len(fp.terms),
        fp.shingles.size,
        fp.words.size,
        fp.numbers.size,
        len(fp.shingles.hashes),
        len(fp.words.hashes),
        len(fp.numbers.hashes),
        fp.title_terms,
        has,
        fp.title_key or 0,
        fp.url_key or 0,
        min(fp.body_words, 0xFFFFFFFF),
        fp.norm,
    )
