"""The intake: from an ASAP file to events, with a fake of the store and its tables."""

from __future__ import annotations

import io
import uuid
from functools import cache

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from services.submissions.drugs import load_reference
from services.submissions.intake import Chunk, Intake, Progress, submission_stream
from services.submissions.patients import PatientIndex
from services.submissions.schemas import submissions_events
from tests.helpers.asap import RECEIVED_AT, air, build, dsp, pat, pha, pre, record
from tests.unit.test_asap_parser import FUZZ, mutated, mutated_bytes

OXYCODONE_10MG = "00093002401"  # factor 1.5 in the CDC file


class FakeLedger:
    """The intake's memory in dicts: events per stream (with the store's rule that a stream
    starts once), keys, patients, error reports; each chunk kept as one store."""

    def __init__(self) -> None:
        self.streams: dict[str, list[tuple[str, dict]]] = {}
        self.appends: list[list[str]] = []  # the event types of each chunk
        self.known: dict[str, str] = {}
        self.patients: list = []
        self.errors: dict[str, list[dict]] = {}
        self.notes: dict[str, list[dict]] = {}  # the latest run's, as the ledger keeps them
        self.progress: list[Progress] = []

    def find(self, key: str) -> str | None:
        return self.known.get(key)

    def find_many(self, keys) -> dict[str, str]:
        return {k: self.known[k] for k in keys if k in self.known}

    def store(self, stream: str, chunk: Chunk) -> None:
        kinds = [kind for kind, _ in chunk.changes]
        assert ("SubmissionReceived" in kinds) == (stream not in self.streams)
        self.appends.append(kinds)
        self.streams.setdefault(stream, []).extend(chunk.changes)
        self.known.update(chunk.keys)
        self.patients.extend(chunk.patients)
        report = self.errors.setdefault(chunk.progress.submission_id, [])
        assert len(report) + len(chunk.errors) == chunk.progress.errors
        report.extend(chunk.errors)
        if chunk.notes:
            self.notes[chunk.progress.submission_id] = list(chunk.notes)
        self.progress.append(chunk.progress)

    def kinds(self, stream: str) -> list[str]:
        return [kind for kind, _ in self.streams[stream]]

    def of(self, stream: str, kind: str) -> list[dict]:
        return [data for k, data in self.streams[stream] if k == kind]


@cache
def reference():
    return load_reference()


class Desk:
    """A submissions desk: one intake, one sink, one index, files in and events out."""

    def __init__(self) -> None:
        self.sink = self.memory = FakeLedger()
        self.intake = Intake(self.memory, reference(), PatientIndex())

    def submit(self, data: bytes):
        start = Progress(str(uuid.uuid4()), "0" * 64, RECEIVED_AT)
        received = {
            "submission_id": start.submission_id,
            "sha256": start.sha256,
            "filename": "test.dat",
            "size": len(data),
            "channel": "bulk",
        }
        outcome = self.intake.ingest(
            lambda: io.BytesIO(data), start, ("SubmissionReceived", received)
        )
        return outcome, submission_stream(start.submission_id)

    def errors(self, outcome) -> list[dict]:
        """The outcome's error report, in the file's order (as the tables give it)."""
        report = self.memory.errors[outcome.submission_id]
        assert len(report) == outcome.error_count
        return sorted(report, key=lambda e: (e["line"], e["segment_number"]))

    def recorded(self, stream: str) -> list[dict]:
        return [
            r for batch in self.sink.of(stream, "DispensationsRecorded") for r in batch["records"]
        ]


