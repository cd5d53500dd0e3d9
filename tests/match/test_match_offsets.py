"""Issue 10 item 7: offsets slice the input.

For plain-text input ``text == field[start:end]`` always, whatever its white space; for
HTML input the offsets refer to its visible text, which ``monitor match --with-text``
prints.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.cli import main
from monitor.cli.matching import articles_from_bytes, match_record
from monitor.match import fold
from monitor.models import Article
from tests.match.helpers import matcher

KEYWORDS = """
watchlists:
  fr:
    any: [facial recognition, EU, "=EDPB", "biometri*"]
"""
_WORDS = [
    "EU",
    "news.",
    "The",
    "Parliament",
    "debated",
    "facial",
    "recognition",
    "EDPB",
    "biometric",
    "Gesichts\u00aderkennung",
    "ß",
    "(AI)",
]
_SPACES = [
    " ",
    "  ",
    "\n",
    "\n\n",
    "\n \n",
    "\t",
    "\t\t",
    "\u00a0",
    " \u00a0 ",
    "\r\n",
    "\u2003",
    "\u3000",
    "\u200b ",
]


def _text(pieces: list[tuple[str, str]]) -> str:
    return "".join(word + space for word, space in pieces)


_texts = st.lists(st.tuples(st.sampled_from(_WORDS), st.sampled_from(_SPACES)), max_size=30).map(
    _text
)
_lead = st.sampled_from(["", " ", "\n\n", "\t", "\u00a0"])


def test_the_issue_example_slices_its_json_lines_summary() -> None:
    summary = "EU  news.\n\nThe Parliament debated facial recognition"
    line = json.dumps({"id": "x", "summary": summary}).encode()
    (item,) = articles_from_bytes(line, "in.jsonl", url=None)
    assert isinstance(item, Article)
    record = match_record(item, matcher(KEYWORDS).match(item))
    hits = record["matches"][0]["hits"]
    assert [(h["start"], h["end"]) for h in hits] == [(0, 2), (34, 52)]
    assert [summary[h["start"] : h["end"]] for h in hits] == ["EU", "facial recognition"]


@settings(max_examples=150, deadline=None)
@given(lead=_lead, title=_texts, summary=_texts, content=_texts)
def test_plain_text_offsets_slice_every_field_of_the_input(
    lead: str, title: str, summary: str, content: str
) -> None:
    fields = {
        "title": lead + title,
        "summary": lead + summary,
        "content": content,
        "body": lead + content,  # full text: the page body is a field like the others
    }
    m = matcher(KEYWORDS)
    line = json.dumps({"id": "x", **fields}).encode()
    (item,) = articles_from_bytes(line, "in.jsonl", url=None)
    assert isinstance(item, Article)
    record = match_record(item, m.match(item), with_text=True)
    assert record["text"] == fields  # plain text is kept exactly as given
    expected = sum(fold(fields[f]).split().count("eu") for f in fields)
    found = 0
    for match in record["matches"]:
        for hit in match["hits"]:
            assert fields[hit["field"]][hit["start"] : hit["end"]] == hit["text"]
            assert fold(hit["text"]) in ("eu", "facial recognition", "edpb") or fold(
                hit["text"]
            ).startswith("biometri")
            found += fold(hit["text"]) == "eu"
        assert match["hit_count"] >= len(match["hits"])
    if all(match["hit_count"] == len(match["hits"]) for match in record["matches"]):
        assert found == expected  # nothing left out: every "EU" is reported
    # The same text as a plain-text file: its content, offsets and all.
    (plain,) = articles_from_bytes(content.encode() or b"x", "in.txt", url=None)
    assert isinstance(plain, Article)
    for match in m.match(plain):
        for h in match.hits:
            assert plain.content[h.start : h.end] == h.text


def test_html_offsets_refer_to_the_visible_text_that_with_text_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keywords = tmp_path / "keywords.yaml"
    keywords.write_text(KEYWORDS, encoding="utf-8")
    summary = "<p>EU  news.</p>\n\n<p>The Parliament &amp; <b>facial</b>\trecognition</p>"
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"id": "h", "summary": summary}) + "\n", encoding="utf-8")
    assert main(["match", "--with-text", str(path), "--keywords", str(keywords)]) == 0
    record = json.loads(capsys.readouterr().out)
    visible = record["text"]["summary"]
    assert visible == "EU news. The Parliament & facial recognition"
    for hit in record["matches"][0]["hits"]:
        assert visible[hit["start"] : hit["end"]] == hit["text"]
    assert main(["match", str(path), "--keywords", str(keywords)]) == 0
    assert "text" not in json.loads(capsys.readouterr().out)
