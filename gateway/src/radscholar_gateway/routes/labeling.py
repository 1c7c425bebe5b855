"""Labeling work: cases, worklists and assignment, annotations, reviews, agreement and dataset versions."""

from __future__ import annotations

import asyncio
import json
import math
import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, model_validator

from radscholar_core.errors import InvalidArgument
from radscholar_core.objectstore import ObjectStore
from radscholar_gateway.convert import page_request, to_model
from radscholar_gateway.deps import Access, DicomStore, Labeling
from radscholar_gateway.routes.dicom import object_response
from radscholar_gateway.staging import spooled_body, staged
from radscholar_proto.dicomstore.v1 import dicomstore_pb2 as store_pb
from radscholar_proto.labeling.v1 import labeling_pb2 as pb

router = APIRouter(prefix="/api/v1", tags=["labeling"])

TaskStatus = Literal["untagged", "in_progress", "tagged", "reviewed", "rejected"]
UPLOAD_ID = re.compile(r"^[0-9a-f]{32}\.(seg|nii|nii\.gz)$")
MAX_CASES_PER_CALL = 10_000
ASSIGNABLE_ROLES = frozenset({"annotator", "lead", "researcher", "reviewer"})


def _enum(value: str, prefix: str) -> str:
    return f"{prefix}{value.upper()}"


def _name(enum: Any, value: int, prefix: str) -> str:
    return str(enum.Name(value)).removeprefix(prefix).lower()


# --- cases ------------------------------------------------------------------------------------------


class StudyQuery(BaseModel):
    """Studies of the DICOM store, as `GET /api/v1/dicom/studies` filters them."""

    modality: str = ""
    site: str = ""
    study_date_from: str = Field("", description="YYYY-MM-DD, inclusive")
    study_date_to: str = Field("", description="YYYY-MM-DD, inclusive")
    description: str = Field("", description="text contained in the study description")
    body_part: str = ""
    patient_id: str = ""


class CaseSelection(BaseModel):
    study_instance_uids: list[str] = Field(default_factory=list, max_length=MAX_CASES_PER_CALL)
    query: StudyQuery | None = None

    @model_validator(mode="after")
    def _one_way(self) -> CaseSelection:
        if bool(self.study_instance_uids) == (self.query is not None):
            raise ValueError("give either study_instance_uids or query")
        return self


class CaseSeries(BaseModel):
    series_instance_uid: str
    modality: str
    rows: int
    columns: int
    slices: int


class Case(BaseModel):
    id: str
    project_id: str
    study_instance_uid: str
    patient_id: str
    site: str
    study_date: str
    description: str
    series: list[CaseSeries]


class AddedCases(BaseModel):
    added: list[Case]
    already_present: list[str]


def _case(message: pb.Case) -> Case:
    return to_model(Case, message)


async def _studies(store: DicomStore, selection: CaseSelection) -> list[store_pb.Study]:
    """The selected studies as the DICOM store knows them; an unknown study UID is a 404 naming it."""
    if selection.query is None:
        studies = []
        for uid in dict.fromkeys(selection.study_instance_uids):
            found = await store.QueryStudies(
                store_pb.QueryStudiesRequest(
                    filter=store_pb.StudyFilter(study_instance_uid=uid), page=page_request(1, "")
                )
            )
            if not found.studies:
                raise InvalidArgument(f"study '{uid}' is not in the DICOM store", reason="STUDY_NOT_FOUND")
            studies.append(found.studies[0])
        return studies
    q = selection.query
    where = store_pb.StudyFilter(
        modality=q.modality,
        site=q.site,
        study_date_from=q.study_date_from,
        study_date_to=q.study_date_to,
        description_contains=q.description,
        body_part=q.body_part,
        patient_id=q.patient_id,
    )
    studies, token = [], ""
    while True:
        page = await store.QueryStudies(
            store_pb.QueryStudiesRequest(filter=where, sort="received", page=page_request(1000, token))
        )
        studies += page.studies
        token = page.page.next_page_token
        if len(studies) > MAX_CASES_PER_CALL:
            raise InvalidArgument(
                f"the query matches more than {MAX_CASES_PER_CALL} studies; narrow it", reason="TOO_MANY_CASES"
            )
        if not token:
            return studies