def test_good_records_are_recorded_and_a_bad_one_is_reported_alone():
    desk = Desk()
    bad = record(3, dsp={8: "12345"})  # an NDC must have 11 digits
    outcome, stream = desk.submit(build([(pha(), record(1) + bad + record(2))]))

    assert desk.sink.kinds(stream) == [
        "SubmissionReceived",
        "DispensationsRecorded",
        "SubmissionAccepted",
    ]
    accepted = desk.sink.of(stream, "SubmissionAccepted")[0]
    assert (accepted["records"], accepted["recorded"], accepted["rejected"]) == (3, 2, 1)
    assert [r["dispensation"]["prescription_number"] for r in desk.recorded(stream)] == [
        "RX1001",
        "RX1002",
    ]
    (error,) = desk.errors(outcome)
    assert (error["segment"], error["field"], error["value"]) == ("DSP", "DSP08", "12345")
    assert error["line"] >= 1 and "NDC" in error["message"]


def test_a_structural_error_rejects_the_file_and_records_nothing():
    desk = Desk()
    outcome, stream = desk.submit(build(tt_delta=1))
    assert outcome.status == "rejected"
    assert desk.sink.kinds(stream) == ["SubmissionReceived", "SubmissionRejected"]
    rejected = desk.sink.of(stream, "SubmissionRejected")[0]
    assert rejected["error_count"] == 1 and rejected["errors"][0]["segment"] == "TT"
    assert rejected["errors"][0]["segment_number"] == 11  # TH IS PHA, 2 x (PAT DSP PRE), TP, TT
    submissions_events().validate("SubmissionRejected", rejected)  # as the store checks it


REPORT_COLUMNS = [
    "segment_number",
    "line",
    "byte_offset",
    "segment",
    "field",
    "value",
    "message",
    "severity",
]


def test_each_error_of_a_one_line_file_names_its_segment_and_byte_offset():
    """ASAP files may have no line breaks: every error is on line 1, so each also says which
    segment of the file it is in (TH is 1) and at which byte that segment starts."""
    desk = Desk()
    desk.submit(build([(pha(), record(9))]))
    bad_ndc = record(2, dsp={8: "12345"})
    bad_birth = record(3, pat={18: "19801345"})
    content = build([(pha(), record(1) + bad_ndc + bad_birth + record(9))])
    assert content.count(b"\n") == 0
    outcome, _ = desk.submit(content)

    errors = desk.errors(outcome)
    assert all(list(e) == REPORT_COLUMNS for e in errors)
    assert [(e["line"], e["segment"], e["field"]) for e in errors] == [
        (1, "DSP", "DSP08"),
        (1, "PAT", "PAT18"),
        (1, "DSP", "DSP02"),  # already reported by the first file: found by the intake
    ]
    # TH IS PHA, then PAT DSP PRE per record: the 2nd record's DSP is the 8th segment
    assert [e["segment_number"] for e in errors] == [8, 10, 14]
    assert all(type(e["byte_offset"]) is int for e in errors)


def test_a_name_read_as_latin_1_is_kept_and_noted_in_the_report_as_a_note_not_an_error():
    """ASAP asks for ASCII; a one-byte Western code page's letters are read as Latin-1 and
    the record is kept, and the report says so (where, and what was read) for the pharmacy
    to check, without counting it as an error."""
    desk = Desk()
    content = build([(pha(), record(1, pat={7: "MUNOZ"}))]).replace(b"MUNOZ", b"MU\xd1OZ")
    outcome, _ = desk.submit(content)
    assert (outcome.status, outcome.counts["recorded"], outcome.error_count) == ("accepted", 1, 0)
    [note] = desk.sink.notes[outcome.submission_id]
    assert list(note) == REPORT_COLUMNS
    assert (note["segment"], note["field"], note["value"]) == ("PAT", "PAT07", "MUÑOZ")
    assert note["severity"] == "note" and "Latin-1" in note["message"]
    assert note["segment_number"] == 4 and content[note["byte_offset"] :].startswith(b"PAT")


def test_each_error_gives_the_byte_where_its_segment_starts():
    desk = Desk()
    desk.submit(build([(pha(), record(9))]))
    content = build([(pha(), record(1) + record(2, dsp={8: "12345"}) + record(9))])
    outcome, _ = desk.submit(content)
    starts = [content[e["byte_offset"] :][:14] for e in desk.errors(outcome)]
    assert starts == [b"DSP*00*RX1002*", b"DSP*00*RX1009*"]


