"""The audit trail on SQLite and PostgreSQL: hash chain, serialized appends, append-only tables, verify."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from radscholar_core.db import create_engine_for
from radscholar_core.errors import InvalidArgument
from radscholar_gateway.audit import GENESIS_HASH, AuditLog, AuditRecord, Outcome, Problem, ProblemKind
from radscholar_gateway.audit.__main__ import main as audit_cli

START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class TickingClock:
    """One minute later at each call."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


@pytest.fixture
def audit(sessions: sessionmaker[Session]) -> AuditLog:
    return AuditLog(sessions, TickingClock())


@pytest.fixture
def engine(migrated_url: str) -> Iterator[Engine]:
    engine = create_engine_for(migrated_url)
    yield engine
    engine.dispose()


def fill(audit: AuditLog, count: int) -> list[AuditRecord]:
    return [
        audit.append(
            "dicom.query",
            outcome=Outcome.SUCCESS,
            status_code=200,
            actor_id="u-1",
            actor_username="alice",
            via="password",
            resource=f"study:1.2.{n}",
            client_address="10.0.0.1",
            request_id=f"req-{n}",
        )
        for n in range(count)
    ]


def as_database_admin(engine: Engine, statement: str) -> None:
    """What someone with full database access could do: switch the guard off, change the table."""
    with engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("DROP TRIGGER IF EXISTS audit_records_no_update")
            connection.exec_driver_sql("DROP TRIGGER IF EXISTS audit_records_no_delete")
            connection.exec_driver_sql(statement)
        else:
            connection.exec_driver_sql("ALTER TABLE audit_records DISABLE TRIGGER ALL")
            connection.exec_driver_sql(statement)
            connection.exec_driver_sql("ALTER TABLE audit_records ENABLE TRIGGER ALL")


def test_records_form_a_hash_chain(audit: AuditLog) -> None:
    first = audit.append("auth.login", outcome="failed", status_code=401, client_address="10.0.0.7")
    assert (first.seq, first.prev_hash, first.actor_username, first.actor_id, first.via) == (
        1,
        GENESIS_HASH,
        "anonymous",
        None,
        "none",
    )
    second = audit.append(
        "projects.create",
        outcome=Outcome.SUCCESS,
        status_code=201,
        actor_id="u-1",
        actor_username="alice",
        via="api_key",
        resource="project:p-1",
        request_id="r-1",
        details={"name": "Lung CT"},
    )
    assert second.seq == 2 and second.prev_hash == first.hash
    assert second.hash == second.computed_hash() != replace(second, resource="project:p-2").computed_hash()
    assert audit.head() == (2, second.hash)
    assert audit.query().records == [second, first]  # stored exactly as hashed
    report = audit.verify()
    assert report.ok and report.checked == 2 and report.problems == []


def test_client_chosen_fields_are_clipped_not_refused(audit: AuditLog) -> None:
    record = audit.append(
        "dicom.retrieve",
        outcome="denied",
        status_code=403,
        request_id="r" * 1000,
        details={f"k{n}": "v" * 5000 for n in range(100)},
    )
    assert len(record.request_id) == 128 and len(record.details) == 32
    assert all(len(value) == 1000 for value in record.details.values())
    assert audit.verify().ok
    with pytest.raises(ValueError):
        audit.append("dicom.query", outcome="maybe", status_code=200)


