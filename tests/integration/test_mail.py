"""Outgoing email through a real SMTP server (aiosmtpd), and the outbox folder without one."""

from __future__ import annotations

import io
import json
import logging
import socket
import stat
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from urllib.parse import quote

import pytest

from pmp.config import ConfigError, Settings, load_settings
from pmp.logs import configure_logging
from pmp.mail import Email, Mailer, MailUndeliverable, parse_smtp_url, redact_url
from tests.helpers.smtp import (
    PASSWORD,
    REFUSED_PREFIX,
    USERNAME,
    SmtpServer,
    running_smtp_server,
    self_signed_tls,
)

SENDER = "CPMRS <no-reply@pmp.example>"
RECIPIENT = "dr.ada.lovelace@clinic.example"
BODY = "Open https://pmp.example/verify/tok-8f3a2 to confirm your address.\nMerci, Zoë."


def settings(tmp_path: Path, smtp_url: str = "") -> Settings:
    return load_settings(
        {
            "PMP_DATA_DIR": str(tmp_path / "data"),
            "PMP_SMTP_URL": smtp_url,
            "PMP_MAIL_FROM": SENDER,
        }
    )


def email(subject: str = "Confirm your email address", to: str = RECIPIENT) -> Email:
    return Email(to=to, subject=subject, text=BODY)


