"""The medical marijuana registry: ``pmp mm import`` as an operator meets it, and loading and
verifying through the whole system on both backends."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

from tests.helpers.accounts import User, api, create_user, ready
from tests.helpers.commands import pmp
from tests.helpers.processes import wait_until
from tests.integration.test_audit_history import history

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "mm-registry-sample.csv"


def test_pmp_mm_import_stores_the_good_lines_reports_each_bad_one_and_is_idempotent(
    tmp_path, amqp_uri
):
    env = {"PMP_DATA_DIR": str(tmp_path / "var"), "PMP_AMQP_URI": amqp_uri}

    loaded = pmp("mm", "import", str(SAMPLE), env=env)
    assert loaded.returncode == 1, loaded.stderr  # some lines were refused
    out = loaded.stderr
    assert "3 registered" in out and "1 revoked" in out and "4 lines refused" in out
    assert 'line 5, birth_date "1990-02-30": Give a date as YYYY-MM-DD.' in out
    assert 'line 6, zip "6851"' in out
    assert "line 7, card_number" in out and "already on line 2" in out
    assert "line 8, practitioner: This field is required." in out
    assert _card_events(tmp_path / "var") == 4

    again = pmp("mm", "import", str(SAMPLE), env=env)
    assert "0 registered" in again.stderr and "3 unchanged" in again.stderr
    assert _card_events(tmp_path / "var") == 4

    good = tmp_path / "good.csv"
    good.write_text("\n".join(SAMPLE.read_text().splitlines()[:4]) + "\n")
    assert pmp("mm", "import", str(good), env=env).returncode == 0

    wrong = tmp_path / "wrong.csv"
    wrong.write_text("card,name\n")
    refused = pmp("mm", "import", str(wrong), env=env)
    assert refused.returncode == 2 and "missing columns" in refused.stderr
    missing = pmp("mm", "import", str(tmp_path / "nope.csv"), env=env)
    assert missing.returncode == 2 and "no such file" in missing.stderr


def _card_events(data_dir: Path) -> int:
    import sqlalchemy as sa

    from pmp.db import open_sqlite
    from pmp.eventstore import events

    db = open_sqlite(data_dir / "query.sqlite")
    try:
        with db.read() as conn:
            return conn.execute(
                sa.select(sa.func.count()).where(events.c.stream.like("mm-card-%"))
            ).scalar_one()
    finally:
        db.dispose()


# -- through the whole system, on SQLite and PostgreSQL ---------------------------------------


def import_file(stack, user, content: bytes, name: str = "registry.csv"):
    return api(stack, "POST", "/api/mm/imports", user, files={"file": (name, content)})


def verify(stack, user, **query):
    return api(stack, "POST", "/api/mm/verifications", user, json=query)


@pytest.fixture(scope="module")
def officer(stack, people, tmp_path_factory) -> User:
    tmp = tmp_path_factory.mktemp("officer")
    return ready(stack, create_user(stack, people["admin"], "law_enforcement_mm", tmp))


def test_an_administrator_loads_the_registry_and_an_officer_verifies_cards(
    stack, people, officer, auditor
):
    admin = people["admin"]
    loaded = import_file(stack, admin, SAMPLE.read_bytes())
    assert loaded.status_code == 200, loaded.text
    outcome = loaded.json()
    if outcome["counts"]["registered"]:  # the first of this stack's tests to load it
        assert outcome["counts"]["registered"] == 3 and outcome["counts"]["revoked"] == 1
    assert outcome["counts"]["refused"] == 4
    assert [(e["line"], e["field"]) for e in outcome["errors"]] == [
        (5, "birth_date"), (6, "zip"), (7, "card_number"), (8, "practitioner"),
    ]  # fmt: skip
    again = import_file(stack, admin, SAMPLE.read_bytes()).json()
    assert again["counts"]["unchanged"] == 3 and again["counts"]["registered"] == 0

    valid = verify(stack, officer, card_number="mm-100001")
    assert valid.status_code == 200, valid.text
    assert valid.headers["Cache-Control"] == "no-store"
    body = valid.json()
    assert body["result"] == "VALID"
    assert body["cards"] == [
        {"name": "Ana Rivera", "birth_date": "1980-03-14",
         "expiry_date": "2030-05-31", "caregiver": "", "status": "VALID"}
    ]  # fmt: skip
    assert "12 Elm St" not in valid.text and "Park" not in valid.text
    expired = verify(stack, officer, card_number="MM-100002").json()
    assert expired["result"] == "EXPIRED" and expired["cards"][0]["caregiver"] == "Grace Okafor"
    assert verify(stack, officer, card_number="MM-100003").json()["result"] == "REVOKED"
    assert verify(stack, officer, card_number="MM-100004").json()["result"] == "NOT FOUND"

    by_name = wait_until(
        lambda: verify(
            stack, officer, first_name="ana", last_name=" RIVERA", birth_date="1980-03-14"
        ).json()["cards"],
        10,
        "the read model has the card",
    )
    assert by_name[0]["name"] == "Ana Rivera" and by_name[0]["status"] == "VALID"
    typo = verify(stack, officer, first_name="Ana", last_name="Rivra", birth_date="1980-03-14")
    assert [c["name"] for c in typo.json()["cards"]] == ["Ana Rivera"]  # one letter missing
    other = verify(stack, officer, first_name="Ana", last_name="Romero", birth_date="1980-03-14")
    assert other.json()["result"] == "NOT FOUND"
    unknown = verify(stack, officer, first_name="Ana", last_name="Rivera", birth_date="1980-03-15")
    assert (unknown.json()["result"], unknown.json()["cards"]) == ("NOT FOUND", [])
    assert verify(stack, officer, first_name="Ana").status_code == 422

    verified = wait_until(
        lambda: [
            e for e in history(stack, auditor, actor=officer.account_id, type="CardVerified")[
                "entries"
            ]
            if e["data"]["verification_id"] == body["verification_id"]
        ],
        15,
        "the audit trail has the verification",
    )  # fmt: skip
    data = verified[0]["data"]
    assert data["officer"]["account_id"] == officer.account_id
    assert data["officer"]["role"] == "law_enforcement_mm"
    assert data["query"]["card_number"] == "mm-100001" and data["result"] == "VALID"
    assert data["card_numbers"] == ["MM-100001"]


def test_prescribers_and_auditors_do_not_see_the_registry_and_officers_do_not_load_it(
    stack, people, officer
):
    for user in (people["prescriber"], people["auditor"], people["pharmacy"]):
        assert verify(stack, user, card_number="MM-100001").status_code == 403
    assert import_file(stack, officer, SAMPLE.read_bytes()).status_code == 403
    assert import_file(stack, people["prescriber"], SAMPLE.read_bytes()).status_code == 403


def test_an_administrator_grants_one_prescriber_the_registry_and_withdraws_it(
    stack, people, tmp_path
):
    admin = people["admin"]
    prescriber = ready(stack, create_user(stack, admin, "prescriber", tmp_path))
    auditor = people["auditor"]
    grant = {"permission": "mm_registry.verify", "reason": "clinic verifies cards"}

    def set_permission(user, granted: bool):
        path = f"/api/accounts/{user.account_id}/permissions"
        return api(stack, "POST", path, admin, json={**grant, "granted": granted})

    assert verify(stack, prescriber, card_number="MM-100001").status_code == 403
    assert set_permission(prescriber, True).status_code == 200
    assert set_permission(prescriber, True).status_code == 409  # already granted
    assert set_permission(auditor, True).status_code == 409  # not for this role
    wait_until(  # the card may still be on its way to the read model (the grant is at once)
        lambda: verify(stack, prescriber, card_number="MM-100001").status_code == 200,
        15,
        "the grant in force",
    )
    assert verify(stack, prescriber, card_number="MM-100001").json()["result"] == "VALID"
    page = stack.get("/search", cookies=prescriber.cookies())
    assert 'href="/mm/verify"' in page.text and 'action="/mm/verify"' in page.text

    assert set_permission(prescriber, False).status_code == 200
    wait_until(
        lambda: verify(stack, prescriber, card_number="MM-100001").status_code == 403,
        15,
        "the grant withdrawn",
    )


def signed_in_browser(stack, user: User, path: str) -> tuple[requests.Session, str]:
    """A browser with ``user``'s session on the page at ``path``, and the page's form token."""
    browser = requests.Session()
    browser.cookies.set("pmp_session", user.token)
    page = browser.get(stack.url + path, headers={"Accept": "text/html"}, timeout=30)
    assert page.status_code == 200, page.text
    return browser, re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def test_an_administrator_loads_the_registry_file_from_its_page(stack, people):
    admin = people["admin"]
    home = stack.get("/", cookies=admin.cookies())
    assert 'href="/admin/mm-registry"' in home.text
    elsewhere = stack.get("/", cookies=people["auditor"].cookies())
    assert 'href="/admin/mm-registry"' not in elsewhere.text
    browser, token = signed_in_browser(stack, admin, "/admin/mm-registry")
    with browser:

        def load(files):
            return browser.post(stack.url + "/admin/mm-registry", data={"csrf_token": token},
                                files=files, timeout=120)  # fmt: skip

        loaded = load({"file": ("registry-2026-12.csv", SAMPLE.read_bytes(), "text/csv")})
        assert loaded.status_code == 200, loaded.text
        assert loaded.headers["Cache-Control"] == "no-store"
        text = loaded.text
        assert "registry-2026-12.csv" in text and "4 lines were" in text
        assert re.search(r"<dt>Lines refused</dt><dd>4</dd>", text)
        rows = re.findall(
            r"<tr><td>(\d+)</td><td>([^<]+)</td><td[^>]*>(.*?)</td><td>([^<]+)</td></tr>",
            text,
        )
        assert [(line, field) for line, field, _, _ in rows] == [
            ("5", "birth_date"), ("6", "zip"), ("7", "card_number"), ("8", "practitioner"),
        ]  # fmt: skip
        assert rows[0][2:] == ("<code>1990-02-30</code>", "Give a date as YYYY-MM-DD.")
        assert rows[1][2] == "<code>6851</code>" and "(empty)" in rows[3][2]

        again = load({"file": ("registry-2026-12.csv", SAMPLE.read_bytes(), "text/csv")})
        assert re.search(r"<dt>Cards unchanged</dt><dd>3</dd>", again.text)
        assert re.search(r"<dt>Cards registered</dt><dd>0</dd>", again.text)

        wrong = load({"file": ("wrong.csv", b"card,name\n", "text/csv")})
        assert wrong.status_code == 422 and "missing columns" in wrong.text
        nothing = load({"file": ("", b"", "application/octet-stream")})
        assert nothing.status_code == 422 and "Choose the registry file to load." in nothing.text


def test_an_administrator_grants_and_withdraws_the_registry_on_the_users_page(
    stack, people, tmp_path
):
    admin = people["admin"]
    pharmacist = ready(stack, create_user(stack, admin, "pharmacist", tmp_path))
    user_page = f"/admin/users/{pharmacist.account_id}"
    browser, token = signed_in_browser(stack, admin, user_page)
    with browser:

        def shown() -> str:
            return browser.get(stack.url + user_page, timeout=30).text

        def act(action: str, reason: str = "verifies cards at the counter"):
            return browser.post(
                f"{stack.url}{user_page}/{action}",
                data={"csrf_token": token, "reason": reason},
                allow_redirects=False,
                timeout=30,
            )

        before = shown()
        assert "Medical marijuana registry" in before and "Not granted" in before
        assert f'action="{user_page}/registry-grant"' in before
        assert "registry-withdraw" not in before
        assert act("registry-grant", reason="").status_code == 422  # a reason is needed
        granted = act("registry-grant")
        assert granted.status_code == 303
        assert granted.headers["Location"] == f"{user_page}?done=registry-grant"
        after = browser.get(stack.url + granted.headers["Location"], timeout=30).text
        assert "The registry was granted" in after and ">Granted</span>" in after
        assert f'action="{user_page}/registry-withdraw"' in after
        assert "Permission granted" in after and "medical marijuana registry" in after
        wait_until(
            lambda: verify(stack, pharmacist, card_number="MM-100001").status_code == 200,
            15,
            "the grant in force",
        )
        assert act("registry-grant").status_code == 409  # already granted: the page says so

        withdrawn = act("registry-withdraw", reason="left the clinic")
        assert withdrawn.status_code == 303
        again = shown()
        assert "Not granted" in again and "Permission withdrawn" in again
        wait_until(
            lambda: verify(stack, pharmacist, card_number="MM-100001").status_code == 403,
            15,
            "the grant withdrawn",
        )
    auditor_page = stack.get(
        f"/admin/users/{people['auditor'].account_id}", cookies=admin.cookies()
    )
    assert "Medical marijuana registry" not in auditor_page.text  # not grantable to auditors


def test_the_name_index_can_be_rebuilt_by_replay(tmp_path, amqp_uri):
    env = {"PMP_DATA_DIR": str(tmp_path / "var"), "PMP_AMQP_URI": amqp_uri}
    pmp("mm", "import", str(SAMPLE), env=env)
    rebuilt = pmp("projections", "rebuild", "query.mm_cards", env=env)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "replayed 4 events" in rebuilt.stderr
    # the dispensations' read model also reads the submissions service: not running here
    waits = pmp("projections", "rebuild", "query.mm_dispensations", env=env)
    assert waits.returncode == 1 and "Traceback" not in waits.stderr
    assert "submissions is not answering" in waits.stderr and "pmp up" in waits.stderr
