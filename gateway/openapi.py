"""The OpenAPI 3.1 document, generated from the gateway's handlers and marshmallow schemas.

Each API handler's docstring ends with its OpenAPI operation in YAML after a ``---`` line;
this module collects them, so the document and the code cannot drift apart.
"""

from __future__ import annotations

import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.yaml_utils import load_operations_from_docstring
from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR

from gateway import schemas
from gateway.parameters import MAX_INTEGER, MAX_PAGE
from gateway.problems import PROBLEM_JSON

API_PREFIXES = ("/api/", "/healthz")
# Problem answers many operations share; docstrings refer to them by name (`401: NotSignedIn`).
PROBLEM_RESPONSES = {
    "NotSignedIn": ("Not signed in.", "Problem"),
    "RoleRefused": (
        "Your role does not allow this, or the session must first finish signing in "
        "(`stage` names the step).",
        "RefusalProblem",
    ),
    "SignInUnfinished": (
        "This session must first complete another step (`stage` names it).",
        "RefusalProblem",
    ),
    "NoSuchAccount": ("There is no such account.", "Problem"),
    "NoSuchPatientMatch": ("There is no such patient record under review.", "Problem"),
    "NoSuchSubmission": ("No such submission, or not one of yours.", "Problem"),
    # What every operation of a kind answers; ``complete`` adds them where they apply.
    "NotFound": (
        "Nothing at this address: no such record, or a path parameter that is not of its "
        "type (not a UUID, not a whole number).",
        "Problem",
    ),
    "NotJson": ("The request body is not JSON.", "Problem"),
    "Invalid": (
        "A parameter or field is not valid; `errors` names each with what is wrong.",
        "ValidationProblem",
    ),
}
# The problem schema each status answers with, wherever a docstring wrote it out.
PROBLEM_SCHEMAS = {"403": "RefusalProblem", "422": "ValidationProblem"}
_CONVERTER = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")


def build_spec(service_cls: type, version: str) -> dict[str, Any]:
    spec = APISpec(
        title="CPMRS API",
        version=version,
        openapi_version="3.1.0",
        plugins=[MarshmallowPlugin()],
        info={
            "description": "The JSON API of the Prescription Monitoring and Reporting System. "
            "Errors are RFC 9457 problem details."
        },
    )
    spec.components.security_scheme(
        "operatorToken",
        {"type": "http", "scheme": "bearer", "description": "The PMP_OPERATOR_TOKEN secret."},
    )
    spec.components.security_scheme(
        "sessionToken",
        {
            "type": "http",
            "scheme": "bearer",
            "description": "A session token from POST /api/sessions.",
        },
    )
    for name in schemas.DOCUMENTED:
        spec.components.schema(name, schema=getattr(schemas, f"{name}Schema"))
    for name, (description, schema) in PROBLEM_RESPONSES.items():
        spec.components.response(
            name,
            {
                "description": description,
                "content": {"application/problem+json": {"schema": schema}},
            },
        )
    for attr in sorted(dir(service_cls)):  # mixins' handlers too
        method = getattr(service_cls, attr)
        for entrypoint in getattr(method, ENTRYPOINT_EXTENSIONS_ATTR, ()):
            url = getattr(entrypoint, "url", "")
            if not url.startswith(API_PREFIXES):
                continue
            operations = load_operations_from_docstring(method.__doc__ or "")
            spec.path(path=_CONVERTER.sub(r"{\1}", url), operations=operations)
    document = spec.to_dict()
    for item in document["paths"].values():
        for operation in item.values():
            complete(operation)
    return document


def complete(operation: dict[str, Any]) -> None:
    """Add what every operation of its kind answers, whatever its docstring says: the gateway
    answers these for all of them (``gateway/parameters.py``, ``gateway/schemas.load_body``,
    the catch-all route), so the document says so once, here."""
    responses = operation.setdefault("responses", {})
    parameters = operation.get("parameters", [])
    if any(p["in"] == "path" for p in parameters):
        responses.setdefault("404", _ref("NotFound"))
    for parameter in parameters:
        schema = parameter.get("schema", {})
        if schema.get("type") == "integer":  # bounded where it is read
            schema.setdefault("minimum", 0)
            schema.setdefault("maximum", MAX_PAGE if parameter["name"] == "page" else MAX_INTEGER)
    bounded = any(
        p.get("schema", {}).get("type") == "integer"
        or p.get("schema", {}).get("format") == "date-time"
        for p in parameters
    )
    body = operation.get("requestBody", {}).get("content", {})
    if "application/json" in body:
        responses.setdefault("400", _ref("NotJson"))
    if bounded or "application/json" in body:
        responses.setdefault("422", _ref("Invalid"))
    for status, response in responses.items():
        if status.startswith("4") and "$ref" not in response and not response.get("content"):
            response["content"] = {PROBLEM_JSON: {"schema": _schema("Problem")}}
    for status, schema in PROBLEM_SCHEMAS.items():
        problem = responses.get(status, {}).get("content", {}).get(PROBLEM_JSON)
        if problem is not None:
            problem["schema"] = _schema(schema)


def _schema(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{name}"}
