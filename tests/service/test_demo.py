"""`monitor demo` runs offline, without credentials, and shows an alert and a digest."""

from __future__ import annotations

import io

from monitor.service.demo import run_demo


def test_demo_shows_the_new_items_alert_and_the_digest(monkeypatch):
    for var in ("TELEGRAM_BOT_TOKEN", "SMTP_HOST"):
        monkeypatch.delenv(var, raising=False)
    out = io.StringIO()
    assert run_demo(seconds=6, out=out) == 0
    text = out.getvalue()
    published = text.index(">>> published a new item")
    header = text.index("--- telegram to eu-channel (@eu_ai_watch)", published)
    assert "EDPB warns police use of facial recognition" in text[header : header + 300]
    preview = text.index(">>> digest preview")
    assert "Subject: " in text[preview:]  # the top story and the counts (issue 17)
    assert "Top stories" in text[preview:]
    assert "Dragoș Tudorache" in text[preview:]
