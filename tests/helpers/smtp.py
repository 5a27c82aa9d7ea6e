"""A real SMTP server for tests: aiosmtpd in a thread, keeping every message it receives.

Messages may come from this process or from services under test in child processes, so
``wait_for`` polls rather than expecting a message to be there at once.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USERNAME = "mailer"
PASSWORD = "s3cret:p@ss/word"  # characters that need percent-encoding in a URL
REFUSED_PREFIX = "refuse-"  # the server refuses recipients whose address starts with it


@dataclass(frozen=True)
class Received:
    """One message as the server got it: the parsed message and its envelope."""

    message: EmailMessage
    envelope_from: str
    envelope_to: tuple[str, ...]

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        """The plain-text body, decoded."""
        return self.message.get_body(("plain",)).get_content()


class _Handler:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[Received] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address.startswith(REFUSED_PREFIX):
            return f"550 5.1.1 <{address}>: Recipient address rejected"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        # CRLF on the wire; LF, as in a file on disk, for the parsed message.
        content = envelope.original_content.replace(b"\r\n", b"\n")
        message = message_from_bytes(content, policy=default_policy)
        with self.lock:
            self.received.append(Received(message, envelope.mail_from, tuple(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


def _authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data == (
        USERNAME.encode(),
        PASSWORD.encode(),
    )
    # handled=False: aiosmtpd answers a failure with 535 (True would leave the client waiting).
    return AuthResult(success=ok, handled=False)


class _Controller(Controller):
    """Binds port 0 and reads the port the system chose: no race for a "free" port."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpServer:
    """The running server: ``url`` to configure a mailer with, ``messages`` it received."""

    def __init__(self, controller: Controller, handler: _Handler, scheme: str, query: str):
        self._controller = controller
        self._handler = handler
        self.host = controller.hostname
        self.port = controller.port
        self.url = f"{scheme}://{self.host}:{self.port}{query}"

    @property
    def messages(self) -> list[Received]:
        """A copy of what has arrived so far, oldest first."""
        with self._handler.lock:
            return list(self._handler.received)

    def wait_for(
        self, predicate: Callable[[Received], bool] = lambda _: True, timeout: float = 10
    ) -> Received:
        """The first message ``predicate`` accepts; fail after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            for received in self.messages:
                if predicate(received):
                    return received
            if time.monotonic() >= deadline:
                subjects = [r.subject for r in self.messages]
                raise AssertionError(
                    f"no matching message within {timeout} s; received: {subjects}"
                )
            time.sleep(0.02)


@contextmanager
def running_smtp_server(
    tls: ssl.SSLContext | None = None, implicit_tls: bool = False
) -> Iterator[SmtpServer]:
    """An SMTP server on 127.0.0.1 that accepts AUTH as USERNAME/PASSWORD, and every message
    except to recipients starting with REFUSED_PREFIX.

    With ``tls`` it offers STARTTLS (or, with ``implicit_tls``, speaks TLS at once).
    AUTH is allowed without TLS so that the plain server can test a login too.
    """
    handler = _Handler()
    kwargs: dict[str, Any] = {
        "authenticator": _authenticate,
        "auth_require_tls": False,
        # Without it, every connection asks DNS for this host's name (slow in containers).
        "server_hostname": "localhost",
        "ready_timeout": 10,
    }
    if tls is not None and implicit_tls:
        kwargs["ssl_context"] = tls
    elif tls is not None:
        kwargs["tls_context"] = tls
    controller = _Controller(handler, hostname="127.0.0.1", port=0, **kwargs)
    controller.start()
    try:
        scheme = "smtps" if implicit_tls else "smtp"
        query = "?starttls=1" if tls is not None and not implicit_tls else ""
        yield SmtpServer(controller, handler, scheme, query)
    finally:
        controller.stop()


def self_signed_tls(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context for 127.0.0.1, and the certificate file a client must trust.

    Clients trust it through ``SSL_CERT_FILE``, as a deployment with a private CA would.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A plain SMTP server of this test's own (starting one takes a few milliseconds)."""
    with running_smtp_server() as server:
        yield server
