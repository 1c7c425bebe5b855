"""Jobs: long work (training, batch extraction, batch inference) as a persisted state machine.

A job's id is also its Ray ``submission_id``, so a retried submission never runs twice. Jobs live in
the owning service's database (tables ``jobs`` and ``job_logs`` on ``jobs_metadata``, created by the
service's own migration with ``create_job_tables(op)``), so they survive a restart. ``JobStore``
calls block: from ``async def`` use ``asyncio.to_thread``. A server-streaming RPC follows a job
without polling, through the ``JobEvents`` the store notifies::

    with events.subscribe(job_id) as changes:
        job = await asyncio.to_thread(store.get, job_id)
        yield job
        while not job.state.is_terminal:
            await changes.wait()  # or: async with asyncio.timeout(30): ...
            job = await asyncio.to_thread(store.get, job_id)
            yield job
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
import threading
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Connection,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Row,
    String,
    Table,
    Text,
    and_,
    delete,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from radscholar_core.db import NAMING_CONVENTION, UTCDateTime
from radscholar_core.errors import AlreadyExists, Conflict, FailedPrecondition, InvalidArgument, NotFound

Clock = Callable[[], datetime]
MAX_LOG_LINES = 500  # per job; older lines are dropped
MAX_LOG_MESSAGE_CHARS = 4000
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
_JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_JOB_KIND = re.compile(r"[A-Za-z][A-Za-z0-9._-]{0,127}")


def utc_now() -> datetime:
    """The default clock."""
    return datetime.now(UTC)


class JobState(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_terminal(self) -> bool:
        """A terminal state is final: no transition leaves it."""
        return not TRANSITIONS[self]


TRANSITIONS: Mapping[JobState, frozenset[JobState]] = MappingProxyType(
    {
        JobState.QUEUED: frozenset({JobState.RUNNING, JobState.CANCELLED, JobState.FAILED}),
        JobState.RUNNING: frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED}),
        JobState.SUCCEEDED: frozenset(),
        JobState.FAILED: frozenset(),
        JobState.CANCELLED: frozenset(),
    }
)


def check_transition(current: JobState, new: JobState, job_id: str = "") -> None:
    """Raises FailedPrecondition (ILLEGAL_JOB_TRANSITION) unless ``current -> new`` is allowed."""
    if new not in TRANSITIONS[current]:
        raise FailedPrecondition(
            f"job {job_id!r} cannot go from {current} to {new}",
            reason="ILLEGAL_JOB_TRANSITION",
            details={"job_id": job_id, "from_state": current, "to_state": new},
        )


def estimate_eta(fraction: float, elapsed_seconds: float) -> float | None:
    """Seconds left if the rest goes as fast as the part done so far; None before any progress."""
    if fraction <= 0 or elapsed_seconds <= 0:
        return None
    return elapsed_seconds * (1 - fraction) / fraction


@dataclass(frozen=True)
class Progress:
    """How far a running job is: a fraction in 0..1, a step ("epoch 3/10"), units done of a total."""

    fraction: float = 0.0
    step: str = ""
    completed: int = 0
    total: int = 0
    eta_seconds: float | None = None  # set by the job from its elapsed time

    def __post_init__(self) -> None:
        if not 0.0 <= self.fraction <= 1.0:
            raise _invalid_progress(f"progress fraction must be within 0..1, got {self.fraction}")
        if self.completed < 0 or self.total < 0 or (self.total and self.completed > self.total):
            raise _invalid_progress(f"progress units {self.completed}/{self.total} are impossible")

    @classmethod
    def of_units(cls, completed: int, total: int, step: str = "") -> Progress:
        """Progress measured in units (cases, epochs, batches)."""
        return cls(completed / total if total else 0.0, step, completed, total)


class LogLevel(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


@dataclass(frozen=True)
class LogLine:
    time: datetime
    level: LogLevel
    message: str

    @classmethod
    def of(cls, level: LogLevel | str, message: str, time: datetime) -> LogLine:
        """A validated line; an overlong message is cut to MAX_LOG_MESSAGE_CHARS."""
        try:
            checked = LogLevel(str(level).upper())
        except ValueError:
            raise InvalidArgument(f"unknown log level {level!r}", reason="INVALID_LOG_LEVEL") from None
        return cls(time, checked, message[:MAX_LOG_MESSAGE_CHARS])


@dataclass
class Job:
    """One piece of long work and everything a caller may want to know about it."""

    id: str
    kind: str  # "training", "radiomics.extraction", ...
    state: JobState = JobState.QUEUED
    progress: Progress = field(default_factory=Progress)
    parameters: dict[str, Any] = field(default_factory=dict)
    result: dict[str, str] = field(default_factory=dict)  # e.g. {"feature_table": "<object key>"}
    error: str | None = None
    created_at: datetime = field(default_factory=utc_now)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    logs: list[LogLine] = field(default_factory=list)  # the newest MAX_LOG_LINES, oldest first
    version: int = 0  # counts stored changes (optimistic locking)

    def __post_init__(self) -> None:
        if not _JOB_ID.fullmatch(self.id):
            raise InvalidArgument(
                f"invalid job id {self.id!r}: 1-64 letters, digits, '.', '_' or '-'", reason="INVALID_JOB_ID"
            )
        if not _JOB_KIND.fullmatch(self.kind):
            raise InvalidArgument(f"invalid job kind {self.kind!r}", reason="INVALID_JOB_KIND")

    def transition(
        self,
        new_state: JobState,
        now: datetime,
        *,
        error: str | None = None,
        result: Mapping[str, str] | None = None,
    ) -> None:
        """Moves to ``new_state`` (checked against TRANSITIONS), stamping start and finish times."""
        check_transition(self.state, new_state, self.id)
        self.state = new_state
        if new_state is JobState.RUNNING:
            self.started_at = now
        if new_state.is_terminal:
            self.finished_at = now
        if new_state is JobState.SUCCEEDED:
            done = self.progress.total
            self.progress = replace(self.progress, fraction=1.0, completed=done, eta_seconds=0.0)
        if error is not None:
            self.error = error
        if result is not None:
            self.result = _string_map(result)

    def report_progress(self, progress: Progress, now: datetime) -> None:
        """Records progress of a running job, with an ETA from the time it has run."""
        if self.state is not JobState.RUNNING:
            raise FailedPrecondition(
                f"job {self.id!r} is {self.state}; progress is reported only while it is RUNNING",
                reason="JOB_NOT_RUNNING",
                details={"job_id": self.id, "state": self.state},
            )
        elapsed = (now - self.started_at).total_seconds() if self.started_at else 0.0
        self.progress = replace(progress, eta_seconds=estimate_eta(progress.fraction, elapsed))


@dataclass(frozen=True)
class JobPage:
    jobs: list[Job]
    next_page_token: str  # "" on the last page


class JobSubscription:
    """Change notices for one job, coalesced: one ``wait`` covers any number of changes before it.

    A wait may now and then return for a change already seen; the watcher just re-reads the job.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._changed = asyncio.Event()

    async def wait(self) -> None:
        """Waits for a change since the last wait (or the subscription); bound it with asyncio.timeout."""
        await self._changed.wait()
        self._changed.clear()

    def _signal(self) -> None:
        with suppress(RuntimeError):  # the watcher's loop is closed: nobody is waiting
            self._loop.call_soon_threadsafe(self._changed.set)