def test_records_carry_the_drug_from_the_reference_or_are_flagged_unknown():
    desk = Desk()
    known = record(1, dsp={8: OXYCODONE_10MG, 9: "120", 10: "30"})
    _, stream = desk.submit(build([(pha(), known + record(2))]))
    oxycodone, unknown = desk.recorded(stream)
    assert oxycodone["drug"]["drug_class"] == "opioid"
    assert oxycodone["drug"]["mme_factor"] == "1.5" and oxycodone["drug"]["schedule"] == 2
    assert unknown["drug"] is None
    assert desk.sink.of(stream, "SubmissionAccepted")[0]["unknown_ndc"] == 1


def test_the_same_patient_is_one_person_and_a_different_one_another():
    desk = Desk()
    jane_again = record(2, pat={8: "JANE", 7: "DOE"})
    john = record(3, pat={7: "ROE", 8: "JOHN", 18: "19720101", 19: "M"})
    _, stream = desk.submit(build([(pha(), record(1) + jane_again + john)]))
    jane, jane2, other = desk.recorded(stream)
    assert jane["person_id"] == jane2["person_id"] != other["person_id"]
    assert jane2["link"] == "deterministic"
    assert jane["patient_record"] == jane2["patient_record"] == 0  # found through record 0
    assert [(n, str(person)) for n, _, person in desk.memory.patients] == [
        (0, jane["person_id"]),
        (1, other["person_id"]),
    ]  # kept for the index's next start; an exact twin is not kept twice
    assert desk.sink.of(stream, "PatientLinked") == []  # nothing uncertain to review


def test_a_father_and_his_son_named_jr_in_pat11_are_two_people():
    """Born on the same day of the year, the son's year one digit from his father's: only
    his suffix (PAT11) tells them apart."""
    desk = Desk()
    father = {7: "DOE", 8: "JOHN", 18: "19580614", 19: "M"}
    son = record(2, pat={**father, 11: "JR", 18: "19880614"})
    _, stream = desk.submit(build([(pha(), record(1, pat=father) + son)]))
    first, second = desk.recorded(stream)
    assert first["person_id"] != second["person_id"]
    assert second["link"] == "new" and desk.sink.of(stream, "PatientLinked") == []


def test_revisions_and_voids_change_the_earlier_dispensation():
    desk = Desk()
    _, first = desk.submit(build([(pha(), record(1) + record(2))]))
    original = {r["dispensation"]["prescription_number"]: r for r in desk.recorded(first)}
    revise = record(1, dsp={1: "01", 9: "60"})
    void = record(2, dsp={1: "02"})
    outcome, second = desk.submit(build([(pha(), revise + void)]))

    (revised,) = desk.sink.of(second, "DispensationRevised")
    assert revised["dispensation_id"] == original["RX1001"]["dispensation_id"]
    assert revised["record"]["dispensation"]["quantity"] == "60"
    (voided,) = desk.sink.of(second, "DispensationVoided")
    assert voided["dispensation_id"] == original["RX1002"]["dispensation_id"]
    counts = desk.sink.of(second, "SubmissionAccepted")[0]
    assert (counts["revised"], counts["voided"], counts["rejected"]) == (1, 1, 0)
    assert desk.errors(outcome) == []


def test_a_revision_of_nothing_and_a_repeated_new_record_are_refused():
    desk = Desk()
    outcome, stream = desk.submit(build([(pha(), record(1, dsp={1: "01"}))]))
    assert [e["field"] for e in desk.errors(outcome)] == ["DSP01"]
    assert "DispensationRevised" not in desk.sink.kinds(stream)

    desk.submit(build([(pha(), record(5))]))
    outcome, again = desk.submit(build([(pha(), record(5))]))
    assert [e["field"] for e in desk.errors(outcome)] == ["DSP02"]
    assert "revise" in desk.errors(outcome)[0]["message"]
    assert "DispensationsRecorded" not in desk.sink.kinds(again)


