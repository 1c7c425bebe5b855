"""The audit trail: who did what to which resource, when and from where, as a SHA-256 hash chain.

Each record's hash covers every other field, its ``prev_hash`` included, so changing, removing or
reordering records breaks the chain where it happened; ``AuditLog.verify`` finds the place. The
database itself refuses UPDATE and DELETE on the records (triggers of migration 0001).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, NamedTuple

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from radscholar_core.db import transaction
from radscholar_core.jobs import Clock, utc_now
from radscholar_core.paging import Page
from radscholar_gateway.audit.tables import AuditHeadRow, AuditRecordRow

GENESIS_HASH = "0" * 64
ANONYMOUS = "anonymous"
MAX_DETAILS = 32
MAX_DETAIL_CHARS = 1000
HEAD_ID = 1


class Outcome(StrEnum):
    SUCCESS = "success"
    DENIED = "denied"
    FAILED = "failed"


@dataclass(frozen=True)
class AuditRecord:
    """One entry of the trail; ``hash`` = SHA-256 of the canonical JSON of all the other fields."""

    seq: int
    at: datetime
    actor_id: str | None
    actor_username: str
    via: str
    action: str
    resource: str
    client_address: str
    outcome: str
    status_code: int
    request_id: str
    details: dict[str, str]
    prev_hash: str
    hash: str = ""

    def computed_hash(self) -> str:
        """The hash this record must carry: over every field but ``hash``, in canonical JSON."""
        content: dict[str, Any] = asdict(self)
        del content["hash"]
        content["at"] = self.at.isoformat(timespec="microseconds")
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


class AuditPage(NamedTuple):
    records: list[AuditRecord]
    next_page_token: str


class ProblemKind(StrEnum):
    EDITED = "edited"  # a record's fields no longer match its hash
    MISSING = "missing"  # records are gone from the middle (a gap in seq)
    BROKEN_LINK = "broken_link"  # a record does not chain from the one before (replaced records)
    TRUNCATED = "truncated"  # records are gone from the end (the head names a later record)


@dataclass(frozen=True)
class Problem:
    seq: int
    kind: ProblemKind
    message: str


@dataclass(frozen=True)
class VerificationReport:
    """What ``verify`` found: ``ok`` when every hash and link holds."""

    checked: int
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        if self.ok:
            return f"audit trail intact: {self.checked} records checked"
        lines = [f"audit trail BROKEN: {len(self.problems)} problem(s) in {self.checked} records checked"]
        lines += [f"seq {p.seq}: {p.kind}: {p.message}" for p in self.problems]
        return "\n".join(lines)


def _clip(text: str, limit: int) -> str:
    """Clients choose some fields (request id, details): a record is clipped rather than refused."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _column_limit(column: Any) -> int:
    return int(column.type.length)