class JobEvents:
    """In-process notices of job changes: the store notifies after each commit; watchers subscribe.

    ``notify`` may run in any thread (store calls run in ``asyncio.to_thread``). Only this process's
    changes are seen: where several replicas share a database, wait with a timeout and re-read.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: dict[str, set[JobSubscription]] = {}

    def notify(self, job_id: str) -> None:
        with self._lock:
            subscriptions = list(self._subscriptions.get(job_id, ()))
        for subscription in subscriptions:
            subscription._signal()

    @contextmanager
    def subscribe(self, job_id: str) -> Iterator[JobSubscription]:
        """Subscribe before reading the job, so no change between the read and the wait is lost."""
        subscription = JobSubscription(asyncio.get_running_loop())
        with self._lock:
            self._subscriptions.setdefault(job_id, set()).add(subscription)
        try:
            yield subscription
        finally:
            with self._lock:
                remaining = self._subscriptions.get(job_id, set())
                remaining.discard(subscription)
                if not remaining:
                    self._subscriptions.pop(job_id, None)


jobs_metadata = MetaData(naming_convention=NAMING_CONVENTION)

jobs_table = Table(
    "jobs",
    jobs_metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(128), nullable=False),
    Column("state", String(16), nullable=False, index=True),
    Column("fraction", Float, nullable=False),
    Column("step", Text, nullable=False),
    Column("completed", BigInteger, nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("eta_seconds", Float),
    Column("parameters", JSON, nullable=False),
    Column("result", JSON, nullable=False),
    Column("error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
    Column("version", Integer, nullable=False),
    Index("ix_jobs_kind_created_at", "kind", "created_at"),
    Index("ix_jobs_created_at_id", "created_at", "id"),
)

job_logs_table = Table(
    "job_logs",
    jobs_metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("job_id", String(64), ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    Column("time", UTCDateTime, nullable=False),
    Column("level", String(16), nullable=False),
    Column("message", Text, nullable=False),
    Index("ix_job_logs_job_id_id", "job_id", "id"),
)


def create_job_tables(op: Any) -> None:
    """Creates ``jobs`` and ``job_logs`` from a service's Alembic migration: ``create_job_tables(op)``.

    This is the first version of these tables; a later change to them will come with its own helper
    for the service's next migration. Include ``jobs_metadata`` in env.py's target metadata.
    """
    jobs_metadata.create_all(op.get_bind())


def drop_job_tables(op: Any) -> None:
    """The downgrade of :func:`create_job_tables`."""
    jobs_metadata.drop_all(op.get_bind())


class JobStore:
    """Jobs persisted in the owning service's database; every change is one transaction."""

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Clock = utc_now,
        events: JobEvents | None = None,
        max_log_lines: int = MAX_LOG_LINES,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._events = events
        self._max_log_lines = max_log_lines

    def create(self, kind: str, parameters: Mapping[str, Any] | None = None, *, job_id: str | None = None) -> Job:
        """Stores a new QUEUED job; AlreadyExists if ``job_id`` is taken."""
        job_id = job_id or uuid.uuid4().hex
        job = Job(job_id, kind, parameters=dict(parameters or {}), created_at=self._clock())
        _check_json(job.parameters)
        try:
            with self._engine.begin() as connection:
                connection.execute(insert(jobs_table).values(_row(job)))
        except IntegrityError:
            raise AlreadyExists(
                f"job {job.id!r} already exists", reason="JOB_ALREADY_EXISTS", details={"job_id": job.id}
            ) from None
        self._notify(job.id)
        return job

    def get(self, job_id: str) -> Job:
        with self._engine.connect() as connection:
            return self._load(connection, job_id)

    def list(
        self,
        *,
        kind: str | None = None,
        states: Collection[JobState] = (),
        page_size: int = 0,
        page_token: str = "",
    ) -> JobPage:
        """Jobs newest first, optionally of one kind and in some states; ``page_size`` 0 means the default."""
        limit = _page_limit(page_size)
        query = select(jobs_table).order_by(jobs_table.c.created_at.desc(), jobs_table.c.id.desc())
        if kind:
            query = query.where(jobs_table.c.kind == kind)
        if states:
            query = query.where(jobs_table.c.state.in_([JobState(state).value for state in states]))
        if page_token:
            created_at, last_id = _decode_token(page_token)
            query = query.where(
                or_(
                    jobs_table.c.created_at < created_at,
                    and_(jobs_table.c.created_at == created_at, jobs_table.c.id < last_id),
                )
            )
        with self._engine.connect() as connection:
            rows = connection.execute(query.limit(limit + 1)).all()
            logs = _logs_of(connection, [row.id for row in rows[:limit]])
        jobs = [_job(row, logs.get(row.id, [])) for row in rows[:limit]]
        token = _encode_token(jobs[-1]) if len(rows) > limit else ""
        return JobPage(jobs, token)

    def transition(
        self,
        job_id: str,
        new_state: JobState,
        *,
        error: str | None = None,
        result: Mapping[str, str] | None = None,
    ) -> Job:
        """Moves the job to ``new_state``; ILLEGAL_JOB_TRANSITION if the state machine forbids it."""
        return self._change(job_id, lambda job, now: job.transition(new_state, now, error=error, result=result))

    def update_progress(self, job_id: str, progress: Progress) -> Job:
        """Records the progress of a RUNNING job (its ETA is computed here)."""
        return self._change(job_id, lambda job, now: job.report_progress(progress, now))

    def append_log(self, job_id: str, level: LogLevel | str, message: str) -> LogLine:
        """Adds a line to the job's log, keeping only the newest ``max_log_lines``."""
        line = LogLine.of(level, message, self._clock())
        logs = job_logs_table.c
        with self._engine.begin() as connection:
            self._require(connection, job_id)
            connection.execute(
                insert(job_logs_table).values(
                    job_id=job_id, time=line.time, level=line.level.value, message=line.message
                )
            )
            oldest_kept = (
                select(logs.id)
                .where(logs.job_id == job_id)
                .order_by(logs.id.desc())
                .offset(self._max_log_lines - 1)
                .limit(1)
                .scalar_subquery()
            )
            connection.execute(delete(job_logs_table).where(logs.job_id == job_id, logs.id < oldest_kept))
        self._notify(job_id)
        return line

    def _change(self, job_id: str, change: Callable[[Job, datetime], None], attempts: int = 5) -> Job:
        """Read, change, write back if nobody wrote in between (else re-read and re-check)."""
        for _ in range(attempts):
            with self._engine.begin() as connection:
                job = self._load(connection, job_id)
                seen = job.version
                change(job, self._clock())
                job.version += 1
                written = connection.execute(
                    update(jobs_table).where(jobs_table.c.id == job_id, jobs_table.c.version == seen).values(_row(job))
                )
            if written.rowcount == 1:
                self._notify(job_id)
                return job
        raise Conflict(f"job {job_id!r} kept changing concurrently; try again", details={"job_id": job_id})

    def _load(self, connection: Connection, job_id: str) -> Job:
        row = connection.execute(select(jobs_table).where(jobs_table.c.id == job_id)).first()
        if row is None:
            raise _job_not_found(job_id)
        return _job(row, _logs_of(connection, [job_id]).get(job_id, []))

    def _require(self, connection: Connection, job_id: str) -> None:
        if connection.execute(select(jobs_table.c.id).where(jobs_table.c.id == job_id)).first() is None:
            raise _job_not_found(job_id)

    def _notify(self, job_id: str) -> None:
        if self._events is not None:
            self._events.notify(job_id)


