"""``monitor check`` reports every error in one run, sorted by file and line, with the
offending line and a hint for YAML syntax errors (issue 10 item 9)."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.cli import main
from monitor.config.feeds import load_feeds
from monitor.config.keywords import load_keywords
from monitor.errors import ConfigError, ConfigErrors

FEEDS = """\
feeds:
  - id: politico-eu
    url: https://www.politico.eu/feed/
  - id: edpb
    url: ftp://edpb.europa.eu/news
  - id: politico-eu
    url: https://www.politico.eu/feed/again
"""
KEYWORDS = """\
destinations:
  eu:
    telegram: "@eu_ai_watch"
watchlists:
  chat-control:
    any:
      - chat control
        - Chatkontrolle
    alert: [eu]
  dsa:
    any: [DSA]
    alert: [nowhere]
"""


def check(tmp_path: Path, feeds: str, keywords: str, capsys: pytest.CaptureFixture[str]) -> str:
    (tmp_path / "feeds.yaml").write_text(feeds, encoding="utf-8")
    (tmp_path / "keywords.yaml").write_text(keywords, encoding="utf-8")
    code = main(["check", "--feeds", "feeds.yaml", "--keywords", "keywords.yaml"])
    err = capsys.readouterr().err
    assert code == 2, err
    return err


def test_every_error_of_both_files_in_one_run_sorted_by_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.chdir(tmp_path)
    # Before: the duplicate id was hidden behind the bad URL, the merged item was
    # accepted as the one term "chat control - Chatkontrolle".
    err = check(tmp_path, FEEDS, KEYWORDS, capsys)
    assert err == (
        "monitor: configuration error:\n"
        "feeds.yaml:5: feeds[1].url: 'ftp://edpb.europa.eu/news' is not an http(s) URL\n"
        "feeds.yaml:6: feeds[2].id: duplicate feed id 'politico-eu' (first used at line 2)\n"
        "keywords.yaml:8: watchlists.chat-control.any[0]: 'chat control - Chatkontrolle' reads "
        "as one item: this line starts with '- ' but is indented more than the line above, "
        "so YAML joined the two lines\n"
        "  7 |       - chat control\n"
        "  8 |         - Chatkontrolle\n"
        "    |         ^\n"
        "  hint: to make two list items, line up this '-' with the one above (quote the text "
        "if the dash belongs to it)\n"
        "keywords.yaml:12: watchlists.dsa.alert[0]: unknown destination 'nowhere' (defined: eu)\n"
    )


def test_a_syntax_error_in_one_file_does_not_hide_the_errors_of_the_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.chdir(tmp_path)
    broken = KEYWORDS.replace("    alert: [nowhere]", "     alert: [nowhere]")
    err = check(tmp_path, FEEDS, broken, capsys)
    heads = [line.split(":")[:2] for line in err.splitlines()[1:] if not line.startswith(" ")]
    assert heads == [["feeds.yaml", "5"], ["feeds.yaml", "6"], ["keywords.yaml", "12"]]


def test_a_merged_list_item_in_feeds_yaml_is_an_error_too(tmp_path: Path):
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "feeds:\n  - id: a\n    url: https://a.eu/feed\n    tags:\n      - eu\n        - national\n"
    )
    with pytest.raises(ConfigErrors) as info:
        load_feeds(str(path))
    [error] = info.value.errors
    assert (error.line, error.path) == (6, "feeds[0].tags[0]")
    assert error.message.startswith("'eu - national' reads as one item")


def test_a_dash_inside_a_one_line_term_or_a_quoted_one_is_fine(tmp_path: Path):
    path = tmp_path / "keywords.yaml"
    path.write_text(
        KEYWORDS.replace("- chat control\n        - Chatkontrolle", "- chat control - EU")
        .replace("[nowhere]", "[eu]")
        .replace("any: [DSA]", 'any:\n      - "DSA\n        - Digital Services Act"'),
        encoding="utf-8",
    )
    keywords = load_keywords(str(path))
    assert [t.text for t in keywords.watchlists["chat-control"].rule.any] == ["chat control - EU"]


SYNTAX = [
    (
        "over-indented key",
        "watchlists:\n  x:\n    any: [a]\n     alert: [b]\n",
        "k.yaml:4: invalid YAML: expected <block end>, but found '<block mapping start>'\n"
        "  3 |     any: [a]\n"
        "  4 |      alert: [b]\n"
        "    |      ^\n"
        "  hint: check the indentation of the line above and of this one (items of one list, "
        "and keys of one mapping, line up)",
    ),
    (
        "under-indented list item",
        "watchlists:\n  x:\n    any:\n      - a\n     - b\n",
        "k.yaml:5: invalid YAML: expected <block end>, but found '<block sequence start>'\n"
        "  4 |       - a\n"
        "  5 |      - b\n"
        "    |      ^\n"
        "  hint: check the indentation of the line above and of this one (items of one list, "
        "and keys of one mapping, line up)",
    ),
    (
        "missing colon above",
        "watchlists:\n  x\n    any: [a]\n",
        "k.yaml:3: invalid YAML: mapping values are not allowed here\n"
        "  2 |   x\n"
        "  3 |     any: [a]\n"
        "    |        ^\n"
        "  hint: check the indentation of the line above and of this one (is a ':' missing "
        "at the end of the line above?)",
    ),
    (
        "colon in a value",
        "watchlists:\n  x:\n    title: EU: AI\n",
        "k.yaml:3: invalid YAML: mapping values are not allowed here\n"
        "  2 |   x:\n"
        "  3 |     title: EU: AI\n"
        "    |              ^\n"
        "  hint: a value that contains ': ' must be quoted, e.g. title: \"EU: AI Act\"",
    ),
    (
        "tab",
        "watchlists:\n\tx: 1\n",
        "k.yaml:2: invalid YAML: found character '\\t' that cannot start any token\n"
        "  1 | watchlists:\n"
        "  2 | \tx: 1\n"
        "    | ^\n"
        "  hint: indent with spaces: YAML does not allow tabs for indentation",
    ),
    (
        "key without a colon",
        "watchlists:\n  x:\n    any: [a]\n    alert\n    digest: [b]\n",
        "k.yaml:5: invalid YAML: could not find expected ':'\n"
        "  4 |     alert\n"
        "  5 |     digest: [b]\n"
        "    |     ^\n"
        "  hint: check the indentation of the line above and of this one (is a ':' missing "
        "at the end of the line above?)",
    ),
    (
        "no space after the dash",
        "watchlists:\n  x:\n    any:\n    - a\n    -b\n",
        "k.yaml:5: invalid YAML: could not find expected ':'\n"
        "  4 |     - a\n"
        "  5 |     -b\n"
        "    |     ^\n"
        "  hint: a list item needs a space after its '-'",
    ),
    (
        "unclosed bracket",
        "watchlists:\n  x:\n    any: [a, b\n    alert: [c]\n",
        "k.yaml:4: invalid YAML: expected ',' or ']', but got ':'\n"
        "  3 |     any: [a, b\n"
        "  4 |     alert: [c]\n"
        "    |          ^\n"
        "  hint: the '[' on line 3 is not closed where it should be",
    ),
    (
        "bracket open at the end",
        "watchlists:\n  x:\n    any: [\n\n",
        "k.yaml:3: invalid YAML: expected the node content, but found '<stream end>'\n"
        "  2 |   x:\n"
        "  3 |     any: [\n"
        "    |           ^\n"
        "  hint: the file ends inside an unfinished value: is a ']', '}' or a quote missing?",
    ),
    (
        "two documents",
        "watchlists: {}\n---\nactors: {}\n",
        "k.yaml:2: invalid YAML: expected a single document in the stream, but found another "
        "document\n"
        "  1 | watchlists: {}\n"
        "  2 | ---\n"
        "    | ^\n"
        "  hint: a line '---' starts a second document: a configuration file has one",
    ),
    (
        "unclosed quote",
        'watchlists:\n  x:\n    title: "EU AI\n',
        "k.yaml:3: invalid YAML: found unexpected end of stream\n"
        "  2 |   x:\n"
        '  3 |     title: "EU AI\n'
        "    |            ^\n"
        "  hint: something opened on line 3 is never closed",
    ),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in SYNTAX], ids=[c[0] for c in SYNTAX])
def test_syntax_errors_show_the_line_a_caret_and_a_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, expected: str
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "k.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_keywords("k.yaml")
    assert str(info.value) == expected
