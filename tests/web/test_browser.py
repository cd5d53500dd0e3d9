"""The dashboard in a real browser: Debian's headless chromium driven by Playwright.

Every page loads without a console error (a Content-Security-Policy violation is one),
a search and a filter work, the lab runs a backtest, an article titled with markup shows
as text, and the login form lets a maintainer in.  Screenshots go to
``MONITOR_SCREENSHOTS`` (default: a temporary folder), which the run prints;
``MONITOR_SCREENSHOTS=docs/screenshots`` renews the README's pictures.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from monitor.pipeline.build import load_configs
from monitor.pipeline.runtime import build_deliverer
from monitor.settings import Settings
from monitor.store import Store
from monitor.web.unsubscribe import make_token
from tests.support.ci import missing, under_ci
from tests.support.dashboard import DIGEST, EVIL, SECRET, seed, serve
from tests.support.engines import engine_url

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        missing("chromium is not installed: apt-get install chromium (.ci/run does)")
    if under_ci():
        import playwright.sync_api as sync_api  # in the test extra: missing is a failure
    else:
        sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        # Debian's chromium, never a browser download (`playwright install` is not used).
        launched = p.chromium.launch(executable_path=CHROMIUM)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("MONITOR_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {folder.resolve()}")
    return folder


class Console:
    """Console errors, page errors and dialogs (an alert() would be a script that ran)."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("dialog", self._dialog)

    def _console(self, message: Any) -> None:
        if message.type in ("error", "warning"):
            self.errors.append(f"console {message.type}: {message.text}")

    def _dialog(self, dialog: Any) -> None:
        self.errors.append(f"dialog: {dialog.message}")
        dialog.dismiss()


def test_every_page_search_and_filters_in_a_browser(
    browser: Any, shots: Path, tmp_path: Path
) -> None:
    seed(tmp_path)
    with serve(tmp_path) as served:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        console = Console(page)

        for path, heading, name in (
            ("/", "Overview", "overview"),
            ("/articles", "Articles", "articles"),
            ("/stories", "Stories", "stories"),
            ("/feeds", "Feeds", "feeds"),
            ("/trends?days=30", "Trends", "trends"),
            ("/digests", "Digests", "digests"),
        ):
            answer = page.goto(served.url + path)
            assert answer is not None
            assert answer.status == 200
            assert page.locator("h1").inner_text() == heading
            assert page.locator("img").count() == 0  # the evil title made no element
            if path in ("/", "/articles", "/stories"):
                assert page.get_by_text(EVIL, exact=False).first.is_visible()
            if path.startswith("/trends"):
                assert page.locator("svg.chart polyline").count() >= 3
            if path == "/digests":  # the e-mail, framed and sandboxed, shows it as text too
                frame = page.frame_locator("iframe.email")
                assert frame.get_by_text(EVIL, exact=False).first.is_visible()
                assert frame.locator("img").count() == 0
            page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

        # a search from the box
        page.goto(served.url + "/articles")
        page.fill("input[name=q]", "Apple")
        page.press("input[name=q]", "Enter")
        page.wait_for_url("**/articles?q=Apple*")
        assert page.locator("#count").inner_text().startswith("1 article")
        assert page.locator("p.extract mark").all_inner_texts() == ["Apple"]
        page.locator("details.match summary").first.click()
        assert page.locator("details.match mark").first.inner_text() == "Digital Markets Act"
        page.screenshot(path=str(shots / "search.png"), full_page=True)

        # a filter applies as soon as it changes (static/app.js)
        page.goto(served.url + "/articles")
        page.select_option("select[name=language]", "fr")
        page.wait_for_url("**language=fr*")
        titles = page.locator("article.item h2").all_inner_texts()
        assert titles == ["Règlement sur l'IA : le AI Act entre en vigueur"]
        page.goto(served.url + "/trends?days=30")
        page.select_option("select[name=by]", "language")
        page.wait_for_url("**by=language*")
        assert page.locator("ul.legend").inner_text().count("(") == 2

        # to the next page and back
        page.goto(served.url + "/articles")
        page.click("a[rel=next]")
        page.wait_for_url("**page=2*")
        assert "page 2 of 2" in page.locator("nav.pages").inner_text()

        # the lab: edit the rules, run the backtest, explain a lost article
        page.goto(served.url + "/lab")
        text = page.input_value("textarea[name=yaml]")
        page.fill(
            "textarea[name=yaml]",
            text.replace('any: ["AI Act"]', 'any: ["AI Act"]\n    none: ["briefing"]'),
        )
        page.select_option("select[name=days]", "30")
        page.click("text=Run backtest")
        page.wait_for_selector("#result")
        assert "ai-act (changed): +0 −30 =3" in page.locator("section.diff").first.inner_text()
        page.locator("button[name=explain]").first.click()
        page.wait_for_selector("#explain")
        assert "vetoed by briefing" in page.locator("#explain").inner_text()
        page.screenshot(path=str(shots / "lab.png"), full_page=False)

        assert console.errors == []