def _logs_of(connection: Connection, job_ids: Sequence[str]) -> dict[str, list[LogLine]]:
    """The stored log lines of some jobs, oldest first, by job id."""
    if not job_ids:
        return {}
    logs = job_logs_table.c
    query = select(job_logs_table).where(logs.job_id.in_(job_ids)).order_by(logs.id)
    by_job: dict[str, list[LogLine]] = {}
    for row in connection.execute(query):
        by_job.setdefault(row.job_id, []).append(LogLine(row.time, LogLevel(row.level), row.message))
    return by_job


def _row(job: Job) -> dict[str, Any]:
    progress = job.progress
    return {
        "id": job.id,
        "kind": job.kind,
        "state": job.state.value,
        "fraction": progress.fraction,
        "step": progress.step,
        "completed": progress.completed,
        "total": progress.total,
        "eta_seconds": progress.eta_seconds,
        "parameters": job.parameters,
        "result": job.result,
        "error": job.error,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "version": job.version,
    }


def _job(row: Row[Any], logs: list[LogLine]) -> Job:
    return Job(
        id=row.id,
        kind=row.kind,
        state=JobState(row.state),
        progress=Progress(row.fraction, row.step, row.completed, row.total, row.eta_seconds),
        parameters=row.parameters,
        result=row.result,
        error=row.error,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        logs=logs,
        version=row.version,
    )


