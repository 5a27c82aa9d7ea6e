"""Loading a registry file against a fake store: good lines stored, bad ones reported by line
and field, the same file twice records nothing new; verifying what was loaded."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest

from pmp.eventstore import ConcurrencyError
from services.query.mm_registry import FileRefused, RegistryImport
from services.query.schemas import query_events

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "mm-registry-sample.csv"
TODAY = date(2026, 12, 4)


class FakeStore:
    """Streams of (type, data), with the store's expected-version rule and schemas."""

    def __init__(self) -> None:
        self.streams: dict[str, list[SimpleNamespace]] = {}
        self.registry = query_events()

    def read_stream(self, stream: str, after_version: int = 0) -> list[SimpleNamespace]:
        return self.streams.get(stream, [])[after_version:]

    def append(self, stream: str, expected: int | None, changes) -> int:
        events = self.streams.setdefault(stream, [])
        if expected is not None and expected != len(events):
            raise ConcurrencyError(stream, expected, len(events))
        for kind, data in changes:
            self.registry.validate(kind, data)
            events.append(SimpleNamespace(type=kind, data=data))
        return len(events)

    def types(self) -> list[str]:
        return [e.type for events in self.streams.values() for e in events]


def load(store: FakeStore, text: str | None = None) -> dict:
    content = text if text is not None else SAMPLE.read_text()
    run = RegistryImport(store, store.append, "registry.csv", TODAY)
    seen: list[int] = []
    outcome = run.run(content.splitlines(keepends=True), progress=seen.append)
    assert seen == list(range(1, outcome["counts"]["lines"] + 1))
    return outcome


def test_the_sample_file_stores_its_good_lines_and_reports_each_bad_one():
    store = FakeStore()
    outcome = load(store)
    assert outcome["counts"] == {
        "lines": 7, "registered": 3, "renewed": 0, "revoked": 1, "corrected": 0,
        "unchanged": 0, "refused": 4,
    }  # fmt: skip
    assert [(e["line"], e["field"]) for e in outcome["errors"]] == [
        (5, "birth_date"),
        (6, "zip"),
        (7, "card_number"),
        (8, "practitioner"),
    ]
    assert sorted(store.types()) == ["CardRegistered"] * 3 + ["CardRevoked"]


def test_loading_the_same_file_again_records_nothing_new():
    store = FakeStore()
    load(store)
    again = load(store)
    assert again["counts"]["unchanged"] == 3 and again["counts"]["registered"] == 0
    assert len(store.types()) == 4


def test_a_later_file_renews_and_revokes():
    store = FakeStore()
    load(store)
    lines = SAMPLE.read_text().splitlines()
    renewed = lines[2].replace("2024-01-15,2025-01-14,expired", "2026-11-01,2027-10-31,active")
    revoked = lines[1].replace(",active", ",revoked")
    outcome = load(store, "\n".join([lines[0], renewed, revoked]))
    assert outcome["counts"]["renewed"] == 1 and outcome["counts"]["revoked"] == 1
    assert outcome["errors"] == []


def test_a_row_the_card_history_refuses_is_reported_with_its_line():
    store = FakeStore()
    load(store)
    lines = SAMPLE.read_text().splitlines()
    reinstated = lines[3].replace(",revoked", ",active")
    outcome = load(store, "\n".join([lines[0], reinstated]))
    assert outcome["errors"] == [
        {"line": 2, "field": "status", "value": "active",
         "message": "Card MM-100003 was revoked; only a renewal (a later issue_date) "
                    "reinstates it."}
    ]  # fmt: skip


def test_a_file_with_the_wrong_header_is_refused_whole():
    with pytest.raises(FileRefused):
        load(FakeStore(), "card,name\nMM-1,x\n")
