"""A file that did not finish, as the help desk or an administrator sees it on the
submission's page while helping a pharmacy (issue 23, item 2): "Not finished", what is
recorded so far, and "send the same file again"; after the resend, the whole file, once."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.test_submissions import fact, shot
from tests.helpers.accounts import create_first_administrator, ready
from tests.helpers.asap import build, pha, record
from tests.helpers.browser import new_page
from tests.helpers.processes import wait_until
from tests.helpers.submissions_store import SubmissionsStore, kill_ingest_mid_file

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("stack", ["sqlite"], indirect=True)]

RECORDS = 20_000  # the reading runs up to ~11,000 records ahead: the kill lands mid-file


def test_a_file_that_did_not_finish_says_so_and_the_resend_finishes_it(
    stack, browser, screenshots, tmp_path
):
    tag = uuid.uuid4().hex[:6].upper()  # prescriptions of its own on the shared stack
    body = [s for n in range(RECORDS) for s in record(n, dsp={2: f"RX{tag}{n}"})]
    path = tmp_path / "backlog.dat"
    path.write_bytes(build([(pha(), body)]))
    store = SubmissionsStore(stack.env)
    try:
        before = sum(store.recorded().values())
        stored = kill_ingest_mid_file(stack.env, path, store, tmp_path) - before
        submission = _submission_of(store, path)
        wait_until(  # the service's timer gives the dead intake's submission its outcome
            lambda: store.outcomes()[f"submission-{submission}"] == ["SubmissionInterrupted"],
            120, "the killed ingest's submission interrupted", watch=[stack.process],
        )  # fmt: skip
    finally:
        store.close()
    assert 0 < stored < RECORDS
    admin = ready(stack, create_first_administrator(stack, tmp_path))

    context, page = new_page(browser, stack, admin)
    page.goto(f"{stack.url}/submissions/{submission}")
    expect(page.locator(".badges")).to_have_text("Not finished")
    notice = page.get_by_role("status")
    expect(notice).to_contain_text("This file did not finish")
    expect(notice).to_contain_text("Send the same file again to finish it")
    expect(fact(page, "Records read so far")).to_have_text(f"{stored}")
    shot(page, screenshots, "10-not-finished")

    again = subprocess.run(
        [sys.executable, "-m", "pmp", "ingest", str(path)], capture_output=True, text=True,
        timeout=600, env=stack.env_for_commands(),
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert f"continued after {stored:,} records" in again.stderr
    page.reload()
    expect(page.locator(".badges")).to_have_text("Accepted")
    expect(fact(page, "Records in the file")).to_have_text(f"{RECORDS}")
    expect(fact(page, "Recorded")).to_have_text(re.compile(rf"^{RECORDS}"))
    shot(page, screenshots, "11-finished-after-resend")
    assert page.console_errors == []  # type: ignore[attr-defined]
    context.close()


def _submission_of(store: SubmissionsStore, path) -> str:
    """The submission that holds the file (the operator's ``pmp ingest`` printed nothing
    before it was killed): by its digest, in the store's record of intakes."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with store.db.read() as conn:
        found = conn.exec_driver_sql(
            "SELECT submission_id FROM intake_runs WHERE sha256 = ?", (digest,)
        ).scalar()
    return str(uuid.UUID(str(found)))
