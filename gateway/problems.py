"""Errors as RFC 9457 problem details, with a message a person can act on.

``ERRORS`` is the one table that maps what went wrong (our exceptions, and the names of
exceptions raised inside services, which arrive as nameko ``RemoteError``s) to an HTTP
status and a title.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import kombu.exceptions
from amqp.exceptions import AMQPError
from nameko.exceptions import RemoteError, RpcTimeout, UnknownService

from pmp.ratelimit import retry_after

PROBLEM_JSON = "application/problem+json"


@dataclass
class Problem(Exception):
    """An error answer: raised by handlers, rendered as problem+json or an HTML page."""

    status: int
    title: str
    detail: str = ""
    type: str = "about:blank"
    extensions: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)  # sent with it, not in the body

    def __str__(self) -> str:
        return f"{self.status} {self.title}"

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        if instance:
            body["instance"] = instance
        return {**body, **self.extensions}

    def to_json(self, instance: str | None = None) -> str:
        return json.dumps(self.body(instance))


class Redirect(Exception):
    """Send the browser elsewhere (303 See Other): to sign in, or to the next sign-in step."""

    def __init__(self, location: str):
        super().__init__(location)
        self.location = location


UNAVAILABLE = "A service is unavailable for a moment"
RETRY_AFTER_SECONDS = 10  # what a 503 asks the client to wait: outages are retried this often

# Exception names raised inside services -> (status, title). Anything else is a 500.
ERRORS: dict[str, tuple[int, str]] = {
    "ConcurrencyError": (409, "Someone else changed this record first; reload and try again"),
    "EventValidationError": (422, "The request was refused: a field is not valid"),
    "ValidationError": (422, "The request was refused: a field is not valid"),
    "NotAuthorized": (403, "You are not allowed to do this"),
    "NotFound": (404, "Not found"),
    "SessionInvalid": (401, "Sign-in required"),
    "SignInRefused": (401, "Sign-in failed"),
    "TooManyAttempts": (429, "Too many sign-in attempts"),
    "RateLimited": (429, "Too many requests"),
    "PasswordRejected": (422, "Choose a different password"),
    "CodeRejected": (422, "The code or answer was not accepted"),
    "AccountError": (422, "The request was refused"),
    "AccountStateConflict": (409, "The account's state does not allow this"),
    "EmailTaken": (409, "This email address is already registered"),
    "FormInvalid": (422, "The form has mistakes; each is named with its field"),
    "DocumentRejected": (422, "The document was not accepted"),
    "NoSuchDocument": (404, "Not found"),
    "LinkInvalid": (422, "The link does not work"),
    "ApplicationIncomplete": (422, "The application is not complete"),
    "AgreementOutdated": (409, "The User Agreement has changed"),
    "ApplicationStateConflict": (409, "The application's state does not allow this"),
    "RegistrationError": (422, "The request was refused"),
    "SubmissionRefused": (422, "The file was refused"),
    "DecisionRefused": (422, "The decision was refused"),
    "SearchRefused": (422, "The search was refused"),
    "LookBackRefused": (422, "The look-back was refused"),
    "VerificationRefused": (422, "The verification was refused"),
    "RegistryFileRefused": (422, "The registry file was refused"),
    "CardNumberRefused": (422, "That is not a registry card number"),
    "CardRecordNotFound": (404, "Not found"),
    "StatisticsRefused": (422, "The statistics request was refused"),
    "HistoryRefused": (422, "The audit history request was refused"),
    "SignalsRefused": (422, "The misuse signals request was refused"),
    "PolicyRefused": (422, "The policy was refused"),
    "AcknowledgementRefused": (422, "The acknowledgement was refused"),
    "TicketRefused": (422, "The ticket was refused: a field is missing or not valid"),
    "TicketStateConflict": (409, "The ticket's state does not allow this"),
    "NotYourTicket": (404, "Not found"),
    "TicketError": (422, "The request was refused"),
    "ReportRefused": (422, "The report was refused"),
    # A service that answered, but could not reach what it needs (its database, the broker,
    # another service): an outage, not a bug, so 503 with Retry-After, never 500.
    "OperationalError": (503, UNAVAILABLE),  # SQLAlchemy/psycopg/kombu: connection failed
    "InterfaceError": (503, UNAVAILABLE),
    "DisconnectionError": (503, UNAVAILABLE),
    "TimeoutError": (503, UNAVAILABLE),  # e.g. no database connection free in time
    "ConnectionError": (503, UNAVAILABLE),
    "ConnectionRefusedError": (503, UNAVAILABLE),
    "ConnectionResetError": (503, UNAVAILABLE),
    "BrokerUnavailable": (503, UNAVAILABLE),
    "SourceUnavailable": (503, UNAVAILABLE),
    "UnknownService": (503, UNAVAILABLE),
    "RpcTimeout": (503, UNAVAILABLE),
}


# A service's refusal names its field first ("at: give a time with its offset ..."): the
# answer names it in ``errors`` too, as the gateway's own checks do.
_NAMED_FIELD = re.compile(r"([a-z_][a-z0-9_]*): (.+)", re.DOTALL)


def problem_from_exception(exc: BaseException) -> Problem:
    """The problem to show for ``exc``; internal details never reach the client."""
    if isinstance(exc, Problem):
        return exc
    if isinstance(exc, RemoteError) and exc.exc_type in ERRORS:
        status, title = ERRORS[exc.exc_type]
        if status == 503:  # the detail names hosts and internals: not for the client
            return unavailable(title)
        detail = str(exc.value)
        headers = {}
        wait = retry_after(detail) if status == 429 else None
        if wait is not None:  # the service's limiter named the wait in its message
            headers["Retry-After"] = str(wait)
        named = _NAMED_FIELD.match(detail) if status == 422 else None
        extensions = {"errors": {named[1]: [named[2]]}} if named else {}
        return Problem(status, title, detail=detail, headers=headers, extensions=extensions)
    if isinstance(exc, (RpcTimeout, TimeoutError)):
        return unavailable("A service did not answer in time")
    if isinstance(exc, UnknownService):
        return unavailable("A service is not running")
    if isinstance(exc, (OSError, AMQPError, kombu.exceptions.OperationalError)):
        return unavailable("The message broker cannot be reached")  # the gateway's own call
    return Problem(
        500,
        "Something went wrong on our side",
        "The error has been logged. If it persists, contact the help desk and quote the "
        "correlation id shown below.",
    )


def unavailable(title: str) -> Problem:
    """503 with Retry-After: something the request needs is down or not answering now."""
    return Problem(
        503,
        title,
        "Please try again in a minute.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
