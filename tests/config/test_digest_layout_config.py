"""keywords.yaml: a destination's digest ``layout`` and ``max_items`` (issue 17)."""

from __future__ import annotations

import pytest

from monitor.errors import ConfigError
from tests.match.helpers import config


def test_layout_and_max_items_defaults_and_values() -> None:
    cfg = config("""
destinations:
  team: {email: team@example.org}
  desk: {email: desk@example.org, layout: watchlists, max_items: 12}
watchlists:
  w: {any: [x y], digest: [team, desk]}
""")
    team, desk = cfg.destinations["team"], cfg.destinations["desk"]
    assert (team.layout, team.max_items) == ("stories", 40)
    assert (desk.layout, desk.max_items) == ("watchlists", 12)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("layout: magazine", "destinations.team.layout"),
        ("max_items: 0", "destinations.team.max_items: must be 1 or more, not 0"),
        ("max_items: many", "destinations.team.max_items"),
    ],
)
def test_bad_layout_or_max_items_is_a_located_error(line: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        config(f"""
destinations:
  team:
    email: team@example.org
    {line}
watchlists:
  w: {{any: [x y], digest: [team]}}
""")
    assert message in str(err.value)
    assert str(err.value).startswith("keywords.yaml:5: ")