def test_concurrent_appends_never_fork_the_chain(audit: AuditLog) -> None:
    threads, per_thread = 8, 15
    barrier = threading.Barrier(threads)
    errors: list[Exception] = []

    def append_some(worker: int) -> None:
        barrier.wait()
        try:
            for n in range(per_thread):
                audit.append("dicom.query", outcome="success", status_code=200, resource=f"study:{worker}.{n}")
        except Exception as error:  # surfaced by the assertion below
            errors.append(error)

    workers = [threading.Thread(target=append_some, args=(w,)) for w in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    records = audit.query(page_size=1000).records
    assert [r.seq for r in records] == list(range(threads * per_thread, 0, -1))
    report = audit.verify()
    assert report.ok and report.checked == threads * per_thread


def test_the_database_refuses_to_change_or_remove_records(audit: AuditLog, engine: Engine) -> None:
    fill(audit, 2)
    for statement in [
        "UPDATE audit_records SET resource = 'study:forged' WHERE seq = 1",
        "DELETE FROM audit_records WHERE seq = 2",
        "DELETE FROM audit_records",
    ]:
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.exec_driver_sql(statement)
    if engine.dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.exec_driver_sql("TRUNCATE audit_records")
    assert audit.verify().ok and audit.verify().checked == 2


def test_verify_finds_an_edited_record(audit: AuditLog, engine: Engine) -> None:
    fill(audit, 5)
    as_database_admin(engine, "UPDATE audit_records SET resource = 'study:innocent' WHERE seq = 3")
    report = audit.verify()
    assert not report.ok and report.checked == 5
    assert [(p.seq, p.kind) for p in report.problems] == [(3, ProblemKind.EDITED)]


def test_verify_finds_a_record_replaced_with_a_fresh_hash(audit: AuditLog, engine: Engine) -> None:
    records = fill(audit, 5)
    forged = replace(records[2], actor_username="mallory")
    forge = f"UPDATE audit_records SET actor_username = 'mallory', hash = '{forged.computed_hash()}'"
    as_database_admin(engine, f"{forge} WHERE seq = 3")
    assert [(p.seq, p.kind) for p in audit.verify().problems] == [(4, ProblemKind.BROKEN_LINK)]


def test_verify_finds_a_removed_record(audit: AuditLog, engine: Engine) -> None:
    fill(audit, 5)
    as_database_admin(engine, "DELETE FROM audit_records WHERE seq = 3")
    report = audit.verify()
    assert report.problems == [Problem(3, ProblemKind.MISSING, "record 3 is missing before record 4")]


def test_verify_finds_a_removed_tail(audit: AuditLog, engine: Engine) -> None:
    fill(audit, 5)
    as_database_admin(engine, "DELETE FROM audit_records WHERE seq >= 4")
    report = audit.verify()
    assert report.checked == 3
    assert [(p.seq, p.kind) for p in report.problems] == [(4, ProblemKind.TRUNCATED)]
    assert "4 to 5" in report.problems[0].message


def test_verify_of_an_empty_trail(audit: AuditLog) -> None:
    report = audit.verify()
    assert report.ok and report.checked == 0


def test_query_filters_newest_first(audit: AuditLog) -> None:
    fill(audit, 3)  # at 12:01, 12:02, 12:03
    audit.append("projects.create", outcome="success", status_code=201, actor_username="bob", resource="project:p-1")
    audit.append("projects.delete", outcome="denied", status_code=403, actor_id="u-2", resource="project:p_1")
    audit.append("users.reset_password", outcome="success", status_code=204, resource="user:u-1")

    def seqs(**filters: object) -> list[int]:
        return [r.seq for r in audit.query(**filters).records]  # type: ignore[arg-type]

    assert seqs() == [6, 5, 4, 3, 2, 1]
    assert seqs(actor="alice") == [3, 2, 1]
    assert seqs(actor="u-2") == [5]
    assert seqs(action="projects.") == [5, 4]
    assert seqs(action="dicom") == [3, 2, 1]
    assert seqs(resource="project:p_") == [5]  # "_" is no wildcard
    assert seqs(resource="study:1.2.1") == [2]
    assert seqs(since=START + timedelta(minutes=2), until=START + timedelta(minutes=4)) == [3, 2]


def test_query_pages(audit: AuditLog) -> None:
    fill(audit, 5)
    first = audit.query(page_size=2)
    second = audit.query(page_size=2, page_token=first.next_page_token)
    third = audit.query(page_size=2, page_token=second.next_page_token)
    assert [r.seq for r in first.records + second.records + third.records] == [5, 4, 3, 2, 1]
    assert third.next_page_token == ""
    exact = audit.query(page_size=5)
    assert len(exact.records) == 5 and exact.next_page_token == ""
    with pytest.raises(InvalidArgument):
        audit.query(page_token="forged")


def test_verify_command_exits_1_when_the_chain_is_broken(
    audit: AuditLog, engine: Engine, migrated_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(audit, 4)
    assert audit_cli(["verify", "--database-url", migrated_url]) == 0
    assert "intact: 4 records" in capsys.readouterr().out
    as_database_admin(engine, "UPDATE audit_records SET status_code = 403, outcome = 'denied' WHERE seq = 2")
    assert audit_cli(["verify", "--database-url", migrated_url]) == 1
    out = capsys.readouterr().out
    assert "BROKEN" in out and "seq 2: edited" in out


def test_verify_runs_as_a_module(audit: AuditLog, migrated_url: str) -> None:
    fill(audit, 2)
    command = [sys.executable, "-m", "radscholar_gateway.audit", "verify", "--database-url", migrated_url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "intact: 2 records checked" in done.stdout


def test_text_is_unaffected_by_the_database(audit: AuditLog) -> None:
    record = audit.append("dicom.query", outcome="success", status_code=200, details={"query": "Müller* ≥ 1"})
    assert audit.query().records == [record] and audit.verify().ok