def closed_port() -> int:
    """A port nothing listens on: bound by the system, then released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def log_lines():
    stream = io.StringIO()
    configure_logging("registration", "INFO", stream)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logging.getLogger().handlers.clear()


def test_a_message_reaches_the_server_with_subject_body_from_and_to(smtp_server, tmp_path):
    Mailer(settings(tmp_path, smtp_server.url)).send(email())

    received = smtp_server.wait_for(lambda r: r.subject == "Confirm your email address")
    assert received.text.rstrip("\n") == BODY
    assert received.message["From"] == SENDER
    assert received.message["To"] == RECIPIENT
    assert received.envelope_from == "no-reply@pmp.example"
    assert received.envelope_to == (RECIPIENT,)
    assert received.message["Date"].datetime.tzinfo is not None
    assert received.message["Message-ID"].endswith("@pmp.example>")
    assert not (tmp_path / "data" / "outbox").exists()


def test_a_user_and_password_in_the_url_log_in_first(smtp_server, tmp_path):
    url = smtp_server.url.replace("://", f"://{USERNAME}:{quote(PASSWORD, safe='')}@")
    Mailer(settings(tmp_path, url)).send(email("after login"))
    smtp_server.wait_for(lambda r: r.subject == "after login")


def test_a_wrong_password_is_refused_without_showing_it(smtp_server, tmp_path):
    url = smtp_server.url.replace("://", f"://{USERNAME}:wrong-horse-battery@")
    with pytest.raises(MailUndeliverable) as raised:
        Mailer(settings(tmp_path, url)).send(email())
    message = str(raised.value)
    assert f"127.0.0.1:{smtp_server.port}" in message and "535" in message
    assert "wrong-horse-battery" not in message
    assert smtp_server.messages == []


def test_a_refused_recipient_is_undeliverable_and_the_error_does_not_name_them(
    smtp_server, tmp_path
):
    refused = f"{REFUSED_PREFIX}patient@clinic.example"
    with pytest.raises(MailUndeliverable) as raised:
        Mailer(settings(tmp_path, smtp_server.url)).send(email(to=refused))
    assert "550" in str(raised.value) and f"127.0.0.1:{smtp_server.port}" in str(raised.value)
    assert "patient" not in str(raised.value) and "clinic" not in str(raised.value)
    assert raised.value.__suppress_context__  # the traceback does not show smtplib's error


def test_an_unreachable_server_names_host_and_port_but_not_the_password(tmp_path):
    port = closed_port()
    mailer = Mailer(settings(tmp_path, f"smtp://pmp:hunter2-secret@127.0.0.1:{port}"))
    with pytest.raises(MailUndeliverable) as raised:
        mailer.send(email())
    assert f"127.0.0.1:{port}" in str(raised.value)
    assert "refused" in str(raised.value).lower()
    assert "hunter2" not in str(raised.value) and "hunter2" not in repr(raised.value)
    assert RECIPIENT not in str(raised.value)


def test_without_a_server_each_message_is_written_to_the_outbox_as_eml(tmp_path):
    mailer = Mailer(settings(tmp_path))
    mailer.send(email("first"))
    mailer.send(email("second"))

    files = sorted((tmp_path / "data" / "outbox").iterdir())
    assert [f.suffix for f in files] == [".eml", ".eml"]  # no partial file left behind
    messages = [message_from_bytes(f.read_bytes(), policy=default_policy) for f in files]
    assert [m["Subject"] for m in messages] == ["first", "second"]  # names sort by time
    first = messages[0]
    assert first["From"] == SENDER and first["To"] == RECIPIENT
    assert first["Date"] and first["Message-ID"]
    assert first.get_body(("plain",)).get_content().rstrip("\n") == BODY
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600


def test_the_outbox_log_line_names_the_file_and_subject_never_recipient_or_body(
    tmp_path, log_lines
):
    Mailer(settings(tmp_path)).send(email("Your password was reset"))

    [line] = [line for line in log_lines() if line["event"] == "mail written to outbox"]
    [path] = (tmp_path / "data" / "outbox").iterdir()
    assert line["path"] == str(path) and line["subject"] == "Your password was reset"
    text = json.dumps(log_lines())
    assert "lovelace" not in text and "clinic.example" not in text
    assert "tok-8f3a2" not in text and "confirm your address" not in text


@pytest.mark.parametrize("implicit_tls", [False, True], ids=["starttls", "smtps"])
def test_tls_to_a_server_the_system_trusts(tmp_path, monkeypatch, implicit_tls):
    context, certificate = self_signed_tls(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate))
    with running_smtp_server(tls=context, implicit_tls=implicit_tls) as server:
        assert server.url.startswith("smtps://" if implicit_tls else "smtp://")
        Mailer(settings(tmp_path, server.url)).send(email("over TLS"))
        assert server.wait_for(lambda r: r.subject == "over TLS").text.rstrip("\n") == BODY


def test_tls_to_a_server_with_an_untrusted_certificate_is_refused(tmp_path):
    context, _certificate = self_signed_tls(tmp_path)
    with running_smtp_server(tls=context, implicit_tls=True) as server:
        with pytest.raises(MailUndeliverable, match="certificate verify failed"):
            Mailer(settings(tmp_path, server.url)).send(email())
        assert server.messages == []


def test_wait_for_fails_saying_what_arrived(smtp_server: SmtpServer, tmp_path):
    Mailer(settings(tmp_path, smtp_server.url)).send(email("something else"))
    with pytest.raises(AssertionError, match="something else"):
        smtp_server.wait_for(lambda r: r.subject == "never sent", timeout=0.2)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "smtp://user:pa%40ss@mail.example:587?starttls=1",
            "smtp://user:***@mail.example:587?starttls=1",
        ),
        ("smtps://user@mail.example", "smtps://user@mail.example"),
        ("smtp://mail.example:25", "smtp://mail.example:25"),
        ("smtp://u:p@ss@mail.example", "smtp://u:***@mail.example"),
    ],
)
def test_redact_url_hides_only_the_password(url, shown):
    assert redact_url(url) == shown


def test_smtp_urls_are_read_with_default_ports_and_decoded_credentials():
    plain = parse_smtp_url("smtp://mail.example")
    assert (plain.host, plain.port, plain.implicit_tls, plain.starttls) == (
        "mail.example",
        25,
        False,
        False,
    )
    assert parse_smtp_url("smtps://mail.example").port == 465
    submission = parse_smtp_url("smtp://me%40org:p%3Aw@mail.example?starttls=1")
    assert (submission.port, submission.starttls) == (587, True)
    assert (submission.username, submission.password) == ("me@org", "p:w")
    assert "p:w" not in repr(submission)


@pytest.mark.parametrize(
    "url",
    [
        "http://u:topsecret@mail.example",
        "smtp://u:topsecret@mail.example:notaport",
        "smtps://u:topsecret@mail.example?starttls=1",
        "smtp://u:topsecret@mail.example?tls=1",
    ],
)
def test_a_bad_smtp_url_stops_the_mailer_without_showing_the_password(tmp_path, url):
    with pytest.raises(ConfigError, match="PMP_SMTP_URL") as raised:
        Mailer(settings(tmp_path, url))
    assert "topsecret" not in str(raised.value)


def test_a_line_break_in_a_header_is_refused():
    with pytest.raises(ValueError, match="single line"):
        Email(to=RECIPIENT, subject="Hi\nBcc: everyone@example.org", text=BODY)
