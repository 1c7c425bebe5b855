from radscholar_proto.common.v1 import job_pb2 as _job_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListPresetsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Preset(_message.Message):
    __slots__ = ("id", "display_name", "description", "settings_yaml", "built_in", "created_by")
    ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_YAML_FIELD_NUMBER: _ClassVar[int]
    BUILT_IN_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    id: str
    display_name: str
    description: str
    settings_yaml: str
    built_in: bool
    created_by: str
    def __init__(self, id: _Optional[str] = ..., display_name: _Optional[str] = ..., description: _Optional[str] = ..., settings_yaml: _Optional[str] = ..., built_in: _Optional[bool] = ..., created_by: _Optional[str] = ...) -> None: ...

class SavePresetRequest(_message.Message):
    __slots__ = ("id", "display_name", "description", "settings_yaml")
    ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_YAML_FIELD_NUMBER: _ClassVar[int]
    id: str
    display_name: str
    description: str
    settings_yaml: str
    def __init__(self, id: _Optional[str] = ..., display_name: _Optional[str] = ..., description: _Optional[str] = ..., settings_yaml: _Optional[str] = ...) -> None: ...

class SavePresetResponse(_message.Message):
    __slots__ = ("preset", "settings_hash")
    PRESET_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_HASH_FIELD_NUMBER: _ClassVar[int]
    preset: Preset
    settings_hash: str
    def __init__(self, preset: _Optional[_Union[Preset, _Mapping]] = ..., settings_hash: _Optional[str] = ...) -> None: ...

class DeletePresetRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeletePresetResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListPresetsResponse(_message.Message):
    __slots__ = ("presets",)
    PRESETS_FIELD_NUMBER: _ClassVar[int]
    presets: _containers.RepeatedCompositeFieldContainer[Preset]
    def __init__(self, presets: _Optional[_Iterable[_Union[Preset, _Mapping]]] = ...) -> None: ...

class ValidateSettingsRequest(_message.Message):
    __slots__ = ("settings_yaml",)
    SETTINGS_YAML_FIELD_NUMBER: _ClassVar[int]
    settings_yaml: str
    def __init__(self, settings_yaml: _Optional[str] = ...) -> None: ...

class ValidateSettingsResponse(_message.Message):
    __slots__ = ("canonical_yaml", "settings_hash", "image_types", "feature_classes")
    CANONICAL_YAML_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_HASH_FIELD_NUMBER: _ClassVar[int]
    IMAGE_TYPES_FIELD_NUMBER: _ClassVar[int]
    FEATURE_CLASSES_FIELD_NUMBER: _ClassVar[int]
    canonical_yaml: str
    settings_hash: str
    image_types: _containers.RepeatedScalarFieldContainer[str]
    feature_classes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, canonical_yaml: _Optional[str] = ..., settings_hash: _Optional[str] = ..., image_types: _Optional[_Iterable[str]] = ..., feature_classes: _Optional[_Iterable[str]] = ...) -> None: ...

class ExtractFeaturesRequest(_message.Message):
    __slots__ = ("image_object_key", "image_name", "mask_object_key", "mask_name", "label", "preset_id", "settings_yaml")
    IMAGE_OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    IMAGE_NAME_FIELD_NUMBER: _ClassVar[int]
    MASK_OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    MASK_NAME_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    PRESET_ID_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_YAML_FIELD_NUMBER: _ClassVar[int]
    image_object_key: str
    image_name: str
    mask_object_key: str
    mask_name: str
    label: int
    preset_id: str
    settings_yaml: str
    def __init__(self, image_object_key: _Optional[str] = ..., image_name: _Optional[str] = ..., mask_object_key: _Optional[str] = ..., mask_name: _Optional[str] = ..., label: _Optional[int] = ..., preset_id: _Optional[str] = ..., settings_yaml: _Optional[str] = ...) -> None: ...

class Feature(_message.Message):
    __slots__ = ("name", "value", "ibsi_name", "ibsi_code")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    IBSI_NAME_FIELD_NUMBER: _ClassVar[int]
    IBSI_CODE_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: float
    ibsi_name: str
    ibsi_code: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[float] = ..., ibsi_name: _Optional[str] = ..., ibsi_code: _Optional[str] = ...) -> None: ...

class ExtractFeaturesResponse(_message.Message):
    __slots__ = ("features", "settings_hash", "pyradiomics_version", "seconds")
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_HASH_FIELD_NUMBER: _ClassVar[int]
    PYRADIOMICS_VERSION_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    features: _containers.RepeatedCompositeFieldContainer[Feature]
    settings_hash: str
    pyradiomics_version: str
    seconds: float
    def __init__(self, features: _Optional[_Iterable[_Union[Feature, _Mapping]]] = ..., settings_hash: _Optional[str] = ..., pyradiomics_version: _Optional[str] = ..., seconds: _Optional[float] = ...) -> None: ...

class GetIbsiReportRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class IbsiRow(_message.Message):
    __slots__ = ("feature", "ibsi_name", "ibsi_code", "aggregation", "reference", "computed", "reported", "status", "note")
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    IBSI_NAME_FIELD_NUMBER: _ClassVar[int]
    IBSI_CODE_FIELD_NUMBER: _ClassVar[int]
    AGGREGATION_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    COMPUTED_FIELD_NUMBER: _ClassVar[int]
    REPORTED_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    feature: str
    ibsi_name: str
    ibsi_code: str
    aggregation: str
    reference: float
    computed: float
    reported: float
    status: str
    note: str
    def __init__(self, feature: _Optional[str] = ..., ibsi_name: _Optional[str] = ..., ibsi_code: _Optional[str] = ..., aggregation: _Optional[str] = ..., reference: _Optional[float] = ..., computed: _Optional[float] = ..., reported: _Optional[float] = ..., status: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class GetIbsiReportResponse(_message.Message):
    __slots__ = ("rows", "table")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[IbsiRow]
    table: str
    def __init__(self, rows: _Optional[_Iterable[_Union[IbsiRow, _Mapping]]] = ..., table: _Optional[str] = ...) -> None: ...

class SelectionStep(_message.Message):
    __slots__ = ("name", "params")
    class ParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    name: str
    params: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., params: _Optional[_Mapping[str, str]] = ...) -> None: ...

class SelectFeaturesRequest(_message.Message):
    __slots__ = ("table_object_key", "table_name", "outcome_column", "group_column", "id_columns", "steps", "model", "folds", "seed")
    TABLE_OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    TABLE_NAME_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_COLUMN_FIELD_NUMBER: _ClassVar[int]
    GROUP_COLUMN_FIELD_NUMBER: _ClassVar[int]
    ID_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    FOLDS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    table_object_key: str
    table_name: str
    outcome_column: str
    group_column: str
    id_columns: _containers.RepeatedScalarFieldContainer[str]
    steps: _containers.RepeatedCompositeFieldContainer[SelectionStep]
    model: str
    folds: int
    seed: int
    def __init__(self, table_object_key: _Optional[str] = ..., table_name: _Optional[str] = ..., outcome_column: _Optional[str] = ..., group_column: _Optional[str] = ..., id_columns: _Optional[_Iterable[str]] = ..., steps: _Optional[_Iterable[_Union[SelectionStep, _Mapping]]] = ..., model: _Optional[str] = ..., folds: _Optional[int] = ..., seed: _Optional[int] = ...) -> None: ...

class SelectFeaturesResponse(_message.Message):
    __slots__ = ("selected", "cv_auc_mean", "cv_auc_std", "fold_aucs", "selection_frequency", "selected_table_object_key")
    class SelectionFrequencyEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    SELECTED_FIELD_NUMBER: _ClassVar[int]
    CV_AUC_MEAN_FIELD_NUMBER: _ClassVar[int]
    CV_AUC_STD_FIELD_NUMBER: _ClassVar[int]
    FOLD_AUCS_FIELD_NUMBER: _ClassVar[int]
    SELECTION_FREQUENCY_FIELD_NUMBER: _ClassVar[int]
    SELECTED_TABLE_OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    selected: _containers.RepeatedScalarFieldContainer[str]
    cv_auc_mean: float
    cv_auc_std: float
    fold_aucs: _containers.RepeatedScalarFieldContainer[float]
    selection_frequency: _containers.ScalarMap[str, float]
    selected_table_object_key: str
    def __init__(self, selected: _Optional[_Iterable[str]] = ..., cv_auc_mean: _Optional[float] = ..., cv_auc_std: _Optional[float] = ..., fold_aucs: _Optional[_Iterable[float]] = ..., selection_frequency: _Optional[_Mapping[str, float]] = ..., selected_table_object_key: _Optional[str] = ...) -> None: ...

class FeatureStabilityRequest(_message.Message):
    __slots__ = ("table_object_key", "table_name", "target_column", "rater_column", "id_columns", "kind", "threshold")
    TABLE_OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    TABLE_NAME_FIELD_NUMBER: _ClassVar[int]
    TARGET_COLUMN_FIELD_NUMBER: _ClassVar[int]
    RATER_COLUMN_FIELD_NUMBER: _ClassVar[int]
    ID_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    table_object_key: str
    table_name: str
    target_column: str
    rater_column: str
    id_columns: _containers.RepeatedScalarFieldContainer[str]
    kind: str
    threshold: float
    def __init__(self, table_object_key: _Optional[str] = ..., table_name: _Optional[str] = ..., target_column: _Optional[str] = ..., rater_column: _Optional[str] = ..., id_columns: _Optional[_Iterable[str]] = ..., kind: _Optional[str] = ..., threshold: _Optional[float] = ...) -> None: ...

class FeatureStabilityResponse(_message.Message):
    __slots__ = ("icc", "stable", "targets", "raters")
    class IccEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    ICC_FIELD_NUMBER: _ClassVar[int]
    STABLE_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    RATERS_FIELD_NUMBER: _ClassVar[int]
    icc: _containers.ScalarMap[str, float]
    stable: _containers.RepeatedScalarFieldContainer[str]
    targets: int
    raters: int
    def __init__(self, icc: _Optional[_Mapping[str, float]] = ..., stable: _Optional[_Iterable[str]] = ..., targets: _Optional[int] = ..., raters: _Optional[int] = ...) -> None: ...

