"""One-click unsubscribe (RFC 8058): signed links, an override in the database, and a
resubscribe from the same page."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import html

from monitor.models import Target
from monitor.web.unsubscribe import BadToken, make_token, read_token, unsubscribe_url
from tests.support.dashboard import DIGEST, SECRET, seed, serve


@given(st.text(min_size=1), st.text(min_size=1).filter(lambda a: "\n" not in a))
def test_a_token_names_its_recipient(destination: str, address: str):
    destination = destination.replace("\n", " ")
    token = make_token("s3cret", destination, address)
    assert read_token("s3cret", token) == Target(destination, "email", address)


def test_a_token_cannot_be_forged_or_moved():
    token = make_token("s3cret", "policy", "a@example.org")
    with pytest.raises(BadToken, match="not valid"):
        read_token("another secret", token)
    moved = make_token("s3cret", "policy", "b@example.org").split(".")[0]
    with pytest.raises(BadToken, match="not valid"):
        read_token("s3cret", f"{moved}.{token.split('.')[1]}")
    for damaged in ("", "x", "!!!.???", token[:10]):
        with pytest.raises(BadToken):
            read_token("s3cret", damaged)


def test_the_link_needs_a_public_url_and_a_secret():
    target = Target("policy", "email", "a+b@example.org")
    url = unsubscribe_url("https://watch.example.org/", "s3cret", target)
    assert url is not None
    assert url.startswith("https://watch.example.org/unsubscribe?t=")
    assert unsubscribe_url("", "s3cret", target) is None
    assert unsubscribe_url("https://watch.example.org", "", target) is None
    assert unsubscribe_url("https://w.example", "s", Target("c", "telegram", "@c")) is None


def state(page: httpx.Response) -> str:
    return " ".join(html.fromstring(page.text).xpath("string(//p[@id='state'])").split())


def test_one_click_then_resubscribe(tmp_path: Path):
    seed(tmp_path)
    token = make_token(SECRET, DIGEST.destination, DIGEST.address)
    # the dashboard's own token does not guard the recipients' link
    with (
        serve(tmp_path, token="dashboard-token") as served,
        httpx.Client(base_url=served.url, timeout=30) as c,
    ):
        page = c.get("/unsubscribe", params={"t": token})
        assert page.status_code == 200
        assert state(page) == "policy@example.org receives the digests of policy."
        # RFC 8058: the mail client POSTs List-Unsubscribe=One-Click to the link
        one_click = c.post(
            f"/unsubscribe?t={token}",
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert one_click.status_code == 200
        assert state(one_click) == "policy@example.org is unsubscribed from the digests of policy."
        bearer = {"Authorization": "Bearer dashboard-token"}
        listed = c.get("/api/digests", headers=bearer).json()["unsubscribed"]
        assert [(o["destination"], o["address"]) for o in listed] == [
            ("policy", "policy@example.org")
        ]
        again = c.post("/unsubscribe", data={"t": token, "action": "unsubscribe"})
        assert again.status_code == 200  # twice is fine
        back = c.post("/unsubscribe", data={"t": token, "action": "resubscribe"})
        assert state(back) == "policy@example.org receives the digests of policy."
        assert c.get("/api/digests", headers=bearer).json()["unsubscribed"] == []
        forged = c.post("/unsubscribe", data={"t": token[:-3] + "AAA", "action": "unsubscribe"})
        assert forged.status_code == 400
        assert "not valid" in forged.text
        assert c.post("/unsubscribe", data={"t": token}).status_code == 400


def test_without_a_secret_the_links_are_off(tmp_path: Path):
    seed(tmp_path)
    with serve(tmp_path, secret=None) as served, httpx.Client(base_url=served.url) as c:
        token = make_token(SECRET, DIGEST.destination, DIGEST.address)
        assert c.get("/unsubscribe", params={"t": token}).status_code == 404