async def _case_of(store: DicomStore, study: store_pb.Study) -> pb.Case:
    series = await store.QuerySeries(
        store_pb.QuerySeriesRequest(
            filter=store_pb.StudyFilter(study_instance_uid=study.study_instance_uid), page=page_request(1000, "")
        )
    )
    return pb.Case(
        study_instance_uid=study.study_instance_uid,
        patient_id=study.patient_id,
        site=study.site,
        study_date=study.study_date,
        description=study.description,
        series=[
            pb.CaseSeries(
                series_instance_uid=s.series_instance_uid,
                modality=s.modality,
                rows=s.rows,
                columns=s.columns,
                slices=s.slices,
            )
            for s in series.series
        ],
    )


@router.post(
    "/projects/{project_id}/cases",
    summary="Add studies as cases, by UID or by a query of the DICOM store; each gets an unassigned task",
)
async def add_cases(
    project_id: str, body: CaseSelection, request: Request, labeling: Labeling, store: DicomStore
) -> AddedCases:
    studies = await _studies(store, body)
    cases = [await _case_of(store, study) for study in studies]
    answer = await labeling.AddCases(pb.AddCasesRequest(project_id=project_id, cases=cases))
    request.state.audit_details = {"added": str(len(answer.added)), "already_present": str(len(answer.already_present))}
    return AddedCases(added=[_case(c) for c in answer.added], already_present=list(answer.already_present))


# --- tasks ------------------------------------------------------------------------------------------


class Task(BaseModel):
    id: str
    project_id: str
    case: Case
    assignee_id: str
    status: TaskStatus
    annotation_version: int
    review_comment: str
    updated_at: datetime


class TaskPage(BaseModel):
    tasks: list[Task]
    next_page_token: str
    total_size: int


class TaskSelection(BaseModel):
    """Which cases: every field narrows; none given selects every case of the project."""

    site: str = ""
    study_date_from: str = ""
    study_date_to: str = ""
    case_ids: list[str] = Field(default_factory=list, max_length=MAX_CASES_PER_CALL)


class Assignment(BaseModel):
    cases: TaskSelection = Field(default_factory=TaskSelection)
    annotator_ids: list[str] = Field(min_length=1, max_length=100)
    mode: Literal["split", "each"] = Field(
        "split", description="split: each case to one annotator, evenly; each: to all"
    )


class Assigned(BaseModel):
    assigned: int
    per_annotator: dict[str, int]


class StatusCounts(BaseModel):
    counts: dict[str, int]
    total: int


class Progress(BaseModel):
    cases: int
    project: StatusCounts
    per_annotator: dict[str, StatusCounts]


def _task(message: pb.Task) -> Task:
    return to_model(Task, message, status=_name(pb.TaskStatus, message.status, "TASK_STATUS_"))


def task_filter(
    site: str = "",
    study_date_from: Annotated[str, Query(description="YYYY-MM-DD, inclusive")] = "",
    study_date_to: Annotated[str, Query(description="YYYY-MM-DD, inclusive")] = "",
    status: Annotated[list[TaskStatus] | None, Query()] = None,
) -> pb.TaskFilter:
    statuses = [_enum(s, "TASK_STATUS_") for s in status or []]
    return pb.TaskFilter(site=site, study_date_from=study_date_from, study_date_to=study_date_to, statuses=statuses)  # type: ignore[arg-type]


TaskQuery = Annotated[pb.TaskFilter, Depends(task_filter)]
PageSize = Annotated[int, Query(ge=0, le=1000)]


def _task_page(answer: pb.ListTasksResponse) -> TaskPage:
    return TaskPage(
        tasks=[_task(t) for t in answer.tasks],
        next_page_token=answer.page.next_page_token,
        total_size=answer.page.total_size,
    )


