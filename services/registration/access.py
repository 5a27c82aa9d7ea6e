"""The access reaction: approvals, renewal dates and name changes reach the identity service.

Identity decides who may reach patient data from the role and the renewal date it holds;
this reaction keeps those in step with the registration's events, through identity RPCs that
change nothing when asked twice.
"""

from __future__ import annotations

from pmp.envelope import RecordedEvent
from pmp.reactions import Reaction
from pmp.sources import ClusterProxy
from services.registration.repository import registration_at


class AccessToIdentity(Reaction):
    name = "registration.access"
    types = frozenset({"ApplicationApproved", "RenewalDateSet", "ProfileChangeApproved"})

    def __init__(self, settings, store):
        super().__init__(settings, store)
        self.proxy = ClusterProxy(settings.amqp_uri, settings.rpc_timeout)

    def react(self, event: RecordedEvent) -> bool:
        account_id = event.stream.removeprefix("registration-")
        identity = self.proxy()["identity"]
        data = event.data
        if event.type == "ApplicationApproved":
            identity.grant_access(
                account_id=account_id,
                role=data["role"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                address_lines=data["address_lines"],
                access_until=data["renewal_due"],
            )
            return True
        if event.type == "RenewalDateSet":
            identity.set_access_until(account_id=account_id, access_until=data["renewal_due"])
            return True
        if event.type == "ProfileChangeApproved":
            changes = data["changes"]
            if {"first_name", "last_name"} & set(changes):
                registration = registration_at(self.store, event)
                identity.set_profile(
                    account_id=account_id,
                    first_name=registration.form["first_name"],
                    last_name=registration.form["last_name"],
                )
                return True
        return False
