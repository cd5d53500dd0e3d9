"""keywords.yaml: the Telegram options of a destination and of a watchlist (issue 13).

Invalid forms are in the golden ``tests/data/match/config/telegram-options.yaml``.
"""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.config.keywords import default_hashtag, load_keywords
from monitor.errors import ConfigError

VALID = """\
destinations:
  forum:
    telegram: "-1001234567890"
    topic: 42
    silent: false
    quiet_hours: "22:30-6:45"
    timezone: Europe/Lisbon
    link_preview: above
    hashtags: true
    explain: button
    template: |
      {{ title_html }}
      {{ source }} · {{ published }}
  plain:
    telegram: "@eu_ai_watch"
watchlists:
  ai-act:
    any: ["AI Act"]
    alert: [forum, plain]
    silent: false
  gdpr.fines_2024:
    any: [GDPR]
    hashtag: "#DSGVO_Bußgeld"
"""


def test_options_are_read_with_their_defaults(tmp_path: Path) -> None:
    path = tmp_path / "keywords.yaml"
    path.write_text(VALID, encoding="utf-8")
    cfg = load_keywords(str(path))
    forum, plain = cfg.destinations["forum"], cfg.destinations["plain"]
    assert forum.topic == 42
    assert forum.quiet_hours == (time(22, 30), time(6, 45))
    assert forum.timezone == "Europe/Lisbon"
    assert (forum.link_preview, forum.hashtags, forum.explain) == ("above", True, "button")
    assert forum.template == "{{ title_html }}\n{{ source }} · {{ published }}\n"
    assert (plain.topic, plain.silent, plain.quiet_hours, plain.template) == (
        None,
        False,
        None,
        None,
    )
    assert (plain.link_preview, plain.hashtags, plain.explain) == ("off", False, "inline")
    assert cfg.watchlists["ai-act"].silent is False
    assert cfg.watchlists["ai-act"].hashtag == "AIAct"
    assert cfg.watchlists["gdpr.fines_2024"].hashtag == "DSGVO_Bußgeld"  # accents kept
    assert cfg.watchlists["gdpr.fines_2024"].silent is None


@pytest.mark.parametrize(
    ("watchlist", "tag"),
    [
        ("ai-act", "AIAct"),
        ("eu.dsa_fines", "EUDsaFines"),
        ("gdpr", "Gdpr"),
        ("2024", "Watchlist2024"),
    ],
)
def test_default_hashtags_come_from_the_id(watchlist: str, tag: str) -> None:
    assert default_hashtag(watchlist) == tag


def test_a_template_error_names_the_file_line_of_the_template_line(tmp_path: Path) -> None:
    path = tmp_path / "keywords.yaml"
    lines = VALID.replace("{{ source }} · {{ published }}", "{{ source }} · {{ publisher }}")
    path.write_text(lines, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_keywords(str(path))
    line = lines.splitlines().index("      {{ source }} · {{ publisher }}") + 1
    assert str(info.value) == (
        f"{path}:{line}: destinations.forum.template: template line 2: 'publisher' is undefined"
    )


def test_a_template_syntax_error_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "keywords.yaml"
    broken = VALID.replace("{{ title_html }}", "{% for s in snippets %}{{ s }}")
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_keywords(str(path))
    assert info.value.path == "destinations.forum.template"
    assert info.value.line == broken.splitlines().index("      {{ source }} · {{ published }}") + 1
    assert "template line 2: unexpected end of template" in info.value.message


@given(st.from_regex(r"[a-z0-9][a-z0-9_.-]{0,120}", fullmatch=True))
def test_every_watchlist_id_gives_a_telegram_safe_hashtag(watchlist: str) -> None:
    tag = default_hashtag(watchlist)
    assert re.fullmatch(r"[A-Za-z0-9]{1,64}", tag)
    assert any(c.isalpha() for c in tag)  # Telegram needs a letter
