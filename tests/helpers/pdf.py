"""Reading PDFs as their readers do, with poppler-utils (``scripts/ensure-test-tools``)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def poppler(tool: str, *args: str | Path) -> str:
    """Run a poppler tool and return what it printed; fail loudly if it is not installed."""
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} is missing: install poppler-utils (apt-get install poppler-utils)")
    return subprocess.run(
        [tool, *map(str, args)], check=True, capture_output=True, text=True
    ).stdout


def words_of(pdf: Path) -> str:
    """The document's text with every run of whitespace made one space."""
    return " ".join(poppler("pdftotext", pdf, "-").split())
