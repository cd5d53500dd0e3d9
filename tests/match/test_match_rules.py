"""Rule semantics on small watchlists: any/all/none/near/weights, fields, languages, ignore."""

from __future__ import annotations

from monitor.models import Article
from monitor.plaintext import html_to_text
from tests.match.helpers import article, matcher


def matched(yaml: str, art: Article) -> list[str]:
    return [m.watchlist for m in matcher(yaml).match(art)]


def test_any_all_none() -> None:
    yaml = """
watchlists:
  w:
    any: [facial recognition, biometric surveillance]
    all: [police]
    none: [movie]
"""
    assert matched(yaml, article("Police expand facial recognition")) == ["w"]
    assert matched(yaml, article("Police expand biometric surveillance")) == ["w"]
    assert matched(yaml, article("Facial recognition in shops")) == []  # all: police
    assert matched(yaml, article("Police in a facial recognition movie")) == []  # none: movie


def test_near_counts_the_words_between_terms_in_one_field() -> None:
    yaml = """
watchlists:
  w:
    near:
      - terms: [facial recognition, [ban, moratorium]]
        within: 2
"""
    assert matched(yaml, article("A ban on facial recognition")) == ["w"]  # 1 between
    assert matched(yaml, article("facial recognition ban")) == ["w"]  # adjacent
    assert matched(yaml, article("facial recognition is, they say, a ban")) == []  # 3 between
    assert matched(yaml, article("a moratorium on live facial recognition")) == ["w"]
    assert matched(yaml, article("facial recognition", "ban")) == []  # two fields


def test_near_picks_the_closest_occurrences_and_counts_every_word_between() -> None:
    yaml = """
watchlists:
  w:
    any:
      - near: [[AI rules, AI law], [=EU, Brussels], [deal]]
        within: {within}
"""
    text = "Brussels wrote some long text here; later the EU clinched a deal on AI rules"
    # Between "EU" and "AI rules": clinched, a, deal, on.
    found = matcher(yaml.format(within=4)).match(article(text))
    assert [h.text for h in found[0].hits] == ["EU", "deal", "AI rules"]
    assert matcher(yaml.format(within=3)).match(article(text)) == []


def test_weights_and_threshold() -> None:
    yaml = """
watchlists:
  w:
    weights: {biometric*: 1, facial recognition: 2, actor:edpb: 3}
    threshold: 3
actors:
  edpb: {name: European Data Protection Board, aliases: ["=EDPB"]}
"""
    assert matched(yaml, article("Biometric data and facial recognition")) == ["w"]
    assert matched(yaml, article("Biometrics, biometric, biometrical")) == []  # one term: 1
    m = matcher(yaml).match(article("The EDPB on facial recognition"))
    assert m[0].score == 5


def test_fields_limit_where_terms_count() -> None:
    yaml = """
watchlists:
  w:
    any: [AI Act]
    fields: [title]
"""
    assert matched(yaml, article("AI Act deal")) == ["w"]
    assert matched(yaml, article("Deal", summary="AI Act")) == []


def test_no_match_across_the_title_summary_boundary() -> None:
    yaml = "watchlists: {w: {any: [AI Act]}}"
    assert matched(yaml, article("Europe and AI", "Act now, say campaigners")) == []


def test_languages_filter_lets_unknown_languages_through() -> None:
    yaml = """
watchlists:
  w:
    any: [Datenschutz]
    languages: [de, at]
"""
    assert matched(yaml, article("Datenschutz", language="de-DE")) == ["w"]
    assert matched(yaml, article("Datenschutz", language="en")) == []
    assert matched(yaml, article("Datenschutz", language=None)) == ["w"]


def test_language_aliases_count_only_in_their_language() -> None:
    yaml = """
actors:
  edpb:
    name: European Data Protection Board
    by_language:
      de: ["=EDSA"]
watchlists:
  w: {any: [{actor: edpb}]}
"""
    assert matched(yaml, article("Der EDSA warnt", language="de")) == ["w"]
    assert matched(yaml, article("EDSA traffic jam in Manila", language="en")) == []
    assert matched(yaml, article("EDSA", language=None)) == ["w"]


def test_ignore_drops_hits_inside_other_phrases_only() -> None:
    yaml = """
watchlists:
  w:
    any: [AI Act]
    ignore: [Colorado AI Act]
"""
    m = matcher(yaml)
    assert m.match(article("Colorado AI Act delayed")) == []
    text = "Unlike the Colorado AI Act, the EU AI Act bans scoring"
    found = m.match(article(text))
    assert [(h.text, h.start) for h in found[0].hits] == [("AI Act", text.rindex("AI Act"))]


def test_case_sensitive_terms() -> None:
    yaml = "watchlists: {w: {any: ['=AI Office']}}"
    assert matched(yaml, article("The AI Office opens")) == ["w"]
    assert matched(yaml, article("The AI-Office opens")) == ["w"]
    assert matched(yaml, article("An ai office assistant")) == []


def test_wildcards_cover_compounds_and_inflections() -> None:
    yaml = """
watchlists:
  de: {any: [Gesichtserkennung*]}
  suffix: {any: ["*überwachung"]}
  both: {any: ["*biometri*"]}
"""
    m = matcher(yaml)
    hits = {
        x.watchlist: [h.text for h in x.hits]
        for x in m.match(article("Gesichtserkennungssoftware und Massenüberwachung mit Biometrie"))
    }
    assert hits == {
        "de": ["Gesichtserkennungssoftware"],
        "suffix": ["Massenüberwachung"],
        "both": ["Biometrie"],
    }
    assert m.match(article("Gesicht erkennung")) == []


def test_whole_words_only() -> None:
    yaml = "watchlists: {w: {any: [AI Act, face]}}"
    for text in ("Thai actors", "Mai Act", "a contract", "Interface", "Faced with it"):
        assert matched(yaml, article(text)) == [], text
    assert matched(yaml, article("Face-Off")) == ["w"]  # a bare 'face' term is imprecise


def test_html_is_stripped_before_matching() -> None:
    yaml = "watchlists: {w: {any: [facial recognition]}}"
    hidden = html_to_text(
        '<p>Read <a href="https://x.eu/facial-recognition">this</a>'
        '<img src="/img/facial-recognition.jpg" alt="facial recognition">'
        "</p>"
    )
    assert matched(yaml, article(summary=hidden)) == []
    shown = html_to_text("<p>Live <b>facial</b> recog<i>nition</i></p>")
    assert matched(yaml, article(summary=shown)) == ["w"]


def test_matches_are_sorted_and_actor_hits_collapse() -> None:
    yaml = """
actors:
  tudorache: {name: Dragoș Tudorache, aliases: [Tudorache]}
watchlists:
  zeta: {any: [{actor: tudorache}]}
  alpha: {any: [Tudorache]}
"""
    text = "MEP Dragoș Tudorache said. Later Tudorache added"
    found = matcher(yaml).match(article(content=text))
    assert [m.watchlist for m in found] == ["alpha", "zeta"]
    zeta = found[1]
    assert [(h.text, h.start, h.end, h.actor) for h in zeta.hits] == [
        ("Dragoș Tudorache", 4, 20, "tudorache"),
        ("Tudorache", 33, 42, "tudorache"),
    ]
    marked = "MEP **Dragoș Tudorache** said. Later **Tudorache** added"
    assert zeta.hits[0].snippet.marked() == marked
    assert found[0].hits[0].text == "Tudorache"
    assert found[0].hits[0].start == 11