@router.get("/projects/{project_id}/tasks", summary="The worklist: tasks by filter (annotators: their own)")
async def list_tasks(
    project_id: str,
    labeling: Labeling,
    where: TaskQuery,
    assignee_id: Annotated[str, Query(description="a user id; '-' for unassigned tasks")] = "",
    page_size: PageSize = 50,
    page_token: str = "",
) -> TaskPage:
    where.assignee_id = assignee_id
    page = page_request(page_size, page_token)
    return _task_page(await labeling.ListTasks(pb.ListTasksRequest(project_id=project_id, filter=where, page=page)))


@router.get("/tasks", summary="Your tasks across every project (your inbox), by task type, status, site and date")
async def my_tasks(
    labeling: Labeling,
    where: TaskQuery,
    task_type: Annotated[Literal["CLASSIFICATION", "DETECTION", "SEGMENTATION"] | None, Query()] = None,
    page_size: PageSize = 50,
    page_token: str = "",
) -> TaskPage:
    kind = f"TASK_TYPE_{task_type}" if task_type else "TASK_TYPE_UNSPECIFIED"
    page = page_request(page_size, page_token)
    return _task_page(await labeling.ListTasks(pb.ListTasksRequest(filter=where, task_type=kind, page=page)))  # type: ignore[arg-type]


@router.post("/projects/{project_id}/tasks/assignments", summary="Assign many cases to annotators in one call")
async def assign_tasks(project_id: str, body: Assignment, labeling: Labeling, access: Access) -> Assigned:
    members = {m.user.id: str(m.role) for m in await asyncio.to_thread(access.memberships.of_project, project_id)}
    for annotator in body.annotator_ids:
        if members.get(annotator) not in ASSIGNABLE_ROLES:
            raise InvalidArgument(
                f"user '{annotator}' is not a member of the project who can annotate", reason="NOT_AN_ANNOTATOR"
            )
    answer = await labeling.AssignTasks(
        pb.AssignTasksRequest(
            project_id=project_id,
            filter=pb.TaskFilter(
                site=body.cases.site,
                study_date_from=body.cases.study_date_from,
                study_date_to=body.cases.study_date_to,
                case_ids=body.cases.case_ids,
            ),
            annotator_ids=body.annotator_ids,
            mode=_enum(body.mode, "ASSIGN_MODE_"),  # type: ignore[arg-type]
        )
    )
    return Assigned(assigned=answer.assigned, per_annotator=dict(answer.per_annotator))


@router.get(
    "/projects/{project_id}/tasks/next",
    summary="Your next task to label (rejected ones first, then drafts, then new); null when none is left",
)
async def next_task(project_id: str, labeling: Labeling) -> Task | None:
    answer = await labeling.NextTask(pb.NextTaskRequest(project_id=project_id))
    return _task(answer.task) if answer.HasField("task") else None


@router.get("/projects/{project_id}/progress", summary="Task counts by status, per annotator and in all")
async def progress(project_id: str, labeling: Labeling) -> Progress:
    answer = await labeling.GetProgress(pb.GetProgressRequest(project_id=project_id))

    def counts(message: pb.StatusCounts) -> StatusCounts:
        return StatusCounts(counts=dict(message.counts), total=message.total)

    return Progress(
        cases=answer.cases,
        project=counts(answer.project),
        per_annotator={a: counts(c) for a, c in answer.per_annotator.items()},
    )


# --- annotations and reviews ------------------------------------------------------------------------


class ClassLabel(BaseModel):
    class_name: str
    series_instance_uid: str = ""
    sop_instance_uid: str = ""


class Box(BaseModel):
    class_name: str
    series_instance_uid: str
    sop_instance_uid: str = Field("", description="the image of a 2D box on a series of slices")
    min: list[float] = Field(
        default_factory=list, max_length=3, description="lower corner (column, row[, slice]), voxel edges"
    )
    max: list[float] = Field(default_factory=list, max_length=3, description="upper corner")
    min_mm: list[float] = Field(
        default_factory=list,
        max_length=3,
        description="3D: lower corner in patient coordinates (LPS, mm); alone, it sets the voxels",
    )
    max_mm: list[float] = Field(
        default_factory=list, max_length=3, description="3D: upper corner in patient coordinates"
    )


