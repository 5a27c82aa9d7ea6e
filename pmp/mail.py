"""Outgoing email: through an SMTP server, or into a folder when none is configured.

Services send few messages (verification links, password resets, notices), one at a time,
so each ``send`` opens its own connection: nothing to keep alive between messages, and a
server restart between two messages costs nothing. ``make run`` on a laptop has no mail
server, so an empty ``PMP_SMTP_URL`` writes each message to ``PMP_DATA_DIR/outbox/``, where
a developer can open it.

Emails carry links that grant access and personal data, so neither a recipient's address
nor a body ever reaches a log line or an exception message.
"""

from __future__ import annotations

import contextlib
import os
import re
import smtplib
import socket
import ssl
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from pmp.config import ConfigError, Settings
from pmp.logs import get_logger

SMTP_TIMEOUT = 10.0  # seconds for connecting and for each reply; a hung server fails the send

log = get_logger(__name__)

_DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
_STARTTLS_PORT = 587  # submission: the usual port for STARTTLS
_TRUE = {"1", "true", "yes", "on"}
_ADDRESS = re.compile(r"\S+@\S+")  # servers often echo the address they refuse


@dataclass(frozen=True)
class Email:
    """One message to one person; its text is the plain-text body."""

    to: str
    subject: str
    text: str
    # Stable for the same cause (an event id), so that a message sent again after a crash
    # can be recognised as a twin by the mail system and the reader's client.
    message_id: str | None = None

    def __post_init__(self) -> None:
        # A line break in a header would let a value add headers of its own.
        for name in ("to", "subject"):
            if re.search(r"[\r\n]", getattr(self, name)):
                raise ValueError(f"Email.{name} must be a single line")


class MailUndeliverable(Exception):
    """The SMTP server could not be reached or did not accept the message.

    The message names the server (host:port) and the reason, never the body, the recipient
    or a password, so it is safe to log and to return over RPC.
    """

    def __init__(self, server: str, reason: str) -> None:
        super().__init__(f"SMTP server {server} did not take the message: {reason}")
        self.server = server
        self.reason = reason

    def __reduce__(self):  # keep it picklable despite the two-argument constructor
        return (type(self), (self.server, self.reason))


@dataclass(frozen=True)
class SmtpTarget:
    """Where and how to deliver, parsed from ``PMP_SMTP_URL``."""

    host: str
    port: int
    implicit_tls: bool = False  # smtps://: TLS from the first byte
    starttls: bool = False  # smtp://...?starttls=1: plain connection upgraded to TLS
    username: str = ""
    password: str = field(default="", repr=False)

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***``, for error messages and logs."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    netloc, slash, tail = _split_netloc(rest)
    userinfo, at, hostport = netloc.rpartition("@")
    if not at:
        return url
    user, colon, _password = userinfo.partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{hostport}{slash}{tail}"


def _split_netloc(rest: str) -> tuple[str, str, str]:
    """``host:port`` part of a URL after ``scheme://``, the separator after it, the rest."""
    match = re.search(r"[/?#]", rest)
    if match is None:
        return rest, "", ""
    return rest[: match.start()], rest[match.start()], rest[match.start() + 1 :]


def parse_smtp_url(url: str) -> SmtpTarget:
    """Read ``smtp://[user:password@]host[:port][?starttls=1]`` or ``smtps://...``.

    User name and password are percent-decoded, so a password may hold any character.
    """
    shown = redact_url(url)
    parts = urlsplit(url)
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ConfigError(
            f"PMP_SMTP_URL must look like smtp://host:port or smtps://host:port, not {shown!r}"
        )
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"PMP_SMTP_URL has an invalid port: {shown!r}") from None
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = set(query) - {"starttls"}
    if unknown or parts.path not in ("", "/"):
        raise ConfigError(f"PMP_SMTP_URL may only take ?starttls=1 after host:port: {shown!r}")
    starttls = query.get("starttls", ["0"])[-1].strip().lower() in _TRUE
    implicit_tls = parts.scheme == "smtps"
    if starttls and implicit_tls:
        raise ConfigError(f"PMP_SMTP_URL: smtps:// is TLS already, drop ?starttls: {shown!r}")
    if port is None:
        port = _STARTTLS_PORT if starttls else _DEFAULT_PORTS[parts.scheme]
    return SmtpTarget(
        host=parts.hostname,
        port=port,
        implicit_tls=implicit_tls,
        starttls=starttls,
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
    )


