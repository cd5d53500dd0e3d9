"""E-mail transports against a real aiosmtpd server on 127.0.0.1, and the .eml writer."""

from __future__ import annotations

import io
import socket
import ssl
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from monitor.deliver.console import ConsoleSender
from monitor.deliver.email import (
    DEFAULT_MAIL_FROM,
    EmlFileSender,
    Security,
    SmtpSender,
    SmtpSettings,
    mail_from_env,
)
from monitor.errors import (
    ConfigError,
    MessageTooLargeError,
    PermanentDeliveryError,
    TransientDeliveryError,
    TransportSettingsError,
)
from monitor.models import OutgoingMessage, Target
from monitor.render.email import render_digest_email
from tests.support.digest_sample import sample_digest
from tests.support.smtp_server import SmtpServer

MAIL_FROM = "EU Watch <watch@example.org>"
SUBJECT = "Dragoș Tudorache: the AI Act's… — 4 stories, AI Act 2, Digital Services Act 2"
SENT_AT = datetime(2026, 11, 30, 7, 0, 5, tzinfo=UTC)
MakeServer = Callable[..., SmtpServer]


def digest_message(address: str = "policy@example.org") -> OutgoingMessage:
    return render_digest_email(sample_digest(address), mail_from=MAIL_FROM)


def sender_for(
    server: SmtpServer,
    security: Security = "none",
    *,
    tls: ssl.SSLContext | None = None,
    username: str | None = None,
    password: str | None = None,
    timeout: float = 5.0,
) -> SmtpSender:
    settings = SmtpSettings(
        host=server.host,
        port=server.port,
        mail_from=MAIL_FROM,
        security=security,
        username=username,
        password=password,
        timeout=timeout,
    )
    return SmtpSender(settings, tls_context=tls, local_hostname="localhost", clock=lambda: SENT_AT)


def crlf_to_lf(text: str) -> str:
    """SMTP and .eml files carry CRLF line ends; the rendered parts use LF."""
    return text.replace("\r\n", "\n")


def only_message(server: SmtpServer) -> EmailMessage:
    assert len(server.messages) == 1
    return server.messages[0].message


# -- SMTP: what arrives ------------------------------------------------------------------


