"""Unsolicited notices: with notices turned on, the registered prescriber of record gets one
email when a patient of theirs crosses a threshold, naming the patient only by initials and
year of birth, and no second one for the same patient and rule within the period."""

from __future__ import annotations

import uuid
from datetime import timedelta

from tests.helpers.accounts import api
from tests.helpers.asap import build, pha, record
from tests.helpers.program_day import program_today
from tests.helpers.registration import registered
from tests.integration.test_submissions_api import send

OXYCODONE_ER_10MG = "00093002401"  # 10 mg, MME factor 1.5
ALPRAZOLAM = "00005334031"  # a benzodiazepine
DEA = "BM7654329"  # a valid DEA number no other test registers


def fill(rx: int, patient: dict, ndc: str, quantity: int, days_ago: int) -> list:
    when = (program_today() - timedelta(days=days_ago)).strftime("%Y%m%d")
    return record(
        rx,
        pat=patient,
        dsp={3: when, 5: when, 8: ndc, 9: str(quantity), 10: "30"},
        pre={2: DEA, 5: "NOTICE", 6: "NORA"},
    )


def test_the_prescriber_of_record_is_told_once_per_patient_and_rule(stack, people):
    admin = people["admin"]
    prescriber = registered(stack, admin, "prescriber", dea_number=DEA)
    policy = api(stack, "GET", "/api/alert-policy", admin).json()["policy"]
    turned_on = api(
        stack, "PUT", "/api/alert-policy", admin, json={**policy, "notify_prescribers": True}
    )
    assert turned_on.status_code == 200, turned_on.text
    last = f"ZZNOTICE{uuid.uuid4().hex[:6].upper()}"
    patient = {
        7: last,
        8: "PENELOPE",
        12: "1 ELM ST",
        14: "MYSTIC",
        15: "CT",
        16: "06355",
        18: "19610412",
        19: "F",
    }
    to_prescriber = lambda m: prescriber.email in m.envelope_to  # noqa: E731
    try:
        first = send(
            stack,
            people["pharmacy"],
            build([(pha(), fill(7001, patient, OXYCODONE_ER_10MG, 120, 10))]),
            "notice-1.dat",
        )
        assert first.status_code == 201, first.text
        mme = stack.mail.wait_for(lambda m: to_prescriber(m) and "High daily MME" in m.text, 30)
        assert mme.subject == "CPMRS notice: a patient of yours met an alert threshold"
        assert "initials P. Z." in mme.text and "born in 1961" in mme.text
        assert last not in mme.text and "PENELOPE" not in mme.text  # no name in an email

        second = send(
            stack,
            people["pharmacy"],
            build(
                [
                    (
                        pha(),
                        fill(7002, patient, OXYCODONE_ER_10MG, 60, 5)
                        + fill(7003, patient, ALPRAZOLAM, 30, 5),
                    )
                ]
            ),
            "notice-2.dat",
        )
        assert second.status_code == 201, second.text
        # The overlap's notice comes after the MME alert's update (notices go in order), so
        # once it is here, a second MME notice would be too.
        stack.mail.wait_for(lambda m: to_prescriber(m) and "benzodiazepine" in m.text, 30)
        about_mme = [m for m in stack.mail.messages if to_prescriber(m) and "MME" in m.text]
        assert len(about_mme) == 1
    finally:
        api(stack, "PUT", "/api/alert-policy", admin, json=policy)
