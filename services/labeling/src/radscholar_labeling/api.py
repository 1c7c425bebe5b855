"""The labeling servicer: proto -> domain -> proto, and the staged objects a save reads."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections import Counter
from dataclasses import asdict
from datetime import UTC, datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from radscholar_core.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from radscholar_core.identity import current_identity
from radscholar_core.objectstore import ObjectStore
from radscholar_core.paging import Page
from radscholar_labeling.adapters.tables import DatasetRow
from radscholar_labeling.adapters.work_repository import SqlWork
from radscholar_labeling.domain.datasets import SplitSpec, Stratify, build_manifest
from radscholar_labeling.domain.mask_store import MaskInput, MaskStore
from radscholar_labeling.domain.masks import Geometry, RleSlice, geometry_of
from radscholar_labeling.domain.projects import (
    Dimensionality,
    LabelClass,
    LabelLevel,
    LabelSchema,
    NewProject,
    Project,
    TaskType,
)
from radscholar_labeling.domain.reviews import dataset_items, project_agreement
from radscholar_labeling.domain.transfers import LabelTransfers
from radscholar_labeling.domain.work import (
    UNASSIGNED,
    AnnotationContent,
    AnnotationVersion,
    AssignMode,
    Box,
    Case,
    CaseSeries,
    ClassLabel,
    NewCase,
    ReviewDecision,
    Task,
    TaskFilter,
    TaskStatus,
    check_base_version,
    check_content,
    check_source,
    placed,
)
from radscholar_labeling.ports import ProjectRepository
from radscholar_proto.common.v1 import paging_pb2
from radscholar_proto.labeling.v1 import labeling_pb2 as pb
from radscholar_proto.labeling.v1 import labeling_pb2_grpc

TASK_TYPES = {
    pb.TASK_TYPE_CLASSIFICATION: TaskType.CLASSIFICATION,
    pb.TASK_TYPE_DETECTION: TaskType.DETECTION,
    pb.TASK_TYPE_SEGMENTATION: TaskType.SEGMENTATION,
}
DIMENSIONALITIES = {pb.DIMENSIONALITY_2D: Dimensionality.TWO_D, pb.DIMENSIONALITY_3D: Dimensionality.THREE_D}
LEVELS = {
    pb.LABEL_LEVEL_UNSPECIFIED: LabelLevel.CASE,
    pb.LABEL_LEVEL_CASE: LabelLevel.CASE,
    pb.LABEL_LEVEL_SERIES: LabelLevel.SERIES,
    pb.LABEL_LEVEL_IMAGE: LabelLevel.IMAGE,
    pb.LABEL_LEVEL_LESION: LabelLevel.LESION,
}
STATUSES = {
    pb.TASK_STATUS_UNTAGGED: TaskStatus.UNTAGGED,
    pb.TASK_STATUS_IN_PROGRESS: TaskStatus.IN_PROGRESS,
    pb.TASK_STATUS_TAGGED: TaskStatus.TAGGED,
    pb.TASK_STATUS_REVIEWED: TaskStatus.REVIEWED,
    pb.TASK_STATUS_REJECTED: TaskStatus.REJECTED,
}
MODES = {
    pb.ASSIGN_MODE_UNSPECIFIED: AssignMode.SPLIT,
    pb.ASSIGN_MODE_SPLIT: AssignMode.SPLIT,
    pb.ASSIGN_MODE_EACH: AssignMode.EACH,
}
DECISIONS = {
    pb.REVIEW_DECISION_ACCEPT: ReviewDecision.ACCEPT,
    pb.REVIEW_DECISION_REJECT: ReviewDecision.REJECT,
    pb.REVIEW_DECISION_ADJUDICATE: ReviewDecision.ADJUDICATE,
}
MANAGERS = frozenset({"lead", "researcher"})  # project roles that add cases, assign work and freeze datasets
REVIEWERS = frozenset({"lead", "reviewer"})


def _choice(table: dict, value: int, field: str, enum: object) -> object:
    if value not in table:
        names = ", ".join(enum.Name(v) for v in table)  # type: ignore[attr-defined]
        raise InvalidArgument(f"{field} must be one of {names}", reason=f"INVALID_{field.upper()}")
    return table[value]


def project_to_proto(project: Project) -> pb.Project:
    created = Timestamp()
    created.FromDatetime(project.created_at)
    return pb.Project(
        id=project.id,
        name=project.name,
        description=project.description,
        modality=project.modality,
        task_type={v: k for k, v in TASK_TYPES.items()}[project.task_type],
        dimensionality={v: k for k, v in DIMENSIONALITIES.items()}[project.dimensionality],
        created_at=created,
        label_schema=pb.LabelSchema(
            classes=[pb.LabelClass(name=c.name, color=c.color) for c in project.label_schema.classes],
            level={v: k for k, v in LEVELS.items() if k}[project.label_schema.level],
            multi_label=project.label_schema.multi_label,
        ),
        sites=list(project.sites),
    )


def _timestamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def case_to_proto(case: Case) -> pb.Case:
    return pb.Case(
        id=case.id,
        project_id=case.project_id,
        study_instance_uid=case.study_instance_uid,
        patient_id=case.patient_id,
        site=case.site,
        study_date=case.study_date,
        description=case.description,
        series=[
            pb.CaseSeries(
                series_instance_uid=s.series_instance_uid,
                modality=s.modality,
                rows=s.rows,
                columns=s.columns,
                slices=s.slices,
            )
            for s in case.series
        ],
    )


def task_to_proto(task: Task) -> pb.Task:
    return pb.Task(
        id=task.id,
        project_id=task.project_id,
        case=case_to_proto(task.case),
        assignee_id=task.assignee_id,
        status={v: k for k, v in STATUSES.items()}[task.status],
        annotation_version=task.annotation_version,
        review_comment=task.review_comment,
        updated_at=_timestamp(task.updated_at),
    )


def annotation_to_proto(version: AnnotationVersion) -> pb.Annotation:
    content = version.content
    return pb.Annotation(
        id=version.annotation_id,
        task_id=version.task_id,
        case_id=version.case_id,
        version=version.version,
        author_id=version.author_id,
        source=version.source,
        labels=[pb.ClassLabel(**asdict(label)) for label in content.labels],
        boxes=[
            pb.Box(
                class_name=b.class_name,
                series_instance_uid=b.series_instance_uid,
                sop_instance_uid=b.sop_instance_uid,
                min=list(b.min),
                max=list(b.max),
                min_mm=list(b.min_mm),
                max_mm=list(b.max_mm),
            )
            for b in content.boxes
        ],
        comment=content.comment,
        saved_at=_timestamp(version.saved_at),
        submitted=version.submitted,
        masks=[
            pb.Mask(
                series_instance_uid=m.series_instance_uid,
                nifti_object_key=m.nifti_object_key,
                seg_series_instance_uid=m.seg_series_instance_uid,
                seg_sop_instance_uid=m.seg_sop_instance_uid,
                voxels=dict(m.voxels),
                seg_object_key=m.seg_object_key,
            )
            for m in content.masks
        ],
    )


def _filter(message: pb.TaskFilter) -> TaskFilter:
    assignee = None if not message.assignee_id else UNASSIGNED if message.assignee_id == "-" else message.assignee_id
    return TaskFilter(
        site=message.site,
        study_date_from=message.study_date_from,
        study_date_to=message.study_date_to,
        statuses=tuple(_choice(STATUSES, s, "status", pb.TaskStatus) for s in message.statuses),  # type: ignore[misc]
        assignee_id=assignee,
        case_ids=tuple(message.case_ids),
    )


def _counts(counts: Counter[str]) -> pb.StatusCounts:
    return pb.StatusCounts(counts={s.value: counts.get(s.value, 0) for s in TaskStatus}, total=sum(counts.values()))


def _schema(message: pb.LabelSchema) -> LabelSchema:
    return LabelSchema(
        classes=tuple(LabelClass(c.name, c.color) for c in message.classes),
        level=_choice(LEVELS, message.level, "level", pb.LabelLevel),  # type: ignore[arg-type]
        multi_label=message.multi_label,
    )


def _member(project_id: str, roles: frozenset[str] | None = None) -> str:
    """The caller's user id when an admin or a member (with one of `roles`, when given)."""
    caller = current_identity()
    role = caller.project_role(project_id)
    if caller.is_admin or (role is not None and (roles is None or role in roles)):
        return caller.subject
    if role is None:
        raise PermissionDenied(f"you are not a member of project '{project_id}'", reason="NOT_A_PROJECT_MEMBER")
    raise PermissionDenied(
        f"this needs a project role of {' or '.join(sorted(roles or ()))}; yours is {role}",
        reason="PROJECT_ROLE_REQUIRED",
    )


