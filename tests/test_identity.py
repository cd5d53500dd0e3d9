"""Article identity: one URL normaliser, one URL key, one text hash, each pinned."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from monitor import identity
from monitor.dedupe.fingerprint import url_key as fingerprint_url_key
from monitor.identity import canonical_url, text_hash, url_key

# The values are persisted (entry keys, articles.url_key and content_hash, fingerprints):
# a change here makes known articles new.  Change them only with identity.VERSION and a
# migration that re-keys the stored rows (monitor.store.migrations).
TEXT_HASHES = {
    # Computed by monitor.parse.identity.text_hash before issue 11: hash: keys keep them.
    (
        "EU AI Act — trilogue deal",
        "<p>MEPs &amp; Council agree…</p>  Brussels, 8 Dec.",
    ): "5e76377bbed3917ab5fa792b9742f2fe",
    ("", ""): "29b74ebc971c8a56dae28a940ba6413c",
    ("Ünïcode_test: ß/Σ", "  \u00a0 spaced\tout\n"): "04c266b1731b995eb92419096185cfc5",
}
URL_KEYS = {
    "https://www.politico.eu/article/eu-ai-act-deal/": "politico.eu/article/eu-ai-act-deal",
    "http://politico.eu/article/eu-ai-act-deal": "politico.eu/article/eu-ai-act-deal",
    "https://m.example.eu/news/a/amp": "example.eu/news/a",
    "https://example.eu/news/index.html#top": "example.eu/news",
    "https://news.ycombinator.com/item?id=1": "news.ycombinator.com/item?id=1",
    "https://example.eu/a?share=1&b=2&utm_source=rss": "example.eu/a?b=2",
    "https://example.eu/": None,
    "mailto:press@example.eu": None,
    "": None,
}
# 32-bit fingerprint URL keys computed by monitor.dedupe before issue 11: stored
# fingerprints keep them, so the migration need not touch story_articles.
FINGERPRINT_URL_KEYS = {
    "https://www.politico.eu/article/eu-ai-act-deal/": 268150859,
    "https://m.example.eu/news/a/amp": 609576111,
    "https://news.ycombinator.com/item?id=1": 40929724,
    "https://example.eu/": None,
}


def test_version_is_pinned() -> None:
    assert identity.VERSION == 2


def test_text_hash_values_never_change() -> None:
    for (title, summary), expected in TEXT_HASHES.items():
        assert text_hash(title, summary) == expected


def test_text_hash_ignores_case_unicode_form_and_spacing() -> None:
    assert text_hash("Café  Über", "a\u00a0b") == text_hash("CAFE\u0301 über", " a b ")


def test_url_key_values() -> None:
    for url, expected in URL_KEYS.items():
        assert url_key(canonical_url(url) if url else None) == expected, url


def test_fingerprint_url_key_is_the_identity_url_key_hashed_and_unchanged() -> None:
    for url, expected in FINGERPRINT_URL_KEYS.items():
        assert fingerprint_url_key(url) == expected, url


@given(st.text(max_size=60))
def test_url_key_never_raises_and_is_stable_under_canonicalisation(text: str) -> None:
    for url in (text, "https://" + text, "https://www.example.eu/" + text):
        key = url_key(canonical_url(url))
        assert key is None or isinstance(key, str)
        assert url_key(canonical_url(canonical_url(url))) == key


@given(st.text(max_size=40), st.sampled_from(["", ":8080", ":443"]), st.text(max_size=20))
def test_the_fast_split_agrees_with_urlsplit(text: str, port: str, query: str) -> None:
    from monitor.identity import _split, _split_slowly

    for url in (
        "https://" + text,
        f"https://example.eu{port}/{text}?{query}",
        canonical_url(f"https://www.example.eu{port}/{text}?{query}"),
        f"http://a.b{port}?{query}",
    ):
        assert _split(url) == _split_slowly(url), url