def _page_limit(page_size: int) -> int:
    if page_size < 0:
        raise InvalidArgument(f"page_size must not be negative, got {page_size}", reason="INVALID_PAGE_SIZE")
    return min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def _encode_token(last: Job) -> str:
    """The position after ``last`` in (created_at, id) order; stable while new jobs arrive."""
    position = json.dumps([last.created_at.isoformat(), last.id])
    return base64.urlsafe_b64encode(position.encode()).decode()


def _decode_token(token: str) -> tuple[datetime, str]:
    try:
        created_at, job_id = json.loads(base64.urlsafe_b64decode(token.encode()))
        position = datetime.fromisoformat(created_at), str(job_id)
        if position[0].tzinfo is None:
            raise ValueError("naive time")
        return position
    except (binascii.Error, ValueError, TypeError):
        message = "page_token is not a token this server issued"
        raise InvalidArgument(message, reason="INVALID_PAGE_TOKEN") from None


def _check_json(parameters: dict[str, Any]) -> None:
    try:
        json.dumps(parameters)
    except (TypeError, ValueError) as error:
        message = f"job parameters must be JSON: {error}"
        raise InvalidArgument(message, reason="INVALID_JOB_PARAMETERS") from None


def _string_map(values: Mapping[str, str]) -> dict[str, str]:
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in values.items()):
        raise InvalidArgument("a job result maps names to strings", reason="INVALID_JOB_RESULT")
    return dict(values)


def _invalid_progress(message: str) -> InvalidArgument:
    return InvalidArgument(message, reason="INVALID_PROGRESS")


def _job_not_found(job_id: str) -> NotFound:
    return NotFound(f"job {job_id!r} not found", reason="JOB_NOT_FOUND", details={"job_id": job_id})
