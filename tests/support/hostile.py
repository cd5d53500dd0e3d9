"""Hostile configuration files (issue 10 item 1)."""

from __future__ import annotations


def alias_bomb(levels: int = 9) -> str:
    """A "billion laughs" in YAML: each level is nine aliases of the level below.

    Nine levels are under 500 bytes and expand to 9**9 (387 million) strings.
    """
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + f"\nwatchlists:\n  x:\n    any: *a{levels - 1}\n"