async def test_plain_smtp_delivers_both_parts_and_headers(smtp_server: SmtpServer) -> None:
    message = digest_message()
    receipt = await sender_for(smtp_server).send(message)

    received = smtp_server.messages[0]
    assert received.mail_from == "watch@example.org"
    assert received.rcpt_tos == ("policy@example.org",)
    assert not received.tls
    mime = only_message(smtp_server)
    assert mime["Subject"] == SUBJECT
    assert mime["From"] == MAIL_FROM
    assert mime["To"] == "policy@example.org"
    assert mime["Date"] == "Mon, 30 Nov 2026 07:00:05 +0000"
    assert mime["Message-ID"] == receipt.remote_id == dict(message.headers)["Message-ID"]
    assert mime["List-Unsubscribe"] == "<https://example.org/unsub?u=1>"
    assert mime["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    plain, html = mime.get_body(("plain",)), mime.get_body(("html",))
    assert plain is not None
    assert html is not None
    assert crlf_to_lf(plain.get_content()) == message.text
    assert crlf_to_lf(html.get_content()) == message.html
    assert "Dragoș Tudorache" in plain.get_content()


async def test_non_ascii_subject_arrives_intact(smtp_server: SmtpServer) -> None:
    subject = "Dragoș Tudorache: «AI Act» — Ελλάδα 🚀"
    message = OutgoingMessage(
        target=Target("policy-team", "email", "policy@example.org"),
        text="Dragoș Tudorache\n",
        plain="Dragoș Tudorache\n",
        outbox_ids=(1,),
        subject=subject,
        headers=(("From", "Équipe EU <watch@example.org>"),),
    )
    await sender_for(smtp_server).send(message)

    raw_headers = smtp_server.messages[0].data.split(b"\r\n\r\n", 1)[0]
    assert raw_headers.isascii()  # RFC 2047 encoded words, not raw 8-bit bytes
    mime = only_message(smtp_server)
    assert mime["Subject"] == subject
    assert mime["From"] == "Équipe EU <watch@example.org>"
    assert crlf_to_lf(mime.get_content()) == "Dragoș Tudorache\n"


# -- SMTP: errors --------------------------------------------------------------------------


async def test_451_is_transient_then_the_retry_is_delivered(smtp_server: SmtpServer) -> None:
    smtp_server.fail_next(1)
    sender, message = sender_for(smtp_server), digest_message()

    with pytest.raises(TransientDeliveryError) as err:
        await sender.send(message)
    assert smtp_server.messages == []
    assert "451" in str(err.value)
    assert "policy@example.org" in str(err.value)
    assert err.value.destination == "policy-team"

    await sender.send(message)
    assert only_message(smtp_server)["Subject"] == message.subject
    assert smtp_server.attempts == 2


async def test_550_recipient_rejected_is_permanent(smtp_server: SmtpServer) -> None:
    smtp_server.reject("gone@example.org")

    with pytest.raises(PermanentDeliveryError) as err:
        await sender_for(smtp_server).send(digest_message("gone@example.org"))
    text = str(err.value)
    assert text.startswith("delivery: policy-team: smtp 127.0.0.1:")
    assert "refused gone@example.org: 550 5.1.1" in text
    assert smtp_server.attempts == 0


async def test_554_after_data_is_permanent(smtp_server: SmtpServer) -> None:
    smtp_server.fail_next(1, "554 5.7.1 Message rejected as spam")
    with pytest.raises(PermanentDeliveryError, match=r"554 5\.7\.1"):
        await sender_for(smtp_server).send(digest_message())


async def test_connection_refused_is_a_settings_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    settings = SmtpSettings(host="127.0.0.1", port=port, mail_from=MAIL_FROM, security="none")
    with pytest.raises(TransportSettingsError, match=f"smtp 127.0.0.1:{port}.*SMTP_HOST"):
        await SmtpSender(settings, local_hostname="localhost").send(digest_message())


async def test_unknown_host_is_a_settings_error() -> None:
    # .invalid never resolves (RFC 2606), and no query leaves the machine for it.
    settings = SmtpSettings(host="smtp.invalid", port=25, mail_from=MAIL_FROM, security="none")
    with pytest.raises(TransportSettingsError, match=r"smtp\.invalid:25.*SMTP_HOST"):
        await SmtpSender(settings, local_hostname="localhost").send(digest_message())


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A port that accepts TCP connections (in the backlog) but never greets."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(4)
        yield sock.getsockname()[1]


async def test_server_that_never_answers_is_a_transient_timeout(silent_listener: int) -> None:
    settings = SmtpSettings(
        host="127.0.0.1", port=silent_listener, mail_from=MAIL_FROM, security="none", timeout=0.3
    )
    with pytest.raises(TransientDeliveryError, match=r"policy@example\.org") as err:
        await SmtpSender(settings, local_hostname="localhost").send(digest_message())
    assert not isinstance(err.value, TransportSettingsError)


# -- SMTP: message size (RFC 1870) ---------------------------------------------------------


async def test_a_message_over_the_advertised_size_is_not_sent(
    smtp_server_factory: MakeServer,
) -> None:
    server = smtp_server_factory(size_limit=4000)
    sender = sender_for(server)
    with pytest.raises(MessageTooLargeError, match="SIZE 4000") as err:
        await sender.send(digest_message())
    assert err.value.limit == sender.max_message_size == 4000
    assert err.value.size is not None
    assert err.value.size > 4000
    assert server.attempts == 0


async def test_a_552_without_advertised_size_is_too_large(smtp_server_factory: MakeServer) -> None:
    server = smtp_server_factory(size_limit=None)
    server.fail_next(1, "552 5.3.4 Message size exceeds fixed maximum message size")
    sender = sender_for(server)
    with pytest.raises(MessageTooLargeError, match="552") as err:
        await sender.send(digest_message())
    assert err.value.limit is None
    assert sender.max_message_size is None


# -- SMTP: TLS and authentication ----------------------------------------------------------


async def test_starttls_with_a_throwaway_ca(
    smtp_server_factory: MakeServer, smtp_client_tls: ssl.SSLContext
) -> None:
    server = smtp_server_factory("starttls")
    await sender_for(server, "starttls", tls=smtp_client_tls).send(digest_message())
    assert server.messages[0].tls


async def test_implicit_tls(
    smtp_server_factory: MakeServer, smtp_client_tls: ssl.SSLContext
) -> None:
    server = smtp_server_factory("ssl")
    await sender_for(server, "ssl", tls=smtp_client_tls).send(digest_message())
    assert server.messages[0].tls


@pytest.mark.parametrize("security", ["starttls", "ssl"])
async def test_untrusted_certificate_is_a_settings_error(
    smtp_server_factory: MakeServer, security: Security
) -> None:
    server = smtp_server_factory(security)
    untrusting = ssl.create_default_context(cafile=None, capath=None, cadata=None)
    with pytest.raises(TransportSettingsError, match=r"(?i)certificate"):
        await sender_for(server, security, tls=untrusting).send(digest_message())
    assert server.messages == []


async def test_starttls_required_but_not_offered_is_a_settings_error(
    smtp_server: SmtpServer,
) -> None:
    with pytest.raises(TransportSettingsError, match=r"(?i)starttls.*SMTP_SECURITY"):
        await sender_for(smtp_server, "starttls").send(digest_message())
    assert smtp_server.messages == []


async def test_login_over_starttls(
    smtp_server_factory: MakeServer, smtp_client_tls: ssl.SSLContext
) -> None:
    server = smtp_server_factory("starttls", credentials={"bot": "s3cret-pass"})
    sender = sender_for(
        server, "starttls", tls=smtp_client_tls, username="bot", password="s3cret-pass"
    )
    await sender.send(digest_message())
    assert server.messages[0].user == "bot"


async def test_wrong_password_is_a_settings_error_and_not_shown(
    smtp_server_factory: MakeServer,
) -> None:
    # Issue 10 item 5: a 535 is the settings' fault, not the rows': they must wait.
    server = smtp_server_factory(credentials={"bot": "s3cret-pass"})
    sender = sender_for(server, username="bot", password="wrong-pass")
    with pytest.raises(TransportSettingsError, match=r"535.*SMTP_PASSWORD") as err:
        await sender.send(digest_message())
    assert "wrong-pass" not in str(err.value)
    assert "wrong-pass" not in repr(sender.settings)


# -- settings from the environment -------------------------------------------------------------


@pytest.mark.parametrize(
    ("security", "port"), [(None, 587), ("starttls", 587), ("SSL", 465), ("none", 25)]
)
def test_settings_default_port_follows_security(security: str | None, port: int) -> None:
    env = {"SMTP_HOST": "smtp.example.org", "MAIL_FROM": MAIL_FROM}
    if security is not None:
        env["SMTP_SECURITY"] = security
    settings = SmtpSettings.from_env(env)
    assert settings is not None
    assert settings.port == port
    assert settings.security == (security or "starttls").lower()


def test_settings_read_every_variable() -> None:
    settings = SmtpSettings.from_env(
        {
            "SMTP_HOST": "smtp.example.org",
            "SMTP_PORT": "2525",
            "SMTP_SECURITY": "none",
            "SMTP_USERNAME": "bot",
            "SMTP_PASSWORD": "hunter22",
            "MAIL_FROM": "watch@example.org",
        }
    )
    assert settings == SmtpSettings(
        host="smtp.example.org",
        port=2525,
        security="none",
        username="bot",
        password="hunter22",
        mail_from="watch@example.org",
    )
    assert "hunter22" not in repr(settings)


def test_no_smtp_host_means_no_smtp() -> None:
    assert SmtpSettings.from_env({"SMTP_HOST": " ", "SMTP_PORT": "oops"}) is None
    assert mail_from_env({}) == DEFAULT_MAIL_FROM


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SMTP_SECURITY": "tls"}, "SMTP_SECURITY: must be one of starttls, ssl, none, not 'tls'"),
        ({"SMTP_PORT": "smtp"}, "SMTP_PORT: must be a port number from 1 to 65535, not 'smtp'"),
        ({"SMTP_PORT": "70000"}, "SMTP_PORT: must be a port number"),
        ({"MAIL_FROM": ""}, "MAIL_FROM: is required when SMTP_HOST is set"),
        (
            {"MAIL_FROM": "EU Watch <not-an-address>"},
            "MAIL_FROM: 'EU Watch <not-an-address>' is not",
        ),
        (
            {"SMTP_PASSWORD": "hunter22"},
            "SMTP_USERNAME: SMTP_USERNAME and SMTP_PASSWORD go together",
        ),
    ],
)
def test_bad_settings_are_config_errors_that_name_the_variable(
    env: dict[str, str], message: str
) -> None:
    full = {"SMTP_HOST": "smtp.example.org", "MAIL_FROM": MAIL_FROM, **env}
    with pytest.raises(ConfigError) as err:
        SmtpSettings.from_env(full)
    assert str(err.value).startswith(message)
    assert "hunter22" not in str(err.value)


