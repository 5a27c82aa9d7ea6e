"""marshmallow schemas of the help desk's events and of what people send it.

Nine events tell a ticket's life (``TicketOpened`` ... ``TicketClosed``, and
``TicketContactConfirmed`` when a signed-out opener proves their address; one stream
``ticket-<id>`` each); ``HelpdeskPolicyChanged`` holds the whole policy whenever
administrators change it. An action on a user's account taken from a ticket (unlock, a new
temporary password letter) is a ``TicketCommented`` with ``account_action`` set, internal,
beside the identity service's own event, whose reason names the ticket.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from pmp.registry import EventRegistry
from services.helpdesk.business_hours import CATEGORIES
from services.helpdesk.policy import PolicySchema
from services.helpdesk.ticket import (
    ACCESS_PROBLEMS,
    ACCOUNT_ACTIONS,
    ESCALATION_TARGETS,
    STATUSES,
)

SUBJECT = validate.Length(min=3, max=200)
TEXT = validate.Length(min=1, max=5000)
REASON = validate.Length(min=3, max=1000)


class Attachment(Schema):
    document_id = fields.UUID(required=True)
    sha256 = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{64}$"))
    filename = fields.String(required=True, validate=validate.Length(min=1, max=120))
    content_type = fields.String(required=True)
    size = fields.Integer(required=True, strict=True, validate=validate.Range(1))


class TicketOpened(Schema):
    ticket_id = fields.UUID(required=True)
    subject = fields.String(required=True, validate=SUBJECT)
    description = fields.String(required=True, validate=TEXT)
    contact_name = fields.String(required=True, validate=validate.Length(max=200))
    contact_email = fields.Email(required=True)
    contact_phone = fields.String(required=True, validate=validate.Length(max=40))
    account_id = fields.UUID(required=True, allow_none=True)
    access_problem = fields.String(
        required=True, allow_none=True, validate=validate.OneOf(ACCESS_PROBLEMS)
    )
    attachments = fields.List(fields.Nested(Attachment), required=True,
                              validate=validate.Length(max=5))  # fmt: skip
    # False: opened by someone not signed in, the address not yet proven. Missing in
    # tickets opened before it was recorded, which were all answered at once.
    contact_confirmed = fields.Boolean(load_default=True)


class TicketContactConfirmed(Schema):
    """The link emailed to a signed-out opener was used: the address is theirs."""


class TicketCategorised(Schema):
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    previous = fields.String(required=True, allow_none=True, validate=validate.OneOf(CATEGORIES))


class TicketAssigned(Schema):
    assignee_id = fields.UUID(required=True, allow_none=True)
    assignee_name = fields.String(required=True, validate=validate.Length(max=200))


class TicketCommented(Schema):
    comment_id = fields.UUID(required=True)
    body = fields.String(required=True, validate=TEXT)
    internal = fields.Boolean(required=True)
    from_staff = fields.Boolean(required=True)
    author_id = fields.UUID(required=True, allow_none=True)
    author_name = fields.String(required=True, validate=validate.Length(max=200))
    account_action = fields.String(
        required=True, allow_none=True, validate=validate.OneOf(ACCOUNT_ACTIONS)
    )


class TicketEscalated(Schema):
    to = fields.String(required=True, validate=validate.OneOf(ESCALATION_TARGETS))
    reason = fields.String(required=True, validate=REASON)


class TicketResolved(Schema):
    resolution = fields.String(required=True, validate=TEXT)


class TicketReopened(Schema):
    reason = fields.String(required=True, validate=REASON)
    by_staff = fields.Boolean(required=True)


class TicketClosed(Schema):
    reason = fields.String(required=True, validate=validate.Length(max=1000))
    was = fields.String(required=True, validate=validate.OneOf(STATUSES))


class HelpdeskPolicyChanged(Schema):
    policy = fields.Nested(PolicySchema, required=True)


TICKET_EVENTS = (
    TicketOpened,
    TicketCategorised,
    TicketAssigned,
    TicketCommented,
    TicketEscalated,
    TicketResolved,
    TicketReopened,
    TicketClosed,
    TicketContactConfirmed,
)


# -- what people send ------------------------------------------------------------------------


class NewTicket(Schema):
    """A ticket as a user (signed in or not) sends it."""

    subject = fields.String(required=True, validate=SUBJECT)
    description = fields.String(required=True, validate=TEXT)
    contact_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    contact_email = fields.Email(required=True)
    contact_phone = fields.String(load_default="", validate=validate.Length(max=40))
    access_problem = fields.String(load_default=None, allow_none=True,
                                   validate=validate.OneOf(ACCESS_PROBLEMS))  # fmt: skip


def helpdesk_events() -> EventRegistry:
    registry = EventRegistry()
    for schema in (*TICKET_EVENTS, HelpdeskPolicyChanged):
        registry.register(schema.__name__, schema)
    return registry