class ImagePair(_message.Message):
    __slots__ = ("image_object_key", "image_name", "mask_object_key", "mask_name", "case_id", "label_class", "patient_id")
    IMAGE_OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    IMAGE_NAME_FIELD_NUMBER: _ClassVar[int]
    MASK_OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    MASK_NAME_FIELD_NUMBER: _ClassVar[int]
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    LABEL_CLASS_FIELD_NUMBER: _ClassVar[int]
    PATIENT_ID_FIELD_NUMBER: _ClassVar[int]
    image_object_key: str
    image_name: str
    mask_object_key: str
    mask_name: str
    case_id: str
    label_class: str
    patient_id: str
    def __init__(self, image_object_key: _Optional[str] = ..., image_name: _Optional[str] = ..., mask_object_key: _Optional[str] = ..., mask_name: _Optional[str] = ..., case_id: _Optional[str] = ..., label_class: _Optional[str] = ..., patient_id: _Optional[str] = ...) -> None: ...

class StartExtractionJobRequest(_message.Message):
    __slots__ = ("dataset_id", "pairs", "preset_id", "settings_yaml", "regions", "labels", "job_id", "perturbations")
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    PAIRS_FIELD_NUMBER: _ClassVar[int]
    PRESET_ID_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_YAML_FIELD_NUMBER: _ClassVar[int]
    REGIONS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    PERTURBATIONS_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    pairs: _containers.RepeatedCompositeFieldContainer[ImagePair]
    preset_id: str
    settings_yaml: str
    regions: str
    labels: _containers.RepeatedScalarFieldContainer[int]
    job_id: str
    perturbations: MaskPerturbations
    def __init__(self, dataset_id: _Optional[str] = ..., pairs: _Optional[_Iterable[_Union[ImagePair, _Mapping]]] = ..., preset_id: _Optional[str] = ..., settings_yaml: _Optional[str] = ..., regions: _Optional[str] = ..., labels: _Optional[_Iterable[int]] = ..., job_id: _Optional[str] = ..., perturbations: _Optional[_Union[MaskPerturbations, _Mapping]] = ...) -> None: ...

class MaskPerturbations(_message.Message):
    __slots__ = ("erode", "dilate", "shift", "icc_kind", "threshold")
    ERODE_FIELD_NUMBER: _ClassVar[int]
    DILATE_FIELD_NUMBER: _ClassVar[int]
    SHIFT_FIELD_NUMBER: _ClassVar[int]
    ICC_KIND_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    erode: int
    dilate: int
    shift: bool
    icc_kind: str
    threshold: float
    def __init__(self, erode: _Optional[int] = ..., dilate: _Optional[int] = ..., shift: _Optional[bool] = ..., icc_kind: _Optional[str] = ..., threshold: _Optional[float] = ...) -> None: ...

class StartExtractionJobResponse(_message.Message):
    __slots__ = ("job", "series")
    JOB_FIELD_NUMBER: _ClassVar[int]
    SERIES_FIELD_NUMBER: _ClassVar[int]
    job: _job_pb2.Job
    series: int
    def __init__(self, job: _Optional[_Union[_job_pb2.Job, _Mapping]] = ..., series: _Optional[int] = ...) -> None: ...

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

class GetFeatureTableRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class RegionFailure(_message.Message):
    __slots__ = ("region_id", "case_id", "reason", "message")
    REGION_ID_FIELD_NUMBER: _ClassVar[int]
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    region_id: str
    case_id: str
    reason: str
    message: str
    def __init__(self, region_id: _Optional[str] = ..., case_id: _Optional[str] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class GetFeatureTableResponse(_message.Message):
    __slots__ = ("parquet_object_key", "csv_object_key", "rows", "features", "id_columns", "provenance", "failures", "reused", "stability_object_key", "stable_features")
    class ProvenanceEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PARQUET_OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    CSV_OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    ID_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    PROVENANCE_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    REUSED_FIELD_NUMBER: _ClassVar[int]
    STABILITY_OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    STABLE_FEATURES_FIELD_NUMBER: _ClassVar[int]
    parquet_object_key: str
    csv_object_key: str
    rows: int
    features: int
    id_columns: _containers.RepeatedScalarFieldContainer[str]
    provenance: _containers.ScalarMap[str, str]
    failures: _containers.RepeatedCompositeFieldContainer[RegionFailure]
    reused: int
    stability_object_key: str
    stable_features: int
    def __init__(self, parquet_object_key: _Optional[str] = ..., csv_object_key: _Optional[str] = ..., rows: _Optional[int] = ..., features: _Optional[int] = ..., id_columns: _Optional[_Iterable[str]] = ..., provenance: _Optional[_Mapping[str, str]] = ..., failures: _Optional[_Iterable[_Union[RegionFailure, _Mapping]]] = ..., reused: _Optional[int] = ..., stability_object_key: _Optional[str] = ..., stable_features: _Optional[int] = ...) -> None: ...
