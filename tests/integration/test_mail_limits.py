"""Mail anyone can cause is rate-limited, and sign-up tells nobody which addresses are known.

A stack of its own, with the real limits (3 emails an hour per recipient, a dozen per client
address, and sign-in attempts per client address), on SQLite. Each test speaks from a
loopback address of its own (127.0.0.N), so the gateway counts each test as its own client.
The attacks are the probe's: 40 anonymous tickets to one address, 30 password resets to one
user, many recipients from one client, sign-up as a way to learn who has an account, and a
guesser's sign-ins.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator

import pytest
import requests
from requests.adapters import HTTPAdapter

from tests.helpers import registration
from tests.helpers.accounts import (
    User,
    api,
    create_first_administrator,
    create_user,
    ready,
)
from tests.helpers.smtp import running_smtp_server
from tests.helpers.stack import Stack, _stack

PER_RECIPIENT = 3
PER_CLIENT = 12
SIGN_INS = 30  # per client address in 10 minutes (the fixtures' own sign-ins stay below it)
ANSWERS = ["Rex", "New Haven", "Bunny"]


# SQLite only: a second PostgreSQL stack beside the shared one passes the test server's
# 100 connections. The limiter's counting on PostgreSQL (row lock, replicas sharing the
# count) is tested on both backends in tests/contract/test_ratelimit.py.
@pytest.fixture(scope="module", params=["sqlite"])
def limited(request, broker, tmp_path_factory) -> Iterator[Stack]:
    """A stack with the limits a deployment would have (the shared one lifts them)."""
    limits = {
        "PMP_MAIL_LIMIT_PER_RECIPIENT": f"{PER_RECIPIENT}/3600",
        "PMP_MAIL_LIMIT_PER_CLIENT": f"{PER_CLIENT}/3600",
        "PMP_LOGIN_RATE_LIMIT": f"{SIGN_INS}/600",
    }
    with running_smtp_server() as mail:
        yield from _stack(request, broker, tmp_path_factory, mail, limits)


@pytest.fixture(scope="module")
def admin(limited, tmp_path_factory) -> User:
    return ready(limited, create_first_administrator(limited, tmp_path_factory.mktemp("a")))


class _FromAddress(HTTPAdapter):
    def __init__(self, source: str):
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


def client(source: str) -> requests.Session:
    """A client whose requests come from ``source`` (a loopback address of the test's own)."""
    session = requests.Session()
    session.mount("http://", _FromAddress(source))
    return session


def to(stack: Stack, address: str) -> list:
    return [m for m in stack.mail.messages if address in m.envelope_to]


def settle() -> None:
    """Time for the mail the stack was asked for to arrive (it is sent in the background)."""
    time.sleep(3)


def assert_too_many(response: requests.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    wait = int(response.headers["Retry-After"])
    assert 0 < wait <= 3600
    body = response.json()
    assert body["status"] == 429 and body["title"] and "Try again in" in body["detail"]


def ticket_to(address: str) -> dict:
    return {"subject": "Please call me", "description": "Nothing works.",
            "contact_name": "Somebody", "contact_email": address}  # fmt: skip


def test_forty_anonymous_tickets_to_one_address_send_at_most_the_limit(limited):
    victim = f"victim-{uuid.uuid4().hex[:8]}@example.org"
    with client("127.0.0.11") as attacker:
        started = time.monotonic()
        answers = [
            attacker.post(limited.url + "/api/tickets", json=ticket_to(victim), timeout=30)
            for _ in range(40)
        ]
    assert [a.status_code for a in answers[:PER_RECIPIENT]] == [201] * PER_RECIPIENT
    for refused in answers[PER_RECIPIENT:]:
        assert_too_many(refused)
    assert time.monotonic() - started < 60
    settle()
    received = to(limited, victim)
    assert len(received) == PER_RECIPIENT, [m.subject for m in received]
    # what reaches a stranger's address asks them to confirm it, nothing more
    assert all(m.subject.startswith("Confirm your email address") for m in received)

    # the friendly page says the same, with the same status
    with client("127.0.0.11") as attacker:
        page = attacker.get(limited.url + "/help/tickets/new", timeout=30)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        form = {**ticket_to(victim), "csrf_token": token}
        shown = attacker.post(limited.url + "/help/tickets/new", data=form, timeout=30)
    assert shown.status_code == 429 and shown.headers["Retry-After"]
    assert "Try again in" in shown.text and "text/html" in shown.headers["Content-Type"]


def test_thirty_password_resets_send_at_most_the_limit_and_answer_alike_for_anyone(
    limited, admin, tmp_path
):
    user = ready(limited, create_user(limited, admin, "prescriber", tmp_path))
    questions = limited.get("/api/security-questions").json()["questions"][:3]
    saved = api(limited, "PUT", "/api/me/security-questions", user,
                json={"questions": questions, "answers": ANSWERS})  # fmt: skip
    assert saved.status_code == 204, saved.text
    nobody = f"nobody-{uuid.uuid4().hex[:8]}@example.org"

    def thirty(address: str, source: str) -> list[requests.Response]:
        with client(source) as someone:
            return [
                someone.post(
                    limited.url + "/api/password-resets", json={"email": address}, timeout=30
                )  # fmt: skip
                for _ in range(30)
            ]

    known, unknown = thirty(user.email, "127.0.0.12"), thirty(nobody, "127.0.0.13")
    assert [r.status_code for r in known] == [r.status_code for r in unknown]
    assert [r.status_code for r in known[:PER_RECIPIENT]] == [202] * PER_RECIPIENT
    for k, u in zip(known[PER_RECIPIENT:], unknown[PER_RECIPIENT:], strict=True):
        assert_too_many(k)
        assert_too_many(u)
        assert k.json()["detail"] == u.json()["detail"]
        assert abs(int(k.headers["Retry-After"]) - int(u.headers["Retry-After"])) <= 60
    settle()
    assert len(to(limited, user.email)) == PER_RECIPIENT


def test_one_client_address_is_limited_whatever_the_recipients(limited):
    addresses = [f"many-{i}-{uuid.uuid4().hex[:6]}@example.org" for i in range(PER_CLIENT + 5)]
    with client("127.0.0.14") as attacker:
        answers = [
            attacker.post(limited.url + "/api/tickets", json=ticket_to(a), timeout=30)
            for a in addresses
        ]
        resets = attacker.post(limited.url + "/api/password-resets",
                               json={"email": addresses[0]}, timeout=30)  # fmt: skip
    assert [a.status_code for a in answers[:PER_CLIENT]] == [201] * PER_CLIENT
    for refused in answers[PER_CLIENT:]:
        assert_too_many(refused)
    assert resets.status_code == 202  # each service keeps its own count
    # another client is not held back
    with client("127.0.0.15") as someone_else:
        other = someone_else.post(limited.url + "/api/tickets", json=ticket_to(addresses[-1]),
                                  timeout=30)  # fmt: skip
    assert other.status_code == 201, other.text
    settle()
    assert sum(len(to(limited, a)) for a in addresses) == PER_CLIENT + 1


def test_sign_up_answers_alike_for_a_known_address_and_tells_its_owner(limited, admin, tmp_path):
    owner = ready(limited, create_user(limited, admin, "pharmacist", tmp_path))
    stranger = f"new-{uuid.uuid4().hex[:8]}@example.org"
    with client("127.0.0.16") as someone:
        known = someone.post(limited.url + "/api/sign-ups", json={"email": owner.email},
                             timeout=30)  # fmt: skip
        new = someone.post(limited.url + "/api/sign-ups", json={"email": stranger}, timeout=30)
    assert known.status_code == new.status_code == 202, (known.text, new.text)
    assert known.content == new.content
    varying = {"x-correlation-id", "date"}  # an id, and the clock

    def fixed(headers) -> dict[str, str]:
        return {k.lower(): v for k, v in headers.items() if k.lower() not in varying}

    assert fixed(known.headers) == fixed(new.headers)
    notice = limited.mail.wait_for(lambda m: owner.email in m.envelope_to)
    assert "Someone tried to register" in notice.text and "/register/confirm/" not in notice.text
    invitation = limited.mail.wait_for(lambda m: stranger in m.envelope_to)
    link = re.search(r"/register/confirm/(\S+)", invitation.text).group(1)

    # the page answers alike too: the same next page either way
    pages = []
    with client("127.0.0.16") as browser:
        for address in (owner.email, f"other-{uuid.uuid4().hex[:8]}@example.org"):
            form = browser.get(limited.url + "/register", timeout=30)
            token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
            form = {"email": address, "csrf_token": token}
            sent = browser.post(limited.url + "/register", data=form, allow_redirects=False,
                                timeout=30)  # fmt: skip
            pages.append((sent.status_code, sent.headers.get("Location")))
    assert pages[0] == pages[1] == (303, "/register/sent"), pages

    # the link makes the account: its address is proven by the link itself
    made = limited.post(f"/api/sign-ups/{link}", json={"password": "Willow-Copper-Harbor-93!"})
    assert made.status_code == 201, made.text
    assert made.json()["principal"]["role"] == "applicant"
    again = limited.post(f"/api/sign-ups/{link}", json={"password": "Willow-Copper-Harbor-93!"})
    assert again.status_code == 422, again.text  # once only
    # the owner's account is untouched: still their password
    signed_in = limited.post("/api/sessions", json={"email": owner.email,
                                                    "password": owner.password})  # fmt: skip
    assert signed_in.status_code == 201, signed_in.text

    # and sign-up mail is limited per recipient like the rest, known or not: the owner's
    # address was asked for twice above (API and page), the stranger's once
    for address, asked in ((owner.email, 2), (stranger, 1)):
        with client("127.0.0.17") as someone:
            answers = [
                someone.post(limited.url + "/api/sign-ups", json={"email": address}, timeout=30)
                for _ in range(PER_RECIPIENT + 1 - asked)
            ]
        assert [a.status_code for a in answers] == [202] * (PER_RECIPIENT - asked) + [429]
    assert_too_many(answers[-1])


def test_an_applicant_cannot_have_verification_emails_sent_without_end(limited):
    user = registration.sign_up(limited)
    registration.start(limited, user, "prescriber")  # the first verification email
    for _ in range(PER_RECIPIENT - 1):
        resent = api(limited, "POST", "/api/registration/verification", user)
        assert resent.status_code == 200, resent.text
    assert_too_many(api(limited, "POST", "/api/registration/verification", user))
    settle()
    assert len(registration.messages_to(limited, user.email, "Verify your email")) == PER_RECIPIENT


def test_too_many_sign_ins_from_one_address_say_when_to_try_again_on_the_page_and_the_api(
    limited,
):
    """A guesser is held back, and a person who mistyped is told when to try again, on the
    form as in the API: 429 and Retry-After (the form once answered 429 without it)."""
    wrong = {"email": "nobody@example.org", "password": "Not-The-Password-1!"}
    with client("127.0.0.12") as guesser:
        answers = [
            guesser.post(limited.url + "/api/sessions", json=wrong, timeout=30)
            for _ in range(SIGN_INS + 1)
        ]
        page = guesser.get(limited.url + "/login", timeout=30)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        shown = guesser.post(
            limited.url + "/login", data={**wrong, "csrf_token": token}, timeout=30
        )
    assert {a.status_code for a in answers[:SIGN_INS]} == {401}
    assert_too_many(answers[SIGN_INS])
    assert shown.status_code == 429 and "text/html" in shown.headers["Content-Type"]
    assert 0 < int(shown.headers["Retry-After"]) <= 600
    assert "Try again in" in shown.text
