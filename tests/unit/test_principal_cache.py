"""The gateway's principal cache keeps nothing it cannot trust: not while its replica does not
hear access changes, not an answer that crossed a change, not an account whose access
changed; and which messages on its queue name an account whose access changed."""

from __future__ import annotations

from gateway.auth import PrincipalCache
from services.identity.access_changes import account_changed

ANN = {"account_id": "a-1", "role": "prescriber"}
BOB = {"account_id": "b-2", "role": "pharmacist"}


def online_cache() -> PrincipalCache:
    cache = PrincipalCache()
    cache.online()
    return cache


def test_nothing_is_cached_while_access_changes_are_not_heard() -> None:
    cache = PrincipalCache()
    cache.put("t-ann", ANN, cache.ticket())
    assert cache.get("t-ann") is None
    cache.online()
    cache.put("t-ann", ANN, cache.ticket())
    assert cache.get("t-ann") == ANN
    cache.offline()
    assert cache.get("t-ann") is None, "a change may be missed while offline"
    cache.online()
    assert cache.get("t-ann") is None, "back online, the cache starts afresh"


def test_an_access_change_drops_every_session_of_that_account_only() -> None:
    cache = online_cache()
    for token, principal in (("t-ann-1", ANN), ("t-ann-2", ANN), ("t-bob", BOB)):
        cache.put(token, principal, cache.ticket())
    cache.drop_account("a-1")
    assert cache.get("t-ann-1") is None and cache.get("t-ann-2") is None
    assert cache.get("t-bob") == BOB


def test_an_answer_resolved_before_a_change_is_not_kept_after_it() -> None:
    cache = online_cache()
    ticket = cache.ticket()  # the lookup starts: identity still says Ann may search
    cache.drop_account("a-1")  # meanwhile she is suspended
    cache.put("t-ann", ANN, ticket)  # the stale answer arrives
    assert cache.get("t-ann") is None


def test_which_messages_name_an_account_whose_access_changed() -> None:
    assert account_changed({"account_id": "a-1"}) == "a-1"
    relayed = {"stream": "account-a-1", "type": "AccountSuspended", "data": {}}
    assert account_changed(relayed) == "a-1"
    assert account_changed({**relayed, "type": "SomethingNewLater"}) == "a-1", "deny by default"
    assert account_changed({**relayed, "type": "LoginSucceeded"}) is None
    assert account_changed({"stream": "email-abc", "type": "EmailClaimed"}) is None
    assert account_changed(["not", "a", "dict"]) is None
