from radscholar_proto.common.v1 import paging_pb2 as _paging_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class IngestStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INGEST_STATUS_UNSPECIFIED: _ClassVar[IngestStatus]
    INGEST_STATUS_STORED: _ClassVar[IngestStatus]
    INGEST_STATUS_ALREADY_PRESENT: _ClassVar[IngestStatus]
    INGEST_STATUS_REJECTED: _ClassVar[IngestStatus]
INGEST_STATUS_UNSPECIFIED: IngestStatus
INGEST_STATUS_STORED: IngestStatus
INGEST_STATUS_ALREADY_PRESENT: IngestStatus
INGEST_STATUS_REJECTED: IngestStatus

class GetStoreStatisticsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetStoreStatisticsResponse(_message.Message):
    __slots__ = ("patients", "studies", "series", "instances", "disk_size_bytes")
    PATIENTS_FIELD_NUMBER: _ClassVar[int]
    STUDIES_FIELD_NUMBER: _ClassVar[int]
    SERIES_FIELD_NUMBER: _ClassVar[int]
    INSTANCES_FIELD_NUMBER: _ClassVar[int]
    DISK_SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    patients: int
    studies: int
    series: int
    instances: int
    disk_size_bytes: int
    def __init__(self, patients: _Optional[int] = ..., studies: _Optional[int] = ..., series: _Optional[int] = ..., instances: _Optional[int] = ..., disk_size_bytes: _Optional[int] = ...) -> None: ...

