"""Fixtures of the contract tests that run the submissions desk on each backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from pmp.config import load_settings
from services.submissions.cli import BulkLoad


@pytest.fixture
def load(backend: str, tmp_path: Path, request):
    """``pmp ingest``'s desk over an empty submissions store on ``backend``."""
    env = {"PMP_DATA_DIR": str(tmp_path / "data"), "PMP_DATABASE_URL": ""}
    if backend == "postgresql":
        env["PMP_DATABASE_URL"] = request.getfixturevalue("postgres_url")
        env["PMP_SCHEMA_PREFIX"] = request.getfixturevalue("schema_prefix")
    bulk = BulkLoad(load_settings(env))
    yield bulk
    bulk.close()
