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

API_PREFIXES = ("/api/", "/healthz")
# Problem answers many operations share; docstrings refer to them by name (`401: NotSignedIn`).
PROBLEM_RESPONSES = {
    "NotSignedIn": "Not signed in.",
    "RoleRefused": "Your role does not allow this.",
    "SignInUnfinished": "This session must first complete another step.",
    "NoSuchAccount": "There is no such account.",
    "NoSuchPatientMatch": "There is no such patient record under review.",
    "NoSuchSubmission": "No such submission, or not one of yours.",
}
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
    for name, description in PROBLEM_RESPONSES.items():
        spec.components.response(
            name,
            {
                "description": description,
                "content": {"application/problem+json": {"schema": "Problem"}},
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
    return spec.to_dict()
