"""The default keywords.yaml: the seed article, variants that must match, false friends."""

from __future__ import annotations

import pytest

from monitor.match import Matcher
from tests.match.helpers import SEED, article, default_matcher


@pytest.fixture(scope="module")
def m() -> Matcher:
    return default_matcher()


def watchlists(m: Matcher, text: str, language: str | None = "en") -> set[str]:
    return {x.watchlist for x in m.match(article(text, language=language))}


def test_seed_article_matches_the_four_watchlists_with_exact_offsets(m: Matcher) -> None:
    text = SEED.read_text(encoding="utf-8")
    found = {x.watchlist: x for x in m.match(article(content=text))}
    assert set(found) == {"facial-recognition", "ai-act", "tudorache", "edpb"}
    for match in found.values():
        for hit in match.hits:
            assert hit.field == "content"
            assert text[hit.start : hit.end] == hit.text

    tudorache = [(h.text, h.start, h.end) for h in found["tudorache"].hits]
    first = text.index("Renew’s Dragoș") + len("Renew’s ")
    second = text.index("stated Tudorache") + len("stated ")
    assert tudorache == [("Dragoș Tudorache", first, first + 16), ("Tudorache", second, second + 9)]
    assert text[first + 5] == "\u0219"  # the comma-below ș survives in the reported text

    edpb = [(h.text, h.start) for h in found["edpb"].hits]
    assert edpb == [("EDPB", text.index("watchdog the EDPB") + len("watchdog the "))]

    act = [h.text for h in found["ai-act"].hits]
    assert "Artificial Intelligence Act" in act
    assert "AI Act" not in act

    # 17 hits (16 of them "facial recognition"): the first ten are reported, in text order.
    recognition = found["facial-recognition"]
    assert text.count("facial recognition") == 16
    assert (len(recognition.hits), recognition.hit_count, recognition.more_hits) == (10, 17, 7)
    starts = [h.start for h in recognition.hits]
    assert starts == sorted(starts)
    assert starts[0] == text.index("facial recognition")
    assert recognition.hits[0].snippet.marked().count("**facial recognition**") == 1


@pytest.mark.parametrize(
    ("text", "watchlist", "language"),
    [
        ("Dragoș Tudorache speaks", "tudorache", "en"),
        ("Dragoş Tudorache speaks", "tudorache", "en"),  # cedilla
        ("Dragos\u0326 Tudorache speaks", "tudorache", "en"),  # decomposed
        ("DRAGOȘ TUDORACHE SPEAKS", "tudorache", "en"),
        ("Dragos Tudorache speaks", "tudorache", "en"),
        ("In Tudorache’s view", "tudorache", "en"),
        ("Tudo\u200brache\u00ad’s plan", "tudorache", "en"),  # zero-width, soft hyphen
        ("Brando Benifei", "benifei", "it"),
        ("The EDPB's opinion", "edpb", "en"),
        ("EUROPEAN DATA PROTECTION BOARD", "edpb", "en"),
        ("the European Data-Protection Board", "edpb", "en"),
        ("Der Europäische Datenschutzausschuss warnt", "edpb", "de"),
        ("Laut EDSA ist das nach der DSGVO unzulässig", "edpb", "de"),
        ("El CEPD publica directrices sobre datos", "edpb", "es"),
        ("Comitetul European pentru Protecţia Datelor", "edpb", "ro"),  # ţ with cedilla
        ("The EDPS warned", "edps", "en"),
        ("Le Contrôleur européen de la protection des données", "edps", "fr"),
        ("AI-Act", "ai-act", "en"),
        ("The EU AI Act passed", "ai-act", "en"),
        ("Deal! #AIAct", "ai-act", "en"),
        ("Die KI-Verordnung kommt", "ai-act", "de"),
        ("Der KI-Verordnungsentwurf", "ai-act", "de"),
        ("Le règlement sur l’IA", "ai-act", "fr"),
        ("Power grab threatens to kill EU’s AI bill", "ai-act", "en"),
        ("Negocjacje ws. AI Act", "ai-act", "pl"),
        ("Gesichtserkennungssoftware am Bahnhof", "facial-recognition", "de"),
        ("FACIAL RECOGNITION CAMERAS", "facial-recognition", "en"),
        ("facial-recognition cameras", "facial-recognition", "en"),
        ("La reconnaissance faciale", "facial-recognition", "fr"),
        ("Sistem de recunoaştere facială", "facial-recognition", "ro"),
        ("Systemy rozpoznawania twarzy", "facial-recognition", "pl"),
        ("Gezichtsherkenningstechnologie", "facial-recognition", "nl"),
        ("Access Now said the rules fall short", "access-now", "en"),
        ("EDRi and 50 groups", "edri", "en"),
        ("CNIL fines Google €150m under the GDPR", "gdpr-enforcement", "en"),
        ("Kara za RODO nałożona na ubezpieczyciela", "gdpr-enforcement", "pl"),
        ("The European AI Office", "ai-office", "en"),
        ("Le Bureau de l’IA", "ai-office", "fr"),
    ],
)
def test_variants_match(m: Matcher, text: str, watchlist: str, language: str) -> None:
    assert watchlist in watchlists(m, text, language)


@pytest.mark.parametrize(
    ("text", "watchlist", "language"),
    [
        ("Face-Off: the final", "facial-recognition", "en"),
        ("Faced with a crisis, the EU acts", "facial-recognition", "en"),
        ("The new face of Europe", "facial-recognition", "en"),
        ("Thai actors win award", "ai-act", "en"),
        ("Colorado AI Act delayed", "ai-act", "en"),
        ("Colorado’s AI Act delayed", "ai-act", "en"),
        ("Mai Act premieres", "ai-act", "en"),
        ("EU signs contract on chips", "ai-act", "en"),
        ("EU adopts FAIR data rules", "ai-act", "en"),
        ("EU rules bar Ai Weiwei show", "ai-act", "en"),
        ("Il governo vicino ai cittadini: regolamento UE", "ai-act", "it"),
        ("The EDPB said", "edps", "en"),
        ("The EDPS said", "edpb", "en"),
        ("Le CEPD a publié un avis", "edpb", "fr"),  # EDPB or EDPS?
        ("Le CEPD a publié un avis", "edps", "fr"),
        ("EDSA traffic in Manila", "edpb", "en"),
        ("La AEPD multa a una empresa", "edps", "es"),  # Spain's regulator
        ("Get early access now to the beta", "access-now", "en"),
        ("Buy Access Now!", "access-now", "en"),
        ("Declaration on European Digital Rights and Principles", "edri", "en"),
        ("Edri Hoxha scores twice", "edri", "en"),
        ("In order to comply with the GDPR, update", "gdpr-enforcement", "en"),
        ("Tudor era ache", "tudorache", "en"),
        ("AI office assistant launched", "ai-office", "en"),
    ],
)
def test_false_friends_do_not_match(m: Matcher, text: str, watchlist: str, language: str) -> None:
    assert watchlist not in watchlists(m, text, language)
