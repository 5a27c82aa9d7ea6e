"""The ``pmp`` command as an operator meets it."""

from __future__ import annotations

import re
import signal
import uuid
from datetime import UTC, datetime
from pathlib import Path

from pmp.config import VARIABLES
from tests.helpers.commands import pmp
from tests.helpers.processes import Process, children_of, python, wait_until
from tests.helpers.stack import free_port

# For a command that must not reach any broker: nothing listens on port 1.
UNREACHABLE = "amqp://guest:s3cret@127.0.0.1:1/nowhere"


def test_pmp_up_says_in_one_line_where_it_looked_for_rabbitmq_and_how_to_start_it(tmp_path):
    result = pmp("up", env={"PMP_AMQP_URI": UNREACHABLE, "PMP_DATA_DIR": str(tmp_path)})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "amqp://guest:***@127.0.0.1:1/nowhere" in lines[0]
    assert "s3cret" not in lines[0]
    assert "rabbitmq-server -detached" in lines[0]


def test_pmp_service_refuses_to_start_without_rabbitmq_in_one_line(tmp_path):
    result = pmp(
        "service", "identity", env={"PMP_AMQP_URI": UNREACHABLE, "PMP_DATA_DIR": str(tmp_path)}
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].startswith("RabbitMQ is not reachable at")


def test_pmp_up_stops_every_process_cleanly_on_ctrl_c(broker, tmp_path):
    amqp_uri = broker.create_vhost()
    env = {
        "PMP_AMQP_URI": amqp_uri,
        "PMP_DATA_DIR": str(tmp_path / "data"),
        "PMP_GATEWAY_ADDRESS": f"127.0.0.1:{free_port()}",
    }
    up = Process("pmp-up", python("-m", "pmp", "up"), env, tmp_path)
    try:
        wait_until(lambda: "CPMRS is running at" in up.log(), 90, "pmp up is ready", watch=[up])
        children = children_of(up.pid)
        assert len(children) == 8  # seven services and the gateway
        up.popen.send_signal(signal.SIGINT)
        assert up.wait(timeout=60) == 0
        assert "pmp up: stopped" in up.log()
        assert not [pid for pid in children if Path(f"/proc/{pid}").exists()], "orphans left"
        assert "Traceback" not in up.log()
    finally:
        up.stop()
        broker.delete_vhost(amqp_uri)


def nowhere(tmp_path: Path) -> dict[str, str]:
    """The settings of a command that needs neither a broker nor data."""
    return {"PMP_AMQP_URI": UNREACHABLE, "PMP_DATA_DIR": str(tmp_path)}


def test_pmp_config_lists_every_variable_with_its_default(tmp_path):
    result = pmp("config", env=nowhere(tmp_path))
    assert result.returncode == 0
    for variable in VARIABLES:
        assert f"`{variable.name}`" in result.stdout


def test_rebuilding_an_unknown_projection_names_the_ones_there_are(tmp_path):
    result = pmp("projections", "rebuild", "query.nothing", env=nowhere(tmp_path))
    assert result.returncode == 2
    assert "query.probe_arrivals" in result.stderr


def test_the_readme_table_of_variables_is_what_pmp_config_prints(tmp_path):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert pmp("config", env=nowhere(tmp_path)).stdout.strip() in readme


def test_pmp_ingest_loads_files_reports_each_and_fails_on_a_rejected_one(tmp_path, amqp_uri):
    from tests.helpers.asap import build, pha, record

    good = tmp_path / "week1.dat"
    good.write_bytes(build([(pha(), [s for n in range(1500) for s in record(n)])]))
    broken = tmp_path / "week2.dat"
    broken.write_bytes(build([(pha(), record(1))], tt_delta=2))
    env = {"PMP_DATA_DIR": str(tmp_path / "var"), "PMP_AMQP_URI": amqp_uri}

    loaded = pmp("ingest", str(good), env=env)
    assert loaded.returncode == 0, loaded.stderr
    assert "1,500 recorded" in loaded.stderr

    again = pmp("ingest", str(good), str(broken), env=env)
    assert again.returncode == 1  # one file was rejected
    assert "already received" in again.stderr and "not counted again" in again.stderr
    assert "REJECTED, nothing recorded" in again.stderr

    missing = pmp("ingest", str(tmp_path / "nope.dat"), env=env)
    assert missing.returncode == 2 and "no such file" in missing.stderr


