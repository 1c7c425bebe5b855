import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from radscholar_proto.common.v1 import paging_pb2 as _paging_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TaskType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_TYPE_UNSPECIFIED: _ClassVar[TaskType]
    TASK_TYPE_CLASSIFICATION: _ClassVar[TaskType]
    TASK_TYPE_DETECTION: _ClassVar[TaskType]
    TASK_TYPE_SEGMENTATION: _ClassVar[TaskType]

class Dimensionality(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DIMENSIONALITY_UNSPECIFIED: _ClassVar[Dimensionality]
    DIMENSIONALITY_2D: _ClassVar[Dimensionality]
    DIMENSIONALITY_3D: _ClassVar[Dimensionality]

class LabelLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LABEL_LEVEL_UNSPECIFIED: _ClassVar[LabelLevel]
    LABEL_LEVEL_CASE: _ClassVar[LabelLevel]
    LABEL_LEVEL_SERIES: _ClassVar[LabelLevel]
    LABEL_LEVEL_IMAGE: _ClassVar[LabelLevel]
    LABEL_LEVEL_LESION: _ClassVar[LabelLevel]

class TaskStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_STATUS_UNSPECIFIED: _ClassVar[TaskStatus]
    TASK_STATUS_UNTAGGED: _ClassVar[TaskStatus]
    TASK_STATUS_IN_PROGRESS: _ClassVar[TaskStatus]
    TASK_STATUS_TAGGED: _ClassVar[TaskStatus]
    TASK_STATUS_REVIEWED: _ClassVar[TaskStatus]
    TASK_STATUS_REJECTED: _ClassVar[TaskStatus]

class AssignMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ASSIGN_MODE_UNSPECIFIED: _ClassVar[AssignMode]
    ASSIGN_MODE_SPLIT: _ClassVar[AssignMode]
    ASSIGN_MODE_EACH: _ClassVar[AssignMode]

class ReviewDecision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REVIEW_DECISION_UNSPECIFIED: _ClassVar[ReviewDecision]
    REVIEW_DECISION_ACCEPT: _ClassVar[ReviewDecision]
    REVIEW_DECISION_REJECT: _ClassVar[ReviewDecision]
    REVIEW_DECISION_ADJUDICATE: _ClassVar[ReviewDecision]
TASK_TYPE_UNSPECIFIED: TaskType
TASK_TYPE_CLASSIFICATION: TaskType
TASK_TYPE_DETECTION: TaskType
TASK_TYPE_SEGMENTATION: TaskType
DIMENSIONALITY_UNSPECIFIED: Dimensionality
DIMENSIONALITY_2D: Dimensionality
DIMENSIONALITY_3D: Dimensionality
LABEL_LEVEL_UNSPECIFIED: LabelLevel
LABEL_LEVEL_CASE: LabelLevel
LABEL_LEVEL_SERIES: LabelLevel
LABEL_LEVEL_IMAGE: LabelLevel
LABEL_LEVEL_LESION: LabelLevel
TASK_STATUS_UNSPECIFIED: TaskStatus
TASK_STATUS_UNTAGGED: TaskStatus
TASK_STATUS_IN_PROGRESS: TaskStatus
TASK_STATUS_TAGGED: TaskStatus
TASK_STATUS_REVIEWED: TaskStatus
TASK_STATUS_REJECTED: TaskStatus
ASSIGN_MODE_UNSPECIFIED: AssignMode
ASSIGN_MODE_SPLIT: AssignMode
ASSIGN_MODE_EACH: AssignMode
REVIEW_DECISION_UNSPECIFIED: ReviewDecision
REVIEW_DECISION_ACCEPT: ReviewDecision
REVIEW_DECISION_REJECT: ReviewDecision
REVIEW_DECISION_ADJUDICATE: ReviewDecision

class Project(_message.Message):
    __slots__ = ("id", "name", "description", "modality", "task_type", "dimensionality", "created_at", "label_schema", "sites")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    DIMENSIONALITY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LABEL_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    SITES_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    description: str
    modality: str
    task_type: TaskType
    dimensionality: Dimensionality
    created_at: _timestamp_pb2.Timestamp
    label_schema: LabelSchema
    sites: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., modality: _Optional[str] = ..., task_type: _Optional[_Union[TaskType, str]] = ..., dimensionality: _Optional[_Union[Dimensionality, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., label_schema: _Optional[_Union[LabelSchema, _Mapping]] = ..., sites: _Optional[_Iterable[str]] = ...) -> None: ...

class LabelClass(_message.Message):
    __slots__ = ("name", "color")
    NAME_FIELD_NUMBER: _ClassVar[int]
    COLOR_FIELD_NUMBER: _ClassVar[int]
    name: str
    color: str
    def __init__(self, name: _Optional[str] = ..., color: _Optional[str] = ...) -> None: ...

class LabelSchema(_message.Message):
    __slots__ = ("classes", "level", "multi_label")
    CLASSES_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    MULTI_LABEL_FIELD_NUMBER: _ClassVar[int]
    classes: _containers.RepeatedCompositeFieldContainer[LabelClass]
    level: LabelLevel
    multi_label: bool
    def __init__(self, classes: _Optional[_Iterable[_Union[LabelClass, _Mapping]]] = ..., level: _Optional[_Union[LabelLevel, str]] = ..., multi_label: _Optional[bool] = ...) -> None: ...

class CreateProjectRequest(_message.Message):
    __slots__ = ("name", "description", "modality", "task_type", "dimensionality", "label_schema", "sites")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    DIMENSIONALITY_FIELD_NUMBER: _ClassVar[int]
    LABEL_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    SITES_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    modality: str
    task_type: TaskType
    dimensionality: Dimensionality
    label_schema: LabelSchema
    sites: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., modality: _Optional[str] = ..., task_type: _Optional[_Union[TaskType, str]] = ..., dimensionality: _Optional[_Union[Dimensionality, str]] = ..., label_schema: _Optional[_Union[LabelSchema, _Mapping]] = ..., sites: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateProjectResponse(_message.Message):
    __slots__ = ("project",)
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    project: Project
    def __init__(self, project: _Optional[_Union[Project, _Mapping]] = ...) -> None: ...

class GetProjectRequest(_message.Message):
    __slots__ = ("project_id",)
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    def __init__(self, project_id: _Optional[str] = ...) -> None: ...

class GetProjectResponse(_message.Message):
    __slots__ = ("project",)
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    project: Project
    def __init__(self, project: _Optional[_Union[Project, _Mapping]] = ...) -> None: ...

class ListProjectsRequest(_message.Message):
    __slots__ = ("page",)
    PAGE_FIELD_NUMBER: _ClassVar[int]
    page: _paging_pb2.PageRequest
    def __init__(self, page: _Optional[_Union[_paging_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListProjectsResponse(_message.Message):
    __slots__ = ("projects", "page")
    PROJECTS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    projects: _containers.RepeatedCompositeFieldContainer[Project]
    page: _paging_pb2.PageResponse
    def __init__(self, projects: _Optional[_Iterable[_Union[Project, _Mapping]]] = ..., page: _Optional[_Union[_paging_pb2.PageResponse, _Mapping]] = ...) -> None: ...

class CaseSeries(_message.Message):
    __slots__ = ("series_instance_uid", "modality", "rows", "columns", "slices")
    SERIES_INSTANCE_UID_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    SLICES_FIELD_NUMBER: _ClassVar[int]
    series_instance_uid: str
    modality: str
    rows: int
    columns: int
    slices: int
    def __init__(self, series_instance_uid: _Optional[str] = ..., modality: _Optional[str] = ..., rows: _Optional[int] = ..., columns: _Optional[int] = ..., slices: _Optional[int] = ...) -> None: ...

class Case(_message.Message):
    __slots__ = ("id", "project_id", "study_instance_uid", "patient_id", "site", "study_date", "description", "series")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    STUDY_INSTANCE_UID_FIELD_NUMBER: _ClassVar[int]
    PATIENT_ID_FIELD_NUMBER: _ClassVar[int]
    SITE_FIELD_NUMBER: _ClassVar[int]
    STUDY_DATE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SERIES_FIELD_NUMBER: _ClassVar[int]
    id: str
    project_id: str
    study_instance_uid: str
    patient_id: str
    site: str
    study_date: str
    description: str
    series: _containers.RepeatedCompositeFieldContainer[CaseSeries]
    def __init__(self, id: _Optional[str] = ..., project_id: _Optional[str] = ..., study_instance_uid: _Optional[str] = ..., patient_id: _Optional[str] = ..., site: _Optional[str] = ..., study_date: _Optional[str] = ..., description: _Optional[str] = ..., series: _Optional[_Iterable[_Union[CaseSeries, _Mapping]]] = ...) -> None: ...

class AddCasesRequest(_message.Message):
    __slots__ = ("project_id", "cases")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    CASES_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    cases: _containers.RepeatedCompositeFieldContainer[Case]
    def __init__(self, project_id: _Optional[str] = ..., cases: _Optional[_Iterable[_Union[Case, _Mapping]]] = ...) -> None: ...

class AddCasesResponse(_message.Message):
    __slots__ = ("added", "already_present")
    ADDED_FIELD_NUMBER: _ClassVar[int]
    ALREADY_PRESENT_FIELD_NUMBER: _ClassVar[int]
    added: _containers.RepeatedCompositeFieldContainer[Case]
    already_present: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, added: _Optional[_Iterable[_Union[Case, _Mapping]]] = ..., already_present: _Optional[_Iterable[str]] = ...) -> None: ...

class Task(_message.Message):
    __slots__ = ("id", "project_id", "case", "assignee_id", "status", "annotation_version", "review_comment", "updated_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    CASE_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_VERSION_FIELD_NUMBER: _ClassVar[int]
    REVIEW_COMMENT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    project_id: str
    case: Case
    assignee_id: str
    status: TaskStatus
    annotation_version: int
    review_comment: str
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., project_id: _Optional[str] = ..., case: _Optional[_Union[Case, _Mapping]] = ..., assignee_id: _Optional[str] = ..., status: _Optional[_Union[TaskStatus, str]] = ..., annotation_version: _Optional[int] = ..., review_comment: _Optional[str] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TaskFilter(_message.Message):
    __slots__ = ("site", "study_date_from", "study_date_to", "statuses", "assignee_id", "case_ids")
    SITE_FIELD_NUMBER: _ClassVar[int]
    STUDY_DATE_FROM_FIELD_NUMBER: _ClassVar[int]
    STUDY_DATE_TO_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_ID_FIELD_NUMBER: _ClassVar[int]
    CASE_IDS_FIELD_NUMBER: _ClassVar[int]
    site: str
    study_date_from: str
    study_date_to: str
    statuses: _containers.RepeatedScalarFieldContainer[TaskStatus]
    assignee_id: str
    case_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, site: _Optional[str] = ..., study_date_from: _Optional[str] = ..., study_date_to: _Optional[str] = ..., statuses: _Optional[_Iterable[_Union[TaskStatus, str]]] = ..., assignee_id: _Optional[str] = ..., case_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ListTasksRequest(_message.Message):
    __slots__ = ("project_id", "filter", "page", "task_type")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    filter: TaskFilter
    page: _paging_pb2.PageRequest
    task_type: TaskType
    def __init__(self, project_id: _Optional[str] = ..., filter: _Optional[_Union[TaskFilter, _Mapping]] = ..., page: _Optional[_Union[_paging_pb2.PageRequest, _Mapping]] = ..., task_type: _Optional[_Union[TaskType, str]] = ...) -> None: ...

class ListTasksResponse(_message.Message):
    __slots__ = ("tasks", "page")
    TASKS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[Task]
    page: _paging_pb2.PageResponse
    def __init__(self, tasks: _Optional[_Iterable[_Union[Task, _Mapping]]] = ..., page: _Optional[_Union[_paging_pb2.PageResponse, _Mapping]] = ...) -> None: ...

class AssignTasksRequest(_message.Message):
    __slots__ = ("project_id", "filter", "annotator_ids", "mode")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    ANNOTATOR_IDS_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    filter: TaskFilter
    annotator_ids: _containers.RepeatedScalarFieldContainer[str]
    mode: AssignMode
    def __init__(self, project_id: _Optional[str] = ..., filter: _Optional[_Union[TaskFilter, _Mapping]] = ..., annotator_ids: _Optional[_Iterable[str]] = ..., mode: _Optional[_Union[AssignMode, str]] = ...) -> None: ...

class AssignTasksResponse(_message.Message):
    __slots__ = ("assigned", "per_annotator")
    class PerAnnotatorEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    ASSIGNED_FIELD_NUMBER: _ClassVar[int]
    PER_ANNOTATOR_FIELD_NUMBER: _ClassVar[int]
    assigned: int
    per_annotator: _containers.ScalarMap[str, int]
    def __init__(self, assigned: _Optional[int] = ..., per_annotator: _Optional[_Mapping[str, int]] = ...) -> None: ...

class NextTaskRequest(_message.Message):
    __slots__ = ("project_id",)
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    def __init__(self, project_id: _Optional[str] = ...) -> None: ...

class NextTaskResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: Task
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ...) -> None: ...

class GetProgressRequest(_message.Message):
    __slots__ = ("project_id",)
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    def __init__(self, project_id: _Optional[str] = ...) -> None: ...

class StatusCounts(_message.Message):
    __slots__ = ("counts", "total")
    class CountsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    counts: _containers.ScalarMap[str, int]
    total: int
    def __init__(self, counts: _Optional[_Mapping[str, int]] = ..., total: _Optional[int] = ...) -> None: ...

class GetProgressResponse(_message.Message):
    __slots__ = ("project", "per_annotator", "cases")
    class PerAnnotatorEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: StatusCounts
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[StatusCounts, _Mapping]] = ...) -> None: ...
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    PER_ANNOTATOR_FIELD_NUMBER: _ClassVar[int]
    CASES_FIELD_NUMBER: _ClassVar[int]
    project: StatusCounts
    per_annotator: _containers.MessageMap[str, StatusCounts]
    cases: int
    def __init__(self, project: _Optional[_Union[StatusCounts, _Mapping]] = ..., per_annotator: _Optional[_Mapping[str, StatusCounts]] = ..., cases: _Optional[int] = ...) -> None: ...

class ClassLabel(_message.Message):
    __slots__ = ("class_name", "series_instance_uid", "sop_instance_uid")
    CLASS_NAME_FIELD_NUMBER: _ClassVar[int]
    SERIES_INSTANCE_UID_FIELD_NUMBER: _ClassVar[int]
    SOP_INSTANCE_UID_FIELD_NUMBER: _ClassVar[int]
    class_name: str
    series_instance_uid: str
    sop_instance_uid: str
    def __init__(self, class_name: _Optional[str] = ..., series_instance_uid: _Optional[str] = ..., sop_instance_uid: _Optional[str] = ...) -> None: ...

class Box(_message.Message):
    __slots__ = ("class_name", "series_instance_uid", "sop_instance_uid", "min", "max", "min_mm", "max_mm")
    CLASS_NAME_FIELD_NUMBER: _ClassVar[int]
    SERIES_INSTANCE_UID_FIELD_NUMBER: _ClassVar[int]
    SOP_INSTANCE_UID_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    MIN_MM_FIELD_NUMBER: _ClassVar[int]
    MAX_MM_FIELD_NUMBER: _ClassVar[int]
    class_name: str
    series_instance_uid: str
    sop_instance_uid: str
    min: _containers.RepeatedScalarFieldContainer[float]
    max: _containers.RepeatedScalarFieldContainer[float]
    min_mm: _containers.RepeatedScalarFieldContainer[float]
    max_mm: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, class_name: _Optional[str] = ..., series_instance_uid: _Optional[str] = ..., sop_instance_uid: _Optional[str] = ..., min: _Optional[_Iterable[float]] = ..., max: _Optional[_Iterable[float]] = ..., min_mm: _Optional[_Iterable[float]] = ..., max_mm: _Optional[_Iterable[float]] = ...) -> None: ...

class Annotation(_message.Message):
    __slots__ = ("id", "task_id", "case_id", "version", "author_id", "source", "labels", "boxes", "comment", "saved_at", "submitted", "masks")
    ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    BOXES_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    SAVED_AT_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_FIELD_NUMBER: _ClassVar[int]
    MASKS_FIELD_NUMBER: _ClassVar[int]
    id: str
    task_id: str
    case_id: str
    version: int
    author_id: str
    source: str
    labels: _containers.RepeatedCompositeFieldContainer[ClassLabel]
    boxes: _containers.RepeatedCompositeFieldContainer[Box]
    comment: str
    saved_at: _timestamp_pb2.Timestamp
    submitted: bool
    masks: _containers.RepeatedCompositeFieldContainer[Mask]
    def __init__(self, id: _Optional[str] = ..., task_id: _Optional[str] = ..., case_id: _Optional[str] = ..., version: _Optional[int] = ..., author_id: _Optional[str] = ..., source: _Optional[str] = ..., labels: _Optional[_Iterable[_Union[ClassLabel, _Mapping]]] = ..., boxes: _Optional[_Iterable[_Union[Box, _Mapping]]] = ..., comment: _Optional[str] = ..., saved_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., submitted: _Optional[bool] = ..., masks: _Optional[_Iterable[_Union[Mask, _Mapping]]] = ...) -> None: ...

class RleSlice(_message.Message):
    __slots__ = ("index", "label", "counts")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    index: int
    label: int
    counts: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, index: _Optional[int] = ..., label: _Optional[int] = ..., counts: _Optional[_Iterable[int]] = ...) -> None: ...