class Mailer:
    """Sends ``Email``s as ``PMP_MAIL_FROM``, to ``PMP_SMTP_URL`` or the outbox folder.

    The URL is parsed here, so a mistake in it stops a service at start rather than at its
    first email.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._target = parse_smtp_url(settings.smtp_url) if settings.smtp_url else None
        sender = parseaddr(settings.mail_from)[1]
        self._domain = sender.rpartition("@")[2] or "localhost"

    def send(self, email: Email) -> None:
        """Deliver ``email``, or raise ``MailUndeliverable``: nothing is queued or retried."""
        message = self._compose(email)
        if self._target is None:
            self._write_to_outbox(message, email.subject)
        else:
            self._deliver(self._target, message, email.subject)

    def _compose(self, email: Email) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._settings.mail_from
        message["To"] = email.to
        message["Subject"] = email.subject
        message["Date"] = format_datetime(datetime.now(UTC))
        # An explicit domain: make_msgid's default asks DNS for this host's name.
        message["Message-ID"] = (
            f"<{email.message_id}@{self._domain}>"
            if email.message_id
            else make_msgid(domain=self._domain)
        )
        message.set_content(email.text)
        return message

    def _write_to_outbox(self, message: EmailMessage, subject: str) -> None:
        outbox = Path(self._settings.data_dir) / "outbox"
        outbox.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        path = outbox / f"{stamp}-{uuid.uuid4()}.eml"
        partial = path.with_name(path.name + ".part")
        # Owner-only (it holds personal data), and renamed once complete so that whoever
        # watches the folder never opens half a message.
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(message.as_bytes())
        os.replace(partial, path)
        log.info("mail written to outbox", path=str(path), subject=subject)

    def _deliver(self, target: SmtpTarget, message: EmailMessage, subject: str) -> None:
        context = ssl.create_default_context() if target.implicit_tls or target.starttls else None
        try:
            if target.implicit_tls:
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    target.host, target.port, timeout=SMTP_TIMEOUT, context=context
                )
            else:
                client = smtplib.SMTP(target.host, target.port, timeout=SMTP_TIMEOUT)
            try:
                if target.starttls:
                    client.starttls(context=context)
                if target.username:
                    client.login(target.username, target.password)
                client.send_message(message)
                # Accepted: a failed goodbye must not make the caller send it again.
                with contextlib.suppress(OSError, smtplib.SMTPException):
                    client.quit()
            finally:
                client.close()
        except (OSError, smtplib.SMTPException) as exc:
            # ``from None``: the original exception may hold the recipient's address.
            raise MailUndeliverable(target.address, _reason(exc)) from None
        log.info("mail sent", server=target.address, subject=subject)


def _reason(exc: BaseException) -> str:
    """Why a send failed, in words that hold no address (servers echo the ones they refuse)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = ", ".join(str(code) for code, _ in exc.recipients.values())
        return f"recipient refused ({codes})"
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        return f"{exc.smtp_code} {_ADDRESS.sub('<address>', text)}".strip()
    if isinstance(exc, TimeoutError):
        return f"no answer within {SMTP_TIMEOUT:g} s"
    if isinstance(exc, ssl.SSLError):
        return exc.strerror or str(exc)
    if isinstance(exc, OSError) and not isinstance(exc, socket.gaierror) and (exc.errno or 0) > 0:
        return os.strerror(exc.errno)  # eventlet's green sockets give only the errno's name
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return _ADDRESS.sub("<address>", str(exc)) or type(exc).__name__