def test_pmp_ingest_prints_the_first_errors_and_writes_the_whole_report_beside_the_file(
    tmp_path, amqp_uri
):
    import csv

    from tests.helpers.asap import build, pha, record

    # 25 records filled on a day that cannot be, and one good one
    bad = [s for n in range(25) for s in record(n, dsp={5: "99991231"})]
    mixed = tmp_path / "week3.dat"
    mixed.write_bytes(build([(pha(), [*bad, *record(99)])]))
    env = {"PMP_DATA_DIR": str(tmp_path / "var"), "PMP_AMQP_URI": amqp_uri}

    loaded = pmp("ingest", str(mixed), env=env)
    assert loaded.returncode == 0, loaded.stderr  # accepted: its good record is kept
    assert "1 recorded" in loaded.stderr and "25 refused" in loaded.stderr
    shown = [line for line in loaded.stderr.splitlines() if "DSP05 '99991231'" in line]
    assert len(shown) == 20, loaded.stderr
    # one line of a file: each error says its segment (TH IS PHA, then PAT DSP PRE each)
    assert [re.match(r"  segment (\d+) \(line 1, byte offset \d+\), ", s)[1] for s in shown] == [
        str(5 + 3 * n) for n in range(20)
    ]
    assert "... and 5 more" in loaded.stderr
    report = tmp_path / "week3.dat.errors.csv"
    assert f"all 25 errors: {report}" in loaded.stderr.replace("\n", "")
    rows = list(csv.DictReader(report.open(newline="")))
    assert len(rows) == 25 and {r["Field"] for r in rows} == {"DSP05"}
    assert list(rows[0]) == ["Segment #", "Line", "Byte offset", "Segment", "Field", "Value",
                             "Message", "Severity"]  # fmt: skip
    assert [r["Segment #"] for r in rows] == [str(5 + 3 * n) for n in range(25)]
    assert all(r["Line"] == "1" and r["Byte offset"].isdigit() for r in rows)

    rejected = tmp_path / "week4.dat"
    rejected.write_bytes(build([(pha(), record(1))], tt_delta=2))
    refused = pmp("ingest", str(rejected), env=env)
    assert refused.returncode == 1 and "REJECTED, nothing recorded" in refused.stderr
    assert "TT02" in refused.stderr and (tmp_path / "week4.dat.errors.csv").is_file()


def test_pmp_ingest_notes_a_name_it_read_as_latin_1(tmp_path, amqp_uri):
    from tests.helpers.asap import build, pha, record

    latin = tmp_path / "latin.dat"
    latin.write_bytes(build([(pha(), record(1, pat={7: "MUNOZ"}))]).replace(b"MUNOZ", b"MU\xd1OZ"))
    env = {"PMP_DATA_DIR": str(tmp_path / "var"), "PMP_AMQP_URI": amqp_uri}
    loaded = pmp("ingest", str(latin), env=env)
    assert loaded.returncode == 0, loaded.stderr
    assert "1 recorded" in loaded.stderr
    assert "note: segment 4 (line 1, byte offset" in loaded.stderr
    assert "PAT07 'MUÑOZ': PAT07 is not UTF-8 text: it was read as Latin-1" in loaded.stderr
    said = loaded.stderr.replace("\n", "")
    assert f"all 0 errors and 1 note: {tmp_path / 'latin.dat.errors.csv'}" in said