class MaskInput(_message.Message):
    __slots__ = ("series_instance_uid", "nifti_object_key", "seg_object_key", "rle", "roi_classes")
    class RoiClassesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SERIES_INSTANCE_UID_FIELD_NUMBER: _ClassVar[int]
    NIFTI_OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    SEG_OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    RLE_FIELD_NUMBER: _ClassVar[int]
    ROI_CLASSES_FIELD_NUMBER: _ClassVar[int]
    series_instance_uid: str
    nifti_object_key: str
    seg_object_key: str
    rle: _containers.RepeatedCompositeFieldContainer[RleSlice]
    roi_classes: _containers.ScalarMap[str, str]
    def __init__(self, series_instance_uid: _Optional[str] = ..., nifti_object_key: _Optional[str] = ..., seg_object_key: _Optional[str] = ..., rle: _Optional[_Iterable[_Union[RleSlice, _Mapping]]] = ..., roi_classes: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Mask(_message.Message):
    __slots__ = ("series_instance_uid", "nifti_object_key", "seg_series_instance_uid", "seg_sop_instance_uid", "voxels", "seg_object_key")
    class VoxelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    SERIES_INSTANCE_UID_FIELD_NUMBER: _ClassVar[int]
    NIFTI_OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    SEG_SERIES_INSTANCE_UID_FIELD_NUMBER: _ClassVar[int]
    SEG_SOP_INSTANCE_UID_FIELD_NUMBER: _ClassVar[int]
    VOXELS_FIELD_NUMBER: _ClassVar[int]
    SEG_OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    series_instance_uid: str
    nifti_object_key: str
    seg_series_instance_uid: str
    seg_sop_instance_uid: str
    voxels: _containers.ScalarMap[str, int]
    seg_object_key: str
    def __init__(self, series_instance_uid: _Optional[str] = ..., nifti_object_key: _Optional[str] = ..., seg_series_instance_uid: _Optional[str] = ..., seg_sop_instance_uid: _Optional[str] = ..., voxels: _Optional[_Mapping[str, int]] = ..., seg_object_key: _Optional[str] = ...) -> None: ...

class SaveAnnotationRequest(_message.Message):
    __slots__ = ("task_id", "base_version", "labels", "boxes", "comment", "submit", "source", "masks")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    BASE_VERSION_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    BOXES_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    SUBMIT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    MASKS_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    base_version: int
    labels: _containers.RepeatedCompositeFieldContainer[ClassLabel]
    boxes: _containers.RepeatedCompositeFieldContainer[Box]
    comment: str
    submit: bool
    source: str
    masks: _containers.RepeatedCompositeFieldContainer[MaskInput]
    def __init__(self, task_id: _Optional[str] = ..., base_version: _Optional[int] = ..., labels: _Optional[_Iterable[_Union[ClassLabel, _Mapping]]] = ..., boxes: _Optional[_Iterable[_Union[Box, _Mapping]]] = ..., comment: _Optional[str] = ..., submit: _Optional[bool] = ..., source: _Optional[str] = ..., masks: _Optional[_Iterable[_Union[MaskInput, _Mapping]]] = ...) -> None: ...

class SaveAnnotationResponse(_message.Message):
    __slots__ = ("annotation",)
    ANNOTATION_FIELD_NUMBER: _ClassVar[int]
    annotation: Annotation
    def __init__(self, annotation: _Optional[_Union[Annotation, _Mapping]] = ...) -> None: ...

class GetAnnotationHistoryRequest(_message.Message):
    __slots__ = ("task_id",)
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    def __init__(self, task_id: _Optional[str] = ...) -> None: ...

class GetAnnotationHistoryResponse(_message.Message):
    __slots__ = ("versions",)
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[Annotation]
    def __init__(self, versions: _Optional[_Iterable[_Union[Annotation, _Mapping]]] = ...) -> None: ...

class ReviewTaskRequest(_message.Message):
    __slots__ = ("task_id", "decision", "comment")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    decision: ReviewDecision
    comment: str
    def __init__(self, task_id: _Optional[str] = ..., decision: _Optional[_Union[ReviewDecision, str]] = ..., comment: _Optional[str] = ...) -> None: ...

class ReviewTaskResponse(_message.Message):
    __slots__ = ("task", "others")
    TASK_FIELD_NUMBER: _ClassVar[int]
    OTHERS_FIELD_NUMBER: _ClassVar[int]
    task: Task
    others: _containers.RepeatedCompositeFieldContainer[Task]
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ..., others: _Optional[_Iterable[_Union[Task, _Mapping]]] = ...) -> None: ...

