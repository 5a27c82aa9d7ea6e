"""The OpenAPI document describes what the API really answers, in the answers a fuzzer
cannot reach by itself: a session half-way through signing in, a user's own ticket, the
CSV files, a malformed path. Each real answer is checked against the document with
schemathesis's checks (status code listed, content type named, body and headers as the
schema says).
"""

from __future__ import annotations

import pytest
import requests
import schemathesis

from tests.helpers.accounts import api, sign_up
from tests.integration.test_api_fuzz import CHECKS

SQLITE = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def document(stack):
    return schemathesis.openapi.from_url(stack.url + "/api/openapi.json")


def conforms(document, stack, method: str, path: str, token: str | None = None, **asked):
    """Make the request through the document's operation and check the answer against it
    (schemathesis's answer: headers by lower-case name, each a list of values)."""
    case = document[path][method].Case(**asked)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = case.call(base_url=stack.url, headers=headers, timeout=30)
    case.validate_response(response, checks=CHECKS)
    return response


@SQLITE
def test_a_refusal_names_the_sign_in_step_as_documented(stack, document):
    applicant = sign_up(stack)  # signed in and ready: not at the MFA step
    answer = conforms(
        document, stack, "POST", "/api/session/mfa", applicant.token, body={"code": "123456"}
    )
    assert answer.status_code == 403 and answer.json()["stage"] == "ready"


@SQLITE
def test_a_refused_field_is_named_in_errors_as_documented(stack, document, people):
    admin = people["admin"]
    policy = api(stack, "GET", "/api/alert-policy", admin).json()["policy"]
    wrong = {**policy, "mme_caution": policy["mme_alert"] + 10}
    answer = conforms(document, stack, "PUT", "/api/alert-policy", admin.token, body=wrong)
    assert answer.status_code == 422 and "mme_caution" in answer.json()["errors"]
    page = conforms(
        document, stack, "GET", "/api/audit/history", people["auditor"].token, query={"page": 0}
    )
    assert page.status_code == 422 and "page" in page.json()["errors"]


@SQLITE
def test_a_users_own_ticket_is_as_documented(stack, document):
    applicant = sign_up(stack)
    opened = api(
        stack,
        "POST",
        "/api/tickets",
        applicant,
        json={
            "subject": "Cannot find the renewal form",
            "description": "Where is it?",
            "contact_name": "Pat Applicant",
            "contact_email": applicant.email,
            "contact_phone": "860-555-0100",
        },
    )
    assert opened.status_code == 201, opened.text
    ticket_id = opened.json()["ticket_id"]
    answer = conforms(
        document,
        stack,
        "GET",
        "/api/tickets/{ticket_id}",
        applicant.token,
        path_parameters={"ticket_id": ticket_id},
    )
    assert answer.status_code == 200 and answer.json()["ticket_id"] == ticket_id


@SQLITE
def test_a_malformed_path_parameter_is_a_documented_problem(stack, document, people):
    answer = conforms(
        document,
        stack,
        "GET",
        "/api/audit/entries/{entry}/as-seen",
        people["auditor"].token,
        path_parameters={"entry": "not-a-number"},
    )
    assert answer.status_code == 404
    assert answer.headers["content-type"] == ["application/problem+json"]
    for method in ("OPTIONS", "TRACE"):  # no route has them: still a problem, not HTML
        other = requests.request(method, stack.url + "/api/tickets/not-a-uuid", timeout=30)
        assert other.status_code == 405
        assert other.headers["Content-Type"] == "application/problem+json"


@SQLITE
def test_a_csv_answer_names_its_charset_once(stack, document, people):
    answer = conforms(document, stack, "GET", "/api/statistics.csv", people["admin"].token)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == ["text/csv; charset=utf-8"]