class RleSlice(BaseModel):
    index: int = Field(ge=0, description="slice index k (0-based)")
    label: int = Field(ge=1, le=255, description="class position (1-based) of the foreground runs")
    counts: list[int] = Field(description="run lengths in row-major order, background first")


class MaskEdit(BaseModel):
    """One series' mask: an uploaded NIfTI or DICOM SEG (`upload_id`), RLE slices, or `remove`."""

    series_instance_uid: str
    upload_id: str = Field("", pattern=UPLOAD_ID.pattern, description="from POST /tasks/{task_id}/mask-uploads")
    rle: list[RleSlice] = Field(default_factory=list, max_length=100_000)
    remove: bool = False
    roi_classes: dict[str, str] = Field(
        default_factory=dict, description="an uploaded RTSTRUCT: ROI name -> class (default: ROIs named like a class)"
    )

    @model_validator(mode="after")
    def _one_way(self) -> MaskEdit:
        if sum([bool(self.upload_id), bool(self.rle), self.remove]) != 1:
            raise ValueError("give exactly one of upload_id, rle or remove")
        return self


class MaskUpload(BaseModel):
    upload_id: str
    size_bytes: int


class Mask(BaseModel):
    series_instance_uid: str
    nifti_object_key: str
    seg_series_instance_uid: str
    seg_sop_instance_uid: str
    voxels: dict[str, int]


class AnnotationEdit(BaseModel):
    base_version: int = Field(ge=0, description="the version this edit started from; 0 for the first save")
    labels: list[ClassLabel] = Field(default_factory=list, max_length=10_000)
    boxes: list[Box] = Field(default_factory=list, max_length=10_000)
    masks: list[MaskEdit] = Field(default_factory=list, max_length=100, description="series not named keep theirs")
    comment: str = Field("", max_length=10_000)
    submit: bool = Field(False, description="submit for review (else a draft)")
    source: str = Field("person", description="'person', or 'model:<name>/<version>' for a pre-label")


class Annotation(BaseModel):
    id: str
    task_id: str
    case_id: str
    version: int
    author_id: str
    source: str
    labels: list[ClassLabel]
    boxes: list[Box]
    comment: str
    submitted: bool
    saved_at: datetime
    masks: list[Mask]


class AnnotationHistory(BaseModel):
    versions: list[Annotation]


class Review(BaseModel):
    decision: Literal["accept", "reject", "adjudicate"]
    comment: str = Field("", max_length=10_000)


class Reviewed(BaseModel):
    task: Task
    others: list[Task]


def _annotation(message: pb.Annotation) -> Annotation:
    return to_model(Annotation, message)


def _mask_input(task_id: str, edit: MaskEdit) -> pb.MaskInput:
    given = pb.MaskInput(series_instance_uid=edit.series_instance_uid)
    if edit.upload_id:
        key = f"staging/masks/{task_id}/{edit.upload_id}"
        if edit.upload_id.endswith(".seg"):
            given.seg_object_key = key
        else:
            given.nifti_object_key = key
    given.rle.extend(pb.RleSlice(index=r.index, label=r.label, counts=r.counts) for r in edit.rle)
    given.roi_classes.update(edit.roi_classes)
    return given


@router.post(
    "/tasks/{task_id}/mask-uploads",
    status_code=201,
    summary="Upload a mask (NIfTI .nii/.nii.gz, or DICOM SEG or RTSTRUCT as application/dicom) for the next save",
)
async def upload_mask(task_id: str, request: Request, labeling: Labeling) -> MaskUpload:
    await labeling.GetAnnotationHistory(pb.GetAnnotationHistoryRequest(task_id=task_id))  # 404 / 403 first
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    suffix = {"application/dicom": "seg", "application/gzip": "nii.gz", "application/x-gzip": "nii.gz"}.get(kind, "nii")
    upload_id = f"{uuid.uuid4().hex}.{suffix}"
    objects: ObjectStore = request.app.state.objects
    async with spooled_body(request, "mask upload") as body:
        size = body.seek(0, 2)
        body.seek(0)
        if suffix == "nii" and body.read(2) == b"\x1f\x8b":
            upload_id = upload_id.removesuffix(".nii") + ".nii.gz"
        body.seek(0)
        await asyncio.to_thread(objects.put, f"staging/masks/{task_id}/{upload_id}", body)  # the save deletes it
    return MaskUpload(upload_id=upload_id, size_bytes=size)