def test_login_in_a_browser(browser: Any, shots: Path, tmp_path: Path) -> None:
    seed(tmp_path)
    token = "a-long-random-token-for-the-browser-test"
    with serve(tmp_path, token=token) as served:
        page = browser.new_page()
        console = Console(page)
        page.goto(served.url + "/feeds")
        page.wait_for_url("**/login?next=/feeds")
        page.screenshot(path=str(shots / "login.png"))
        page.fill("input[name=token]", "wrong")
        page.click("button[type=submit]")
        assert page.get_by_role("alert").inner_text() == "That is not the token."
        page.fill("input[name=token]", token)
        page.click("button[type=submit]")
        page.wait_for_url("**/feeds")
        assert page.locator("h1").inner_text() == "Feeds"
        page.click("text=Log out")
        page.wait_for_url("**/login")
        # the 401 of the wrong token is the only error the console may show
        assert [e for e in console.errors if "401" not in e] == []


def test_unsubscribe_and_resubscribe_in_a_browser(browser: Any, tmp_path: Path) -> None:
    seed(tmp_path)
    token = make_token(SECRET, DIGEST.destination, DIGEST.address)
    with serve(tmp_path, token="the-dashboard-token") as served:
        page = browser.new_page()
        console = Console(page)
        page.goto(f"{served.url}/unsubscribe?t={token}")  # no login: the link is signed
        assert page.locator("#state").inner_text() == (
            "policy@example.org receives the digests of policy."
        )
        page.click("text=Unsubscribe")
        page.wait_for_selector("text=Resubscribe")
        assert "is unsubscribed from" in page.locator("#state").inner_text()
        page.click("text=Resubscribe")
        page.wait_for_selector("button[value=unsubscribe]")
        assert "receives the digests" in page.locator("#state").inner_text()
        assert console.errors == []


def test_unsubscribe_link_in_a_rendered_digest(browser: Any, tmp_path: Path) -> None:
    """Issue 12: the reader clicks Unsubscribe in the digest as their mail client shows it."""
    seed(tmp_path)
    with serve(tmp_path) as served, Store(tmp_path, database_url=engine_url()) as store:
        cfg = load_configs(str(tmp_path / "feeds.yaml"), str(tmp_path / "keywords.yaml"))
        env = {"MONITOR_PUBLIC_URL": served.url, "MONITOR_SECRET": SECRET}
        deliverer = build_deliverer(cfg, store, settings=Settings.from_env(env))
        [(target, [message])] = deliverer.preview_digests()
        assert target == DIGEST
        assert message.html is not None
        page = browser.new_page()
        console = Console(page)
        page.set_content(message.html)
        page.click("a:text-is('Unsubscribe')")
        page.wait_for_url(f"{served.url}/unsubscribe?t=*")
        page.click("button[value=unsubscribe]")
        page.wait_for_selector("button[value=resubscribe]")
        assert page.locator("#state").inner_text() == (
            "policy@example.org is unsubscribed from the digests of policy."
        )
        assert deliverer.preview_digests() == []  # listed as an override instead
        assert console.errors == []