def _record(row: AuditRecordRow) -> AuditRecord:
    return AuditRecord(
        seq=row.seq,
        at=row.at,
        actor_id=row.actor_id,
        actor_username=row.actor_username,
        via=row.via,
        action=row.action,
        resource=row.resource,
        client_address=row.client_address,
        outcome=row.outcome,
        status_code=row.status_code,
        request_id=row.request_id,
        details=json.loads(row.details),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def _row(record: AuditRecord) -> AuditRecordRow:
    values = asdict(record)
    values["details"] = json.dumps(record.details, sort_keys=True, ensure_ascii=False)
    return AuditRecordRow(**values)


class AuditLog:
    """Appends to, checks and searches the audit trail. Calls block: use a thread from ``async def``."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock = utc_now) -> None:
        self._sessions = sessions
        self._clock = clock

    def append(
        self,
        action: str,
        *,
        outcome: Outcome | str,
        status_code: int,
        actor_id: str | None = None,
        actor_username: str | None = None,
        via: str = "none",
        resource: str = "",
        client_address: str = "",
        request_id: str = "",
        details: Mapping[str, str] | None = None,
    ) -> AuditRecord:
        """Records one action (e.g. "dicom.query" on "study:1.2.3") as the next link of the chain."""
        c = AuditRecordRow
        clipped = {
            _clip(str(key), 64): _clip(str(value), MAX_DETAIL_CHARS)
            for key, value in list((details or {}).items())[:MAX_DETAILS]
        }
        with transaction(self._sessions) as session:
            # The UPDATE takes the head row's lock first (a row lock on PostgreSQL, the database's
            # write lock on SQLite), so appends run one at a time: no forked chain, no reused seq.
            seq, prev_hash = session.execute(
                update(AuditHeadRow)
                .where(AuditHeadRow.id == HEAD_ID)
                .values(last_seq=AuditHeadRow.last_seq + 1)
                .returning(AuditHeadRow.last_seq, AuditHeadRow.last_hash)
            ).one()
            record = AuditRecord(
                seq=seq,
                at=self._clock().astimezone(UTC),
                actor_id=actor_id,
                actor_username=_clip(actor_username or ANONYMOUS, _column_limit(c.actor_username)),
                via=_clip(str(via), _column_limit(c.via)),
                action=_clip(action, _column_limit(c.action)),
                resource=_clip(resource, _column_limit(c.resource)),
                client_address=_clip(client_address, _column_limit(c.client_address)),
                outcome=str(Outcome(outcome)),
                status_code=status_code,
                request_id=_clip(request_id, _column_limit(c.request_id)),
                details=clipped,
                prev_hash=prev_hash,
            )
            record = replace(record, hash=record.computed_hash())
            session.add(_row(record))
            session.execute(update(AuditHeadRow).where(AuditHeadRow.id == HEAD_ID).values(last_hash=record.hash))
        return record

    def head(self) -> tuple[int, str]:
        """The last seq and hash: kept somewhere else now and then, they expose even a rewritten trail."""
        with self._sessions() as session:
            head = session.get_one(AuditHeadRow, HEAD_ID)
            return head.last_seq, head.last_hash

    def verify(self) -> VerificationReport:
        """Recomputes every hash and link up to the head, and reports each place the chain breaks."""
        problems: list[Problem] = []
        checked, expected_seq, expected_prev = 0, 1, GENESIS_HASH
        with self._sessions() as session:
            # The head first: every record it names was committed with it, and later appends are
            # left out, so a concurrent append never looks like damage.
            head = session.get_one(AuditHeadRow, HEAD_ID)
            for row in self._rows_up_to(session, head.last_seq):
                checked += 1
                problems += _check(row, expected_seq, expected_prev)
                expected_seq, expected_prev = row.seq + 1, row.hash
        if expected_seq <= head.last_seq:
            problems.append(
                Problem(
                    expected_seq,
                    ProblemKind.TRUNCATED,
                    f"records {expected_seq} to {head.last_seq} are missing from the end",
                )
            )
        elif head.last_hash != expected_prev:
            problems.append(
                Problem(
                    head.last_seq,
                    ProblemKind.BROKEN_LINK,
                    f"record {head.last_seq} is not the one the head names (changed or replaced)",
                )
            )
        return VerificationReport(checked, problems)

    def query(
        self,
        *,
        actor: str | None = None,
        resource: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        page_size: int = 0,
        page_token: str = "",
    ) -> AuditPage:
        """Records newest first, by actor (id or username), resource and action prefix, and [since, until).

        Records only ever arrive at the front, so a later page may repeat a record but never skips one.
        """
        page = Page.of(page_size, page_token)
        c = AuditRecordRow
        statement = select(c).order_by(c.seq.desc())
        if actor:
            statement = statement.where(or_(c.actor_id == actor, c.actor_username == actor))
        if resource:
            statement = statement.where(c.resource.startswith(resource, autoescape=True))
        if action:
            statement = statement.where(c.action.startswith(action, autoescape=True))
        if since:
            statement = statement.where(c.at >= since)
        if until:
            statement = statement.where(c.at < until)
        with self._sessions() as session:
            rows = session.scalars(statement.offset(page.offset).limit(page.limit + 1)).all()
        records = [_record(row) for row in rows[: page.limit]]
        # The one row beyond the page says whether another follows, without counting the whole trail.
        return AuditPage(records, page.next_token(len(records), page.offset + len(rows)))

    @staticmethod
    def _rows_up_to(session: Session, last_seq: int) -> Iterator[AuditRecordRow]:
        statement = (
            select(AuditRecordRow)
            .where(AuditRecordRow.seq <= last_seq)
            .order_by(AuditRecordRow.seq)
            .execution_options(yield_per=1000)
        )
        yield from session.scalars(statement)


def _check(row: AuditRecordRow, expected_seq: int, expected_prev: str) -> list[Problem]:
    """What is wrong with one record, given the seq and hash the chain expects next."""
    problems = []
    if row.seq != expected_seq:
        gone = (
            f"record {expected_seq} is"
            if row.seq == expected_seq + 1
            else f"records {expected_seq} to {row.seq - 1} are"
        )
        problems.append(Problem(expected_seq, ProblemKind.MISSING, f"{gone} missing before record {row.seq}"))
    elif row.prev_hash != expected_prev:
        problems.append(
            Problem(row.seq, ProblemKind.BROKEN_LINK, f"does not chain from record {row.seq - 1} (replaced)")
        )
    try:
        intact = _record(row).computed_hash() == row.hash
    except (ValueError, TypeError):  # details no longer JSON
        intact = False
    if not intact:
        problems.append(Problem(row.seq, ProblemKind.EDITED, "its fields no longer match its hash"))
    return problems