@router.put(
    "/tasks/{task_id}/annotation",
    summary="Save a new version of your annotation of a task (409 when another version was saved since yours)",
)
async def save_annotation(task_id: str, body: AnnotationEdit, labeling: Labeling) -> Annotation:
    answer = await labeling.SaveAnnotation(
        pb.SaveAnnotationRequest(
            task_id=task_id,
            base_version=body.base_version,
            labels=[pb.ClassLabel(**label.model_dump()) for label in body.labels],
            boxes=[pb.Box(**box.model_dump()) for box in body.boxes],
            masks=[_mask_input(task_id, m) for m in body.masks],
            comment=body.comment,
            submit=body.submit,
            source=body.source,
        )
    )
    return _annotation(answer.annotation)


@router.get("/tasks/{task_id}/annotation/versions", summary="Every version of a task's annotation, oldest first")
async def annotation_history(task_id: str, labeling: Labeling) -> AnnotationHistory:
    answer = await labeling.GetAnnotationHistory(pb.GetAnnotationHistoryRequest(task_id=task_id))
    return AnnotationHistory(versions=[_annotation(v) for v in answer.versions])


@router.post("/tasks/{task_id}/review", summary="Accept, reject (with a comment) or adjudicate a submitted task")
async def review_task(task_id: str, body: Review, request: Request, labeling: Labeling) -> Reviewed:
    answer = await labeling.ReviewTask(
        pb.ReviewTaskRequest(task_id=task_id, decision=_enum(body.decision, "REVIEW_DECISION_"), comment=body.comment)  # type: ignore[arg-type]
    )
    request.state.audit_details = {"decision": body.decision}
    return Reviewed(task=_task(answer.task), others=[_task(t) for t in answer.others])


# --- agreement --------------------------------------------------------------------------------------


class CaseAgreement(BaseModel):
    case_id: str
    kind: str
    score: float
    detail: str


class Agreement(BaseModel):
    cases_compared: int
    class_kappa: float | None = Field(description="Cohen's (two annotators) or Fleiss' kappa; null when not computable")
    kappa_method: str
    mean_box_iou: float | None
    mean_mask_dice: float | None
    disagreements: list[CaseAgreement]


def _number(value: float) -> float | None:
    return None if math.isnan(value) else value


@router.get("/projects/{project_id}/agreement", summary="Agreement between annotators, with the largest disagreements")
async def agreement(project_id: str, labeling: Labeling, limit: Annotated[int, Query(ge=1, le=1000)] = 20) -> Agreement:
    answer = await labeling.GetAgreement(pb.GetAgreementRequest(project_id=project_id, limit=limit))
    return Agreement(
        cases_compared=answer.cases_compared,
        class_kappa=_number(answer.class_kappa),
        kappa_method=answer.kappa_method,
        mean_box_iou=_number(answer.mean_box_iou),
        mean_mask_dice=_number(answer.mean_mask_dice),
        disagreements=[
            CaseAgreement(case_id=c.case_id, kind=c.kind, score=c.score, detail=c.detail) for c in answer.disagreements
        ],
    )


# --- dataset versions -------------------------------------------------------------------------------


class Split(BaseModel):
    train: float = Field(default=0.7, ge=0, le=1)
    validation: float = Field(default=0.15, ge=0, le=1)
    test: float = Field(default=0.15, ge=0, le=1)
    stratify: Literal["none", "class", "site", "column"] = "none"
    column: str = ""
    seed: int = Field(default=0, ge=0)


class Freeze(BaseModel):
    split: Split = Field(default_factory=Split)
    columns: dict[str, dict[str, str]] = Field(default_factory=dict, description="case id -> column -> value")
    deidentification_profile: str = ""


class Dataset(BaseModel):
    id: str
    project_id: str
    content_hash: str
    created_at: datetime
    created_by: str
    split_counts: dict[str, int]
    manifest: dict[str, Any] | None = None


