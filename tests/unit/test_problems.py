"""How failures become answers: one table maps them to HTTP statuses, and nothing internal
leaks to the client."""

from __future__ import annotations

import kombu.exceptions
import pytest
from nameko.exceptions import RemoteError, RpcTimeout, UnknownService

from gateway.problems import Problem, problem_from_exception


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (RemoteError("ConcurrencyError", "stream 'x' is at version 2, not 1"), 409),
        (RemoteError("EventValidationError", "AccountOpened refused: email: Not valid."), 422),
        (RemoteError("NotAuthorized", "no"), 403),
        (RpcTimeout(5), 503),
        (UnknownService("identity"), 503),
    ],
)
def test_service_failures_map_to_the_status_a_client_can_act_on(exc, status):
    assert problem_from_exception(exc).status == status


@pytest.mark.parametrize(
    "exc",
    [
        # A service whose database is down (SQLAlchemy and psycopg both name it so).
        RemoteError("OperationalError", 'connection to server at "10.0.0.5" failed'),
        RemoteError("TimeoutError", "QueuePool limit of size 5 overflow 5 reached"),
        RemoteError("BrokerUnavailable", "the broker failed under a call to registration"),
        kombu.exceptions.OperationalError("[Errno 111] Connection refused"),  # the gateway's
        ConnectionResetError(104, "Connection reset by peer"),
        RpcTimeout(10),
    ],
)
def test_an_outage_is_503_with_retry_after_and_names_nothing_internal(exc):
    problem = problem_from_exception(exc)
    assert problem.status == 503
    assert int(problem.headers["Retry-After"]) > 0
    assert "10.0.0.5" not in str(problem.body()) and "QueuePool" not in str(problem.body())


def test_an_unexpected_error_says_nothing_internal():
    problem = problem_from_exception(RemoteError("KeyError", "'patient_ssn' in row 4471"))
    assert problem.status == 500
    body = problem.body(instance="/api/x")
    assert "patient_ssn" not in str(body) and "KeyError" not in str(body)
    assert "help desk" in body["detail"]


def test_a_problem_raised_by_a_handler_is_answered_as_it_is():
    problem = Problem(404, "Not found", "No such report.")
    assert problem_from_exception(problem) is problem
    assert problem.body(instance="/r/1") == {
        "type": "about:blank",
        "title": "Not found",
        "status": 404,
        "detail": "No such report.",
        "instance": "/r/1",
    }
