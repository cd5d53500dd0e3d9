"""What every benchmark script shares: the machine line and rewriting its own section of
docs/benchmarks.md (between ``<!-- BEGIN name -->`` and ``<!-- END name -->``)."""

from __future__ import annotations

import platform
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def shown(path: Path) -> str:
    """``path`` relative to the folder that holds the repository (for the method text)."""
    try:
        return str(path.resolve().relative_to(ROOT.parent))
    except ValueError:
        return str(path)


def write_section(name: str, section: str, *, doc: Path = DOC, append: bool = True) -> None:
    """Replace the text between this benchmark's markers; add them at the end if absent
    (``append=False``: refuse instead)."""
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    text = doc.read_text(encoding="utf-8")
    if begin not in text:
        if not append:
            raise SystemExit(f"{doc}: no {begin} ... {end} markers")
        text = text.rstrip("\n") + f"\n\n{begin}\n{end}\n"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    doc.write_text(
        pattern.sub(lambda _: f"{begin}\n{section}\n{end}", text, count=1), encoding="utf-8"
    )
