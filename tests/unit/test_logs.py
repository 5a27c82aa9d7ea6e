"""Log lines: JSON, tagged with the service and the correlation id, never with patient data."""

from __future__ import annotations

import io
import json
import logging

import pytest

from pmp.logs import configure_logging, correlation, get_logger


@pytest.fixture
def lines():
    stream = io.StringIO()
    configure_logging("query", "INFO", stream)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logging.getLogger().handlers.clear()


def test_structlog_and_stdlib_lines_are_json_with_service_and_correlation_id(lines):
    with correlation("c-1"):
        get_logger("test").info("report viewed", report_id="r-9")
        logging.getLogger("nameko.containers").warning("a library speaks")
    get_logger("test").info("outside any request")

    first, second, third = lines()
    assert first["event"] == "report viewed" and first["report_id"] == "r-9"
    assert first["service"] == "query" and first["correlation_id"] == "c-1"
    assert second["event"] == "a library speaks" and second["correlation_id"] == "c-1"
    assert "correlation_id" not in third


def test_patient_identity_never_reaches_a_log_line(lines):
    get_logger("test").info(
        "search", first_name="Ada", last_name="Lovelace", date_of_birth="1815-12-10", matches=2
    )
    [line] = lines()
    assert line["matches"] == 2
    text = json.dumps(line)
    assert "Ada" not in text and "Lovelace" not in text and "1815" not in text