def test_pmp_ingest_checks_a_test_file_prints_its_report_and_records_nothing(tmp_path, amqp_uri):
    from tests.helpers.asap import build, pha, record

    trial = tmp_path / "trial.dat"
    trial.write_bytes(build([(pha(), record(1) + record(2, dsp={8: "12345"}))], file_type="T"))
    env = {"PMP_DATA_DIR": str(tmp_path / "var"), "PMP_AMQP_URI": amqp_uri}

    checked = pmp("ingest", str(trial), env=env)
    assert checked.returncode == 0, checked.stderr
    said = checked.stderr.replace("\n", "")
    expected = "test file: 1 record would have been accepted, 1 refused; nothing was recorded"
    assert expected in said and "DSP08 '12345'" in said
    assert _recorded_dispensations(tmp_path / "var") == (0, 1)

    again = pmp("ingest", str(trial), env=env)
    assert "test file already checked" in again.stderr.replace("\n", "")


def _recorded_dispensations(data_dir: Path) -> tuple[int, int]:
    """(dispensations recorded, files received) in the embedded submissions store."""
    import sqlalchemy as sa

    from pmp.db import open_sqlite
    from pmp.eventstore import events

    db = open_sqlite(data_dir / "submissions.sqlite")
    try:
        with db.read() as conn:
            rows = conn.execute(sa.select(events.c.type, events.c.data)).all()
    finally:
        db.dispose()
    recorded = sum(len(d["records"]) for t, d in rows if t == "DispensationsRecorded")
    return recorded, sum(t == "SubmissionReceived" for t, _ in rows)


def test_pmp_up_demo_loads_the_small_demo_set_the_first_time_only(broker, tmp_path):
    amqp_uri = broker.create_vhost()
    data = tmp_path / "data"
    env = {
        "PMP_AMQP_URI": amqp_uri,
        "PMP_DATA_DIR": str(data),
        "PMP_GATEWAY_ADDRESS": f"127.0.0.1:{free_port()}",
    }
    lines = []
    try:
        for run in ("first", "second"):
            up = Process(f"pmp-up-{run}", python("-m", "pmp", "up", "--demo"), env, tmp_path)
            try:
                wait_until(lambda up=up: "CPMRS is running at" in up.log(), 90, "ready", watch=[up])
                up.popen.send_signal(signal.SIGINT)
                assert up.wait(timeout=60) == 0
            finally:
                up.stop()
            said = [line for line in up.log().splitlines() if "pmp up: demo data" in line]
            assert len(said) == 1, up.log()
            lines.append(said[0])
            if run == "first":
                first = _recorded_dispensations(data)
    finally:
        broker.delete_vhost(amqp_uri)

    recorded, files = first
    assert recorded > 0 and files > 1
    assert f"demo data loaded: {recorded:,} dispensations of 300 patients from" in lines[0]
    assert (data / "demo-first-run" / "manifest.json").is_file()
    registry = re.search(r"medical marijuana registry: (\d+) cards \(verify (\S+): valid, "
                         r"(\S+): expired\) and (\d+) dispensary purchases", lines[0])  # fmt: skip
    assert registry and registry.group(1) == "6" and int(registry.group(4)) > 6, lines[0]
    assert "not loaded (the submissions store already holds submissions)" in lines[1]
    assert _recorded_dispensations(data) == first  # the second start added nothing