def dataset_to_proto(row: DatasetRow, *, with_manifest: bool = True) -> pb.Dataset:
    return pb.Dataset(
        id=row.id,
        project_id=row.project_id,
        content_hash=row.content_hash,
        manifest_json=row.manifest.encode() if with_manifest else b"",
        created_at=_timestamp(row.created_at),
        created_by=row.created_by,
        split_counts=json.loads(row.split_counts),
    )


class LabelingServicer(labeling_pb2_grpc.LabelingServiceServicer):
    def __init__(self, projects: ProjectRepository, work: SqlWork, masks: MaskStore, objects: ObjectStore) -> None:
        self._projects = projects
        self._work = work
        self._masks = masks
        self._objects = objects
        self._transfers = LabelTransfers(work, masks, objects)

    async def CreateProject(
        self, request: pb.CreateProjectRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateProjectResponse:
        new = NewProject(
            name=request.name,
            description=request.description,
            modality=request.modality.upper(),
            task_type=_choice(TASK_TYPES, request.task_type, "task_type", pb.TaskType),  # type: ignore[arg-type]
            dimensionality=_choice(  # type: ignore[arg-type]
                DIMENSIONALITIES, request.dimensionality, "dimensionality", pb.Dimensionality
            ),
            label_schema=_schema(request.label_schema),
            sites=tuple(dict.fromkeys(site.strip() for site in request.sites if site.strip())),
        )
        project = await asyncio.to_thread(self._projects.add, new)
        return pb.CreateProjectResponse(project=project_to_proto(project))

    async def GetProject(
        self, request: pb.GetProjectRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetProjectResponse:
        caller = current_identity()
        if not caller.is_admin and caller.project_role(request.project_id) is None:
            raise PermissionDenied(
                f"you are not a member of project '{request.project_id}'", reason="NOT_A_PROJECT_MEMBER"
            )
        project = await asyncio.to_thread(self._projects.get, request.project_id)
        return pb.GetProjectResponse(project=project_to_proto(project))

    async def ListProjects(
        self, request: pb.ListProjectsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListProjectsResponse:
        page = Page.of(request.page.page_size, request.page.page_token)
        caller = current_identity()
        among = None if caller.is_admin else list(caller.projects)
        projects, total = await asyncio.to_thread(self._projects.list, page.offset, page.limit, among)
        return pb.ListProjectsResponse(
            projects=[project_to_proto(p) for p in projects],
            page=paging_pb2.PageResponse(next_page_token=page.next_token(len(projects), total), total_size=total),
        )

    async def AddCases(self, request: pb.AddCasesRequest, context: grpc.aio.ServicerContext) -> pb.AddCasesResponse:
        _member(request.project_id, MANAGERS)
        project = await asyncio.to_thread(self._projects.get, request.project_id)
        cases = []
        for case in request.cases:
            if not case.study_instance_uid:
                raise InvalidArgument("every case names its study (study_instance_uid)", reason="INVALID_CASE")
            if project.sites and case.site not in project.sites:
                raise InvalidArgument(
                    f"study {case.study_instance_uid} is from site '{case.site or 'unknown'}', not one of the "
                    f"project's sites ({', '.join(project.sites)})",
                    reason="SITE_NOT_IN_PROJECT",
                )
            cases.append(
                NewCase(
                    study_instance_uid=case.study_instance_uid,
                    patient_id=case.patient_id,
                    site=case.site,
                    study_date=case.study_date,
                    description=case.description,
                    series=tuple(
                        CaseSeries(s.series_instance_uid, s.modality, s.rows, s.columns, s.slices) for s in case.series
                    ),
                )
            )
        added, present = await asyncio.to_thread(self._work.add_cases, request.project_id, cases)
        return pb.AddCasesResponse(added=[case_to_proto(c) for c in added], already_present=present)

    async def ListTasks(self, request: pb.ListTasksRequest, context: grpc.aio.ServicerContext) -> pb.ListTasksResponse:
        where = _filter(request.filter)
        page = Page.of(request.page.page_size, request.page.page_token)
        if not request.project_id:  # the caller's inbox, across projects
            kind = _choice(TASK_TYPES, request.task_type, "task_type", pb.TaskType) if request.task_type else None
            task_type = kind.value if isinstance(kind, TaskType) else ""
            tasks, total = await asyncio.to_thread(
                self._work.inbox, current_identity().subject, where, task_type, page.offset, page.limit
            )
        else:
            caller = _member(request.project_id)
            if not _sees_all(request.project_id):
                where = dataclasses.replace(where, assignee_id=caller)  # annotators see their own tasks only
            tasks, total = await asyncio.to_thread(
                self._work.list_tasks, request.project_id, where, page.offset, page.limit
            )
        return pb.ListTasksResponse(
            tasks=[task_to_proto(t) for t in tasks],
            page=paging_pb2.PageResponse(next_page_token=page.next_token(len(tasks), total), total_size=total),
        )

    async def AssignTasks(
        self, request: pb.AssignTasksRequest, context: grpc.aio.ServicerContext
    ) -> pb.AssignTasksResponse:
        _member(request.project_id, MANAGERS)
        mode: AssignMode = _choice(MODES, request.mode, "mode", pb.AssignMode)  # type: ignore[assignment]
        assigned, load = await asyncio.to_thread(
            self._work.assign, request.project_id, _filter(request.filter), list(request.annotator_ids), mode
        )
        return pb.AssignTasksResponse(assigned=assigned, per_annotator=load)

    async def NextTask(self, request: pb.NextTaskRequest, context: grpc.aio.ServicerContext) -> pb.NextTaskResponse:
        caller = _member(request.project_id)
        task = await asyncio.to_thread(self._work.next_task, request.project_id, caller)
        return pb.NextTaskResponse(task=task_to_proto(task)) if task else pb.NextTaskResponse()

    async def GetProgress(
        self, request: pb.GetProgressRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetProgressResponse:
        _member(request.project_id, MANAGERS | REVIEWERS)
        whole, per, cases = await asyncio.to_thread(self._work.progress, request.project_id)
        return pb.GetProgressResponse(
            project=_counts(whole), per_annotator={a: _counts(c) for a, c in per.items()}, cases=cases
        )

    async def SaveAnnotation(
        self, request: pb.SaveAnnotationRequest, context: grpc.aio.ServicerContext
    ) -> pb.SaveAnnotationResponse:
        task = await asyncio.to_thread(self._work.task, request.task_id)
        caller = _member(task.project_id)
        if task.assignee_id != caller:
            raise PermissionDenied("this task is not assigned to you", reason="NOT_YOUR_TASK")
        project = await asyncio.to_thread(self._projects.get, task.project_id)
        content = AnnotationContent(
            labels=tuple(ClassLabel(x.class_name, x.series_instance_uid, x.sop_instance_uid) for x in request.labels),
            boxes=tuple(
                Box(
                    b.class_name,
                    b.series_instance_uid,
                    b.sop_instance_uid,
                    tuple(b.min),
                    tuple(b.max),
                    tuple(b.min_mm),
                    tuple(b.max_mm),
                )
                for b in request.boxes
            ),
            comment=request.comment,
        )
        if project.dimensionality is Dimensionality.THREE_D and content.boxes:
            content = dataclasses.replace(content, boxes=await self._placed(content.boxes, task.case))
        check_content(content, project, task.case)
        source = check_source(request.source)
        check_base_version(request.base_version, task.annotation_version)  # before any mask is written
        staged = [key for m in request.masks for key in (m.nifti_object_key, m.seg_object_key) if key]
        for key in staged:
            if not key.startswith(f"staging/masks/{task.id}/"):
                raise InvalidArgument(f"'{key}' is not a mask uploaded for this task", reason="INVALID_MASK_UPLOAD")
        try:
            latest = await asyncio.to_thread(self._work.latest_version, task.id)
            previous = latest.content.masks if latest else ()
            if request.masks:
                inputs = [await self._mask_input(m) for m in request.masks]
                previous = await self._masks.save(project, task.case, task.id, inputs, previous)
            content = dataclasses.replace(content, masks=previous)  # masks of series not named are kept
            version = await asyncio.to_thread(
                self._work.save_annotation,
                task.id,
                caller,
                request.base_version,
                content,
                submit=request.submit,
                source=source,
            )
        finally:
            for key in staged:
                await asyncio.to_thread(self._objects.delete, key)
        return pb.SaveAnnotationResponse(annotation=annotation_to_proto(version))

    async def _placed(self, boxes: tuple[Box, ...], case: Case) -> tuple[Box, ...]:
        """3D boxes with their corners in voxels and in mm (the series' geometry from the DICOM store)."""
        geometries: dict[str, Geometry] = {}
        for box in boxes:
            uid = box.series_instance_uid
            if uid not in geometries:
                case.series_of(uid)
                geometries[uid] = geometry_of(await self._masks.images.headers(uid))
        return tuple(placed(box, geometries[box.series_instance_uid], i) for i, box in enumerate(boxes))

    async def _mask_input(self, given: pb.MaskInput) -> MaskInput:
        async def read(key: str) -> bytes | None:
            return await asyncio.to_thread(self._objects.get, key) if key else None

        return MaskInput(
            series_instance_uid=given.series_instance_uid,
            nifti=await read(given.nifti_object_key),
            seg=await read(given.seg_object_key),
            rle=tuple(RleSlice(s.index, s.label, list(s.counts)) for s in given.rle),
            roi_classes=dict(given.roi_classes),
        )

    async def GetAnnotationHistory(
        self, request: pb.GetAnnotationHistoryRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetAnnotationHistoryResponse:
        task = await asyncio.to_thread(self._work.task, request.task_id)
        caller = _member(task.project_id)
        if task.assignee_id != caller and not _sees_all(task.project_id):
            raise PermissionDenied("this task is not assigned to you", reason="NOT_YOUR_TASK")
        versions = await asyncio.to_thread(self._work.history, task.id)
        return pb.GetAnnotationHistoryResponse(versions=[annotation_to_proto(v) for v in versions])

    async def ReviewTask(
        self, request: pb.ReviewTaskRequest, context: grpc.aio.ServicerContext
    ) -> pb.ReviewTaskResponse:
        task = await asyncio.to_thread(self._work.task, request.task_id)
        caller = _member(task.project_id, REVIEWERS)
        if task.assignee_id == caller:
            raise PermissionDenied("nobody reviews their own annotation", reason="OWN_TASK")
        decision: ReviewDecision = _choice(DECISIONS, request.decision, "decision", pb.ReviewDecision)  # type: ignore[assignment]
        reviewed, others = await asyncio.to_thread(self._work.review, task.id, caller, decision, request.comment)
        return pb.ReviewTaskResponse(task=task_to_proto(reviewed), others=[task_to_proto(t) for t in others])

    async def GetAgreement(
        self, request: pb.GetAgreementRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetAgreementResponse:
        _member(request.project_id, MANAGERS | REVIEWERS)
        if request.limit < 0:
            raise InvalidArgument("limit must not be negative", reason="INVALID_LIMIT")
        submitted = (TaskStatus.TAGGED, TaskStatus.REVIEWED)
        latest = await asyncio.to_thread(self._work.latest_annotations, request.project_id, submitted)
        project = await asyncio.to_thread(self._projects.get, request.project_id)
        report = await project_agreement(latest, self._masks, project, request.limit or 20)
        return pb.GetAgreementResponse(
            class_kappa=report.class_kappa,
            kappa_method=report.kappa_method,
            cases_compared=report.cases_compared,
            mean_box_iou=report.mean_box_iou,
            mean_mask_dice=report.mean_mask_dice,
            disagreements=[
                pb.CaseAgreement(case_id=c.case_id, kind=c.kind, score=c.score, detail=c.detail)
                for c in report.disagreements
            ],
        )

    async def FreezeDataset(
        self, request: pb.FreezeDatasetRequest, context: grpc.aio.ServicerContext
    ) -> pb.FreezeDatasetResponse:
        caller = _member(request.project_id, MANAGERS)
        given = request.split
        spec = (
            SplitSpec(
                train=given.train,
                validation=given.validation,
                test=given.test,
                stratify=_stratify(given.stratify),
                column=given.column,
                seed=given.seed,
            )
            if request.HasField("split")
            else SplitSpec()
        )
        accepted = await asyncio.to_thread(self._work.latest_annotations, request.project_id, (TaskStatus.REVIEWED,))
        if not accepted:
            raise FailedPrecondition("the project has no accepted labels to freeze", reason="NOTHING_ACCEPTED")
        columns = {case: dict(values.values) for case, values in request.columns.items()}
        items = dataset_items(accepted, columns)
        lineage = {
            "project_id": request.project_id,
            "deidentification_profile": request.deidentification_profile
            or await self._masks.images.deidentification_profile(request.project_id),
            "labeling_service": "radscholar-labeling/v1",
        }
        manifest = build_manifest(request.project_id, items, spec, lineage, datetime.now(UTC).isoformat())
        split_counts = {split: counts["cases"] for split, counts in manifest.counts().items()}
        row, existed = await asyncio.to_thread(
            self._work.add_dataset, request.project_id, manifest.content_hash, manifest.to_json(), split_counts, caller
        )
        return pb.FreezeDatasetResponse(dataset=dataset_to_proto(row), already_existed=existed)

    async def GetDataset(
        self, request: pb.GetDatasetRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetDatasetResponse:
        row = await asyncio.to_thread(self._work.dataset, request.dataset_id)
        _member(row.project_id)
        return pb.GetDatasetResponse(dataset=dataset_to_proto(row))

    async def ListDatasets(
        self, request: pb.ListDatasetsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListDatasetsResponse:
        _member(request.project_id)
        rows = await asyncio.to_thread(self._work.datasets, request.project_id)
        return pb.ListDatasetsResponse(datasets=[dataset_to_proto(r, with_manifest=False) for r in rows])

    async def ImportLabels(
        self, request: pb.ImportLabelsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ImportLabelsResponse:
        caller = _member(request.project_id, MANAGERS)
        project = await asyncio.to_thread(self._projects.get, request.project_id)
        if not request.object_key.startswith("staging/imports/"):
            raise InvalidArgument("object_key is not a staged import", reason="INVALID_IMPORT_UPLOAD")
        data = await asyncio.to_thread(self._objects.get, request.object_key)
        cases, labels, boxes = await self._transfers.import_labels(
            project,
            request.format,
            data,
            request.annotator_id or caller,
            caller,
            submit=request.submit,
            source=check_source(request.source),
        )
        return pb.ImportLabelsResponse(cases=cases, labels=labels, boxes=boxes)

    async def ExportLabels(
        self, request: pb.ExportLabelsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ExportLabelsResponse:
        _member(request.project_id, MANAGERS | REVIEWERS)
        project = await asyncio.to_thread(self._projects.get, request.project_id)
        statuses = [_choice(STATUSES, s, "status", pb.TaskStatus) for s in request.statuses] or [TaskStatus.REVIEWED]
        key, media, name, count = await self._transfers.export_labels(project, request.format, statuses)  # type: ignore[arg-type]
        return pb.ExportLabelsResponse(object_key=key, content_type=media, file_name=name, annotations=count)


def _sees_all(project_id: str) -> bool:
    caller = current_identity()
    return caller.is_admin or caller.project_role(project_id) in MANAGERS | REVIEWERS | {"viewer"}


def _stratify(text: str) -> Stratify:
    try:
        return Stratify(text or "none")
    except ValueError:
        raise InvalidArgument(
            f"stratify must be one of {', '.join(s.value for s in Stratify)}", reason="INVALID_SPLIT"
        ) from None
