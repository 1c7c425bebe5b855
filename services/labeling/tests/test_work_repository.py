"""Cases, tasks, annotation versions, reviews and dataset versions in SQL, on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from radscholar_core.db import create_engine_for, session_factory, upgrade_to_head
from radscholar_core.errors import Conflict, FailedPrecondition, InvalidArgument, NotFound
from radscholar_labeling.adapters.project_repository import SqlProjectRepository
from radscholar_labeling.adapters.work_repository import SqlWork
from radscholar_labeling.domain.projects import Dimensionality, LabelClass, LabelSchema, NewProject, TaskType
from radscholar_labeling.domain.work import (
    AnnotationContent,
    AssignMode,
    Box,
    CaseSeries,
    ClassLabel,
    MaskRef,
    NewCase,
    ReviewDecision,
    TaskFilter,
    TaskStatus,
)
from radscholar_labeling.server import MIGRATIONS

SCHEMA = LabelSchema((LabelClass("benign", "#00ff00"), LabelClass("malignant", "#ff0000")))


def new_case(index: int, site: str = "north") -> NewCase:
    series = (CaseSeries(f"1.2.3.{index}.1", "CT", 64, 64, 20),)
    return NewCase(f"1.2.3.{index}", f"P{index // 2}", site, f"2024-01-{index + 1:02d}", "chest", series)


@pytest.fixture
def stores(database_url: str) -> tuple[SqlProjectRepository, SqlWork]:
    upgrade_to_head(database_url, MIGRATIONS)
    sessions = session_factory(create_engine_for(database_url))
    return SqlProjectRepository(sessions), SqlWork(sessions)


def test_cases_tasks_versions_reviews_and_datasets(stores: tuple[SqlProjectRepository, SqlWork]) -> None:
    projects, work = stores
    project = projects.add(
        NewProject("Nodules", "", "CT", TaskType.DETECTION, Dimensionality.THREE_D, SCHEMA, ("north",))
    )
    assert projects.get(project.id).label_schema == SCHEMA and projects.get(project.id).sites == ("north",)
    added, present = work.add_cases(project.id, [new_case(i, "north" if i < 4 else "south") for i in range(6)])
    assert len(added) == 6 and present == []
    again, present = work.add_cases(project.id, [new_case(0), new_case(9, "south")])
    assert [c.study_instance_uid for c in again] == ["1.2.3.9"] and present == ["1.2.3.0"]

    # Split the northern cases between two annotators, then give the first case to both (double reading).
    count, load = work.assign(project.id, TaskFilter(site="north"), ["ann", "bob"], AssignMode.SPLIT)
    assert count == 4 and load == {"ann": 2, "bob": 2}
    first = added[0].id
    count, load = work.assign(project.id, TaskFilter(case_ids=(first,)), ["ann", "bob"], AssignMode.EACH)
    assert count == 1 and sum(load.values()) == 5
    tasks, total = work.list_tasks(project.id, TaskFilter(assignee_id="ann"), 0, 50)
    assert total == len(tasks) == sum(1 for t in tasks if t.assignee_id == "ann")
    unassigned, total = work.list_tasks(project.id, TaskFilter(assignee_id=""), 0, 50)
    assert total == 3 and all(t.case.site == "south" for t in unassigned)
    dated, _ = work.list_tasks(project.id, TaskFilter(study_date_from="2024-01-02", study_date_to="2024-01-03"), 0, 50)
    assert {t.case.study_date for t in dated} == {"2024-01-02", "2024-01-03"}

    # Versions: a stale save is refused; history keeps every version, masks included.
    task = work.next_task(project.id, "ann")
    assert task is not None and task.status is TaskStatus.UNTAGGED
    box = Box("benign", "1.2.3.0.1", "", (1.0, 2.0, 3.0), (4.0, 5.0, 6.0), (0.5, 1.5, 2.5), (3.5, 4.5, 5.5))
    mask = MaskRef("1.2.3.0.1", "labels/x.nii.gz", "1.9.1", "1.9.2", {"benign": 12}, "labels/x.seg.dcm")
    draft = AnnotationContent((ClassLabel("benign"),), (box,), "looks benign", (mask,))
    first_version = work.save_annotation(task.id, "ann", 0, draft, submit=False, source="model:unet/1")
    assert (first_version.version, first_version.content) == (1, draft)
    with pytest.raises(Conflict):
        work.save_annotation(task.id, "ann", 0, AnnotationContent(), submit=True, source="person")
    final = AnnotationContent((ClassLabel("malignant"),))
    work.save_annotation(task.id, "ann", 1, final, submit=True, source="person")
    history = work.history(task.id)
    assert [(v.version, v.source, v.submitted) for v in history] == [(1, "model:unet/1", False), (2, "person", True)]
    assert history[0].content == draft and history[1].content == final
    assert work.task(task.id).status is TaskStatus.TAGGED

    # Review: a rejection needs a comment; adjudication rejects the other reading.
    with pytest.raises(InvalidArgument):
        work.review(task.id, "rev", ReviewDecision.REJECT, " ")
    other = next(
        t for t in work.list_tasks(project.id, TaskFilter(case_ids=(task.case.id,)), 0, 50)[0] if t.id != task.id
    )
    work.save_annotation(
        other.id, other.assignee_id, 0, AnnotationContent((ClassLabel("benign"),)), submit=True, source="person"
    )
    decided, others = work.review(task.id, "rev", ReviewDecision.ADJUDICATE, "spiculated")
    assert decided.status is TaskStatus.REVIEWED and [o.status for o in others] == [TaskStatus.REJECTED]
    with pytest.raises(FailedPrecondition):
        work.review(task.id, "rev", ReviewDecision.ACCEPT, "")
    with pytest.raises(FailedPrecondition):  # a reviewed annotation is final
        work.save_annotation(task.id, "ann", 2, final, submit=True, source="person")
    accepted = work.latest_annotations(project.id, [TaskStatus.REVIEWED])
    assert [(t.id, v.version) for t, v in accepted] == [(task.id, 2)]
    whole, per, cases = work.progress(project.id)
    assert cases == 7 and whole["reviewed"] == 1 and per["bob"]["rejected"] == 1 and per["-"]["untagged"] == 3

    # Dataset versions: identical content is stored once.
    row, existed = work.add_dataset(project.id, "sha256:aa", b'{"items": []}', {"train": 1}, "lead")
    same, existed_again = work.add_dataset(project.id, "sha256:aa", b'{"items": []}', {"train": 1}, "lead")
    assert (existed, existed_again, same.id) == (False, True, row.id)
    assert [d.id for d in work.datasets(project.id)] == [row.id] and work.dataset(row.id).manifest == '{"items": []}'
    with pytest.raises(NotFound):
        work.dataset("nope")


def test_concurrent_saves_of_one_version_keep_one(stores: tuple[SqlProjectRepository, SqlWork]) -> None:
    projects, work = stores
    project = projects.add(NewProject("Race", "", "CT", TaskType.CLASSIFICATION, Dimensionality.THREE_D, SCHEMA))
    work.add_cases(project.id, [new_case(0)])
    work.assign(project.id, TaskFilter(), ["ann"], AssignMode.SPLIT)
    task = work.next_task(project.id, "ann")
    assert task is not None
    outcomes: list[str] = []

    def save(label: str) -> None:
        try:
            work.save_annotation(
                task.id, "ann", 0, AnnotationContent((ClassLabel(label),)), submit=False, source="person"
            )
            outcomes.append("saved")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=save, args=(label,)) for label in ("benign", "malignant") * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("saved") == 1 and outcomes.count("conflict") == 7
    assert [v.version for v in work.history(task.id)] == [1]


def test_unknown_things_are_not_found(stores: tuple[SqlProjectRepository, SqlWork], tmp_path: Path) -> None:
    _, work = stores
    with pytest.raises(NotFound):
        work.add_cases("no-such-project", [new_case(0)])
    with pytest.raises(NotFound):
        work.task("no-such-task")
    with pytest.raises(NotFound):
        work.save_annotation("no-such-task", "ann", 0, AnnotationContent(), submit=False, source="person")