@pytest.mark.parametrize("count, batches", [(1000, [1000]), (2500, [1000, 1000, 500])])
def test_dispensations_are_recorded_in_batches_of_at_most_a_thousand(count, batches):
    desk = Desk()
    body = [segment for n in range(count) for segment in record(n)]
    _, stream = desk.submit(build([(pha(), body)]))
    sizes = [len(b["records"]) for b in desk.sink.of(stream, "DispensationsRecorded")]
    assert sizes == batches


def test_a_zero_report_is_accepted_with_nothing_recorded():
    desk = Desk()
    zero = [pat({7: "Report", 8: "Zero"}), dsp({5: "20240131"}), pre()]
    outcome, stream = desk.submit(build([(pha(), zero)]))
    accepted = desk.sink.of(stream, "SubmissionAccepted")[0]
    assert accepted["zero_report"] is True and accepted["recorded"] == 0
    assert outcome.status == "accepted"


def test_a_link_made_by_similarity_is_recorded_for_review():
    desk = Desk()
    janie = record(2, pat={8: "JANIE"})  # a variant: linked by weighing, not by the key
    _, stream = desk.submit(build([(pha(), record(1) + janie)]))
    jane, janie = desk.recorded(stream)
    assert janie["person_id"] == jane["person_id"] and janie["link"] == "probabilistic"
    [linked] = desk.sink.of(stream, "PatientLinked")
    assert linked["patient_record"] == janie["patient_record"] == 1
    assert linked["kind"] == "probabilistic" and linked["person_id"] == jane["person_id"]
    assert "first: typo +3.5" in linked["reasons"]
    assert "JANIE" not in str(linked)  # the event carries no patient data


def test_batches_of_a_thousand_are_written_five_at_a_time_and_a_revision_waits_for_none():
    desk = Desk()
    many = [s for n in range(6500) for s in record(n)]
    revision = record(3, dsp={1: "01", 9: "60"})  # revises the 4th record of the file
    _, stream = desk.submit(build([(pha(), many + revision + record(7000))]))
    batches = desk.sink.of(stream, "DispensationsRecorded")
    assert [len(b["records"]) for b in batches] == [1000] * 6 + [500, 1]
    recorded = [kinds.count("DispensationsRecorded") for kinds in desk.sink.appends]
    assert recorded == [0, 5, 2, 0, 1]  # received; 5; 2 before the revision; it; 1 and end
    assert desk.sink.kinds(stream)[-3:] == [
        "DispensationRevised",
        "DispensationsRecorded",
        "SubmissionAccepted",
    ]
    assert len(desk.memory.known) == 6501  # every key remembered, once


def marijuana(n: int, card: str = "MM-1001", **over) -> list[list[str]]:
    """A dispensary's record: DSP07 MM, a product code, grams, the card in PAT03."""
    return record(
        n,
        pat={2: "99", 3: card, **over.get("pat", {})},
        dsp={7: "MM", 8: "CT-FLOWER-35", 9: "3.5", 11: "03", **over.get("dsp", {})},
    )


def test_a_dispensarys_marijuana_records_are_kept_apart_with_the_card_number():
    desk = Desk()
    oxycodone = record(1, dsp={8: OXYCODONE_10MG})
    outcome, stream = desk.submit(build([(pha(), oxycodone + marijuana(2, card="mm-1001"))]))

    assert desk.errors(outcome) == []
    assert [r["dispensation"]["prescription_number"] for r in desk.recorded(stream)] == ["RX1001"]
    (batch,) = desk.sink.of(stream, "MarijuanaDispensationsRecorded")
    (entry,) = batch["records"]
    assert entry["card_number"] == "MM-1001"  # as the registry writes it
    assert entry["dispensation"]["ndc"] == "CT-FLOWER-35"
    assert entry["patient"]["last_name"] == "DOE" and entry["certifier"]["last_name"] == "SMITH"
    assert "person_id" not in entry and "drug" not in entry  # not in the patient index
    counts = desk.sink.of(stream, "SubmissionAccepted")[0]
    assert (counts["recorded"], counts["marijuana"], counts["unknown_ndc"]) == (2, 1, 0)