class QueryStudiesRequest(_message.Message):
    __slots__ = ("patient_id", "modality", "study_date_from", "study_date_to", "description_contains", "institution", "page")
    PATIENT_ID_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    STUDY_DATE_FROM_FIELD_NUMBER: _ClassVar[int]
    STUDY_DATE_TO_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_CONTAINS_FIELD_NUMBER: _ClassVar[int]
    INSTITUTION_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    patient_id: str
    modality: str
    study_date_from: str
    study_date_to: str
    description_contains: str
    institution: str
    page: _paging_pb2.PageRequest
    def __init__(self, patient_id: _Optional[str] = ..., modality: _Optional[str] = ..., study_date_from: _Optional[str] = ..., study_date_to: _Optional[str] = ..., description_contains: _Optional[str] = ..., institution: _Optional[str] = ..., page: _Optional[_Union[_paging_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class Study(_message.Message):
    __slots__ = ("study_instance_uid", "patient_id", "patient_name", "study_date", "description", "accession_number", "institution", "modalities", "series_count", "instance_count")
    STUDY_INSTANCE_UID_FIELD_NUMBER: _ClassVar[int]
    PATIENT_ID_FIELD_NUMBER: _ClassVar[int]
    PATIENT_NAME_FIELD_NUMBER: _ClassVar[int]
    STUDY_DATE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ACCESSION_NUMBER_FIELD_NUMBER: _ClassVar[int]
    INSTITUTION_FIELD_NUMBER: _ClassVar[int]
    MODALITIES_FIELD_NUMBER: _ClassVar[int]
    SERIES_COUNT_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_COUNT_FIELD_NUMBER: _ClassVar[int]
    study_instance_uid: str
    patient_id: str
    patient_name: str
    study_date: str
    description: str
    accession_number: str
    institution: str
    modalities: _containers.RepeatedScalarFieldContainer[str]
    series_count: int
    instance_count: int
    def __init__(self, study_instance_uid: _Optional[str] = ..., patient_id: _Optional[str] = ..., patient_name: _Optional[str] = ..., study_date: _Optional[str] = ..., description: _Optional[str] = ..., accession_number: _Optional[str] = ..., institution: _Optional[str] = ..., modalities: _Optional[_Iterable[str]] = ..., series_count: _Optional[int] = ..., instance_count: _Optional[int] = ...) -> None: ...

class QueryStudiesResponse(_message.Message):
    __slots__ = ("studies", "page")
    STUDIES_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    studies: _containers.RepeatedCompositeFieldContainer[Study]
    page: _paging_pb2.PageResponse
    def __init__(self, studies: _Optional[_Iterable[_Union[Study, _Mapping]]] = ..., page: _Optional[_Union[_paging_pb2.PageResponse, _Mapping]] = ...) -> None: ...

class ListSeriesRequest(_message.Message):
    __slots__ = ("study_instance_uid",)
    STUDY_INSTANCE_UID_FIELD_NUMBER: _ClassVar[int]
    study_instance_uid: str
    def __init__(self, study_instance_uid: _Optional[str] = ...) -> None: ...

class Series(_message.Message):
    __slots__ = ("series_instance_uid", "study_instance_uid", "modality", "description", "series_number", "body_part", "instance_count")
    SERIES_INSTANCE_UID_FIELD_NUMBER: _ClassVar[int]
    STUDY_INSTANCE_UID_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SERIES_NUMBER_FIELD_NUMBER: _ClassVar[int]
    BODY_PART_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_COUNT_FIELD_NUMBER: _ClassVar[int]
    series_instance_uid: str
    study_instance_uid: str
    modality: str
    description: str
    series_number: int
    body_part: str
    instance_count: int
    def __init__(self, series_instance_uid: _Optional[str] = ..., study_instance_uid: _Optional[str] = ..., modality: _Optional[str] = ..., description: _Optional[str] = ..., series_number: _Optional[int] = ..., body_part: _Optional[str] = ..., instance_count: _Optional[int] = ...) -> None: ...

class ListSeriesResponse(_message.Message):
    __slots__ = ("series",)
    SERIES_FIELD_NUMBER: _ClassVar[int]
    series: _containers.RepeatedCompositeFieldContainer[Series]
    def __init__(self, series: _Optional[_Iterable[_Union[Series, _Mapping]]] = ...) -> None: ...

class IngestUploadRequest(_message.Message):
    __slots__ = ("object_key", "file_name")
    OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    object_key: str
    file_name: str
    def __init__(self, object_key: _Optional[str] = ..., file_name: _Optional[str] = ...) -> None: ...

class IngestedFile(_message.Message):
    __slots__ = ("name", "status", "reason", "message", "sop_instance_uid", "study_instance_uid")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SOP_INSTANCE_UID_FIELD_NUMBER: _ClassVar[int]
    STUDY_INSTANCE_UID_FIELD_NUMBER: _ClassVar[int]
    name: str
    status: IngestStatus
    reason: str
    message: str
    sop_instance_uid: str
    study_instance_uid: str
    def __init__(self, name: _Optional[str] = ..., status: _Optional[_Union[IngestStatus, str]] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ..., sop_instance_uid: _Optional[str] = ..., study_instance_uid: _Optional[str] = ...) -> None: ...

class IngestUploadResponse(_message.Message):
    __slots__ = ("files", "stored", "already_present", "rejected")
    FILES_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    ALREADY_PRESENT_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    files: _containers.RepeatedCompositeFieldContainer[IngestedFile]
    stored: int
    already_present: int
    rejected: int
    def __init__(self, files: _Optional[_Iterable[_Union[IngestedFile, _Mapping]]] = ..., stored: _Optional[int] = ..., already_present: _Optional[int] = ..., rejected: _Optional[int] = ...) -> None: ...

class ExportSeriesVolumeRequest(_message.Message):
    __slots__ = ("series_instance_uid", "stored_values")
    SERIES_INSTANCE_UID_FIELD_NUMBER: _ClassVar[int]
    STORED_VALUES_FIELD_NUMBER: _ClassVar[int]
    series_instance_uid: str
    stored_values: bool
    def __init__(self, series_instance_uid: _Optional[str] = ..., stored_values: _Optional[bool] = ...) -> None: ...

class VolumeGeometry(_message.Message):
    __slots__ = ("size", "spacing", "origin", "direction")
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SPACING_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    size: _containers.RepeatedScalarFieldContainer[int]
    spacing: _containers.RepeatedScalarFieldContainer[float]
    origin: _containers.RepeatedScalarFieldContainer[float]
    direction: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, size: _Optional[_Iterable[int]] = ..., spacing: _Optional[_Iterable[float]] = ..., origin: _Optional[_Iterable[float]] = ..., direction: _Optional[_Iterable[float]] = ...) -> None: ...

class ExportSeriesVolumeResponse(_message.Message):
    __slots__ = ("object_key", "geometry", "units", "modality", "size_bytes", "cached")
    OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    GEOMETRY_FIELD_NUMBER: _ClassVar[int]
    UNITS_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    CACHED_FIELD_NUMBER: _ClassVar[int]
    object_key: str
    geometry: VolumeGeometry
    units: str
    modality: str
    size_bytes: int
    cached: bool
    def __init__(self, object_key: _Optional[str] = ..., geometry: _Optional[_Union[VolumeGeometry, _Mapping]] = ..., units: _Optional[str] = ..., modality: _Optional[str] = ..., size_bytes: _Optional[int] = ..., cached: _Optional[bool] = ...) -> None: ...

class RenderSeriesImageRequest(_message.Message):
    __slots__ = ("series_instance_uid", "view", "index", "window", "size")
    SERIES_INSTANCE_UID_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    series_instance_uid: str
    view: str
    index: int
    window: str
    size: int
    def __init__(self, series_instance_uid: _Optional[str] = ..., view: _Optional[str] = ..., index: _Optional[int] = ..., window: _Optional[str] = ..., size: _Optional[int] = ...) -> None: ...

class RenderSeriesImageResponse(_message.Message):
    __slots__ = ("object_key", "cached")
    OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    CACHED_FIELD_NUMBER: _ClassVar[int]
    object_key: str
    cached: bool
    def __init__(self, object_key: _Optional[str] = ..., cached: _Optional[bool] = ...) -> None: ...

class DeidentificationOptions(_message.Message):
    __slots__ = ("retain_longitudinal_dates", "retain_patient_characteristics", "clean_descriptors")
    RETAIN_LONGITUDINAL_DATES_FIELD_NUMBER: _ClassVar[int]
    RETAIN_PATIENT_CHARACTERISTICS_FIELD_NUMBER: _ClassVar[int]
    CLEAN_DESCRIPTORS_FIELD_NUMBER: _ClassVar[int]
    retain_longitudinal_dates: bool
    retain_patient_characteristics: bool
    clean_descriptors: bool
    def __init__(self, retain_longitudinal_dates: _Optional[bool] = ..., retain_patient_characteristics: _Optional[bool] = ..., clean_descriptors: _Optional[bool] = ...) -> None: ...

class CreateDeidentifiedCopyRequest(_message.Message):
    __slots__ = ("study_instance_uid", "project_id", "options")
    STUDY_INSTANCE_UID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    study_instance_uid: str
    project_id: str
    options: DeidentificationOptions
    def __init__(self, study_instance_uid: _Optional[str] = ..., project_id: _Optional[str] = ..., options: _Optional[_Union[DeidentificationOptions, _Mapping]] = ...) -> None: ...

class CreateDeidentifiedCopyResponse(_message.Message):
    __slots__ = ("study_instance_uid", "pseudonym", "instances", "actions", "removed", "burned_in_annotation")
    class ActionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    STUDY_INSTANCE_UID_FIELD_NUMBER: _ClassVar[int]
    PSEUDONYM_FIELD_NUMBER: _ClassVar[int]
    INSTANCES_FIELD_NUMBER: _ClassVar[int]
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    BURNED_IN_ANNOTATION_FIELD_NUMBER: _ClassVar[int]
    study_instance_uid: str
    pseudonym: str
    instances: int
    actions: _containers.ScalarMap[str, int]
    removed: _containers.RepeatedScalarFieldContainer[str]
    burned_in_annotation: int
    def __init__(self, study_instance_uid: _Optional[str] = ..., pseudonym: _Optional[str] = ..., instances: _Optional[int] = ..., actions: _Optional[_Mapping[str, int]] = ..., removed: _Optional[_Iterable[str]] = ..., burned_in_annotation: _Optional[int] = ...) -> None: ...
