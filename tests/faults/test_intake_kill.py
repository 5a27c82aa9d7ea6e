"""Experiment 1 of issue 23: kill -9 in the middle of a file, sent once with ``pmp ingest``
(the ingest killed) and once through the gateway's upload (the submissions service killed;
``pmp up`` restarts it and RabbitMQ delivers the upload's request again). Every record is
stored once; the client is told the truth (finished with the whole file's counts, or not
finished: send it again); the same file sent again records nothing twice and finishes it.
"""

from __future__ import annotations

import threading
import time

import pytest
import requests

from tests.faults.converge import converge
from tests.faults.processes import kill_service, wait_restarted
from tests.faults.sizes import size
from tests.faults.workload import asap_file, ingest
from tests.helpers.accounts import create_first_administrator, create_user, ready
from tests.helpers.processes import wait_until
from tests.helpers.submissions_store import SubmissionsStore, kill_ingest_mid_file

RECORDS = size(20_000, 50_000)  # the reader runs up to ~11,000 ahead: a kill lands mid-file
UPLOAD_WAIT = 300  # longer than the gateway's own deadline for an upload


@pytest.mark.timeout(size(900, 1800))
def test_a_killed_pmp_ingest_gets_its_outcome_and_the_resend_finishes_it(fault_stack, tmp_path):
    path = asap_file(tmp_path / "backlog.dat", 0, RECORDS)
    store = SubmissionsStore(fault_stack.direct_env)
    try:
        stored = kill_ingest_mid_file(fault_stack.direct_env, path, store, tmp_path)
        assert 0 < stored < RECORDS and store.doubled() == 0
        killed_at = time.monotonic()
        wait_until(  # the running service's timer finds the dead intake
            lambda: list(store.outcomes().values()) == [["SubmissionInterrupted"]],
            60, "the killed ingest's submission interrupted", watch=[fault_stack.process],
        )  # fmt: skip
        outcome_after = time.monotonic() - killed_at

        said = ingest(fault_stack, path)
        assert f"continued after {stored:,} records" in said, said
        assert f"{RECORDS:,} recorded" in said and "0 refused" in said, said
        assert (store.doubled(), len(store.recorded())) == (0, RECORDS)
        assert list(store.outcomes().values()) == [["SubmissionInterrupted", "SubmissionAccepted"]]
        seconds = converge(fault_stack, size(180, 600))
    finally:
        store.close()
    print(
        f"experiment 1 (pmp ingest): {RECORDS} records, {RECORDS - stored} in flight at the "
        f"kill, 0 lost, 0 doubled; outcome 'interrupted' {outcome_after:.1f} s after the kill; "
        f"the resend said 'continued after {stored:,}', converged {seconds:.1f} s after it"
    )


def upload(stack, user, content: bytes, answers: list) -> None:
    files = {"file": ("backlog.dat", content, "application/octet-stream")}
    answers.append(
        requests.post(
            f"{stack.url}/api/submissions", headers=user.headers(), files=files,
            timeout=UPLOAD_WAIT,
        )
    )  # fmt: skip


@pytest.mark.timeout(size(900, 1800))
def test_submissions_killed_during_an_upload_records_each_once_and_tells_the_truth(
    fault_stack, tmp_path
):
    admin = ready(fault_stack, create_first_administrator(fault_stack, tmp_path))
    pharmacy = ready(fault_stack, create_user(fault_stack, admin, "data_submitter", tmp_path))
    content = asap_file(tmp_path / "backlog.dat", 0, RECORDS).read_bytes()
    store = SubmissionsStore(fault_stack.direct_env)
    try:
        answers: list[requests.Response] = []
        sender = threading.Thread(target=upload, args=(fault_stack, pharmacy, content, answers))
        sender.start()
        wait_until(store.recorded, 300, "the first records stored", watch=[fault_stack.process])
        pid = kill_service(fault_stack, "submissions")
        stored = sum(store.recorded().values())
        killed_at = time.monotonic()
        sender.join(UPLOAD_WAIT + 30)  # the restarted service may be busy finishing the file
        (first,) = answers
        answered_after = time.monotonic() - killed_at
        wait_restarted(fault_stack, "submissions", pid, timeout=UPLOAD_WAIT)
        assert store.doubled() == 0
        if first.status_code == 201:  # the request came again and the file was finished
            body = first.json()
            assert body["status"] == "accepted", body
            assert body["counts"]["recorded"] == body["counts"]["records"] == RECORDS, body
            assert body["error_count"] == 0
            saw = f"201 accepted, {RECORDS:,} recorded, 0 refused"
        else:
            assert first.status_code == 503, first.text
            problem = first.json()
            assert problem["title"] == "The file did not finish", problem
            assert "Send the same file again" in problem["detail"]
            saw = f"503 '{problem['detail'][:60]}...'"

        again = requests.post(
            f"{fault_stack.url}/api/submissions", headers=pharmacy.headers(),
            files={"file": ("backlog.dat", content)}, timeout=UPLOAD_WAIT,
        )  # fmt: skip
        assert again.status_code == 201, again.text
        assert again.json()["status"] in {"accepted", "duplicate"}
        assert (store.doubled(), len(store.recorded())) == (0, RECORDS)
        outcomes = list(store.outcomes().values())
        assert len(outcomes) == 1 and outcomes[0][-1] == "SubmissionAccepted", outcomes
        seconds = converge(fault_stack, size(180, 600))
    finally:
        store.close()
    print(
        f"experiment 1 (upload): {RECORDS} records, {RECORDS - stored} in flight at the kill, "
        f"0 lost, 0 doubled; the pharmacy saw {saw} {answered_after:.1f} s after the kill; "
        f"the resend: {again.json()['status']}; outcomes {outcomes[0]}; converged {seconds:.1f} s"
    )
