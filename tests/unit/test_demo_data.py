"""Demo data: the ASAP writer, and generated files that parse clean and hold what they claim."""

from __future__ import annotations

import io
import time
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from services.registration.checks import dea_problem, ncpdp_problem, npi_problem
from services.submissions.asap import Record, ZeroReport, check_structure, read_records
from services.submissions.asap_writer import AsapWriter
from services.submissions.demo import RISK_KINDS, load_manifest, write_demo_files
from services.submissions.drugs import load_reference
from tests.helpers.asap import PHARMACY_NPI, PRESCRIBER_DEA, PRESCRIBER_NPI, RECEIVED_AT

SEED, PATIENTS, MONTHS = 7, 120, 5


@pytest.fixture(scope="module")
def reference():
    return load_reference()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    paths = write_demo_files(folder, SEED, patients=PATIENTS, months=MONTHS)
    return folder, paths, load_manifest(folder)


@pytest.fixture(scope="module")
def parsed(demo):
    """Every item of every file: (path, StructureReport, items)."""
    _folder, paths, _manifest = demo
    out = []
    for path in paths:
        with path.open("rb") as file:
            report = check_structure(file)
        with path.open("rb") as file:
            items = list(read_records(file, RECEIVED_AT))
        out.append((path, report, items))
    return out


@pytest.fixture(scope="module")
def fills(demo, parsed, reference):
    """Person id -> [(date filled, days supply, Drug, quantity, prescriber NPI, pharmacy)]."""
    _folder, _paths, manifest = demo
    owner = {}
    for person in manifest["persons"]:
        for first, last, dob, zip_code in person["records"]:
            key = (first.upper(), last.upper(), date.fromisoformat(dob), zip_code)
            assert owner.setdefault(key, person["id"]) == person["id"], "a shared identity"
    out = defaultdict(list)
    for _path, _report, items in parsed:
        for item in items:
            if isinstance(item, ZeroReport):
                continue
            p, d = item.patient, item.dispensation
            person = owner[
                (p["first_name"].upper(), p["last_name"].upper(), p["birth_date"], p["zip"])
            ]
            out[person].append(
                (
                    d["date_filled"],
                    d["days_supply"],
                    reference.get(d["ndc"]),
                    d["quantity"],
                    item.prescriber["npi"],
                    item.pharmacy["ncpdp"],
                )
            )
    return out


# --------------------------------------------------------------------------- the files parse


def test_every_file_passes_the_structure_check_and_every_record_is_accepted(demo, parsed):
    _folder, paths, manifest = demo
    assert len(paths) == len(manifest["files"]) == (len(manifest["pharmacies"]) - 1) * MONTHS + 1
    records = 0
    for path, report, items in parsed:
        assert report.ok, (path.name, [str(e) for e in report.errors])
        assert report.version == "4.2" and len(report.pharmacies) == 1
        assert all(isinstance(i, Record | ZeroReport) for i in items), path.name
        assert all(i.status == "new" for i in items if isinstance(i, Record))
        entry = next(f for f in manifest["files"] if f["name"] == path.name)
        assert report.record_count == entry["records"] == sum(isinstance(i, Record) for i in items)
        assert report.zero_report is entry["zero_report"]
        records += report.record_count
    assert records == manifest["records"] > PATIENTS


def test_one_pharmacy_sends_only_a_zero_report(demo, parsed):
    _folder, _paths, manifest = demo
    ncpdp = manifest["zero_report_pharmacy"]
    mine = [items for _p, report, items in parsed if report.pharmacies[0]["ncpdp"] == ncpdp]
    assert len(mine) == 1 and len(mine[0]) == 1 and isinstance(mine[0][0], ZeroReport)
    assert mine[0][0].date == date.fromisoformat(manifest["end"])


def test_every_ndc_is_a_controlled_substance_of_the_reference(fills):
    classes = {drug.drug_class for rows in fills.values() for _d, _s, drug, *_ in rows}
    assert None not in {drug for rows in fills.values() for _d, _s, drug, *_ in rows}
    assert {"opioid", "benzodiazepine"} <= classes
    assert all(drug.schedule is not None for rows in fills.values() for _d, _s, drug, *_ in rows)