def test_a_marijuana_record_without_a_card_number_is_refused_naming_the_field():
    desk = Desk()
    no_qualifier = marijuana(1, pat={2: "06"})
    no_card = marijuana(2, pat={3: "MM 1001!"})
    outcome, stream = desk.submit(build([(pha(), no_qualifier + no_card + marijuana(3))]))

    assert [(e["segment"], e["field"]) for e in desk.errors(outcome)] == [
        ("PAT", "PAT02"),
        ("PAT", "PAT03"),
    ]
    assert (
        "DSP07 MM" in desk.errors(outcome)[0]["message"]
        and "card" in desk.errors(outcome)[1]["message"]
    )
    (batch,) = desk.sink.of(stream, "MarijuanaDispensationsRecorded")
    assert [r["dispensation"]["prescription_number"] for r in batch["records"]] == ["RX1003"]


def test_a_marijuana_record_is_revised_and_voided_as_its_own_kind():
    desk = Desk()
    _, first = desk.submit(build([(pha(), marijuana(1) + marijuana(2) + record(3))]))
    (batch,) = desk.sink.of(first, "MarijuanaDispensationsRecorded")
    ids = {r["dispensation"]["prescription_number"]: r["dispensation_id"] for r in batch["records"]}

    revise = marijuana(1, dsp={1: "01", 9: "7"})
    void = marijuana(2, dsp={1: "02"})
    as_marijuana = marijuana(3, dsp={1: "02"})  # a pharmacy's dispensation is not a dispensary's
    outcome, second = desk.submit(build([(pha(), revise + void + as_marijuana)]))

    (revised,) = desk.sink.of(second, "MarijuanaDispensationRevised")
    assert revised["dispensation_id"] == ids["RX1001"]
    assert revised["record"]["dispensation"]["quantity"] == "7"
    (voided,) = desk.sink.of(second, "MarijuanaDispensationVoided")
    assert voided["dispensation_id"] == ids["RX1002"]
    assert "DispensationVoided" not in desk.sink.kinds(second)
    assert [e["field"] for e in desk.errors(outcome)] == ["DSP01"]
    counts = desk.sink.of(second, "SubmissionAccepted")[0]
    assert (counts["revised"], counts["voided"], counts["marijuana"]) == (1, 1, 2)


def test_who_picked_up_a_marijuana_dispensation_is_kept_and_a_pharmacys_air_is_not():
    desk = Desk()
    caregiver = air({4: "", 5: "", 6: "04", 7: "OKAFOR", 8: "GRACE"})
    picked_up = marijuana(1)[:2] + [pre(), caregiver]  # PAT, DSP, PRE, AIR
    pharmacy = record(2, dsp={8: OXYCODONE_10MG})[:3] + [caregiver]
    outcome, stream = desk.submit(build([(pha(), picked_up + pharmacy)]))

    assert desk.errors(outcome) == []
    (batch,) = desk.sink.of(stream, "MarijuanaDispensationsRecorded")
    assert batch["records"][0]["dispensation"]["picked_up_by"] == {
        "person_relationship": "04",
        "person_last_name": "OKAFOR",
        "person_first_name": "GRACE",
    }
    (filled,) = desk.recorded(stream)
    assert "picked_up_by" not in filled["dispensation"]


class Refusing(FakeLedger):
    """Stores chunks until the ``fail_at``-th, which fails as a full disk would."""

    def __init__(self, fail_at: int) -> None:
        super().__init__()
        self.fail_at = fail_at

    def store(self, stream: str, chunk: Chunk) -> None:
        if len(self.appends) + 1 == self.fail_at:
            self.fail_at = 0
            raise OSError(28, "No space left on device")
        super().store(stream, chunk)


