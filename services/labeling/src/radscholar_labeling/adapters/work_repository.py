"""Cases, tasks, annotation versions, reviews and dataset versions kept in SQL."""

from __future__ import annotations

import json
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from radscholar_core.errors import AlreadyExists, Conflict, NotFound
from radscholar_labeling.adapters.tables import (
    AnnotationVersionRow,
    CaseRow,
    DatasetRow,
    ProjectRow,
    ReviewRow,
    TaskRow,
)
from radscholar_labeling.domain.work import (
    UNASSIGNED,
    AnnotationContent,
    AnnotationVersion,
    AssignMode,
    Box,
    Case,
    CaseSeries,
    ClassLabel,
    MaskRef,
    NewCase,
    ReviewDecision,
    Task,
    TaskFilter,
    TaskStatus,
    check_base_version,
    plan_assignment,
    status_after_review,
    status_after_save,
)


def _case(row: CaseRow) -> Case:
    return Case(
        id=row.id,
        project_id=row.project_id,
        study_instance_uid=row.study_instance_uid,
        patient_id=row.patient_id,
        site=row.site,
        study_date=row.study_date,
        description=row.description,
        series=tuple(CaseSeries(**s) for s in json.loads(row.series)),
    )


def _task(row: TaskRow, case: CaseRow) -> Task:
    return Task(
        id=row.id,
        project_id=row.project_id,
        case=_case(case),
        assignee_id=row.assignee_id,
        status=TaskStatus(row.status),
        annotation_version=row.annotation_version,
        review_comment=row.review_comment,
        updated_at=row.updated_at,
    )


def content_json(content: AnnotationContent) -> str:
    return json.dumps(asdict(content))


def _content(text: str) -> AnnotationContent:
    data = json.loads(text)
    return AnnotationContent(
        labels=tuple(ClassLabel(**label) for label in data["labels"]),
        boxes=tuple(
            Box(**{**box, **{k: tuple(box.get(k, ())) for k in ("min", "max", "min_mm", "max_mm")}})
            for box in data["boxes"]
        ),
        comment=data["comment"],
        masks=tuple(MaskRef(**mask) for mask in data.get("masks", [])),
    )


def _version(row: AnnotationVersionRow) -> AnnotationVersion:
    return AnnotationVersion(
        annotation_id=row.annotation_id,
        task_id=row.task_id,
        case_id=row.case_id,
        version=row.version,
        author_id=row.author_id,
        source=row.source,
        content=_content(row.content),
        submitted=row.submitted,
        saved_at=row.saved_at,
    )


def _filtered(query: Any, project_id: str, where: TaskFilter) -> Any:
    """`where` applied to a query of tasks joined with their cases; `project_id` "" for every project."""
    if project_id:
        query = query.where(TaskRow.project_id == project_id)
    if where.site:
        query = query.where(CaseRow.site == where.site)
    if where.study_date_from:
        query = query.where(CaseRow.study_date >= where.study_date_from, CaseRow.study_date != "")
    if where.study_date_to:
        query = query.where(CaseRow.study_date <= where.study_date_to, CaseRow.study_date != "")
    if where.statuses:
        query = query.where(TaskRow.status.in_([s.value for s in where.statuses]))
    if where.assignee_id is not None:
        query = query.where(TaskRow.assignee_id == where.assignee_id)
    if where.case_ids:
        query = query.where(TaskRow.case_id.in_(where.case_ids))
    return query