def test_prescriber_and_pharmacy_numbers_have_valid_check_digits(demo):
    _folder, _paths, manifest = demo
    assert len(manifest["prescribers"]) >= 8
    for prescriber in manifest["prescribers"]:
        assert dea_problem(prescriber["dea"]) is None, prescriber["dea"]
        assert npi_problem(prescriber["npi"]) is None, prescriber["npi"]
        assert prescriber["dea"][1] == prescriber["last_name"][0]
    for pharmacy in manifest["pharmacies"]:
        assert npi_problem(pharmacy["npi"]) is None
        assert dea_problem(pharmacy["dea"]) is None
        assert ncpdp_problem(pharmacy["ncpdp"]) is None
    numbers = [p["npi"] for p in manifest["prescribers"] + manifest["pharmacies"]]
    assert len(numbers) == len(set(numbers))


def test_pharmacies_write_some_patients_with_name_or_dob_variants(demo):
    _folder, _paths, manifest = demo
    varied = [p for p in manifest["persons"] if len(p["records"]) > 1]
    assert varied
    shoppers = set(manifest["risky"]["many_providers"])
    assert any(p["id"] in shoppers for p in varied)


# --------------------------------------------------------------------------- the risks


def _mme(drug, quantity: Decimal, days: int) -> Decimal:
    return drug.strength_per_unit * quantity / days * drug.mme_factor


def _days(rows, drug_class):
    covered = set()
    for filled, days, drug, *_ in rows:
        if drug.drug_class == drug_class:
            covered.update(filled + timedelta(days=k) for k in range(days))
    return covered


def _many_providers(rows) -> bool:
    for start, *_ in rows:
        window = [r for r in rows if start <= r[0] < start + timedelta(days=90)]
        if len({r[4] for r in window}) >= 5 and len({r[5] for r in window}) >= 5:
            return True
    return False


def _max_mme(rows) -> Decimal:
    daily: dict[date, Decimal] = defaultdict(Decimal)
    for filled, days, drug, quantity, *_ in rows:
        if drug.drug_class == "opioid" and drug.mme_factor is not None:
            for k in range(days):
                daily[filled + timedelta(days=k)] += _mme(drug, quantity, days)
    return max(daily.values(), default=Decimal(0))


def _longest_opioid_run(rows) -> int:
    covered = _days(rows, "opioid")
    best = 0
    for day in covered:
        if day - timedelta(days=1) not in covered:
            run = 1
            while day + timedelta(days=run) in covered:
                run += 1
            best = max(best, run)
    return best


def test_exactly_the_persons_marked_risky_have_each_risk(demo, fills):
    _folder, _paths, manifest = demo
    found = {
        "many_providers": {p for p, rows in fills.items() if _many_providers(rows)},
        "high_mme": {p for p, rows in fills.items() if _max_mme(rows) >= 90},
        "opioid_benzo": {
            p for p, rows in fills.items() if _days(rows, "opioid") & _days(rows, "benzodiazepine")
        },
        "long_term_opioid": {p for p, rows in fills.items() if _longest_opioid_run(rows) > 90},
    }
    for kind in RISK_KINDS:
        assert manifest["risky"][kind], kind
        assert found[kind] == set(manifest["risky"][kind]), kind
    ordinary = {p["id"] for p in manifest["persons"] if p["kind"] == "ordinary"}
    assert len(ordinary) == PATIENTS - sum(len(v) for v in manifest["risky"].values())
    assert ordinary.isdisjoint(set().union(*found.values()))


def test_high_mme_patients_reach_at_least_96_mme_a_day(demo, fills, reference):
    _folder, _paths, manifest = demo
    for person in manifest["risky"]["high_mme"]:
        assert _max_mme(fills[person]) >= 96
    # the brief's example: oxycodone 30 mg x 180 / 30 days x 1.5 = 270 MME/day
    oxycodone = next(d for d in reference if d.drug == "Oxycodone SA" and d.strength_per_unit == 30)
    assert _mme(oxycodone, Decimal(180), 30) == 270


def test_every_person_has_a_fill(demo, fills):
    _folder, _paths, manifest = demo
    assert set(fills) == {p["id"] for p in manifest["persons"]}


# --------------------------------------------------------------------------- seeds, size, time