class GetAgreementRequest(_message.Message):
    __slots__ = ("project_id", "limit")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    limit: int
    def __init__(self, project_id: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class CaseAgreement(_message.Message):
    __slots__ = ("case_id", "kind", "score", "detail")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    kind: str
    score: float
    detail: str
    def __init__(self, case_id: _Optional[str] = ..., kind: _Optional[str] = ..., score: _Optional[float] = ..., detail: _Optional[str] = ...) -> None: ...

class GetAgreementResponse(_message.Message):
    __slots__ = ("class_kappa", "kappa_method", "cases_compared", "mean_box_iou", "disagreements", "mean_mask_dice")
    CLASS_KAPPA_FIELD_NUMBER: _ClassVar[int]
    KAPPA_METHOD_FIELD_NUMBER: _ClassVar[int]
    CASES_COMPARED_FIELD_NUMBER: _ClassVar[int]
    MEAN_BOX_IOU_FIELD_NUMBER: _ClassVar[int]
    DISAGREEMENTS_FIELD_NUMBER: _ClassVar[int]
    MEAN_MASK_DICE_FIELD_NUMBER: _ClassVar[int]
    class_kappa: float
    kappa_method: str
    cases_compared: int
    mean_box_iou: float
    disagreements: _containers.RepeatedCompositeFieldContainer[CaseAgreement]
    mean_mask_dice: float
    def __init__(self, class_kappa: _Optional[float] = ..., kappa_method: _Optional[str] = ..., cases_compared: _Optional[int] = ..., mean_box_iou: _Optional[float] = ..., disagreements: _Optional[_Iterable[_Union[CaseAgreement, _Mapping]]] = ..., mean_mask_dice: _Optional[float] = ...) -> None: ...

class SplitSpec(_message.Message):
    __slots__ = ("train", "validation", "test", "stratify", "column", "seed")
    TRAIN_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_FIELD_NUMBER: _ClassVar[int]
    TEST_FIELD_NUMBER: _ClassVar[int]
    STRATIFY_FIELD_NUMBER: _ClassVar[int]
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    train: float
    validation: float
    test: float
    stratify: str
    column: str
    seed: int
    def __init__(self, train: _Optional[float] = ..., validation: _Optional[float] = ..., test: _Optional[float] = ..., stratify: _Optional[str] = ..., column: _Optional[str] = ..., seed: _Optional[int] = ...) -> None: ...

class Dataset(_message.Message):
    __slots__ = ("id", "project_id", "content_hash", "manifest_json", "created_at", "created_by", "split_counts")
    class SplitCountsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_JSON_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    SPLIT_COUNTS_FIELD_NUMBER: _ClassVar[int]
    id: str
    project_id: str
    content_hash: str
    manifest_json: bytes
    created_at: _timestamp_pb2.Timestamp
    created_by: str
    split_counts: _containers.ScalarMap[str, int]
    def __init__(self, id: _Optional[str] = ..., project_id: _Optional[str] = ..., content_hash: _Optional[str] = ..., manifest_json: _Optional[bytes] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_by: _Optional[str] = ..., split_counts: _Optional[_Mapping[str, int]] = ...) -> None: ...

class FreezeDatasetRequest(_message.Message):
    __slots__ = ("project_id", "split", "columns", "deidentification_profile")
    class ColumnsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: CaseColumns
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[CaseColumns, _Mapping]] = ...) -> None: ...
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    DEIDENTIFICATION_PROFILE_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    split: SplitSpec
    columns: _containers.MessageMap[str, CaseColumns]
    deidentification_profile: str
    def __init__(self, project_id: _Optional[str] = ..., split: _Optional[_Union[SplitSpec, _Mapping]] = ..., columns: _Optional[_Mapping[str, CaseColumns]] = ..., deidentification_profile: _Optional[str] = ...) -> None: ...

