"""The User Agreement every applicant accepts, and re-accepts at each renewal.

The text is versioned: an acceptance records the version read, and a new version (a change of
wording, not of layout) gets a new ``AGREEMENT_VERSION`` so that nobody is held to words they
never saw. ``agreement()`` returns a fresh copy each time, so no caller can alter the text
another caller shows.
"""

from __future__ import annotations

import copy

AGREEMENT_VERSION = "2026-11"
TITLE = "CPMRS User Agreement"

_SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Your agreement with the program",
        (
            "I will keep to this agreement for as long as I hold a CPMRS account, and I will "
            "accept it again whenever the program revises it or I renew my registration.",
            "I will comply with the policies and procedures of the Connecticut Prescription "
            "Monitoring and Reporting System, and with all state and federal laws and "
            "regulations that govern prescription monitoring information.",
            "I understand that the program may suspend or revoke my access at any time, "
            "including while a question about my use of the system is investigated.",
        ),
    ),
    (
        "Your account and credentials",
        (
            "I will never share my password, security answers or authentication codes with "
            "anyone, and I will not let anyone else use my account, for any reason.",
            "I will lock my computer or sign out of CPMRS whenever I step away from it.",
            "If I suspect that someone else knows my password or has used my account, I will "
            "change my password and tell the program at once.",
            "I will keep the details of my registration (name, address, licences and "
            "employment) up to date, and tell the program when they change.",
        ),
    ),
    (
        "The information you obtain",
        (
            "I will safeguard all information I obtain from CPMRS. It is confidential health "
            "information, protected by state law and by HIPAA, and I will store, print, and "
            "dispose of it accordingly.",
            "I will use CPMRS for official purposes only, as part of my professional duties, "
            "and never for personal reasons, curiosity or commercial gain.",
            "I will look up only the information I need to know for the task in front of me.",
            "I will report any suspected misuse of CPMRS, or any security breach involving "
            "CPMRS information, to the program as soon as I become aware of it.",
        ),
    ),
    (
        "Oversight",
        (
            "I understand that every search and every report I view is logged, and that the "
            "program audits this activity.",
            "I will cooperate fully with any investigation or audit of my use of CPMRS, and "
            "answer the program's questions about the searches I made.",
            "I understand that misuse of CPMRS or of its information may lead to the loss of "
            "my access, referral to my licensing board or employer, and civil or criminal "
            "penalties.",
        ),
    ),
    (
        "User Responsibilities",
        (
            "Prescribers and pharmacists: I will query CPMRS only within a bona fide "
            "practitioner-patient or pharmacist-patient relationship.",
            "Prescribers and pharmacists: I will search only for patients currently under my "
            "care or being served at my pharmacy counter.",
            "Law enforcement: I will search only in the course of an active investigation, "
            "and I will record its case number with every search.",
            "I will not share a CPMRS report with anyone outside the purpose for which it was "
            "obtained, including the patient; a patient who wants their own report may "
            "request it from the program.",
            "Delegates: I will act only on behalf of the supervising prescriber or pharmacist "
            "who approved my access, who remains responsible for every search I make.",
        ),
    ),
)


def agreement() -> dict:
    """The agreement as the contract gives it: version, title, and sections of items."""
    return copy.deepcopy(
        {
            "version": AGREEMENT_VERSION,
            "title": TITLE,
            "sections": [
                {"heading": heading, "items": list(items)} for heading, items in _SECTIONS
            ],
        }
    )