def mixed_file(file_type: str = "P") -> bytes:
    """New records, a bad one, one sent twice, revisions and voids, across several chunks."""
    body = [s for n in range(5200) for s in record(n, pat={7: f"DOE{'ABCDEFG'[n % 7]}"})]
    body += record(7, dsp={8: "12345"})  # a bad NDC
    body += record(9)  # already in the file
    body += record(11, dsp={1: "01", 9: "60"}) + record(12, dsp={1: "02"})
    body += [s for n in range(5300, 6400) for s in record(n)]
    body += record(5350, dsp={1: "01", 9: "90"}) + record(9999, dsp={1: "02"})
    return build([(pha(), body)], file_type=file_type)


def ingest_until_done(data: bytes, ledger: FakeLedger) -> tuple[str, list]:
    """Send the file until it is accepted, as a pharmacy resending it would: each time
    with the index rebuilt from what was stored, from the progress stored last."""
    start = Progress(str(uuid.uuid4()), "0" * 64, RECEIVED_AT)
    received = {"submission_id": start.submission_id, "sha256": "0" * 64, "filename": "t.dat",
                "size": len(data), "channel": "bulk"}  # fmt: skip
    first: tuple[str, dict] = ("SubmissionReceived", received)
    while True:
        index = PatientIndex()
        for _, patient, person in ledger.patients:
            index.add(patient, person)
        try:
            Intake(ledger, reference(), index).ingest(lambda: io.BytesIO(data), start, first)
            return submission_stream(start.submission_id), ledger.errors[start.submission_id]
        except OSError:
            if ledger.progress:
                start = ledger.progress[-1]
                first = ("SubmissionResumed", {"records": start.counts["records"]})


@pytest.mark.parametrize("fail_at", [1, 2, 3, 4, 5, 6])
def test_a_file_stopped_at_any_chunk_and_sent_again_is_stored_as_if_sent_once(fail_at):
    data = mixed_file()
    clean = FakeLedger()
    stream, errors = ingest_until_done(data, clean)
    stopped = Refusing(fail_at)
    resent, resent_errors = ingest_until_done(data, stopped)

    def recorded(ledger: FakeLedger, stream: str) -> list[str]:
        kinds = ("DispensationsRecorded", "DispensationRevised", "DispensationVoided")
        return sorted(
            f"{kind}:{r['dispensation']['prescription_number'] if 'dispensation' in r else ''}"
            for kind in kinds
            for data in ledger.of(stream, kind)
            for r in data.get("records", [data.get("record", {})])
        )

    assert recorded(stopped, resent) == recorded(clean, stream)
    assert stopped.of(resent, "SubmissionAccepted") == clean.of(stream, "SubmissionAccepted")
    assert sorted(stopped.known) == sorted(clean.known)
    assert len(stopped.patients) == len(clean.patients)
    line_and_field = sorted((e["line"], e["field"]) for e in errors)
    assert sorted((e["line"], e["field"]) for e in resent_errors) == line_and_field


def test_a_test_file_is_checked_against_what_is_recorded_and_records_nothing():
    """TH07 = T: every check a production file gets, and its counts as would-haves, but no
    dispensation event, no key, no patient; the same records sent later are new."""
    desk = Desk()
    desk.submit(build([(pha(), record(5))]))  # recorded before: RX1005
    known, patients = dict(desk.memory.known), list(desk.memory.patients)
    bad = record(2, dsp={8: "12345"})  # an NDC of 5 digits
    revise = record(5, dsp={1: "01", 9: "60"})  # of the record sent before
    void = record(1, dsp={1: "02"})  # of the first record of this very file
    body = record(1) + bad + record(5) + revise + void + record(1) + record(3, dsp={1: "01"})
    outcome, stream = desk.submit(build([(pha(), body)], file_type="T"))

    assert outcome.status == "tested" and outcome.test_file
    assert desk.sink.kinds(stream) == ["SubmissionReceived", "SubmissionTested"]
    (tested,) = desk.sink.of(stream, "SubmissionTested")
    assert (tested["records"], tested["recorded"], tested["revised"], tested["voided"]) == (
        7, 1, 1, 1,
    )  # fmt: skip
    assert tested["rejected"] == 4 and tested["version"] == "4.2"
    fields = [e["field"] for e in desk.errors(outcome)]
    assert fields == ["DSP08", "DSP02", "DSP02", "DSP01"]  # bad NDC, sent before, twice, none
    assert desk.memory.known == known and desk.memory.patients == patients

    outcome, stream = desk.submit(build([(pha(), record(1) + record(3))]))
    assert outcome.status == "accepted" and desk.errors(outcome) == []
    assert len(desk.recorded(stream)) == 2  # new: the test file recorded nothing