class CaseColumns(_message.Message):
    __slots__ = ("values",)
    class ValuesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.ScalarMap[str, str]
    def __init__(self, values: _Optional[_Mapping[str, str]] = ...) -> None: ...

class FreezeDatasetResponse(_message.Message):
    __slots__ = ("dataset", "already_existed")
    DATASET_FIELD_NUMBER: _ClassVar[int]
    ALREADY_EXISTED_FIELD_NUMBER: _ClassVar[int]
    dataset: Dataset
    already_existed: bool
    def __init__(self, dataset: _Optional[_Union[Dataset, _Mapping]] = ..., already_existed: _Optional[bool] = ...) -> None: ...

class GetDatasetRequest(_message.Message):
    __slots__ = ("dataset_id",)
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    def __init__(self, dataset_id: _Optional[str] = ...) -> None: ...

class GetDatasetResponse(_message.Message):
    __slots__ = ("dataset",)
    DATASET_FIELD_NUMBER: _ClassVar[int]
    dataset: Dataset
    def __init__(self, dataset: _Optional[_Union[Dataset, _Mapping]] = ...) -> None: ...

class ListDatasetsRequest(_message.Message):
    __slots__ = ("project_id",)
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    def __init__(self, project_id: _Optional[str] = ...) -> None: ...

class ListDatasetsResponse(_message.Message):
    __slots__ = ("datasets",)
    DATASETS_FIELD_NUMBER: _ClassVar[int]
    datasets: _containers.RepeatedCompositeFieldContainer[Dataset]
    def __init__(self, datasets: _Optional[_Iterable[_Union[Dataset, _Mapping]]] = ...) -> None: ...

