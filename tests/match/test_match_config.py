"""keywords.yaml validation: golden error messages (file:line: key: message), destinations.

Each ``tests/data/match/config/NAME.yaml`` is an invalid file beside ``NAME.errors``, the
exact report.  ``UPDATE_GOLDEN=1 pytest tests/match`` rewrites them; review the diff.
"""

from __future__ import annotations

import os
from datetime import time
from pathlib import Path

import pytest

from monitor.config.keywords import load_keywords
from monitor.errors import ConfigError, ConfigErrors
from monitor.match.terms import ActorRef, Near, Term
from tests.match.helpers import DATA, DEFAULT_KEYWORDS, config

CASES = sorted((DATA / "config").glob("*.yaml"))


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_config_errors_match_the_golden_report(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(path.parent)
    with pytest.raises(ConfigError) as info:
        load_keywords(path.name)
    report = str(info.value) + "\n"
    golden = path.with_suffix(".errors")
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(report, encoding="utf-8")
    assert report == golden.read_text(encoding="utf-8")


def test_all_errors_come_in_one_pass_with_their_places() -> None:
    with pytest.raises(ConfigErrors) as info:
        load_keywords(str(DATA / "config" / "many-errors.yaml"))
    errors = info.value.errors
    assert len(errors) > 20
    assert all(e.file and e.line and e.path for e in errors if e.path != "extra")
    assert [e.line for e in errors] == sorted(e.line or 0 for e in errors)


def test_a_missing_file_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_keywords("no-such-keywords.yaml")


def test_destinations_defaults_and_forms() -> None:
    cfg = config("""
destinations:
  channel: {telegram: "@eu_ai_watch"}
  group: {telegram: -1001234567890, digest_empty: true}
  team:
    email: [Policy@Example.org, press@example.org]
    digest_time: "7:30"
    timezone: Europe/Warsaw
  single: {email: one@example.org}
watchlists:
  w: {any: [x y], alert: [channel, group], digest: [team, single]}
""")
    d = cfg.destinations
    assert d["channel"].telegram == "@eu_ai_watch"
    assert d["channel"].email == ()
    assert d["channel"].digest_time == time(8, 0)
    assert d["channel"].timezone == "Europe/Brussels"
    assert d["group"].telegram == "-1001234567890"
    assert d["group"].digest_empty
    assert d["team"].email == ("Policy@example.org", "press@example.org")
    assert d["team"].digest_time == time(7, 30)
    assert d["team"].timezone == "Europe/Warsaw"
    assert d["single"].email == ("one@example.org",)
    w = cfg.watchlists["w"]
    assert (w.alert, w.digest, w.priority) == (("channel", "group"), ("team", "single"), "instant")


def test_watchlist_spec_holds_the_parsed_rule() -> None:
    cfg = config("""
actors:
  edpb: {name: European Data Protection Board, by_language: {de-DE: ["=EDSA"]}}
watchlists:
  w:
    title: Data protection
    any: ["=EDPB", {actor: edpb}, {near: [[a b, c d], e f], within: 3}]
    near: [{terms: [g h, {actor: edpb}]}]
    weights: {x y: 2, actor:edpb: 1.5}
    threshold: 2
    fields: [title, summary]
    languages: [en-GB, de]
    priority: digest
""")
    w = cfg.watchlists["w"]
    assert w.title == "Data protection"
    assert w.fields == ("title", "summary")
    assert w.languages == ("en", "de")
    assert w.priority == "digest"
    edpb = ActorRef("edpb")
    assert w.rule.any[0] == Term("=EDPB", "edpb", cased="EDPB", case_sensitive=True)
    assert w.rule.any[1] == edpb
    assert w.rule.any[2] == Near(
        ((Term("a b", "a b"), Term("c d", "c d")), (Term("e f", "e f"),)), 3
    )
    assert w.rule.near == (Near(((Term("g h", "g h"),), (edpb,)), 10),)
    assert w.rule.weights == ((Term("x y", "x y"), 2.0), (edpb, 1.5))
    assert cfg.actors["edpb"].by_language == (("de", (Term("=EDSA", "edsa", "EDSA", True),)),)


def test_warnings_for_short_terms_and_unused_alerts() -> None:
    cfg = config("""
destinations:
  c: {telegram: "@eu_ai_watch"}
watchlists:
  w:
    any: [AI, "=EU"]
    priority: digest
    alert: [c]
""")
    assert cfg.warnings == (
        "keywords.yaml:6: watchlists.w.any[0]: short term 'AI' matches in any case; "
        "write =AI if it is an acronym",
        "keywords.yaml:8: watchlists.w: priority is digest, so the alert: destinations get "
        "no instant alerts",
    )


def test_the_default_keywords_file_is_valid_and_quiet() -> None:
    cfg = load_keywords(str(DEFAULT_KEYWORDS))
    assert cfg.warnings == ()
    assert {
        "facial-recognition",
        "ai-act",
        "tudorache",
        "edpb",
        "edps",
        "benifei",
        "ai-office",
        "access-now",
        "edri",
        "gdpr-enforcement",
    } <= set(cfg.watchlists)
    languages = {lang for actor in cfg.actors.values() for lang, _ in actor.by_language}
    assert {"de", "fr", "it", "es", "pl", "ro", "nl"} <= languages
    assert cfg.destinations["eu-channel"].telegram == "@eu_ai_watch"
    for w in cfg.watchlists.values():
        assert set(w.alert) | set(w.digest) <= set(cfg.destinations)