def test_a_test_file_with_a_structural_error_is_rejected_as_a_test():
    desk = Desk()
    outcome, stream = desk.submit(build(tt_delta=1, file_type="T"))
    assert (outcome.status, outcome.test_file) == ("rejected", True)
    assert desk.sink.kinds(stream) == ["SubmissionReceived", "SubmissionRejected"]
    assert desk.sink.of(stream, "SubmissionRejected")[0]["test_file"] is True
    _, production = desk.submit(build(tt_delta=1))
    assert desk.sink.of(production, "SubmissionRejected")[0]["test_file"] is False


@pytest.mark.parametrize("fail_at", [1, 2, 3, 4])
def test_a_test_file_stopped_at_any_chunk_and_sent_again_reports_as_if_sent_once(fail_at):
    data = mixed_file(file_type="T")
    clean = FakeLedger()
    stream, errors = ingest_until_done(data, clean)
    stopped = Refusing(fail_at)
    resent, resent_errors = ingest_until_done(data, stopped)

    assert len(clean.appends) >= 4, "the file is long enough to stop at every chunk"
    for ledger, s in ((clean, stream), (stopped, resent)):
        assert set(ledger.kinds(s)) <= {"SubmissionReceived", "SubmissionResumed",
                                        "SubmissionTested"}  # fmt: skip
        assert (ledger.known, ledger.patients) == ({}, [])
    assert stopped.of(resent, "SubmissionTested") == clean.of(stream, "SubmissionTested")
    assert clean.of(stream, "SubmissionTested")[0]["rejected"] == 3
    line_and_field = sorted((e["line"], e["field"]) for e in errors)
    assert sorted((e["line"], e["field"]) for e in resent_errors) == line_and_field


def test_outcomes_stored_before_test_files_were_told_apart_read_as_production_files():
    registry = submissions_events()
    for kind in ("SubmissionRejected", "SubmissionInterrupted"):
        data, version = registry.upcast(kind, 1, {"reason": "stored before issue 24"})
        assert (data["test_file"], version) == (False, 2)


@FUZZ
@given(
    st.one_of(st.binary(max_size=400), mutated(), mutated_bytes()),
    st.sampled_from(["T", "P"]),
)
def test_fuzz_any_file_ends_with_an_outcome_and_a_refused_or_test_file_records_nothing(
    data, production
):
    """For any input the intake ends with an outcome and its whole report, never an
    exception; a refused file and a test file (TH07 T) store no record, key or patient."""
    if production == "T":
        data = data.replace(b"*P**~", b"*T**~", 1)  # TH07: the layouts' header says P
    desk = Desk()
    outcome, stream = desk.submit(data)
    event(outcome.status)  # --hypothesis-show-statistics: each outcome is reached
    assert outcome.status in ("accepted", "rejected", "tested")
    assert len(desk.memory.errors.get(outcome.submission_id, [])) == outcome.error_count
    kinds = desk.sink.kinds(stream)
    ended = {"accepted": "SubmissionAccepted", "rejected": "SubmissionRejected"}
    assert (kinds[0], kinds[-1]) == (
        "SubmissionReceived",
        ended.get(outcome.status, "SubmissionTested"),
    )
    if outcome.status in ("rejected", "tested"):
        assert not desk.recorded(stream) and not desk.memory.known and not desk.memory.patients
