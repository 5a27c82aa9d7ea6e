"""A change of who may do what reaches every gateway replica at once: a prescriber's token,
warmed (its principal cached) on two replicas, is refused on both by the very next request
after an administrator suspends the account, changes its role, or the user changes the
password (which ends the session the token belongs to)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from services.identity.roles import Role
from tests.helpers.accounts import (
    User,
    create_first_administrator,
    create_user,
    ready,
)
from tests.helpers.processes import Process, python, wait_until
from tests.helpers.stack import Stack, free_port

ROUNDS = 20
REASON = {"reason": "ticket 2204"}
SEARCH = {
    "criteria": {"first_name": "Nobody", "last_name": "Atall", "birth_date": "1970-01-01"},
    "purpose": {"kind": "treating", "attested": True},
}
REFUSED = {401, 403}


@pytest.fixture(scope="module")
def replica_b(stack: Stack, tmp_path_factory) -> Iterator[str]:
    """A second gateway replica on the same broker and services, as a deployment scales it."""
    port = free_port()
    env = {**stack.env, "PMP_GATEWAY_ADDRESS": f"127.0.0.1:{port}"}
    logs = tmp_path_factory.mktemp("gateway-b")
    second = Process("gateway-b", python("-m", "pmp", "service", "gateway"), env, logs)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: requests.get(url + "/healthz", timeout=5).status_code == 200, 90,
                   "the second gateway replica answers", watch=[second])  # fmt: skip
        wait_until(lambda: "principals cached" in second.log(), 30,
                   "the second replica caches principals, hearing access changes")  # fmt: skip
        yield url
    finally:
        second.stop()


@pytest.fixture(scope="module")
def admin(stack: Stack, tmp_path_factory) -> User:
    return ready(stack, create_first_administrator(stack, tmp_path_factory.mktemp("letters")))


def search(url: str, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    response = requests.post(url + "/api/searches", json=SEARCH, headers=headers, timeout=30)
    return response.status_code


def suspend(stack: Stack, admin: User, user: User) -> None:
    path = f"/api/accounts/{user.account_id}/suspend"
    response = stack.post(path, json=REASON, headers=admin.headers())
    assert response.status_code == 200, response.text


def change_role(stack: Stack, admin: User, user: User) -> None:
    body = {"role": str(Role.PHARMACIST), **REASON}
    path = f"/api/accounts/{user.account_id}/role"
    response = stack.post(path, json=body, headers=admin.headers())
    assert response.status_code == 200, response.text


def change_password(stack: Stack, _admin: User, user: User) -> None:
    body = {"current_password": user.password, "new_password": "Quartz-Ferry-Otter-81?"}
    response = stack.post("/api/me/password", json=body, headers=user.headers())
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "action", [suspend, change_role, change_password], ids=lambda a: a.__name__
)
def test_an_access_change_through_one_replica_refuses_the_next_request_on_both(
    stack: Stack,
    replica_b: str,
    admin: User,
    tmp_path: Path,
    action: Callable[[Stack, User, User], None],
) -> None:
    late: list[str] = []
    for round_ in range(ROUNDS):
        user = ready(stack, create_user(stack, admin, str(Role.PRESCRIBER), tmp_path))
        token = user.token
        assert search(stack.url, token) == 200, "warm on replica A"
        assert search(replica_b, token) == 200, "warm on replica B"
        action(stack, admin, user)
        on_b, on_a = search(replica_b, token), search(stack.url, token)
        if on_b not in REFUSED or on_a not in REFUSED:
            late.append(f"round {round_}: replica B answered {on_b}, replica A {on_a}")
    assert not late, f"{len(late)} of {ROUNDS} after {action.__name__} went through: {late}"
