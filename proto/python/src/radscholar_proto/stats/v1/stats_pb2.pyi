from radscholar_proto.common.v1 import job_pb2 as _job_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TwoGroupTest(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TWO_GROUP_TEST_UNSPECIFIED: _ClassVar[TwoGroupTest]
    TWO_GROUP_TEST_STUDENT_T: _ClassVar[TwoGroupTest]
    TWO_GROUP_TEST_WELCH_T: _ClassVar[TwoGroupTest]
    TWO_GROUP_TEST_PAIRED_T: _ClassVar[TwoGroupTest]
    TWO_GROUP_TEST_MANN_WHITNEY_U: _ClassVar[TwoGroupTest]
TWO_GROUP_TEST_UNSPECIFIED: TwoGroupTest
TWO_GROUP_TEST_STUDENT_T: TwoGroupTest
TWO_GROUP_TEST_WELCH_T: TwoGroupTest
TWO_GROUP_TEST_PAIRED_T: TwoGroupTest
TWO_GROUP_TEST_MANN_WHITNEY_U: TwoGroupTest

class Column(_message.Message):
    __slots__ = ("name", "type", "missing", "distinct", "values")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    DISTINCT_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    missing: int
    distinct: int
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ..., missing: _Optional[int] = ..., distinct: _Optional[int] = ..., values: _Optional[_Iterable[str]] = ...) -> None: ...

class Table(_message.Message):
    __slots__ = ("id", "name", "rows", "columns", "created_by", "source")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    rows: int
    columns: _containers.RepeatedCompositeFieldContainer[Column]
    created_by: str
    source: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., rows: _Optional[int] = ..., columns: _Optional[_Iterable[_Union[Column, _Mapping]]] = ..., created_by: _Optional[str] = ..., source: _Optional[str] = ...) -> None: ...

class CreateTableRequest(_message.Message):
    __slots__ = ("object_key", "name", "source")
    OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    object_key: str
    name: str
    source: str
    def __init__(self, object_key: _Optional[str] = ..., name: _Optional[str] = ..., source: _Optional[str] = ...) -> None: ...

class CreateTableResponse(_message.Message):
    __slots__ = ("table",)
    TABLE_FIELD_NUMBER: _ClassVar[int]
    table: Table
    def __init__(self, table: _Optional[_Union[Table, _Mapping]] = ...) -> None: ...

class GetTableRequest(_message.Message):
    __slots__ = ("table_id",)
    TABLE_ID_FIELD_NUMBER: _ClassVar[int]
    table_id: str
    def __init__(self, table_id: _Optional[str] = ...) -> None: ...

class GetTableResponse(_message.Message):
    __slots__ = ("table",)
    TABLE_FIELD_NUMBER: _ClassVar[int]
    table: Table
    def __init__(self, table: _Optional[_Union[Table, _Mapping]] = ...) -> None: ...

class RunAnalysisRequest(_message.Message):
    __slots__ = ("table_id", "kind", "parameters_json")
    TABLE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_JSON_FIELD_NUMBER: _ClassVar[int]
    table_id: str
    kind: str
    parameters_json: bytes
    def __init__(self, table_id: _Optional[str] = ..., kind: _Optional[str] = ..., parameters_json: _Optional[bytes] = ...) -> None: ...

class Plot(_message.Message):
    __slots__ = ("name", "png_object_key", "svg_object_key", "data_json")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PNG_OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    SVG_OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    DATA_JSON_FIELD_NUMBER: _ClassVar[int]
    name: str
    png_object_key: str
    svg_object_key: str
    data_json: bytes
    def __init__(self, name: _Optional[str] = ..., png_object_key: _Optional[str] = ..., svg_object_key: _Optional[str] = ..., data_json: _Optional[bytes] = ...) -> None: ...

class RunAnalysisResponse(_message.Message):
    __slots__ = ("id", "kind", "result_json", "rows_used", "rows_dropped", "plots", "provenance", "json_object_key", "csv_object_key", "model_object_key")
    class ProvenanceEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    RESULT_JSON_FIELD_NUMBER: _ClassVar[int]
    ROWS_USED_FIELD_NUMBER: _ClassVar[int]
    ROWS_DROPPED_FIELD_NUMBER: _ClassVar[int]
    PLOTS_FIELD_NUMBER: _ClassVar[int]
    PROVENANCE_FIELD_NUMBER: _ClassVar[int]
    JSON_OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    CSV_OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    MODEL_OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: str
    result_json: bytes
    rows_used: _containers.RepeatedScalarFieldContainer[int]
    rows_dropped: _containers.RepeatedScalarFieldContainer[int]
    plots: _containers.RepeatedCompositeFieldContainer[Plot]
    provenance: _containers.ScalarMap[str, str]
    json_object_key: str
    csv_object_key: str
    model_object_key: str
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[str] = ..., result_json: _Optional[bytes] = ..., rows_used: _Optional[_Iterable[int]] = ..., rows_dropped: _Optional[_Iterable[int]] = ..., plots: _Optional[_Iterable[_Union[Plot, _Mapping]]] = ..., provenance: _Optional[_Mapping[str, str]] = ..., json_object_key: _Optional[str] = ..., csv_object_key: _Optional[str] = ..., model_object_key: _Optional[str] = ...) -> None: ...