def test_the_same_seed_gives_the_same_bytes(tmp_path):
    a = write_demo_files(tmp_path / "a", 3, patients=40, months=4)
    b = write_demo_files(tmp_path / "b", 3, patients=40, months=4)
    c = write_demo_files(tmp_path / "c", 4, patients=40, months=4)
    assert [p.name for p in a] == [p.name for p in b]
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    manifest = "manifest.json"
    assert (tmp_path / "a" / manifest).read_bytes() == (tmp_path / "b" / manifest).read_bytes()
    assert b"".join(p.read_bytes() for p in a) != b"".join(p.read_bytes() for p in c)


def test_the_default_size_takes_a_few_seconds(tmp_path):
    started = time.perf_counter()
    paths = write_demo_files(tmp_path)
    assert time.perf_counter() - started < 10
    manifest = load_manifest(tmp_path)
    assert manifest["patients"] == 400 and manifest["months"] == 6
    assert len(paths) == len(manifest["files"])


def test_too_small_a_demo_is_refused(tmp_path):
    with pytest.raises(ValueError, match="months"):
        write_demo_files(tmp_path, patients=40, months=3)
    with pytest.raises(ValueError, match="patients"):
        write_demo_files(tmp_path, patients=4)


def test_the_registry_demo_loads_whole_and_holds_what_an_administrator_should_notice(demo):
    from services.query.mm_cards import CardRow, read_rows
    from services.submissions.demo_registry import UNKNOWN_CARD, write_registry_demo

    folder, _paths, manifest = demo
    end = date.fromisoformat(manifest["end"])
    written = write_registry_demo(folder, manifest, end + timedelta(days=10))
    with written["registry"].open(encoding="utf-8", newline="") as file:
        rows = list(read_rows(file, end + timedelta(days=10)))
    assert all(isinstance(row, CardRow) for row in rows) and len(rows) == written["cards"] == 6
    cards = {row.card_number: row for row in rows}
    holders = {p["records"][0][2] for p in manifest["persons"] if p["kind"] == "ordinary"}
    assert {row.values["birth_date"].isoformat() for row in rows} <= holders  # demo patients
    assert [r.status for r in rows].count("expired") == 1 and written["expired"] in cards

    with written["dispensary"].open("rb") as file:
        items = list(read_records(file, RECEIVED_AT))
    assert items and all(isinstance(i, Record) for i in items)  # every record accepted
    assert {i.dispensation["product_qualifier"] for i in items} == {"MM"}
    numbers = [i.patient["id"] for i in items]
    assert UNKNOWN_CARD in numbers and set(numbers) - {UNKNOWN_CARD} <= set(cards)
    expired = cards[written["expired"]]
    after = [i for i in items if i.patient["id"] == expired.card_number
             and i.dispensation["date_filled"] > expired.values["expiry_date"]]  # fmt: skip
    assert len(after) == 1  # one purchase after the card expired
    born = {number: row.values["birth_date"] for number, row in cards.items()}
    not_holder = [i for i in items if i.patient["id"] in born
                  and i.patient["birth_date"] != born[i.patient["id"]]]  # fmt: skip
    assert len(not_holder) == 1  # one under somebody else's card
    fetched = [i for i in items if i.additional]
    caregivers = {number: row.values["caregiver"].upper() for number, row in cards.items()}
    assert fetched and {i.additional["person_relationship"] for i in fetched} == {"04"}
    strangers = [i for i in fetched if caregivers[i.patient["id"]] != " ".join(
        (i.additional["person_first_name"], i.additional["person_last_name"]))]  # fmt: skip
    assert len(strangers) == 1  # one picked up by somebody who is not the caregiver
    assert all(i.dispensation["date_filled"] <= end for i in items)


