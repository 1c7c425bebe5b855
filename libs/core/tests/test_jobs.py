"""The job model: its state machine, progress and ETA, the SQL store, and change notices."""

from __future__ import annotations

import asyncio
import itertools
import math
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from radscholar_core.db import create_engine_for, upgrade_to_head
from radscholar_core.errors import AlreadyExists, DomainError, FailedPrecondition, InvalidArgument, NotFound
from radscholar_core.jobs import (
    MAX_LOG_MESSAGE_CHARS,
    Job,
    JobEvents,
    JobState,
    JobStore,
    LogLevel,
    Progress,
    check_transition,
    estimate_eta,
)

MIGRATIONS = Path(__file__).parent / "sample_migrations"
Q, R, S, F, C = JobState.QUEUED, JobState.RUNNING, JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED
LEGAL = {(Q, R), (Q, C), (Q, F), (R, S), (R, F), (R, C)}
T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def events() -> JobEvents:
    return JobEvents()


@pytest.fixture
def store(database_url: str, clock: FakeClock, events: JobEvents) -> Iterator[JobStore]:
    upgrade_to_head(database_url, MIGRATIONS)
    engine = create_engine_for(database_url)
    yield JobStore(engine, clock=clock, events=events, max_log_lines=3)
    engine.dispose()


@pytest.mark.parametrize(("current", "new"), list(itertools.product(JobState, JobState)))
def test_transition_table(current: JobState, new: JobState) -> None:
    if (current, new) in LEGAL:
        check_transition(current, new)
        return
    with pytest.raises(FailedPrecondition) as error:
        check_transition(current, new, "job-1")
    assert error.value.reason == "ILLEGAL_JOB_TRANSITION"
    assert str(current) in error.value.message and str(new) in error.value.message


def test_terminal_states() -> None:
    assert [state for state in JobState if state.is_terminal] == [S, F, C]


@pytest.mark.parametrize("fraction", [-0.01, 1.01, math.nan])
def test_progress_fraction_is_within_zero_and_one(fraction: float) -> None:
    with pytest.raises(InvalidArgument) as error:
        Progress(fraction)
    assert error.value.reason == "INVALID_PROGRESS"


def test_progress_units() -> None:
    assert Progress.of_units(3, 12, "case 3/12") == Progress(0.25, "case 3/12", 3, 12)
    with pytest.raises(InvalidArgument):
        Progress(0.5, completed=5, total=4)


def test_eta_needs_progress_and_time() -> None:
    assert estimate_eta(0.0, 60) is None
    assert estimate_eta(0.5, 0) is None
    assert estimate_eta(0.25, 60) == 180
    assert estimate_eta(1.0, 60) == 0


def test_job_lifecycle_stamps_times_and_eta(clock: FakeClock) -> None:
    job = Job("run-1", "training", created_at=clock())
    clock.advance(5)
    job.transition(R, clock())
    clock.advance(60)
    job.report_progress(Progress(0.25, "epoch 1/4"), clock())

    assert job.started_at == T0 + timedelta(seconds=5)
    assert job.progress.eta_seconds == pytest.approx(180)

    clock.advance(180)
    job.transition(S, clock(), result={"model": "models/run-1.pt"})
    assert (job.finished_at, job.progress.fraction, job.result) == (
        clock(),
        1.0,
        {"model": "models/run-1.pt"},
    )


def test_progress_only_while_running(clock: FakeClock) -> None:
    job = Job("run-1", "training")
    with pytest.raises(FailedPrecondition) as error:
        job.report_progress(Progress(0.1), clock())
    assert error.value.reason == "JOB_NOT_RUNNING"


@pytest.mark.parametrize(("job_id", "kind"), [("", "training"), ("a/b", "training"), ("x" * 65, "t"), ("a", "")])
def test_job_ids_and_kinds_are_checked(job_id: str, kind: str) -> None:
    with pytest.raises(InvalidArgument):
        Job(job_id, kind)