class ImportLabelsRequest(_message.Message):
    __slots__ = ("project_id", "format", "object_key", "annotator_id", "submit", "source")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    ANNOTATOR_ID_FIELD_NUMBER: _ClassVar[int]
    SUBMIT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    format: str
    object_key: str
    annotator_id: str
    submit: bool
    source: str
    def __init__(self, project_id: _Optional[str] = ..., format: _Optional[str] = ..., object_key: _Optional[str] = ..., annotator_id: _Optional[str] = ..., submit: _Optional[bool] = ..., source: _Optional[str] = ...) -> None: ...

class ImportLabelsResponse(_message.Message):
    __slots__ = ("cases", "labels", "boxes")
    CASES_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    BOXES_FIELD_NUMBER: _ClassVar[int]
    cases: int
    labels: int
    boxes: int
    def __init__(self, cases: _Optional[int] = ..., labels: _Optional[int] = ..., boxes: _Optional[int] = ...) -> None: ...

class ExportLabelsRequest(_message.Message):
    __slots__ = ("project_id", "format", "statuses")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    format: str
    statuses: _containers.RepeatedScalarFieldContainer[TaskStatus]
    def __init__(self, project_id: _Optional[str] = ..., format: _Optional[str] = ..., statuses: _Optional[_Iterable[_Union[TaskStatus, str]]] = ...) -> None: ...

class ExportLabelsResponse(_message.Message):
    __slots__ = ("object_key", "content_type", "file_name", "annotations")
    OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    object_key: str
    content_type: str
    file_name: str
    annotations: int
    def __init__(self, object_key: _Optional[str] = ..., content_type: _Optional[str] = ..., file_name: _Optional[str] = ..., annotations: _Optional[int] = ...) -> None: ...
