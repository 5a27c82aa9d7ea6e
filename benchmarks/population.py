"""The population (f) and the bulk fault experiment load: the demo data's dispensations
repeated, each repetition's patients born on other dates, so 1,000,000 records hold about
400,000 persons with a few dispensations each, filled over the six months before this one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from services.submissions.asap import Record, read_records
from services.submissions.asap_writer import AsapWriter
from services.submissions.demo import recent_start, write_demo_files

SHIFT = 397  # days: a year, a month and a day, so no repetition is a one-digit DOB typo
EARLIEST, LATEST = date(1925, 1, 1), date(2005, 1, 1)  # repetitions' birth dates wrap here


@dataclass(frozen=True)
class Person:
    first_name: str
    last_name: str
    birth_date: str


def demo_records(folder: Path, seed: int, patients: int) -> list[Record]:
    """The records of a demo set written into ``folder``."""
    records: list[Record] = []
    start = recent_start(6, date.today())
    for demo in write_demo_files(folder, seed=seed, patients=patients, months=6, start=start):
        with demo.open("rb") as file:
            records += [
                item for item in read_records(file, datetime.now(UTC)) if isinstance(item, Record)
            ]
    return records


def population(folder: Path, path: Path, records: int) -> list[Person]:
    """Writes the file of ``records`` dispensations at ``path``; the persons in it."""
    groups = demo_records(folder / "demo", seed=11, patients=2000)
    persons: set[Person] = set()
    with path.open("wb") as file, AsapWriter(file, "BENCHF", datetime.now(UTC)) as writer:
        writer.open_pharmacy(groups[0].pharmacy)
        for n in range(records):
            group = groups[n % len(groups)]
            patient = dict(group.patient)
            patient["birth_date"] = _born(patient["birth_date"], n // len(groups))
            dispensation = {**group.dispensation, "prescription_number": f"F{n:09d}"}
            writer.add_dispensation(patient, dispensation, group.prescriber)
            persons.add(Person(patient["first_name"], patient["last_name"],
                               patient["birth_date"].isoformat()))  # fmt: skip
        writer.close_pharmacy()
    return sorted(persons, key=lambda p: (p.last_name, p.first_name, p.birth_date))


def _born(birth_date: date, repetition: int) -> date:
    """The birth date of a repetition's patient: another date, always in the past."""
    span = (LATEST - EARLIEST).days
    return EARLIEST + timedelta(days=((birth_date - EARLIEST).days + SHIFT * repetition) % span)
