"""Responses the pages and the API share: JSON bodies and files to download."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

import orjson
from werkzeug.wrappers import Response

#: For answers with patient, holder or account data: no cache keeps them.
NO_STORE = {"Cache-Control": "no-store"}


def json_response(body: Any, status: int = 200, **headers: str) -> Response:
    """``body`` as JSON, encoded by orjson: every lookup's answer passes here."""
    content = orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)
    return Response(content, status=status, mimetype="application/json", headers=headers)


def download(content: bytes, filename: str, content_type: str) -> Response:
    """A file to save, never shown inline: an uploaded file must not run in our pages, and a
    letter or report must not stay in a shared computer's cache."""
    safe = "".join(c for c in filename if c.isalnum() or c in " -_.'()") or "document"
    return Response(
        content,
        content_type=content_type,  # as given: ``mimetype`` would add a second charset
        headers={
            "Content-Disposition": f"attachment; filename=\"{safe}\"; filename*=UTF-8''"
            + quote(filename),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


def uploaded_document(found: dict[str, str]) -> Response:
    """A document from the registration service's ``document`` RPC, as a download."""
    return download(base64.b64decode(found["content"]), found["filename"], found["content_type"])


def csv_download(text: str, filename: str) -> Response:
    """A CSV file written by ``pmp.csv_files`` (no cell can run as a formula), to save and
    open in a spreadsheet."""
    return download(text.encode("utf-8"), filename, "text/csv; charset=utf-8")