class SqlWork:
    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self._sessions = sessions
        self._now = clock

    def _project(self, session: Session, project_id: str) -> ProjectRow:
        row = session.get(ProjectRow, project_id)
        if row is None:
            raise NotFound(f"project '{project_id}' does not exist", reason="PROJECT_NOT_FOUND")
        return row

    # --- cases and tasks ------------------------------------------------------------------------

    def add_cases(self, project_id: str, cases: Sequence[NewCase]) -> tuple[list[Case], list[str]]:
        """Adds each new study as a case with one unassigned task; studies already in the project are skipped."""
        with self._sessions.begin() as session:
            self._project(session, project_id)
            uids = [c.study_instance_uid for c in cases]
            present = set(
                session.scalars(
                    select(CaseRow.study_instance_uid).where(
                        CaseRow.project_id == project_id, CaseRow.study_instance_uid.in_(uids)
                    )
                )
            )
            added, seen = [], set(present)
            now = self._now()
            for new in cases:
                if new.study_instance_uid in seen:
                    continue
                seen.add(new.study_instance_uid)
                row = CaseRow(
                    id=str(uuid.uuid4()),
                    project_id=project_id,
                    study_instance_uid=new.study_instance_uid,
                    patient_id=new.patient_id,
                    site=new.site,
                    study_date=new.study_date,
                    description=new.description,
                    series=json.dumps([asdict(s) for s in new.series]),
                    added_at=now,
                )
                session.add(row)
                session.add(self._new_task(project_id, row.id, UNASSIGNED, now))
                added.append(_case(row))
            return added, sorted(present & set(uids))

    @staticmethod
    def _new_task(project_id: str, case_id: str, assignee_id: str, now: datetime) -> TaskRow:
        return TaskRow(
            id=str(uuid.uuid4()),
            project_id=project_id,
            case_id=case_id,
            assignee_id=assignee_id,
            status=TaskStatus.UNTAGGED.value,
            annotation_version=0,
            review_comment="",
            updated_at=now,
        )

    def list_tasks(self, project_id: str, where: TaskFilter, offset: int, limit: int) -> tuple[list[Task], int]:
        with self._sessions() as session:
            self._project(session, project_id)
            joined = select(TaskRow, CaseRow).join(CaseRow, CaseRow.id == TaskRow.case_id)
            return self._page(session, _filtered(joined, project_id, where), offset, limit)

    def inbox(
        self, assignee_id: str, where: TaskFilter, task_type: str, offset: int, limit: int
    ) -> tuple[list[Task], int]:
        """One annotator's tasks across every project, optionally of one task type."""
        query = (
            select(TaskRow, CaseRow)
            .join(CaseRow, CaseRow.id == TaskRow.case_id)
            .join(ProjectRow, ProjectRow.id == TaskRow.project_id)
            .where(TaskRow.assignee_id == assignee_id)
        )
        if task_type:
            query = query.where(ProjectRow.task_type == task_type)
        with self._sessions() as session:
            return self._page(session, _filtered(query, "", where), offset, limit)

    @staticmethod
    def _page(session: Session, query: Any, offset: int, limit: int) -> tuple[list[Task], int]:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.execute(
            query.order_by(CaseRow.added_at, CaseRow.study_instance_uid, TaskRow.assignee_id)
            .offset(offset)
            .limit(limit)
        )
        return [_task(task, case) for task, case in rows], total

    def task(self, task_id: str) -> Task:
        with self._sessions() as session:
            found = session.execute(
                select(TaskRow, CaseRow).join(CaseRow, CaseRow.id == TaskRow.case_id).where(TaskRow.id == task_id)
            ).first()
            if found is None:
                raise NotFound(f"task '{task_id}' does not exist", reason="TASK_NOT_FOUND")
            return _task(*found)

    def assign(
        self, project_id: str, where: TaskFilter, annotators: Sequence[str], mode: AssignMode
    ) -> tuple[int, dict[str, int]]:
        """Gives the matching cases to annotators: an unassigned task is taken over, others are added."""
        cases_only = TaskFilter(where.site, where.study_date_from, where.study_date_to, (), None, where.case_ids)
        with self._sessions.begin() as session:
            self._project(session, project_id)
            rows = session.execute(
                _filtered(select(TaskRow.case_id, TaskRow.assignee_id, TaskRow.id), project_id, cases_only)
                .join(CaseRow, CaseRow.id == TaskRow.case_id)
                .order_by(CaseRow.added_at, CaseRow.study_instance_uid)
            ).all()
            held: dict[str, set[str]] = defaultdict(set)
            unassigned: dict[str, str] = {}
            for case_id, assignee, task_id in rows:
                if assignee == UNASSIGNED:
                    unassigned[case_id] = task_id
                else:
                    held[case_id].add(assignee)
            load = Counter(
                dict(
                    session.execute(
                        select(TaskRow.assignee_id, func.count())
                        .where(TaskRow.project_id == project_id, TaskRow.assignee_id.in_(annotators))
                        .group_by(TaskRow.assignee_id)
                    ).all()
                )
            )
            case_ids = list(dict.fromkeys(case_id for case_id, _, _ in rows))
            now = self._now()
            pairs = plan_assignment(case_ids, annotators, mode, held, load)
            for case_id, annotator in pairs:
                task_id = unassigned.pop(case_id, None)
                if task_id is not None:
                    row = session.get(TaskRow, task_id)
                    assert row is not None
                    row.assignee_id, row.updated_at = annotator, now
                else:
                    session.add(self._new_task(project_id, case_id, annotator, now))
                load[annotator] += 1
            return len(pairs), {a: load[a] for a in annotators}

    def cases_by_study(self, project_id: str, study_instance_uids: Sequence[str]) -> dict[str, Case]:
        with self._sessions() as session:
            self._project(session, project_id)
            rows = session.scalars(
                select(CaseRow).where(
                    CaseRow.project_id == project_id, CaseRow.study_instance_uid.in_(list(study_instance_uids))
                )
            )
            return {row.study_instance_uid: _case(row) for row in rows}

    def task_of(self, case_id: str, assignee_id: str) -> Task:
        """The annotator's task for the case: theirs, else the unassigned one taken over, else a new one."""
        with self._sessions.begin() as session:
            rows = {row.assignee_id: row for row in session.scalars(select(TaskRow).where(TaskRow.case_id == case_id))}
            row = rows.get(assignee_id) or rows.get(UNASSIGNED)
            if row is None:
                case = session.get(CaseRow, case_id)
                assert case is not None
                row = self._new_task(case.project_id, case_id, assignee_id, self._now())
                session.add(row)
            row.assignee_id = assignee_id
            session.flush()
            case_row = session.get(CaseRow, case_id)
            assert case_row is not None
            return _task(row, case_row)

    def next_task(self, project_id: str, user_id: str) -> Task | None:
        """Rejected tasks first (they wait for a fix), then drafts, then untouched ones; each in case order."""
        with self._sessions() as session:
            self._project(session, project_id)
            for status in (TaskStatus.REJECTED, TaskStatus.IN_PROGRESS, TaskStatus.UNTAGGED):
                found = session.execute(
                    select(TaskRow, CaseRow)
                    .join(CaseRow, CaseRow.id == TaskRow.case_id)
                    .where(
                        TaskRow.project_id == project_id,
                        TaskRow.assignee_id == user_id,
                        TaskRow.status == status.value,
                    )
                    .order_by(CaseRow.added_at, CaseRow.study_instance_uid)
                    .limit(1)
                ).first()
                if found is not None:
                    return _task(*found)
            return None

    def progress(self, project_id: str) -> tuple[Counter[str], dict[str, Counter[str]], int]:
        with self._sessions() as session:
            self._project(session, project_id)
            rows = session.execute(
                select(TaskRow.assignee_id, TaskRow.status, func.count())
                .where(TaskRow.project_id == project_id)
                .group_by(TaskRow.assignee_id, TaskRow.status)
            ).all()
            cases = session.scalar(select(func.count()).where(CaseRow.project_id == project_id)) or 0
        whole: Counter[str] = Counter()
        per: dict[str, Counter[str]] = defaultdict(Counter)
        for assignee, status, count in rows:
            whole[status] += count
            per[assignee or "-"][status] += count
        return whole, dict(per), cases

    # --- annotations and reviews ----------------------------------------------------------------

    def save_annotation(
        self,
        task_id: str,
        author_id: str,
        base_version: int,
        content: AnnotationContent,
        *,
        submit: bool,
        source: str,
    ) -> AnnotationVersion:
        """A new version on top of `base_version`; one that is not the latest is refused (STALE_VERSION, 409)."""
        with self._sessions.begin() as session:
            task = session.get(TaskRow, task_id, with_for_update=True)
            if task is None:
                raise NotFound(f"task '{task_id}' does not exist", reason="TASK_NOT_FOUND")
            check_base_version(base_version, task.annotation_version)
            status = status_after_save(TaskStatus(task.status), submit)
            first = session.scalar(
                select(AnnotationVersionRow.annotation_id).where(AnnotationVersionRow.task_id == task_id).limit(1)
            )
            now = self._now()
            row = AnnotationVersionRow(
                annotation_id=first or str(uuid.uuid4()),
                task_id=task_id,
                case_id=task.case_id,
                version=task.annotation_version + 1,
                author_id=author_id,
                source=source,
                content=content_json(content),
                submitted=submit,
                saved_at=now,
            )
            session.add(row)
            task.annotation_version, task.status, task.updated_at = row.version, status.value, now
            if submit:
                task.review_comment = ""
            try:
                session.flush()
            except IntegrityError:  # another save of the same version won the race
                raise Conflict(
                    "another version was saved at the same time; reload it", reason="STALE_VERSION"
                ) from None
            return _version(row)

    def latest_version(self, task_id: str) -> AnnotationVersion | None:
        """The task's latest annotation version; None before the first save."""
        with self._sessions() as session:
            row = session.scalar(
                select(AnnotationVersionRow)
                .where(AnnotationVersionRow.task_id == task_id)
                .order_by(AnnotationVersionRow.version.desc())
                .limit(1)
            )
            return _version(row) if row is not None else None

    def history(self, task_id: str) -> list[AnnotationVersion]:
        self.task(task_id)
        with self._sessions() as session:
            rows = session.scalars(
                select(AnnotationVersionRow)
                .where(AnnotationVersionRow.task_id == task_id)
                .order_by(AnnotationVersionRow.version)
            )
            return [_version(row) for row in rows]

    def review(self, task_id: str, reviewer_id: str, decision: ReviewDecision, comment: str) -> tuple[Task, list[Task]]:
        """Accept, reject, or adjudicate: accept this task and reject the case's other submitted tasks."""
        with self._sessions.begin() as session:
            task = session.get(TaskRow, task_id, with_for_update=True)
            if task is None:
                raise NotFound(f"task '{task_id}' does not exist", reason="TASK_NOT_FOUND")
            now = self._now()
            self._decide(session, task, reviewer_id, decision, comment, now)
            others = []
            if decision is ReviewDecision.ADJUDICATE:
                rivals = session.scalars(
                    select(TaskRow).where(
                        TaskRow.case_id == task.case_id,
                        TaskRow.id != task.id,
                        TaskRow.status.in_([TaskStatus.TAGGED.value, TaskStatus.REVIEWED.value]),
                    )
                )
                for rival in rivals:
                    rival.status = TaskStatus.TAGGED.value  # an earlier acceptance is overruled too
                    note = comment or "adjudicated in favour of another annotator"
                    self._decide(session, rival, reviewer_id, ReviewDecision.REJECT, note, now)
                    others.append(rival)
            case = session.get(CaseRow, task.case_id)
            assert case is not None
            return _task(task, case), [_task(other, case) for other in others]

    @staticmethod
    def _decide(
        session: Session, task: TaskRow, reviewer_id: str, decision: ReviewDecision, comment: str, now: datetime
    ) -> None:
        task.status = status_after_review(TaskStatus(task.status), decision, comment).value
        task.review_comment, task.updated_at = comment, now
        session.add(
            ReviewRow(
                task_id=task.id,
                annotation_version=task.annotation_version,
                reviewer_id=reviewer_id,
                decision=decision.value,
                comment=comment,
                reviewed_at=now,
            )
        )

    def latest_annotations(
        self, project_id: str, statuses: Sequence[TaskStatus]
    ) -> list[tuple[Task, AnnotationVersion]]:
        """The latest version of each task in these statuses, by case."""
        with self._sessions() as session:
            self._project(session, project_id)
            rows = session.execute(
                select(TaskRow, CaseRow, AnnotationVersionRow)
                .join(CaseRow, CaseRow.id == TaskRow.case_id)
                .join(
                    AnnotationVersionRow,
                    (AnnotationVersionRow.task_id == TaskRow.id)
                    & (AnnotationVersionRow.version == TaskRow.annotation_version),
                )
                .where(TaskRow.project_id == project_id, TaskRow.status.in_([s.value for s in statuses]))
                .order_by(CaseRow.added_at, CaseRow.study_instance_uid, TaskRow.assignee_id)
            ).all()
            return [(_task(task, case), _version(version)) for task, case, version in rows]

    # --- dataset versions -----------------------------------------------------------------------

    def add_dataset(
        self, project_id: str, content_hash: str, manifest: bytes, split_counts: dict[str, int], created_by: str
    ) -> tuple[DatasetRow, bool]:
        """Stores a frozen version; an identical one (same hash) is returned instead, with True."""
        with self._sessions.begin() as session:
            existing = session.scalar(
                select(DatasetRow).where(DatasetRow.project_id == project_id, DatasetRow.content_hash == content_hash)
            )
            if existing is not None:
                session.expunge(existing)
                return existing, True
            row = DatasetRow(
                id=str(uuid.uuid4()),
                project_id=project_id,
                content_hash=content_hash,
                manifest=manifest.decode(),
                split_counts=json.dumps(split_counts),
                created_by=created_by,
                created_at=self._now(),
            )
            session.add(row)
            try:
                session.flush()
            except IntegrityError:
                raise AlreadyExists(
                    "this dataset version was frozen at the same time", reason="DATASET_EXISTS"
                ) from None
            session.expunge(row)
            return row, False

    def dataset(self, dataset_id: str) -> DatasetRow:
        with self._sessions() as session:
            row = session.get(DatasetRow, dataset_id)
            if row is None:
                raise NotFound(f"dataset '{dataset_id}' does not exist", reason="DATASET_NOT_FOUND")
            session.expunge(row)
            return row

    def datasets(self, project_id: str) -> list[DatasetRow]:
        with self._sessions() as session:
            self._project(session, project_id)
            rows = list(
                session.scalars(
                    select(DatasetRow).where(DatasetRow.project_id == project_id).order_by(DatasetRow.created_at.desc())
                )
            )
            for row in rows:
                session.expunge(row)
            return rows
