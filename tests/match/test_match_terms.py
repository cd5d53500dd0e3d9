"""Term syntax: plain phrases, '*' at either end, '=' for case, and what is refused."""

from __future__ import annotations

import pytest

from monitor.match.terms import Term, cased_matches, parse_term


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("facial recognition", Term("facial recognition", "facial recognition")),
        ("  AI-Act ", Term("AI-Act", "ai act")),
        ("Gesichtserkennung*", Term("Gesichtserkennung*", "gesichtserkennung", open_end=True)),
        ("*erkennung", Term("*erkennung", "erkennung", open_start=True)),
        ("*biometri*", Term("*biometri*", "biometri", open_start=True, open_end=True)),
        ("=EDPB", Term("=EDPB", "edpb", cased="EDPB", case_sensitive=True)),
        ("=AI Office", Term("=AI Office", "ai office", cased="AI Office", case_sensitive=True)),
        ("règlement sur l'IA", Term("règlement sur l'IA", "reglement sur l ia")),
    ],
)
def test_parse_term(raw: str, expected: Term) -> None:
    assert parse_term(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "has no letters or digits"),
        ("*", "has no letters or digits"),
        ("--", "has no letters or digits"),
        ("AI*Act", "'*' inside"),
        ("(?i)ai act", "not regular expressions"),
        ("data|privacy", "not regular expressions"),
        ("C++", "not regular expressions"),
        ("gdpr-*", "'*' must touch a letter or digit"),
        ("ki*", "at least 3 letters"),
    ],
)
def test_parse_term_refuses(raw: str, message: str) -> None:
    with pytest.raises(
        ValueError,
        match=message.replace("*", r"\*")
        .replace("+", r"\+")
        .replace("(", r"\(")
        .replace("|", r"\|"),
    ):
        parse_term(raw)


@pytest.mark.parametrize(
    ("raw", "found", "ok"),
    [
        ("=EDPB", "EDPB", True),
        ("=EDPB", "Edpb", False),
        ("=AI Act", "AI-Act", True),
        ("=AI Act", "Ai act", False),
        ("=KI-Verordnung*", "KI-Verordnungen", True),
        ("=Gesicht*", "gesichtserkennung", False),
        ("=EDRi", "EDRi", True),
        ("=EDRi", "EDRI", False),
    ],
)
def test_case_sensitive_terms_compare_letters_with_their_case(
    raw: str, found: str, ok: bool
) -> None:
    assert cased_matches(parse_term(raw), found) is ok
