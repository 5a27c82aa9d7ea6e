"""Fixtures shared by the integration tests of the submissions service."""

from __future__ import annotations

import pytest

from tests.helpers.accounts import User, create_first_administrator, create_user, ready


@pytest.fixture(scope="session")
def people(stack, tmp_path_factory) -> dict[str, User]:
    """An administrator, two pharmacies' data submitters, a prescriber and an auditor, per
    stack."""
    tmp = tmp_path_factory.mktemp("letters")
    admin = ready(stack, create_first_administrator(stack, tmp))
    return {
        "admin": admin,
        "pharmacy": ready(stack, create_user(stack, admin, "data_submitter", tmp)),
        "other_pharmacy": ready(stack, create_user(stack, admin, "data_submitter", tmp)),
        "prescriber": ready(stack, create_user(stack, admin, "prescriber", tmp)),
        "auditor": ready(stack, create_user(stack, admin, "auditor", tmp)),
    }


@pytest.fixture
def auditor(people) -> User:
    """An investigator (the auditor role: ``audit.read``)."""
    return people["auditor"]
