"""docs/keywords.md stays true: its YAML examples load, its term table behaves as written."""

from __future__ import annotations

import re
from typing import Any

import pytest
from ruamel.yaml import YAML

from monitor.config.keywords import keywords_from_source
from monitor.config.source import Source
from tests.match.helpers import ROOT, article, matcher

DOC = (ROOT / "docs" / "keywords.md").read_text(encoding="utf-8")


def _blocks() -> list[dict[str, Any]]:
    yaml = YAML(typ="safe")
    return [yaml.load(b) for b in re.findall(r"```yaml\n(.*?)```", DOC, re.DOTALL)]


def test_every_yaml_example_is_valid_keywords_config() -> None:
    merged: dict[str, dict[str, Any]] = {"actors": {}, "watchlists": {}, "destinations": {}}
    blocks = _blocks()
    assert len(blocks) >= 5
    for block in blocks:
        if "actors" in block or "watchlists" in block or "destinations" in block:
            for key, value in block.items():
                merged[key].update(value)
        else:  # a watchlist shown on its own
            merged["watchlists"].update(block)
    cfg = keywords_from_source(Source(name="docs/keywords.md", root=merged))
    assert {"ai-act", "gdpr-enforcement", "biometrics-policy"} <= set(cfg.watchlists)


def _rows() -> list[tuple[str, list[str], list[str]]]:
    section = DOC.split("### Terms", 1)[1].split("###", 1)[0]
    rows = []
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        term = cells[0].strip("`").strip('"')
        rows.append((term, re.findall(r"`([^`]+)`", cells[1]), re.findall(r"`([^`]+)`", cells[2])))
    return rows


@pytest.mark.parametrize(("term", "positives", "negatives"), _rows())
def test_the_term_table(term: str, positives: list[str], negatives: list[str]) -> None:
    m = matcher("watchlists: {w: {any: [" + repr(term).replace("'", '"') + "]}}")
    assert positives
    for text in positives:
        assert m.match(article(text)), text
    for text in negatives:
        assert not m.match(article(text)), text