class CompareTwoGroupsRequest(_message.Message):
    __slots__ = ("group_a", "group_b", "test", "confidence_level")
    GROUP_A_FIELD_NUMBER: _ClassVar[int]
    GROUP_B_FIELD_NUMBER: _ClassVar[int]
    TEST_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    group_a: _containers.RepeatedScalarFieldContainer[float]
    group_b: _containers.RepeatedScalarFieldContainer[float]
    test: TwoGroupTest
    confidence_level: float
    def __init__(self, group_a: _Optional[_Iterable[float]] = ..., group_b: _Optional[_Iterable[float]] = ..., test: _Optional[_Union[TwoGroupTest, str]] = ..., confidence_level: _Optional[float] = ...) -> None: ...

class CompareTwoGroupsResponse(_message.Message):
    __slots__ = ("test", "statistic", "degrees_of_freedom", "p_value", "estimate", "ci_low", "ci_high", "effect_size", "n_a", "n_b")
    TEST_FIELD_NUMBER: _ClassVar[int]
    STATISTIC_FIELD_NUMBER: _ClassVar[int]
    DEGREES_OF_FREEDOM_FIELD_NUMBER: _ClassVar[int]
    P_VALUE_FIELD_NUMBER: _ClassVar[int]
    ESTIMATE_FIELD_NUMBER: _ClassVar[int]
    CI_LOW_FIELD_NUMBER: _ClassVar[int]
    CI_HIGH_FIELD_NUMBER: _ClassVar[int]
    EFFECT_SIZE_FIELD_NUMBER: _ClassVar[int]
    N_A_FIELD_NUMBER: _ClassVar[int]
    N_B_FIELD_NUMBER: _ClassVar[int]
    test: str
    statistic: float
    degrees_of_freedom: float
    p_value: float
    estimate: float
    ci_low: float
    ci_high: float
    effect_size: float
    n_a: int
    n_b: int
    def __init__(self, test: _Optional[str] = ..., statistic: _Optional[float] = ..., degrees_of_freedom: _Optional[float] = ..., p_value: _Optional[float] = ..., estimate: _Optional[float] = ..., ci_low: _Optional[float] = ..., ci_high: _Optional[float] = ..., effect_size: _Optional[float] = ..., n_a: _Optional[int] = ..., n_b: _Optional[int] = ...) -> None: ...

class GetResultRequest(_message.Message):
    __slots__ = ("result_id", "plot")
    RESULT_ID_FIELD_NUMBER: _ClassVar[int]
    PLOT_FIELD_NUMBER: _ClassVar[int]
    result_id: str
    plot: str
    def __init__(self, result_id: _Optional[str] = ..., plot: _Optional[str] = ...) -> None: ...

class GetResultResponse(_message.Message):
    __slots__ = ("json_object_key", "csv_object_key", "plots", "model_object_key")
    JSON_OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    CSV_OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    PLOTS_FIELD_NUMBER: _ClassVar[int]
    MODEL_OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    json_object_key: str
    csv_object_key: str
    plots: _containers.RepeatedCompositeFieldContainer[Plot]
    model_object_key: str
    def __init__(self, json_object_key: _Optional[str] = ..., csv_object_key: _Optional[str] = ..., plots: _Optional[_Iterable[_Union[Plot, _Mapping]]] = ..., model_object_key: _Optional[str] = ...) -> None: ...

class StartAnalysisJobRequest(_message.Message):
    __slots__ = ("table_id", "kind", "parameters_json", "job_id")
    TABLE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_JSON_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    table_id: str
    kind: str
    parameters_json: bytes
    job_id: str
    def __init__(self, table_id: _Optional[str] = ..., kind: _Optional[str] = ..., parameters_json: _Optional[bytes] = ..., job_id: _Optional[str] = ...) -> None: ...

class StartAnalysisJobResponse(_message.Message):
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
