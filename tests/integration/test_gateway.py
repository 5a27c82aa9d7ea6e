"""The gateway's HTTP contract: problem details, security headers, the OpenAPI document, and
who may call what (deny by default)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import requests
from openapi_spec_validator import validate

from pmp.topology import SERVICE_NAMES
from tests.helpers.processes import Process, python, wait_until
from tests.helpers.stack import free_port, operator

PROBES = "/api/diagnostics/probes"


def test_pages_carry_security_headers_and_a_correlation_id(stack):
    response = stack.get("/")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    uuid.UUID(response.headers["X-Correlation-ID"])


def test_an_unknown_api_path_is_a_problem_document(stack):
    response = stack.get("/api/no-such-thing")
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 404 and problem["title"] == "Page not found"
    assert problem["instance"] == "/api/no-such-thing"
    assert problem["correlation_id"] == response.headers["X-Correlation-ID"]


def test_an_unknown_page_is_a_readable_html_page_for_browsers(stack):
    response = stack.get("/no-such-page", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<h1>Page not found</h1>" in response.text
    assert response.headers["X-Correlation-ID"] in response.text  # to quote to the help desk


def test_the_openapi_document_is_valid_openapi_3_1_built_from_the_schemas(stack):
    response = stack.get("/api/openapi.json")
    assert response.status_code == 200
    document = response.json()
    validate(document)  # raises on any violation of the OpenAPI 3.1 schema
    assert document["openapi"] == "3.1.0"
    assert {"/healthz", PROBES, PROBES + "/{probe_id}"} <= set(document["paths"])
    schemas = document["components"]["schemas"]
    assert {"Problem", "Health", "ProbeCreated", "ProbeStatus"} <= set(schemas)
    assert "probe_id" in schemas["ProbeStatus"]["properties"]
    unauthorized = document["paths"][PROBES]["post"]["responses"]["401"]
    assert unauthorized["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/Problem"
    }


@pytest.mark.parametrize(
    ("who", "headers", "status"),
    [
        ("anonymous", {}, 401),
        ("wrong token", {"Authorization": "Bearer guess"}, 401),
        ("wrong scheme", {"Authorization": "Basic dGVzdA=="}, 401),
        ("operator", operator(), 202),
    ],
)
def test_only_operators_may_send_probes(stack, who, headers, status):
    response = stack.post(PROBES, headers=headers)
    assert response.status_code == status, (who, response.text)
    if status == 401:
        assert response.headers["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("who", "headers", "status"),
    [("anonymous", {}, 401), ("wrong token", {"Authorization": "Bearer x"}, 401)],
)
def test_only_operators_may_read_probe_status(stack, who, headers, status):
    response = stack.get(f"{PROBES}/{uuid.uuid4()}", headers=headers)
    assert response.status_code == status, who


def test_a_malformed_probe_id_is_not_found(stack):
    assert stack.get(f"{PROBES}/not-a-uuid", headers=operator()).status_code == 404


@pytest.fixture(scope="module")
def lone_gateway(broker, tmp_path_factory):
    """A gateway with no services behind it and no operator token configured."""
    amqp_uri = broker.create_vhost()
    port = free_port()
    env = {
        "PMP_AMQP_URI": amqp_uri,
        "PMP_DATA_DIR": str(tmp_path_factory.mktemp("lone-data")),
        "PMP_GATEWAY_ADDRESS": f"127.0.0.1:{port}",
        "PMP_OPERATOR_TOKEN": "",
        "PMP_HEALTH_TIMEOUT": "1",
    }
    logs = tmp_path_factory.mktemp("lone")
    gateway = Process("gateway", python("-m", "pmp", "service", "gateway"), env, Path(logs))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: requests.get(url + "/", timeout=5).ok, 30, "gateway up", watch=[gateway])
        yield url
    finally:
        gateway.stop()
        broker.delete_vhost(amqp_uri)


def test_healthz_says_which_services_do_not_answer(lone_gateway):
    response = requests.get(lone_gateway + "/healthz", timeout=30)
    assert response.status_code == 503
    health = response.json()
    assert health["status"] == "degraded"
    assert health["broker"]["status"] == "ok"
    assert {name: s["status"] for name, s in health["services"].items()} == {
        name: "down" for name in SERVICE_NAMES
    }


def test_the_status_page_tells_people_what_is_not_running(lone_gateway):
    response = requests.get(lone_gateway + "/status", timeout=30)
    assert response.status_code == 200
    assert "Some parts are not answering" in response.text
    assert response.text.count("Not answering") == len(SERVICE_NAMES)  # the broker runs


def test_the_diagnostics_api_is_closed_when_no_operator_token_is_configured(lone_gateway):
    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer anything"}):
        response = requests.post(lone_gateway + PROBES, headers=headers, timeout=30)
        assert response.status_code == 403
        assert "PMP_OPERATOR_TOKEN" in response.json()["detail"]
