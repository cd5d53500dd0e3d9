"""The stories digest as a reader sees it: its HTML rendered by headless Chromium
(issue 17).  ``UPDATE_GOLDEN=1`` also refreshes ``docs/screenshots/digest-stories.png``,
the picture in the README."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

from monitor.render import edition
from monitor.render.email import render_digest_email
from tests.support.ci import missing
from tests.support.digest_sample import DAY_PRIORITIES, edition_day

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOT = Path(__file__).parents[2] / "docs" / "screenshots" / "digest-stories.png"
WIDTH, HEIGHT = 760, 1500


def test_the_stories_digest_renders_in_a_browser(tmp_path: Path) -> None:
    if CHROMIUM is None:
        missing("needs chromium (apt-get install chromium; .ci/run does)")
    digest, _ = edition.stories_edition(edition_day(), DAY_PRIORITIES, max_items=8)
    html = render_digest_email(digest, mail_from="EU Watch <watch@example.org>").html
    assert html is not None
    page = tmp_path / "digest.html"
    page.write_text(html, encoding="utf-8")
    png = tmp_path / "digest.png"
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",  # root in a container
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--window-size={WIDTH},{HEIGHT}",
            f"--screenshot={png}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (WIDTH, HEIGHT)
    # A blank or error page compresses to a few kilobytes; the digest's text does not.
    assert len(data) > 40_000
    if os.environ.get("UPDATE_GOLDEN"):
        SCREENSHOT.write_bytes(data)