def test_pmp_demo_data_prints_what_it_wrote(tmp_path, capsys):
    from pmp.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["demo-data", "--out", str(tmp_path), "--patients", "40", "--months", "4"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "ASAP 4.2 files" in out and "dispensations of 40 patients" in out
    for kind in RISK_KINDS:
        assert f"  {kind}: 1: P" in out
    assert f"medical marijuana registry: 6 cards in {tmp_path / 'registry.csv'}" in out


# --------------------------------------------------------------------------- the writer


PATIENT = {
    "last_name": "DOE",
    "first_name": "JANE",
    "address_1": "1 ELM ST",
    "city": "SPRINGFIELD",
    "state": "IL",
    "zip": "62701",
    "birth_date": date(1980, 2, 15),
    "gender": "F",
}
DISPENSATION = {
    "prescription_number": "RX1",
    "date_written": date(2024, 1, 2),
    "refills_authorized": 2,
    "date_filled": date(2024, 1, 3),
    "refill_number": 0,
    "ndc": "00603499321",
    "quantity": Decimal("30"),
    "days_supply": 30,
    "payment_type": "04",
}
PRESCRIBER = {"npi": PRESCRIBER_NPI, "dea": PRESCRIBER_DEA, "last_name": "SMITH"}
PHARMACY = {"npi": PHARMACY_NPI, "ncpdp": "1234567", "name": "MAIN ST PHARMACY", "state": "IL"}


def test_the_writer_round_trips_through_the_parser():
    buffer = io.BytesIO()
    with AsapWriter(buffer, "CN1", datetime(2024, 1, 5, 12, 30)) as writer:
        writer.open_pharmacy(PHARMACY)
        writer.add_dispensation(PATIENT, DISPENSATION, PRESCRIBER)
        # the same patient again: no second PAT
        writer.add_dispensation(PATIENT, {**DISPENSATION, "prescription_number": "RX2"}, PRESCRIBER)
        writer.add_dispensation(PATIENT, {**DISPENSATION, "status": "02"}, None)  # a void
        writer.close_pharmacy()
        writer.open_pharmacy({**PHARMACY, "ncpdp": "7654321"})
        writer.add_zero_report(date(2024, 1, 31))
        writer.close_pharmacy()
    data = buffer.getvalue()
    assert data.startswith(b"TH*4.2*CN1*01**20240105*1230*P**~~\nIS*CPMRS*")
    assert data.count(b"\nPAT*") == 2 and data.endswith(b"TT*CN1*16~\n")
    assert b"TP*8~" in data and b"TP*5~" in data
    report = check_structure(io.BytesIO(data))
    assert report.ok, [str(e) for e in report.errors]
    assert report.record_count == writer.record_count == 3 and report.zero_report_count == 1
    items = list(read_records(io.BytesIO(data), RECEIVED_AT))
    assert [type(i).__name__ for i in items] == ["Record", "Record", "Record", "ZeroReport"]
    first = items[0]
    assert {k: first.patient[k] for k in PATIENT} == PATIENT
    assert {k: first.dispensation[k] for k in DISPENSATION} == DISPENSATION
    assert first.dispensation["product_qualifier"] == "01"  # a default
    assert first.prescriber["dea"] == PRESCRIBER_DEA
    assert items[2].status == "void" and items[2].prescriber is None
    assert items[3].date == date(2024, 1, 31)


@pytest.mark.parametrize(
    "bad",
    [{"last_name": "DOE*JANE"}, {"city": "A~B"}, {"shoe_size": "9"}, {"city": "A\nB"}],
)
def test_the_writer_refuses_what_would_not_parse_back(bad):
    writer = AsapWriter(io.BytesIO(), "CN1", datetime(2024, 1, 5))
    writer.open_pharmacy(PHARMACY)
    with pytest.raises(ValueError):
        writer.add_dispensation({**PATIENT, **bad}, DISPENSATION, PRESCRIBER)


def test_the_writer_keeps_the_segments_in_order():
    writer = AsapWriter(io.BytesIO(), "CN1", datetime(2024, 1, 5))
    with pytest.raises(ValueError, match="no pharmacy block"):
        writer.add_dispensation(PATIENT, DISPENSATION, PRESCRIBER)
    with pytest.raises(ValueError, match="no pharmacy block"):
        writer.close()
    writer.open_pharmacy(PHARMACY)
    with pytest.raises(ValueError, match="empty"):
        writer.close_pharmacy()
    with pytest.raises(ValueError, match="is open"):
        writer.close()
    writer.add_zero_report(date(2024, 1, 31))
    writer.close_pharmacy()
    writer.close()
    with pytest.raises(ValueError, match="closed"):
        writer.open_pharmacy(PHARMACY)