def test_store_roundtrip(store: JobStore) -> None:
    created = store.create("radiomics.extraction", {"preset": "ct", "cases": [1, 2]}, job_id="extract-1")

    loaded = store.get("extract-1")

    assert loaded == created
    assert (loaded.state, loaded.parameters, loaded.created_at) == (Q, {"preset": "ct", "cases": [1, 2]}, T0)
    assert loaded.created_at.tzinfo == UTC


def test_store_runs_a_job_to_the_end(store: JobStore, clock: FakeClock) -> None:
    job_id = store.create("training").id
    clock.advance(10)
    store.transition(job_id, R)
    clock.advance(30)
    running = store.update_progress(job_id, Progress.of_units(1, 4, "epoch 1/4"))
    clock.advance(90)
    done = store.transition(job_id, S, result={"model": "models/m.pt"})

    assert running.progress.eta_seconds == pytest.approx(90)
    assert store.get(job_id) == done
    assert (done.state, done.progress.completed, done.result) == (S, 4, {"model": "models/m.pt"})
    assert (done.started_at, done.finished_at) == (T0 + timedelta(seconds=10), T0 + timedelta(seconds=130))


def test_failed_job_keeps_its_error(store: JobStore) -> None:
    job_id = store.create("training").id
    store.transition(job_id, F, error="CUDA out of memory")

    assert (store.get(job_id).state, store.get(job_id).error) == (F, "CUDA out of memory")


def test_illegal_transition_changes_nothing(store: JobStore) -> None:
    job_id = store.create("training").id
    store.transition(job_id, C)

    with pytest.raises(FailedPrecondition) as error:
        store.transition(job_id, R)

    assert error.value.reason == "ILLEGAL_JOB_TRANSITION"
    assert store.get(job_id).state == C


def test_jobs_survive_a_restart(database_url: str, clock: FakeClock) -> None:
    upgrade_to_head(database_url, MIGRATIONS)
    engine = create_engine_for(database_url)
    job_id = JobStore(engine, clock=clock).create("training").id
    JobStore(engine, clock=clock).transition(job_id, R)
    engine.dispose()

    engine = create_engine_for(database_url)
    assert JobStore(engine).get(job_id).state == R
    engine.dispose()


def test_missing_jobs_are_not_found(store: JobStore) -> None:
    calls = [
        lambda: store.get("nope"),
        lambda: store.transition("nope", R),
        lambda: store.update_progress("nope", Progress(0.5)),
        lambda: store.append_log("nope", "INFO", "hello"),
    ]
    for call in calls:
        with pytest.raises(NotFound) as error:
            call()
        assert error.value.reason == "JOB_NOT_FOUND"


def test_job_ids_are_unique(store: JobStore) -> None:
    store.create("training", job_id="run-1")

    with pytest.raises(AlreadyExists):
        store.create("training", job_id="run-1")


def test_parameters_must_be_json(store: JobStore) -> None:
    with pytest.raises(InvalidArgument):
        store.create("training", {"when": datetime.now(UTC)})


def test_paging_newest_first(store: JobStore, clock: FakeClock) -> None:
    ids = []
    for index in range(7):
        ids.append(store.create("training" if index % 2 == 0 else "inference", job_id=f"job-{index}").id)
        if index != 3:  # job-3 and job-4 share a creation time: the id breaks the tie
            clock.advance(1)
    newest_first = ids[::-1]

    seen, token, pages = [], "", 0
    while True:
        page = store.list(page_size=3, page_token=token)
        seen += [job.id for job in page.jobs]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    store.create("training", job_id="job-new")  # a new job does not shift the next page

    assert (seen, pages) == (newest_first, 3)
    assert [job.id for job in store.list(kind="inference").jobs] == ["job-5", "job-3", "job-1"]


