"""Issue 18 item 5: an alias that names other bodies too counts only with context."""

from __future__ import annotations

import pytest

from monitor.errors import ConfigError
from tests.match.helpers import article, config, default_matcher, matcher

KEYWORDS = """
actors:
  edpb:
    name: European Data Protection Board
    aliases: ["=EDPB"]
    by_language:
      es: ["=CEPD"]
    ambiguous: ["=CEPD"]
    context: [datos, protección, RGPD]
    within: 5
watchlists:
  edpb: {any: [{actor: edpb}]}
"""


@pytest.mark.parametrize(
    ("text", "language", "hits"),
    [
        ("El CEPD publicó directrices sobre protección de datos", "es", ["CEPD"]),
        ("Según el RGPD, el CEPD decide", "es", ["CEPD"]),
        ("El CEPD publicó directrices", "es", []),  # no context
        # Context too far away (more than 5 words), or in another field.
        ("El CEPD de Madrid organiza un torneo de fútbol este verano con datos", "es", []),
        ("El CEPD publicó datos", "fr", []),  # scoped to Spanish
        ("The EDPB met", "en", ["EDPB"]),  # unambiguous aliases need nothing
    ],
)
def test_an_ambiguous_alias_needs_context_nearby(text: str, language: str, hits: list[str]) -> None:
    found = matcher(KEYWORDS).match(article(content=text, language=language))
    assert [h.text for m in found for h in m.hits] == hits


def test_context_in_another_field_does_not_count() -> None:
    found = matcher(KEYWORDS).match(article("RGPD", content="El CEPD publicó", language="es"))
    assert found == []


def test_many_ambiguous_hits_cost_no_more_than_the_text() -> None:
    """Each hit looks only at the context hits within reach (issue 10's bound)."""
    text = "CEPD fútbol " * 5_000 + "CEPD datos"
    (found,) = matcher(KEYWORDS).match(article(content=text, language="es"))
    # The last three are within 5 words of "datos" (4, 2 and 0 words between).
    assert found.hit_count == 3
    assert [text[h.start : h.end] for h in found.hits] == ["CEPD"] * 3


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('    ambiguous: ["=CEPD", ESA]\n    context: [datos]\n', "'ESA' is not one of"),
        ('    ambiguous: ["=CEPD"]\n', "ambiguous aliases need context"),
        ('    ambiguous: ["=CEPD"]\n    context: [datos]\n    within: -1\n', "within must be"),
    ],
)
def test_ambiguous_aliases_are_checked_at_load(extra: str, message: str) -> None:
    text = (
        'actors:\n  edpb:\n    name: EDPB\n    by_language:\n      es: ["=CEPD"]\n'
        + extra
        + "watchlists:\n  w: {any: [{actor: edpb}]}\n"
    )
    with pytest.raises(ConfigError, match=message):
        config(text)


def test_the_shipped_ambiguous_acronyms_are_declared() -> None:
    actors = default_matcher().config.actors
    assert {"=CEPD", "=EDSA", "=EROD"} <= actors["edpb"].ambiguous
    assert {"=AEPD", "=SEPD", "=GEPD", "=EDSB", "=EIOD"} <= actors["edps"].ambiguous
    m = default_matcher()
    assert m.match(article(content="La AEPD multa a un banco", language="pt")) == []
    found = m.match(article(content="A AEPD publicou um parecer sobre dados", language="pt"))
    assert [x.watchlist for x in found] == ["edps"]


def test_explain_shows_an_ambiguous_alias_that_was_not_confirmed() -> None:
    from monitor.match.report import explanation_json, explanation_text

    m = matcher(KEYWORDS)
    item = article(content="El CEPD publicó directrices", language="es")
    (explained,) = m.explain(item)
    assert not explained.matched
    assert [h.text for h in explained.unconfirmed] == ["CEPD"]
    assert "unconfirmed (ambiguous alias" in explanation_text(item, [explained])
    assert explanation_json(item, [explained])["watchlists"][0]["unconfirmed"][0]["text"] == "CEPD"
    (confirmed,) = m.explain(article(content="El CEPD y los datos", language="es"))
    assert (confirmed.matched, confirmed.unconfirmed) == (True, ())


INFLECTED = """
actors:
  cameras:
    name: Facial recognition
    by_language:
      pl: [rozpoznawanie twarzy, {term: "=RT", exact: true}]
    ambiguous: [rozpoznawanie twarzy, "=RT"]
    context: [kamer*]
    within: 5
watchlists:
  cameras: {any: [{actor: cameras}]}
"""


@pytest.mark.parametrize(
    ("text", "forms"),
    [
        ("Policja testuje rozpoznawanie twarzy na dworcach", []),
        ("Policja nie chce rozpoznawania twarzy na dworcach", []),  # inflected: no context
        ("Kamery z rozpoznawaniem twarzy na dworcach", ["pl: rozpoznawaniem twarzy"]),
        ("Kamery z rozpoznawanie twarzy na dworcach", [None]),
        ("Kamery RT na dworcach", [None]),
    ],
)
def test_inflected_forms_of_an_ambiguous_alias_need_context_too(
    text: str, forms: list[str | None]
) -> None:
    """Issue 14 with issue 18: each atom of an ambiguous alias, one per form, is checked."""
    found = matcher(INFLECTED).match(article(content=text, language="pl"))
    assert [h.form for m in found for h in m.hits] == forms


def test_an_ambiguous_alias_written_as_a_term_mapping_is_one_of_the_aliases() -> None:
    cfg = config(INFLECTED)
    assert cfg.actors["cameras"].ambiguous == {"rozpoznawanie twarzy", "=RT"}
    with pytest.raises(ConfigError, match="'=XY' is not one of"):
        config(INFLECTED.replace('"=RT"]\n    context', '"=XY"]\n    context'))


def test_the_shipped_context_has_words_of_the_new_languages() -> None:
    m = default_matcher()
    # German EDSA, Danish context word ("databeskyttelse*") in an article of unknown language.
    found = m.match(article(content="EDSA og databeskyttelsesreglerne", language=None))
    assert [h.text for x in found for h in x.hits] == ["EDSA"]
    assert m.match(article(content="EDSA und die Autobahn", language=None)) == []
