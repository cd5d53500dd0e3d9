"""Build ``cases.jsonl``: the adversarial corpus of issue 18 (what feeds do to words).

Every case puts one watched phrase, mangled as real feeds mangle it, into real feed text
(the items of ``tests/data/match/replay`` that match no shipped watchlist), or a near
miss that must not match.  Six classes, about 30 cases each: double escaping, dotted
and plural acronyms, invisible and typographic characters, a phrase cut between title
and summary, ambiguous acronyms, and passing mentions (for those the label is whether
an instant alert is wanted).  Deterministic: ``python tests/data/match/adversarial/
make_cases.py`` rewrites the file; review the diff.

The cases are written by the same hands as the matcher: they measure that the classes
are handled, not an independent precision.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT))

from tests.match.helpers import default_matcher, replay_articles  # noqa: E402

OUT = Path(__file__).with_name("cases.jsonl")


def _case(cls: str, title: str, summary: str, watchlist: str, expected: bool, **kw: str) -> dict:
    return {
        "class": cls,
        "title": title,
        "summary": summary,
        "content": kw.get("content", ""),
        "language": kw.get("language"),
        "watchlist": watchlist,
        "expected": expected,
        "note": kw.get("note", ""),
    }


def build() -> list[dict]:
    rng = random.Random(18)
    m = default_matcher()
    bases = [a for _, a in replay_articles() if a.title and a.summary and not m.match(a)]
    rng.shuffle(bases)
    it = iter(bases)

    def base() -> tuple[str, str]:
        a = next(it)
        return a.title, a.summary

    cases: list[dict] = []
    # 1. Double escaping: one decode too few leaves a reference between the words.
    for ref in ["&nbsp;", "&amp;nbsp;", "&#160;", "&amp;#160;", "&#xA0;", "&amp;amp;nbsp;"]:
        for phrase, wl in [
            (f"facial{ref}recognition", "facial-recognition"),
            (f"AI{ref}Act", "ai-act"),
            (f"the EDPB&#8217;s{ref}guidelines", "edpb"),
        ]:
            t, s = base()
            cases.append(_case("escaping", t, f"{s} Also: {phrase}.", wl, True))
    for near_miss, wl in [
        ("facial&nbsp;expressions and voice recognition", "facial-recognition"),
        ("AT&amp;T and R&amp;D spending", "ai-act"),
        ("AI&amp;nbsp;acting coach", "ai-act"),
        ("&amp;copy; EDP Board games", "edpb"),
        ("facial&amp;#8217;s recognition", "facial-recognition"),
        ("Q&amp;A with AI researchers", "ai-act"),
        ("facial&shy;ly recognisable", "facial-recognition"),
        ("&lt;AI&gt; &amp; Acts of Parliament", "ai-act"),
        ("E&amp;DPB", "edpb"),
        ("recognition&nbsp;facial", "facial-recognition"),
        ("AI&nbsp;Actually", "ai-act"),
        ("EDP&amp;B", "edpb"),
    ]:
        t, s = base()
        cases.append(_case("escaping", t, f"{s} {near_miss}.", wl, False))
    # 2. Acronyms: dotted, spaced, plural, possessive.
    for phrase, wl in [
        ("the A.I. Act", "ai-act"),
        ("the A.I. Act's", "ai-act"),
        ("E.D.P.B. guidelines", "edpb"),
        ("the E D P B", "edpb"),
        ("EDPB’s chair", "edpb"),
        ("EDPB's opinion", "edpb"),
        ("E.D.P.S. opinion", "edps"),
        ("the EDPS’ opinion", "edps"),
        ("A.I. Act compliance", "ai-act"),
        ("E.D.P.B.’s statement", "edpb"),
        ("both E.D.P.S. and E.D.P.B.", "edpb"),
        ("the E D P S", "edps"),
        ("E.D.P.B.", "edpb"),
        ("A.I. Act’s", "ai-act"),
        ("EU's A.I. Act", "ai-act"),
        ("EDPBs", "edpb"),
        ("E.D.P.B", "edpb"),
        ("the E.D.P.B.'s", "edpb"),
    ]:
        t, s = base()
        cases.append(_case("acronyms", t, f"{s} On {phrase}.", wl, True))
    for near_miss, wl in [
        ("Plan A. I act fast", "ai-act"),
        ("plan a i act", "ai-act"),
        ("the e d p b", "edpb"),
        ("edpbs are", "edpb"),
        ("A. I. Act now", "ai-act"),
        ("E. D. P. B. Smith", "edpb"),
        ("the AIs acted", "ai-act"),
        ("EDP Board", "edpb"),
        ("E D P", "edps"),
        ("Option A I Act", "ai-act"),
        ("E.D.P. Bank", "edpb"),
        ("EDPSes", "edps"),
    ]:
        t, s = base()
        cases.append(_case("acronyms", t, f"{s} {near_miss}.", wl, False))
    # 3. Invisible and typographic characters.
    for phrase, wl in [
        ("facial recog\u00adnition", "facial-recognition"),
        ("fa\u00adcial recog\u00adni\u00adtion", "facial-recognition"),
        ("facial\u2011recognition", "facial-recognition"),
        ("facial recog\u200bnition", "facial-recognition"),
        ("fa\u200ccial recognition", "facial-recognition"),
        ("facial recog\u200dnition", "facial-recognition"),
        ("facial recog\u2060nition", "facial-recognition"),
        ("facial recog-\nnition", "facial-recognition"),
        ("fa-\ncial recognition", "facial-recognition"),
        ("ＡＩ Ａｃｔ", "ai-act"),
        ("ＥＤＰＢ", "edpb"),
        ("Gesichts\u00aderkennung", "facial-recognition"),
        ("Gesichts\u200berkennung", "facial-recognition"),
        ("AI\u00a0Act", "ai-act"),
        ("AI\u2009Act", "ai-act"),
        ("AI\u202fAct", "ai-act"),
        ("facial\u3000recognition", "facial-recognition"),
        ("E\u00adD\u00adP\u00adB", "edpb"),
    ]:
        t, s = base()
        cases.append(_case("invisible", t, f"{s} {phrase} again.", wl, True))
    for near_miss, wl in [
        ("facial\u00ad recognizer", "facial-recognition"),
        ("facial recog- nition-like", "facial-recognition"),
        ("AI\u200bActs", "ai-act"),
        ("ＡＩ Ａｃｔｉｏｎ", "ai-act"),
        ("EDP\u00adBs", "edpb"),
        ("facial-\nrecog Ltd", "facial-recognition"),
        ("facial\u00adrecognition", "facial-recognition"),
        ("Gesichts-\nErkennung", "facial-recognition"),
        ("AI-\nActivist", "ai-act"),
        ("recognition\u2011facial", "facial-recognition"),
        ("ＥＤＰ Ｂ", "edpb"),
        ("E\u200bDPBX", "edpb"),
    ]:
        t, s = base()
        cases.append(_case("invisible", t, f"{s} {near_miss} again.", wl, False))
    # 4. A phrase cut between a truncated title and its summary.
    for head, tail, wl in [
        ("MEPs vote to ban live facial…", "…recognition in public spaces", "facial-recognition"),
        ("Police expand use of facial...", "recognition cameras at stations", "facial-recognition"),
        ("Council backs the AI…", "…Act compromise text", "ai-act"),
        ("What the AI...", "...Act means for startups", "ai-act"),
        ("Brussels weighs limits on facial …", "… recognition by retailers", "facial-recognition"),
        ("Companies prepare for the AI…", "Act obligations coming into force", "ai-act"),
        ("Regulators warn on live facial…", "…recognition trials", "facial-recognition"),
        ("Ministers debate the EU AI…", "…Act's general-purpose rules", "ai-act"),
        ("Retail chains drop facial…", "…recognition after complaints", "facial-recognition"),
        ("Start-ups and the AI…", "…Act sandbox", "ai-act"),
        ("Airports roll out facial...", "...recognition boarding", "facial-recognition"),
        ("Unions push back on the AI...", "...Act's workplace rules", "ai-act"),
        ("Schools banned from facial…", "…recognition in canteens", "facial-recognition"),
        ("Lawyers parse the AI…", "…Act's high-risk annex", "ai-act"),
        ("Stadiums test facial…", "…recognition at gates", "facial-recognition"),
        ("Hospitals and the AI…", "…Act: what changes", "ai-act"),
        ("Shops scan faces: facial…", "…recognition spreads", "facial-recognition"),
        ("Insurers study the AI…", "…Act's rules on scoring", "ai-act"),
    ]:
        cases.append(_case("cut", head, tail, wl, True))
    for head, tail, wl in [
        ("MEPs vote to ban live facial", "recognition in public spaces", "facial-recognition"),
        (
            "Police expand use of facial…",
            "Recognition of the problem is slow",
            "facial-recognition",
        ),
        ("Council backs the AI…", "Acting ministers met on Friday", "ai-act"),
        ("What the AI", "act of Parliament means", "ai-act"),
        ("Brussels weighs limits on facial…", "Cosmetics rules come next", "facial-recognition"),
        ("Companies prepare for the AI", "Act obligations coming into force", "ai-act"),
        ("Regulators warn on live facial…", "…scanning of crowds", "facial-recognition"),
        ("Ministers debate the EU AI…", "…strategy and chips", "ai-act"),
        ("Retail chains drop facial", "…recognition after complaints", "facial-recognition"),
        ("Start-ups and the AI.", "Act now, investors say", "ai-act"),
        ("Airports roll out facial", "Recognition software next year", "facial-recognition"),
        ("Unions push back on AI…", "…agents in offices", "ai-act"),
    ]:
        cases.append(_case("cut", head, tail, wl, False))
    # 5. Ambiguous acronyms: scoped to a language, confirmed by context nearby.
    for text, language, wl in [
        ("El CEPD publicó directrices sobre protección de datos", "es", "edpb"),
        ("Según el RGPD, el CEPD adoptó un dictamen", "es", "edpb"),
        ("O CEPD adotou orientações sobre dados pessoais", "pt", "edpb"),
        ("Laut EDSA verstößt das gegen die DSGVO", "de", "edpb"),
        ("Der EDSA hat eine Stellungnahme zum Datenschutz veröffentlicht", "de", "edpb"),
        ("EROD wydała wytyczne dotyczące ochrony danych", "pl", "edpb"),
        ("Autoritatea AEPD a emis un aviz privind datelor personale", "ro", "edps"),
        ("A AEPD publicou um parecer sobre dados", "pt", "edps"),
        ("Il GEPD ha pubblicato un parere sui dati personali", "it", "edps"),
        ("El SEPD advierte sobre datos biométricos", "es", "edps"),
        ("Der EDSB warnt vor Datenschutz-Risiken", "de", "edps"),
        ("EIOD ostrzega: ochrona danych osobowych", "pl", "edps"),
        ("El CEPD, junto al SEPD, pide más privacidad en los datos", "es", "edpb"),
        ("The EDPB issued guidelines", "en", "edpb"),
        ("The EDPS warned the Commission", "en", "edps"),
        ("O CEPD e a privacidade", "pt", "edpb"),
        ("Datenschutz: der EDSA entscheidet", "de", "edpb"),
        ("CEPD: nuevas normas de datos", "es", "edpb"),
    ]:
        t, _ = base()
        cases.append(_case("ambiguous", t, text, wl, True, language=language))
    for text, language, wl in [
        ("El CEPD de Madrid organiza un torneo de fútbol", "es", "edpb"),
        ("La AEPD multa a un banco por spam", "es", "edps"),
        ("La AEPD multa a un banco", "pt", "edps"),
        ("EDSA station reopens after floods", "en", "edpb"),
        ("Le CEPD publie un avis sur les données", "fr", "edpb"),
        ("Der EDSA-Skiclub feiert Jubiläum", "de", "edpb"),
        ("EROD to nazwa firmy budowlanej", "pl", "edpb"),
        ("O CEPD de Lisboa abriu inscrições", "pt", "edpb"),
        ("Il GEPD di Milano cambia sede", "it", "edps"),
        ("El SEPD convoca oposiciones de educación", "es", "edps"),
        ("Der EDSB-Kurs beginnt im Mai", "de", "edps"),
        ("EIOD - nowy program szkoleń", "pl", "edps"),
    ]:
        t, _ = base()
        cases.append(_case("ambiguous", t, text, wl, False, language=language))
    # 6. Passing mentions: the label is whether an instant alert is wanted.
    filler = [base()[1] for _ in range(8)]
    for title, summary, wl in [
        (
            "EU bans live facial recognition in public spaces",
            "MEPs voted on Tuesday.",
            "facial-recognition",
        ),
        ("AI Act: what changes for startups", "A guide to the new rules.", "ai-act"),
        ("EDPB fines tracked in new report", "The board published its figures.", "edpb"),
        ("Police face limits on facial recognition", filler[0], "facial-recognition"),
        ("Parliament adopts the AI Act", filler[1], "ai-act"),
        ("Facial recognition: the new normal?", filler[2], "facial-recognition"),
        ("Inside the AI Act talks", filler[3], "ai-act"),
        ("Court weighs facial recognition case", filler[4], "facial-recognition"),
        ("Our view", "Facial recognition in schools must end. " + filler[5], "facial-recognition"),
        ("Explainer", "The AI Act sets rules by risk. " + filler[6], "ai-act"),
        ("New guidance", "The EDPB adopted new guidance on cookies. " + filler[7], "edpb"),
        ("Facial recognition firm fined", "Clearview was fined again.", "facial-recognition"),
        ("AI Act delays?", "The Commission may postpone parts.", "ai-act"),
        ("EDPB chair speaks", "On enforcement.", "edpb"),
        ("Ban facial recognition, MEPs say", "A letter.", "facial-recognition"),
        ("AI Act review", "Notes.", "ai-act"),
        ("Stadiums and facial recognition", "Fans protest.", "facial-recognition"),
        ("The AI Act and you", "A podcast.", "ai-act"),
    ]:
        cases.append(_case("prominence", title, summary, wl, True))
    bullets = "\n".join(f"• {b[:80]}" for b in filler[:5])
    for title, summary, wl in [
        (
            "Morning Tech: farm subsidies, fish quotas and more",
            bullets + "\n• Also: facial recognition vote",
            "facial-recognition",
        ),
        ("Weekly digest: budgets, rail and the AI Act", bullets, "ai-act"),
        ("Daily briefing", bullets + "\n• EDPB opinion on cookies", "edpb"),
        ("The week in review", bullets + "\n• AI Act timeline slips", "ai-act"),
        (
            "Newsletter: what we're reading",
            bullets + "\n• Facial recognition at borders",
            "facial-recognition",
        ),
        ("Evening round-up", bullets + "\n• The EDPB met", "edpb"),
        ("In brief: ports, chips, AI Act and more", bullets, "ai-act"),
        ("Morning Brief", bullets + "\n• facial recognition in shops", "facial-recognition"),
        ("News roundup", bullets + "\n• AI Act guidance", "ai-act"),
        ("Tech digest", bullets + "\n• EDPB statement", "edpb"),
        ("Weekly: energy, AI Act, fisheries", bullets, "ai-act"),
        ("Daily: facial recognition, farms, fish and more", bullets, "facial-recognition"),
    ]:
        cases.append(_case("prominence", title, summary, wl, False))
    return cases


def main() -> None:
    cases = build()
    with OUT.open("w", encoding="utf-8") as out:
        for number, case in enumerate(cases, start=1):
            out.write(json.dumps({"id": number, **case}, ensure_ascii=False) + "\n")
    print(f"{len(cases)} cases -> {OUT}")


if __name__ == "__main__":
    main()