def test_pmp_audit_verify_prints_the_head_hash_or_the_first_broken_entry(tmp_path, amqp_uri):
    from datetime import UTC, datetime

    from pmp.db import open_sqlite
    from pmp.envelope import Metadata, RecordedEvent
    from services.audit import trail

    env = {"PMP_DATA_DIR": str(tmp_path), "PMP_AMQP_URI": amqp_uri}
    missing = pmp("audit", "verify", env=env)
    assert missing.returncode == 1 and "no audit trail here yet" in missing.stdout

    db = open_sqlite(tmp_path / "audit.sqlite")
    db.create(trail.metadata)
    events = [
        RecordedEvent(
            uuid.uuid4(), "account-1", n, n, "PasswordChanged", {"n": n}, 1,
            Metadata(occurred_at=datetime(2026, 11, 1, tzinfo=UTC), actor_id="u-1"),
        )
        for n in (1, 2, 3)
    ]  # fmt: skip
    with db.write() as conn:
        trail.append(conn, "identity", events)
        head = trail.head(conn)
    intact = pmp("audit", "verify", env=env)
    assert intact.returncode == 0, intact.stderr
    assert intact.stdout.splitlines() == [
        f"intact: 3 entries; head hash {head.hash}",
        f"no held heads in {tmp_path / 'audit-heads.txt'}: a deleted tail or a chain rewritten "
        "whole cannot be seen",
    ]

    with db.write() as conn:  # someone with the database file in hand
        conn.exec_driver_sql("DROP TRIGGER audit_entries_no_update")
        conn.execute(
            trail.entries.update()
            .where(trail.entries.c.n == 2)
            .values(body=trail.entries.c.body + " ")
        )
    db.dispose()
    broken = pmp("audit", "verify", env=env)
    assert broken.returncode == 1
    assert broken.stdout.splitlines()[0] == (
        "BROKEN at entry 2: its hash does not match its contents"
    )


def test_pmp_projections_lists_set_aside_events_and_retries_them_itself_when_no_service_runs(
    tmp_path, amqp_uri
):
    """A ticket set aside by a bug since fixed: with no helpdesk service running, ``retry``
    applies it itself; the read model has the ticket and nothing is set aside any more."""
    import sqlalchemy as sa

    from pmp import checkpoints, setaside
    from pmp.config import load_settings
    from pmp.db import open_database
    from pmp.envelope import Metadata, NewEvent
    from pmp.eventstore import EventStore
    from services.helpdesk.projections import TicketList, tickets
    from services.helpdesk.schemas import helpdesk_events
    from services.helpdesk.ticket import Ticket

    env = {"PMP_DATA_DIR": str(tmp_path / "var"), "PMP_AMQP_URI": amqp_uri}
    db = open_database(load_settings(env), "helpdesk")
    store = EventStore(db, helpdesk_events())
    store.create_tables()
    ticket_id = str(uuid.uuid4())
    contact = {"name": "Pat Okafor", "email": "pat@example.org", "phone": "860-555-0100"}
    opened = Ticket.open(ticket_id, "Cannot sign in", "Locked out.", contact)
    store.append(
        f"ticket-{ticket_id}", 0, [NewEvent(k, d, Metadata(datetime.now(UTC))) for k, d in opened]
    )
    [event] = store.read_all(0, 10)
    db.create(checkpoints.metadata)
    db.create(setaside.metadata)
    db.create(TicketList.metadata)
    with db.write() as conn:  # what the projector did when a bug, since fixed, failed on it
        checkpoints.advance(conn, "helpdesk.tickets:helpdesk", 0, event.position)
        setaside.record(conn, "helpdesk.tickets", "helpdesk", event, "RuntimeError: a bug", 3)

    listed = pmp("projections", "set-aside", env=env)
    assert listed.returncode == 0, listed.stderr
    assert f"helpdesk.tickets  helpdesk position {event.position}  event {event.event_id}" in (
        listed.stdout
    )
    assert "TicketOpened" in listed.stdout and "RuntimeError: a bug" in listed.stdout

    refused = pmp("projections", "retry", "helpdesk.tickets", "--event", "x", env=env)
    assert refused.returncode == 2
    assert "--event must be an event id (a UUID), not 'x'" in refused.stdout

    retried = pmp("projections", "retry", "helpdesk.tickets", env=env)
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert "helpdesk.tickets: 1 of 1 applied" in retried.stdout
    with db.read() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(tickets)) == 1
    assert pmp("projections", "set-aside", env=env).stdout.strip() == "No events are set aside."
    assert pmp("projections", "retry", env=env).returncode == 1  # nothing to retry
    db.dispose()
