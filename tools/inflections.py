"""Write monitor/match/inflections.json: the inflected forms of the default keywords.yaml.

    python3 tools/inflections.py [KEYWORDS.yaml ...]

Loads one simplemma dictionary per language that a term is written in (seconds each),
so that a fresh install and the tests compile the default watchlists without loading any.
Run it again after changing the default keywords.yaml or upgrading simplemma
(tests/match/test_languages.py checks the shipped forms against simplemma for a sample).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.config.keywords import load_keywords  # noqa: E402
from monitor.match.inflect import SHIPPED, Inflector, dump  # noqa: E402
from monitor.match.matcher import compile_matcher  # noqa: E402


def main(paths: list[str]) -> None:
    inflector = Inflector(shipped=False)
    for path in paths or [str(ROOT / "keywords.yaml")]:
        compile_matcher(load_keywords(path), inflector)
    out = ROOT / "monitor" / "match" / SHIPPED
    out.write_text(dump(inflector.forms), "utf-8")
    words = sum(len(w) for w in inflector.forms.values())
    print(f"{out}: {words} words in {len(inflector.forms)} languages")


if __name__ == "__main__":
    main(sys.argv[1:])
