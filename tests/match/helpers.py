"""Helpers for the matcher tests: configs from YAML text, articles, the replay reader."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

from monitor.config.keywords import KeywordsConfig, keywords_from_source, load_keywords
from monitor.config.source import Source
from monitor.match import Matcher, compile_matcher
from monitor.match.inflect import Inflector
from monitor.models import Article
from monitor.plaintext import html_to_text

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "match"
DEFAULT_KEYWORDS = ROOT / "keywords.yaml"
SEED = DATA / "articles" / "seed-spun-politico-2022.txt"
_DC = "{http://purl.org/dc/elements/1.1/}"


def config(text: str, name: str = "keywords.yaml") -> KeywordsConfig:
    return keywords_from_source(Source.parse(text, name))


def matcher(text: str) -> Matcher:
    # Only the shipped inflected forms: no dictionary load, nothing written to ~/.cache.
    return compile_matcher(config(text), Inflector(compute=False))


def default_matcher() -> Matcher:
    return compile_matcher(load_keywords(str(DEFAULT_KEYWORDS)), Inflector(compute=False))


def article(
    title: str = "",
    summary: str = "",
    content: str = "",
    *,
    language: str | None = None,
    key: str = "a1",
) -> Article:
    return Article(
        feed_id="test", key=key, title=title, summary=summary, content=content, language=language
    )


def replay_articles(root: Path = DATA / "replay") -> list[tuple[str, Article]]:
    """Every item of the copied replay files, as the parser would give it (plain text).

    A small stdlib reader on purpose: these RSS 2.0 files are regular, and the golden
    output should change when matching changes, not when the feed parser does.
    """
    out = []
    for path in sorted(root.glob("*/*.xml")):
        outlet = path.parent.name
        for item in ElementTree.parse(path).getroot().iter("item"):
            out.append(
                (
                    f"{outlet}/{path.stem}",
                    Article(
                        feed_id=outlet,
                        key=item.findtext("guid") or "",
                        title=html_to_text(item.findtext("title") or ""),
                        summary=html_to_text(item.findtext("description") or ""),
                        language=item.findtext(_DC + "language"),
                    ),
                )
            )
    return out