class FrozenDataset(BaseModel):
    dataset: Dataset
    already_existed: bool


class DatasetList(BaseModel):
    datasets: list[Dataset]


def _dataset(message: pb.Dataset) -> Dataset:
    return to_model(Dataset, message, manifest=json.loads(message.manifest_json) if message.manifest_json else None)


@router.post(
    "/projects/{project_id}/datasets",
    status_code=201,
    summary="Freeze the accepted labels into an immutable dataset version with a patient-grouped split",
)
async def freeze_dataset(project_id: str, body: Freeze, request: Request, labeling: Labeling) -> FrozenDataset:
    answer = await labeling.FreezeDataset(
        pb.FreezeDatasetRequest(
            project_id=project_id,
            split=pb.SplitSpec(**body.split.model_dump()),
            columns={case: pb.CaseColumns(values=values) for case, values in body.columns.items()},
            deidentification_profile=body.deidentification_profile,
        )
    )
    request.state.audit_resource = f"dataset:{answer.dataset.id}"
    return FrozenDataset(dataset=_dataset(answer.dataset), already_existed=answer.already_existed)


@router.get("/projects/{project_id}/datasets", summary="A project's dataset versions, newest first")
async def list_datasets(project_id: str, labeling: Labeling) -> DatasetList:
    answer = await labeling.ListDatasets(pb.ListDatasetsRequest(project_id=project_id))
    return DatasetList(datasets=[_dataset(d) for d in answer.datasets])


@router.get("/datasets/{dataset_id}", summary="A dataset version with its manifest")
async def get_dataset(dataset_id: str, labeling: Labeling) -> Dataset:
    return _dataset((await labeling.GetDataset(pb.GetDatasetRequest(dataset_id=dataset_id))).dataset)


# --- import and export ------------------------------------------------------------------------------


class Imported(BaseModel):
    cases: int
    labels: int
    boxes: int


@router.post(
    "/projects/{project_id}/labels/imports",
    summary="Import class labels (CSV), boxes (JSON) or masks (zip of NIfTI) of many cases into an annotator's tasks, "
    "as new versions",
)
async def import_labels(
    project_id: str,
    request: Request,
    labeling: Labeling,
    format: Annotated[
        Literal["csv", "json", "nifti"],
        Query(description="csv: class labels; json: boxes; nifti: a zip of <study>/<series>.nii.gz label maps"),
    ],
    annotator_id: Annotated[str, Query(description="whose tasks get the labels; default: yours")] = "",
    submit: Annotated[bool, Query(description="submit the new versions for review (else drafts)")] = False,
    source: Annotated[str, Query(description="'person', or 'model:<name>/<version>' for pre-labels")] = "person",
) -> Imported:
    async with spooled_body(request, "import") as body, staged(request, [body], "staging/imports") as (key,):
        answer = await labeling.ImportLabels(
            pb.ImportLabelsRequest(
                project_id=project_id,
                format=format,
                object_key=key,
                annotator_id=annotator_id,
                submit=submit,
                source=source,
            )
        )
    request.state.audit_details = {"cases": str(answer.cases), "format": format}
    return Imported(cases=answer.cases, labels=answer.labels, boxes=answer.boxes)


@router.get(
    "/projects/{project_id}/labels/export",
    summary="Download a project's labels: CSV (classes), JSON (boxes), COCO (2D boxes), NIfTI or SEG masks (zip)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}, "application/json": {}, "application/zip": {}}}},
)
async def export_labels(
    project_id: str,
    request: Request,
    labeling: Labeling,
    format: Literal["csv", "json", "coco", "nifti", "seg"],
    status: Annotated[list[TaskStatus] | None, Query(description="default: reviewed (the accepted labels)")] = None,
) -> StreamingResponse:
    answer = await labeling.ExportLabels(
        pb.ExportLabelsRequest(
            project_id=project_id,
            format=format,
            statuses=[_enum(s, "TASK_STATUS_") for s in status or []],  # type: ignore[misc]
        )
    )
    request.state.audit_details = {"annotations": str(answer.annotations), "format": format}
    return object_response(request, answer.object_key, answer.content_type, answer.file_name, delete_after=True)