# -- .eml files and the console --------------------------------------------------------------


async def test_eml_writer_writes_one_readable_file_per_message(tmp_path: Path) -> None:
    outbox = tmp_path / "state" / "outbox"
    sender = EmlFileSender(outbox, clock=lambda: SENT_AT)
    message = digest_message()

    receipt = await sender.send(message)
    await sender.send(message)  # a retry replaces its own file
    await sender.send(digest_message("press@example.org"))

    files = sorted(p.name for p in outbox.iterdir())
    assert len(files) == 2
    assert all(name.startswith("2026-11-30_policy-team_") for name in files)
    assert all(name.endswith(".eml") for name in files)  # and no temporary file left
    path = next(p for p in outbox.iterdir() if b"To: policy@example.org" in p.read_bytes())
    data = path.read_bytes()
    assert b"\r\n" in data
    mime = message_from_bytes(data, policy=policy.default)
    assert isinstance(mime, EmailMessage)
    assert mime["Subject"] == message.subject
    assert mime["Message-ID"] == receipt.remote_id
    plain = mime.get_body(("plain",))
    assert plain is not None
    assert crlf_to_lf(plain.get_content()) == message.text


async def test_eml_writer_reports_an_unwritable_directory(tmp_path: Path) -> None:
    blocker = tmp_path / "outbox"
    blocker.write_text("a file where the directory should be")
    with pytest.raises(TransientDeliveryError, match="cannot write"):
        await EmlFileSender(blocker).send(digest_message())


async def test_console_prints_subject_and_plain_text() -> None:
    out = io.StringIO()
    await ConsoleSender(out).send(digest_message())
    printed = out.getvalue()
    assert printed.startswith("--- email to policy-team (policy@example.org) ---")
    assert f"Subject: {SUBJECT}" in printed
    assert "Dragoș Tudorache" in printed
    assert "<mark" not in printed