def test_paging_filters_by_state_and_survives_new_jobs(store: JobStore, clock: FakeClock) -> None:
    for index in range(4):
        store.create("training", job_id=f"job-{index}")
        clock.advance(1)
    store.transition("job-1", R)
    store.transition("job-2", C)

    first = store.list(states=[Q, R], page_size=2)
    store.create("training", job_id="job-late")
    second = store.list(states=[Q, R], page_size=2, page_token=first.next_page_token)

    assert [job.id for job in first.jobs] == ["job-3", "job-1"]
    assert [job.id for job in second.jobs] == ["job-0"]
    assert second.next_page_token == ""


@pytest.mark.parametrize(
    ("page_size", "token"),
    [(-1, ""), (10, "not-a-token"), (10, "W10="), (10, "WyIyMDI1LTAxLTAxVDAwOjAwOjAwIiwgImEiXQ==")],
)
def test_bad_paging_requests(store: JobStore, page_size: int, token: str) -> None:
    with pytest.raises(InvalidArgument):
        store.list(page_size=page_size, page_token=token)


def test_logs_are_appended_and_bounded(store: JobStore, clock: FakeClock) -> None:
    job_id = store.create("training").id
    for index in range(5):
        clock.advance(1)
        store.append_log(job_id, "info" if index else LogLevel.WARNING, f"line {index}")
    store.append_log(job_id, "ERROR", "x" * (MAX_LOG_MESSAGE_CHARS + 10))

    logs = store.get(job_id).logs

    assert [line.message for line in logs[:2]] == ["line 3", "line 4"]
    assert (logs[0].level, logs[0].time) == (LogLevel.INFO, T0 + timedelta(seconds=4))
    assert (logs[2].level, len(logs[2].message)) == (LogLevel.ERROR, MAX_LOG_MESSAGE_CHARS)
    assert store.list().jobs[0].logs == logs
    with pytest.raises(InvalidArgument):
        store.append_log(job_id, "LOUD", "?")


def test_concurrent_transitions_one_wins(store: JobStore) -> None:
    job_id = store.create("training").id
    store.transition(job_id, R)
    barrier = threading.Barrier(2)

    def finish(state: JobState) -> JobState | str:
        barrier.wait()
        try:
            return store.transition(job_id, state).state
        except DomainError as error:
            return error.reason

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(map(str, pool.map(finish, [S, C])))

    assert store.get(job_id).state in (S, C)
    assert outcomes in (["ILLEGAL_JOB_TRANSITION", "SUCCEEDED"], ["CANCELLED", "ILLEGAL_JOB_TRANSITION"])


async def test_events_wake_a_watcher(store: JobStore, events: JobEvents) -> None:
    job_id = store.create("training").id
    seen: list[JobState] = []

    async def watch() -> None:
        with events.subscribe(job_id) as changes:
            job = await asyncio.to_thread(store.get, job_id)
            seen.append(job.state)
            while not job.state.is_terminal:
                await changes.wait()
                job = await asyncio.to_thread(store.get, job_id)
                seen.append(job.state)

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.05)
    await asyncio.to_thread(store.transition, job_id, R)
    await asyncio.sleep(0.05)
    await asyncio.to_thread(store.transition, job_id, S)
    async with asyncio.timeout(5):
        await watcher

    assert seen[0] == Q and seen[-1] == S


async def test_a_change_before_waiting_is_not_lost(events: JobEvents) -> None:
    with events.subscribe("job-1") as changes:
        await asyncio.to_thread(events.notify, "job-1")
        await asyncio.to_thread(events.notify, "job-1")
        async with asyncio.timeout(1):
            await changes.wait()
        with pytest.raises(TimeoutError):  # both notices were consumed by one wait
            async with asyncio.timeout(0.05):
                await changes.wait()


async def test_other_jobs_do_not_wake_a_watcher(events: JobEvents) -> None:
    with events.subscribe("job-1") as changes:
        events.notify("job-2")
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await changes.wait()
    assert events._subscriptions == {}
