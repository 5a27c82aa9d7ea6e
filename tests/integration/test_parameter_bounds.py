"""Numbers and moments no store or calendar can hold are refused naming the parameter.

A fuzzer found each of these answering 500: page numbers and ids beyond 64 bits, an age
filter of a billion days, as-of times whose offset takes them outside the calendar, and an
authenticator secret that is not base32. Each is now a 422 problem whose ``errors`` names
the parameter, asked as a role allowed to ask it, on both stores.
"""

from __future__ import annotations

import pytest

from tests.helpers.accounts import User, api, create_user, ready, sign_up

BEYOND_64_BITS = "9223372036854775808"
PERSON = "00000000-0000-4000-8000-000000000000"
ACCOUNT = "00000000-0000-4000-8000-000000000001"
OUT_OF_CALENDAR = ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"]


@pytest.fixture(scope="module")
def callers(stack, people, tmp_path_factory) -> dict[str, User]:
    tmp = tmp_path_factory.mktemp("letters")
    return {
        "administrator": people["admin"],
        "auditor": people["auditor"],
        "helpdesk": ready(stack, create_user(stack, people["admin"], "helpdesk", tmp)),
        "applicant": sign_up(stack),
    }


def assert_refused_naming(response, parameter: str) -> None:
    assert response.status_code == 422, (response.status_code, response.text)
    assert response.headers["Content-Type"] == "application/problem+json"
    assert parameter in response.json()["errors"], response.text


# (who asks, path, the parameter the answer must name)
TOO_LARGE = [
    ("auditor", "/api/audit/history?page=9223372036854775807", "page"),
    ("auditor", f"/api/audit/history?page_size={BEYOND_64_BITS}", "page_size"),
    ("auditor", "/api/audit/history?page=%C2%B2", "page"),  # "²": a digit to str.isdigit
    ("auditor", f"/api/audit/signals?page={BEYOND_64_BITS}", "page"),
    ("administrator", f"/api/patient-matches/{BEYOND_64_BITS}", "patient_record"),
    ("administrator", f"/api/patient-matches?page={BEYOND_64_BITS}", "page"),
    ("auditor", f"/api/audit/entries/{BEYOND_64_BITS}/as-seen", "entry"),
    ("auditor", f"/api/audit/entries/{BEYOND_64_BITS}/as-seen.pdf", "entry"),
    ("helpdesk", "/api/helpdesk/queue?min_age_days=1000000000", "min_age_days"),
]


@pytest.mark.parametrize(("who", "path", "parameter"), TOO_LARGE, ids=[t[1] for t in TOO_LARGE])
def test_a_number_beyond_what_a_store_holds_is_refused_naming_it(
    stack, callers, who, path, parameter
):
    assert_refused_naming(api(stack, "GET", path, callers[who]), parameter)


@pytest.mark.parametrize("at", OUT_OF_CALENDAR)
@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        (f"/api/audit/as-of/report?person_id={PERSON}&at=", "at"),
        (f"/api/audit/as-of/report.pdf?person_id={PERSON}&at=", "at"),
        (f"/api/audit/as-of/registrations/{ACCOUNT}?at=", "at"),
        ("/api/audit/history?since=", "since"),
        ("/api/audit/history?until=", "until"),
        (f"/api/audit/users/{ACCOUNT}/activity.jsonl?until=", "until"),
    ],
)
def test_a_moment_outside_the_calendar_is_refused_naming_it(stack, callers, path, parameter, at):
    response = api(stack, "GET", path + at.replace("+", "%2B"), callers["auditor"])
    assert_refused_naming(response, parameter)


@pytest.mark.parametrize(
    "secret", ["ABC", "!" * 32, "A" * 16, "A" * 17, "A" * 33, "A" * 31 + "1"], ids=str
)
def test_an_authenticator_secret_that_is_not_base32_is_refused_naming_it(stack, callers, secret):
    response = api(
        stack,
        "POST",
        "/api/me/mfa/confirm",
        callers["applicant"],
        json={"secret": secret, "code": "123456"},
    )
    assert_refused_naming(response, "secret")


def test_numbers_and_moments_within_bounds_still_work(stack, callers):
    auditor = callers["auditor"]
    history = api(stack, "GET", "/api/audit/history?page=2&page_size=5", auditor)
    assert history.status_code == 200 and history.json()["page"] == 2
    since = "2026-01-01T00:00:00-05:00".replace("+", "%2B")
    assert api(stack, "GET", f"/api/audit/history?since={since}", auditor).status_code == 200
    queue = api(stack, "GET", "/api/helpdesk/queue?min_age_days=3", callers["helpdesk"])
    assert queue.status_code == 200, queue.text
    missing = api(stack, "GET", "/api/patient-matches/987654321", callers["administrator"])
    assert missing.status_code == 404
