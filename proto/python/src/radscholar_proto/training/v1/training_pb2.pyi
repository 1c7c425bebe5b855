import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from radscholar_proto.common.v1 import job_pb2 as _job_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Task(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_UNSPECIFIED: _ClassVar[Task]
    TASK_CLASSIFICATION: _ClassVar[Task]
    TASK_SEGMENTATION: _ClassVar[Task]
    TASK_DETECTION: _ClassVar[Task]

class ModelStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MODEL_STATUS_UNSPECIFIED: _ClassVar[ModelStatus]
    MODEL_STATUS_CANDIDATE: _ClassVar[ModelStatus]
    MODEL_STATUS_PRODUCTION: _ClassVar[ModelStatus]
    MODEL_STATUS_ARCHIVED: _ClassVar[ModelStatus]

class ExportFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXPORT_FORMAT_UNSPECIFIED: _ClassVar[ExportFormat]
    EXPORT_FORMAT_TORCHSCRIPT: _ClassVar[ExportFormat]
    EXPORT_FORMAT_ONNX: _ClassVar[ExportFormat]
    EXPORT_FORMAT_MLFLOW: _ClassVar[ExportFormat]

class CustomModelFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CUSTOM_MODEL_FORMAT_UNSPECIFIED: _ClassVar[CustomModelFormat]
    CUSTOM_MODEL_FORMAT_TORCHSCRIPT: _ClassVar[CustomModelFormat]
    CUSTOM_MODEL_FORMAT_MONAI_BUNDLE: _ClassVar[CustomModelFormat]
TASK_UNSPECIFIED: Task
TASK_CLASSIFICATION: Task
TASK_SEGMENTATION: Task
TASK_DETECTION: Task
MODEL_STATUS_UNSPECIFIED: ModelStatus
MODEL_STATUS_CANDIDATE: ModelStatus
MODEL_STATUS_PRODUCTION: ModelStatus
MODEL_STATUS_ARCHIVED: ModelStatus
EXPORT_FORMAT_UNSPECIFIED: ExportFormat
EXPORT_FORMAT_TORCHSCRIPT: ExportFormat
EXPORT_FORMAT_ONNX: ExportFormat
EXPORT_FORMAT_MLFLOW: ExportFormat
CUSTOM_MODEL_FORMAT_UNSPECIFIED: CustomModelFormat
CUSTOM_MODEL_FORMAT_TORCHSCRIPT: CustomModelFormat
CUSTOM_MODEL_FORMAT_MONAI_BUNDLE: CustomModelFormat

class ListArchitecturesRequest(_message.Message):
    __slots__ = ("task", "spatial_dims")
    TASK_FIELD_NUMBER: _ClassVar[int]
    SPATIAL_DIMS_FIELD_NUMBER: _ClassVar[int]
    task: Task
    spatial_dims: int
    def __init__(self, task: _Optional[_Union[Task, str]] = ..., spatial_dims: _Optional[int] = ...) -> None: ...

class Architecture(_message.Message):
    __slots__ = ("id", "display_name", "task", "spatial_dims", "library", "description")
    ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    SPATIAL_DIMS_FIELD_NUMBER: _ClassVar[int]
    LIBRARY_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    id: str
    display_name: str
    task: Task
    spatial_dims: _containers.RepeatedScalarFieldContainer[int]
    library: str
    description: str
    def __init__(self, id: _Optional[str] = ..., display_name: _Optional[str] = ..., task: _Optional[_Union[Task, str]] = ..., spatial_dims: _Optional[_Iterable[int]] = ..., library: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class ListArchitecturesResponse(_message.Message):
    __slots__ = ("architectures",)
    ARCHITECTURES_FIELD_NUMBER: _ClassVar[int]
    architectures: _containers.RepeatedCompositeFieldContainer[Architecture]
    def __init__(self, architectures: _Optional[_Iterable[_Union[Architecture, _Mapping]]] = ...) -> None: ...

class GetDefaultSettingsRequest(_message.Message):
    __slots__ = ("task", "spatial_dims")
    TASK_FIELD_NUMBER: _ClassVar[int]
    SPATIAL_DIMS_FIELD_NUMBER: _ClassVar[int]
    task: Task
    spatial_dims: int
    def __init__(self, task: _Optional[_Union[Task, str]] = ..., spatial_dims: _Optional[int] = ...) -> None: ...

class GetDefaultSettingsResponse(_message.Message):
    __slots__ = ("settings_json",)
    SETTINGS_JSON_FIELD_NUMBER: _ClassVar[int]
    settings_json: bytes
    def __init__(self, settings_json: _Optional[bytes] = ...) -> None: ...

class StartTrainingRequest(_message.Message):
    __slots__ = ("dataset_id", "task", "spatial_dims", "settings_json", "model_name", "job_id", "validate_only")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    SPATIAL_DIMS_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_JSON_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    task: Task
    spatial_dims: int
    settings_json: bytes
    model_name: str
    job_id: str
    validate_only: bool
    def __init__(self, dataset_id: _Optional[str] = ..., task: _Optional[_Union[Task, str]] = ..., spatial_dims: _Optional[int] = ..., settings_json: _Optional[bytes] = ..., model_name: _Optional[str] = ..., job_id: _Optional[str] = ..., validate_only: _Optional[bool] = ...) -> None: ...

class StartTrainingResponse(_message.Message):
    __slots__ = ("job", "settings_json", "cases")
    class CasesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    JOB_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_JSON_FIELD_NUMBER: _ClassVar[int]
    CASES_FIELD_NUMBER: _ClassVar[int]
    job: _job_pb2.Job
    settings_json: bytes
    cases: _containers.ScalarMap[str, int]
    def __init__(self, job: _Optional[_Union[_job_pb2.Job, _Mapping]] = ..., settings_json: _Optional[bytes] = ..., cases: _Optional[_Mapping[str, int]] = ...) -> None: ...

class ResumeTrainingRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class ResumeTrainingResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _job_pb2.Job
    def __init__(self, job: _Optional[_Union[_job_pb2.Job, _Mapping]] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class GetJobResponse(_message.Message):
    __slots__ = ("job", "log_lines")
    JOB_FIELD_NUMBER: _ClassVar[int]
    LOG_LINES_FIELD_NUMBER: _ClassVar[int]
    job: _job_pb2.Job
    log_lines: _containers.RepeatedCompositeFieldContainer[_job_pb2.LogLine]
    def __init__(self, job: _Optional[_Union[_job_pb2.Job, _Mapping]] = ..., log_lines: _Optional[_Iterable[_Union[_job_pb2.LogLine, _Mapping]]] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("jobs", "next_page_token")
    JOBS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[_job_pb2.Job]
    next_page_token: str
    def __init__(self, jobs: _Optional[_Iterable[_Union[_job_pb2.Job, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class WatchJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class CancelJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class CancelJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _job_pb2.Job
    def __init__(self, job: _Optional[_Union[_job_pb2.Job, _Mapping]] = ...) -> None: ...

class GetJobLogsRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class GetJobLogsResponse(_message.Message):
    __slots__ = ("text",)
    TEXT_FIELD_NUMBER: _ClassVar[int]
    text: str
    def __init__(self, text: _Optional[str] = ...) -> None: ...

class GetRunMetricsRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class MetricPoint(_message.Message):
    __slots__ = ("epoch", "value")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    value: float
    def __init__(self, epoch: _Optional[int] = ..., value: _Optional[float] = ...) -> None: ...

class MetricCurve(_message.Message):
    __slots__ = ("name", "points")
    NAME_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    name: str
    points: _containers.RepeatedCompositeFieldContainer[MetricPoint]
    def __init__(self, name: _Optional[str] = ..., points: _Optional[_Iterable[_Union[MetricPoint, _Mapping]]] = ...) -> None: ...

class GetRunMetricsResponse(_message.Message):
    __slots__ = ("curves", "mlflow_run_id")
    CURVES_FIELD_NUMBER: _ClassVar[int]
    MLFLOW_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    curves: _containers.RepeatedCompositeFieldContainer[MetricCurve]
    mlflow_run_id: str
    def __init__(self, curves: _Optional[_Iterable[_Union[MetricCurve, _Mapping]]] = ..., mlflow_run_id: _Optional[str] = ...) -> None: ...

class ModelVersion(_message.Message):
    __slots__ = ("name", "version", "status", "mlflow_run_id", "metrics", "params", "tags", "created_at")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class ParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MLFLOW_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    status: ModelStatus
    mlflow_run_id: str
    metrics: _containers.ScalarMap[str, float]
    params: _containers.ScalarMap[str, str]
    tags: _containers.ScalarMap[str, str]
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., status: _Optional[_Union[ModelStatus, str]] = ..., mlflow_run_id: _Optional[str] = ..., metrics: _Optional[_Mapping[str, float]] = ..., params: _Optional[_Mapping[str, str]] = ..., tags: _Optional[_Mapping[str, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListModelVersionsRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListModelVersionsResponse(_message.Message):
    __slots__ = ("versions",)
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[ModelVersion]
    def __init__(self, versions: _Optional[_Iterable[_Union[ModelVersion, _Mapping]]] = ...) -> None: ...

class GetModelVersionRequest(_message.Message):
    __slots__ = ("name", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class GetModelVersionResponse(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: ModelVersion
    def __init__(self, version: _Optional[_Union[ModelVersion, _Mapping]] = ...) -> None: ...

class ModelVersionRef(_message.Message):
    __slots__ = ("name", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class CompareModelVersionsRequest(_message.Message):
    __slots__ = ("versions",)
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[ModelVersionRef]
    def __init__(self, versions: _Optional[_Iterable[_Union[ModelVersionRef, _Mapping]]] = ...) -> None: ...

class CompareModelVersionsResponse(_message.Message):
    __slots__ = ("versions", "differing_params", "common_metrics")
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    DIFFERING_PARAMS_FIELD_NUMBER: _ClassVar[int]
    COMMON_METRICS_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[ModelVersion]
    differing_params: _containers.RepeatedScalarFieldContainer[str]
    common_metrics: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, versions: _Optional[_Iterable[_Union[ModelVersion, _Mapping]]] = ..., differing_params: _Optional[_Iterable[str]] = ..., common_metrics: _Optional[_Iterable[str]] = ...) -> None: ...

class SetModelVersionStatusRequest(_message.Message):
    __slots__ = ("name", "version", "status")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    status: ModelStatus
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., status: _Optional[_Union[ModelStatus, str]] = ...) -> None: ...

class SetModelVersionStatusResponse(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: ModelVersion
    def __init__(self, version: _Optional[_Union[ModelVersion, _Mapping]] = ...) -> None: ...

class ExportModelVersionRequest(_message.Message):
    __slots__ = ("name", "version", "format")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    format: ExportFormat
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., format: _Optional[_Union[ExportFormat, str]] = ...) -> None: ...

class ExportModelVersionResponse(_message.Message):
    __slots__ = ("object_key", "file_name", "size_bytes")
    OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    object_key: str
    file_name: str
    size_bytes: int
    def __init__(self, object_key: _Optional[str] = ..., file_name: _Optional[str] = ..., size_bytes: _Optional[int] = ...) -> None: ...

class ImportCustomModelRequest(_message.Message):
    __slots__ = ("object_key", "format", "display_name", "task", "spatial_dims", "in_channels", "patch_size")
    OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    SPATIAL_DIMS_FIELD_NUMBER: _ClassVar[int]
    IN_CHANNELS_FIELD_NUMBER: _ClassVar[int]
    PATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    object_key: str
    format: CustomModelFormat
    display_name: str
    task: Task
    spatial_dims: int
    in_channels: int
    patch_size: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, object_key: _Optional[str] = ..., format: _Optional[_Union[CustomModelFormat, str]] = ..., display_name: _Optional[str] = ..., task: _Optional[_Union[Task, str]] = ..., spatial_dims: _Optional[int] = ..., in_channels: _Optional[int] = ..., patch_size: _Optional[_Iterable[int]] = ...) -> None: ...

class ImportCustomModelResponse(_message.Message):
    __slots__ = ("architecture", "parameters", "output_shape")
    ARCHITECTURE_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_SHAPE_FIELD_NUMBER: _ClassVar[int]
    architecture: Architecture
    parameters: int
    output_shape: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, architecture: _Optional[_Union[Architecture, _Mapping]] = ..., parameters: _Optional[int] = ..., output_shape: _Optional[_Iterable[int]] = ...) -> None: ...

class ImportWeightsRequest(_message.Message):
    __slots__ = ("object_key",)
    OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    object_key: str
    def __init__(self, object_key: _Optional[str] = ...) -> None: ...

class ImportWeightsResponse(_message.Message):
    __slots__ = ("weights_key", "tensors")
    WEIGHTS_KEY_FIELD_NUMBER: _ClassVar[int]
    TENSORS_FIELD_NUMBER: _ClassVar[int]
    weights_key: str
    tensors: int
    def __init__(self, weights_key: _Optional[str] = ..., tensors: _Optional[int] = ...) -> None: ...

class TestModelVersionRequest(_message.Message):
    __slots__ = ("name", "version", "dataset_id", "split", "threshold", "job_id", "sites", "series_instance_uids")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    SITES_FIELD_NUMBER: _ClassVar[int]
    SERIES_INSTANCE_UIDS_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    dataset_id: str
    split: str
    threshold: float
    job_id: str
    sites: _containers.RepeatedScalarFieldContainer[str]
    series_instance_uids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., dataset_id: _Optional[str] = ..., split: _Optional[str] = ..., threshold: _Optional[float] = ..., job_id: _Optional[str] = ..., sites: _Optional[_Iterable[str]] = ..., series_instance_uids: _Optional[_Iterable[str]] = ...) -> None: ...

class TestModelVersionResponse(_message.Message):
    __slots__ = ("job", "cases")
    JOB_FIELD_NUMBER: _ClassVar[int]
    CASES_FIELD_NUMBER: _ClassVar[int]
    job: _job_pb2.Job
    cases: int
    def __init__(self, job: _Optional[_Union[_job_pb2.Job, _Mapping]] = ..., cases: _Optional[int] = ...) -> None: ...

class GetEvaluationRequest(_message.Message):
    __slots__ = ("evaluation_id",)
    EVALUATION_ID_FIELD_NUMBER: _ClassVar[int]
    evaluation_id: str
    def __init__(self, evaluation_id: _Optional[str] = ...) -> None: ...

class GetEvaluationResponse(_message.Message):
    __slots__ = ("report_json", "plots", "predictions_object_key", "model", "dataset_id", "split")
    REPORT_JSON_FIELD_NUMBER: _ClassVar[int]
    PLOTS_FIELD_NUMBER: _ClassVar[int]
    PREDICTIONS_OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    report_json: bytes
    plots: _containers.RepeatedScalarFieldContainer[str]
    predictions_object_key: str
    model: ModelVersionRef
    dataset_id: str
    split: str
    def __init__(self, report_json: _Optional[bytes] = ..., plots: _Optional[_Iterable[str]] = ..., predictions_object_key: _Optional[str] = ..., model: _Optional[_Union[ModelVersionRef, _Mapping]] = ..., dataset_id: _Optional[str] = ..., split: _Optional[str] = ...) -> None: ...

class PredictSeriesRequest(_message.Message):
    __slots__ = ("name", "version", "series_instance_uid", "dicom")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SERIES_INSTANCE_UID_FIELD_NUMBER: _ClassVar[int]
    DICOM_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    series_instance_uid: str
    dicom: bool
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., series_instance_uid: _Optional[str] = ..., dicom: _Optional[bool] = ...) -> None: ...

class PredictSeriesResponse(_message.Message):
    __slots__ = ("probabilities", "predicted_class", "volumes", "overlay_object_key", "dicom_object_key", "seconds", "detections")
    class ProbabilitiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class VolumesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    PROBABILITIES_FIELD_NUMBER: _ClassVar[int]
    PREDICTED_CLASS_FIELD_NUMBER: _ClassVar[int]
    VOLUMES_FIELD_NUMBER: _ClassVar[int]
    OVERLAY_OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    DICOM_OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    DETECTIONS_FIELD_NUMBER: _ClassVar[int]
    probabilities: _containers.ScalarMap[str, float]
    predicted_class: str
    volumes: _containers.ScalarMap[str, float]
    overlay_object_key: str
    dicom_object_key: str
    seconds: float
    detections: _containers.RepeatedCompositeFieldContainer[Detection]
    def __init__(self, probabilities: _Optional[_Mapping[str, float]] = ..., predicted_class: _Optional[str] = ..., volumes: _Optional[_Mapping[str, float]] = ..., overlay_object_key: _Optional[str] = ..., dicom_object_key: _Optional[str] = ..., seconds: _Optional[float] = ..., detections: _Optional[_Iterable[_Union[Detection, _Mapping]]] = ...) -> None: ...

class Detection(_message.Message):
    __slots__ = ("class_name", "score", "min", "max")
    CLASS_NAME_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    class_name: str
    score: float
    min: _containers.RepeatedScalarFieldContainer[float]
    max: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, class_name: _Optional[str] = ..., score: _Optional[float] = ..., min: _Optional[_Iterable[float]] = ..., max: _Optional[_Iterable[float]] = ...) -> None: ...

class StartBatchPredictionRequest(_message.Message):
    __slots__ = ("name", "version", "series_instance_uids", "job_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SERIES_INSTANCE_UIDS_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    series_instance_uids: _containers.RepeatedScalarFieldContainer[str]
    job_id: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., series_instance_uids: _Optional[_Iterable[str]] = ..., job_id: _Optional[str] = ...) -> None: ...

class StartBatchPredictionResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _job_pb2.Job
    def __init__(self, job: _Optional[_Union[_job_pb2.Job, _Mapping]] = ...) -> None: ...
