"""The medical marijuana registry's RPCs (a mixin of ``QueryService``): loading a registry
file (administrators, ``mm_registry.load``) and verifying a card (``mm_registry.verify``:
law enforcement, and those an administrator granted it to).

Every verification is recorded as ``CardVerified`` (the officer, what they asked, what they
were told) in its own stream, as a patient search is, so the audit trail keeps it.
"""

from __future__ import annotations

import base64
import binascii
import io
import uuid
from typing import Any

from pmp.logs import get_logger
from pmp.registry import load_or_refuse
from pmp.rpc import rpc
from services.identity.roles import Permission, require_granted
from services.query import mm_dispensations
from services.query.mm_cards import CARD_NUMBER, Card, CardHistory, card_stream, validity
from services.query.mm_registry import FileRefused, RegistryImport, verify
from services.query.schemas import CardQuery

log = get_logger(__name__)

MAX_BYTES = 20 * 1024 * 1024


class VerificationRefused(ValueError):
    """The verification asks for neither a card number nor a name and date of birth."""


class CardNumberRefused(ValueError):
    """A card record was asked for by something that is not a card number."""


class CardRecordNotFound(LookupError):
    """Neither a card nor a dispensation has this number."""


class RegistryFileRefused(ValueError):
    """The registry file cannot be read at all; the message says why."""


def verification_stream(verification_id: str) -> str:
    return f"mm-verification-{verification_id}"


class RegistryRpc:
    """The registry's entrypoints; each checks the caller's permission itself."""

    def _today(self):
        return self.kernel.clock().astimezone(self.kernel.settings.timezone).date()

    def _require_records(self) -> None:
        k = self.kernel
        require_granted(k.actor_role, k.actor_permissions, Permission.MM_REGISTRY_RECORDS)

    @rpc
    def import_cards(self, filename: str, content: str) -> dict[str, Any]:
        """Load a registry file (CSV, base64): counts of what changed and each bad line."""
        require_granted(self.kernel.actor_role, self.kernel.actor_permissions,
                        Permission.MM_REGISTRY_LOAD)  # fmt: skip
        try:
            raw = base64.b64decode(content or "", validate=True)
            text = raw.decode("utf-8-sig")
        except (binascii.Error, ValueError):
            raise RegistryFileRefused("The file is damaged or not UTF-8 text.") from None
        if len(raw) > MAX_BYTES:
            raise RegistryFileRefused("The file is larger than 20 MB; load it with pmp mm import.")
        load = RegistryImport(
            self.kernel.store, self.kernel.append, filename or "registry.csv", self._today()
        )
        try:
            outcome = load.run(io.StringIO(text, newline=""))
        except FileRefused as exc:
            raise RegistryFileRefused(str(exc)) from None
        log.info("registry file loaded", **outcome["counts"])
        return outcome

    @rpc
    def verify_card(self, query: dict[str, Any]) -> dict[str, Any]:
        """Is the card valid today? By ``card_number``, or ``first_name``, ``last_name`` and
        ``birth_date``. The result and the cards found (name, date of birth, expiry date,
        caregiver: nothing else); recorded as ``CardVerified``."""
        k = self.kernel
        require_granted(k.actor_role, k.actor_permissions, Permission.MM_REGISTRY_VERIFY)
        asked = load_or_refuse(CardQuery(), query, VerificationRefused)
        if not asked["card_number"].strip():
            missing = [
                name for name in ("first_name", "last_name", "birth_date") if not asked[name]
            ]
            if missing:
                raise VerificationRefused(
                    f"{missing[0]}: give the card number, or the name and date of birth."
                )
        today = self._today()
        with k.db.read() as conn:
            result, numbers, cards = verify(k.store, conn, asked, today)
        verification_id = str(uuid.uuid4())
        officer = {"account_id": k.actor_id or "", "name": k.actor_name, "role": k.actor_role}
        event = {
            "verification_id": verification_id,
            "officer": officer,
            "query": CardQuery().dump(asked),
            "result": result,
            "card_numbers": numbers,
        }
        k.append(verification_stream(verification_id), 0, [("CardVerified", event)])
        log.info("card verified", verification_id=verification_id, result=result)
        return {
            "verification_id": verification_id,
            "checked_on": today.isoformat(),
            "result": result,
            "cards": cards,
        }

    @rpc
    def mm_card_record(self, card_number: str) -> dict[str, Any]:
        """A card's record for administrators: the holder's details, the card's status today,
        and the dispensaries' dispensations reported under its number (newest first), each
        with the card's standing on the day it was filled and whether the patient reported
        is the holder. Recorded as ``CardRecordViewed``."""
        self._require_records()
        k = self.kernel
        number = (card_number or "").strip().upper()
        if not CARD_NUMBER.match(number):
            raise CardNumberRefused("card_number: use 4 to 20 letters, digits or hyphens.")
        zone = k.settings.timezone
        events = k.store.read_stream(card_stream(number))
        card = Card.fold(number, [(e.type, e.data) for e in events])
        history = CardHistory.of(
            (e.type, e.data, e.metadata.occurred_at.astimezone(zone).date()) for e in events
        )
        with k.db.read() as conn:
            records = mm_dispensations.of_card(conn, number)
        if card is None and not records:
            raise CardRecordNotFound("No card and no dispensation has this number.")
        holder = None
        if card is not None:
            holder = tuple(card.details[k] for k in mm_dispensations.HOLDER_FIELDS)
        shown = [
            mm_dispensations.shown_dispensation(r, mm_dispensations.judged(r, holder, history))
            for r in records
        ]
        viewer = {"account_id": k.actor_id or "", "name": k.actor_name, "role": k.actor_role}
        viewed = {"viewer": viewer, "card_number": number, "dispensations": len(shown)}
        k.append(f"mm-card-record-{uuid.uuid4()}", 0, [("CardRecordViewed", viewed)])
        holder = None
        if card is not None:
            holder = {
                **card.details,
                "status": validity(card, self._today()),
                "revoked_reason": card.revoked_reason,
            }
        return {"card_number": number, "card": holder, "dispensations": shown}

    @rpc
    def mm_dispensations_to_check(self, page: int = 1) -> dict[str, Any]:
        """The dispensations an administrator should check, newest first, a page at a time:
        under a number no card has (a typo at the dispensary, or a card not loaded yet), on
        a day the card was not valid, or to somebody who is not the card's holder."""
        self._require_records()
        with self.kernel.db.read() as conn:
            return mm_dispensations.to_check(conn, int(page))
