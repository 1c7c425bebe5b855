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
    __slots__ = ("patients", "studies", "series", "instances", "disk_size_bytes", "by_modality", "by_site", "by_month")
    PATIENTS_FIELD_NUMBER: _ClassVar[int]
    STUDIES_FIELD_NUMBER: _ClassVar[int]
    SERIES_FIELD_NUMBER: _ClassVar[int]
    INSTANCES_FIELD_NUMBER: _ClassVar[int]
    DISK_SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    BY_MODALITY_FIELD_NUMBER: _ClassVar[int]
    BY_SITE_FIELD_NUMBER: _ClassVar[int]
    BY_MONTH_FIELD_NUMBER: _ClassVar[int]
    patients: int
    studies: int
    series: int
    instances: int
    disk_size_bytes: int
    by_modality: _containers.RepeatedCompositeFieldContainer[StatisticsGroup]
    by_site: _containers.RepeatedCompositeFieldContainer[StatisticsGroup]
    by_month: _containers.RepeatedCompositeFieldContainer[StatisticsGroup]
    def __init__(self, patients: _Optional[int] = ..., studies: _Optional[int] = ..., series: _Optional[int] = ..., instances: _Optional[int] = ..., disk_size_bytes: _Optional[int] = ..., by_modality: _Optional[_Iterable[_Union[StatisticsGroup, _Mapping]]] = ..., by_site: _Optional[_Iterable[_Union[StatisticsGroup, _Mapping]]] = ..., by_month: _Optional[_Iterable[_Union[StatisticsGroup, _Mapping]]] = ...) -> None: ...

class StatisticsGroup(_message.Message):
    __slots__ = ("key", "studies", "series", "instances", "size_bytes")
    KEY_FIELD_NUMBER: _ClassVar[int]
    STUDIES_FIELD_NUMBER: _ClassVar[int]
    SERIES_FIELD_NUMBER: _ClassVar[int]
    INSTANCES_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    key: str
    studies: int
    series: int
    instances: int
    size_bytes: int
    def __init__(self, key: _Optional[str] = ..., studies: _Optional[int] = ..., series: _Optional[int] = ..., instances: _Optional[int] = ..., size_bytes: _Optional[int] = ...) -> None: ...

class StudyFilter(_message.Message):
    __slots__ = ("patient_id", "modality", "study_date_from", "study_date_to", "description_contains", "institution", "body_part", "site", "project_id", "study_instance_uid")
    PATIENT_ID_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    STUDY_DATE_FROM_FIELD_NUMBER: _ClassVar[int]
    STUDY_DATE_TO_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_CONTAINS_FIELD_NUMBER: _ClassVar[int]
    INSTITUTION_FIELD_NUMBER: _ClassVar[int]
    BODY_PART_FIELD_NUMBER: _ClassVar[int]
    SITE_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    STUDY_INSTANCE_UID_FIELD_NUMBER: _ClassVar[int]
    patient_id: str
    modality: str
    study_date_from: str
    study_date_to: str
    description_contains: str
    institution: str
    body_part: str
    site: str
    project_id: str
    study_instance_uid: str
    def __init__(self, patient_id: _Optional[str] = ..., modality: _Optional[str] = ..., study_date_from: _Optional[str] = ..., study_date_to: _Optional[str] = ..., description_contains: _Optional[str] = ..., institution: _Optional[str] = ..., body_part: _Optional[str] = ..., site: _Optional[str] = ..., project_id: _Optional[str] = ..., study_instance_uid: _Optional[str] = ...) -> None: ...

class QueryPatientsRequest(_message.Message):
    __slots__ = ("filter", "sort", "page")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    SORT_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    filter: StudyFilter
    sort: str
    page: _paging_pb2.PageRequest
    def __init__(self, filter: _Optional[_Union[StudyFilter, _Mapping]] = ..., sort: _Optional[str] = ..., page: _Optional[_Union[_paging_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class Patient(_message.Message):
    __slots__ = ("patient_id", "patient_name", "study_count", "series_count", "instance_count", "latest_study_date", "sites")
    PATIENT_ID_FIELD_NUMBER: _ClassVar[int]
    PATIENT_NAME_FIELD_NUMBER: _ClassVar[int]
    STUDY_COUNT_FIELD_NUMBER: _ClassVar[int]
    SERIES_COUNT_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_COUNT_FIELD_NUMBER: _ClassVar[int]
    LATEST_STUDY_DATE_FIELD_NUMBER: _ClassVar[int]
    SITES_FIELD_NUMBER: _ClassVar[int]
    patient_id: str
    patient_name: str
    study_count: int
    series_count: int
    instance_count: int
    latest_study_date: str
    sites: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, patient_id: _Optional[str] = ..., patient_name: _Optional[str] = ..., study_count: _Optional[int] = ..., series_count: _Optional[int] = ..., instance_count: _Optional[int] = ..., latest_study_date: _Optional[str] = ..., sites: _Optional[_Iterable[str]] = ...) -> None: ...

class QueryPatientsResponse(_message.Message):
    __slots__ = ("patients", "page")
    PATIENTS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    patients: _containers.RepeatedCompositeFieldContainer[Patient]
    page: _paging_pb2.PageResponse
    def __init__(self, patients: _Optional[_Iterable[_Union[Patient, _Mapping]]] = ..., page: _Optional[_Union[_paging_pb2.PageResponse, _Mapping]] = ...) -> None: ...

class QueryStudiesRequest(_message.Message):
    __slots__ = ("filter", "sort", "page")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    SORT_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    filter: StudyFilter
    sort: str
    page: _paging_pb2.PageRequest
    def __init__(self, filter: _Optional[_Union[StudyFilter, _Mapping]] = ..., sort: _Optional[str] = ..., page: _Optional[_Union[_paging_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class Study(_message.Message):
    __slots__ = ("study_instance_uid", "patient_id", "patient_name", "study_date", "description", "accession_number", "institution", "modalities", "series_count", "instance_count", "site", "project_ids", "size_bytes", "body_parts", "received_at")
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
    SITE_FIELD_NUMBER: _ClassVar[int]
    PROJECT_IDS_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    BODY_PARTS_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
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
    site: str
    project_ids: _containers.RepeatedScalarFieldContainer[str]
    size_bytes: int
    body_parts: _containers.RepeatedScalarFieldContainer[str]
    received_at: str
    def __init__(self, study_instance_uid: _Optional[str] = ..., patient_id: _Optional[str] = ..., patient_name: _Optional[str] = ..., study_date: _Optional[str] = ..., description: _Optional[str] = ..., accession_number: _Optional[str] = ..., institution: _Optional[str] = ..., modalities: _Optional[_Iterable[str]] = ..., series_count: _Optional[int] = ..., instance_count: _Optional[int] = ..., site: _Optional[str] = ..., project_ids: _Optional[_Iterable[str]] = ..., size_bytes: _Optional[int] = ..., body_parts: _Optional[_Iterable[str]] = ..., received_at: _Optional[str] = ...) -> None: ...

class QueryStudiesResponse(_message.Message):
    __slots__ = ("studies", "page")
    STUDIES_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    studies: _containers.RepeatedCompositeFieldContainer[Study]
    page: _paging_pb2.PageResponse
    def __init__(self, studies: _Optional[_Iterable[_Union[Study, _Mapping]]] = ..., page: _Optional[_Union[_paging_pb2.PageResponse, _Mapping]] = ...) -> None: ...

class QuerySeriesRequest(_message.Message):
    __slots__ = ("filter", "sort", "page")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    SORT_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    filter: StudyFilter
    sort: str
    page: _paging_pb2.PageRequest
    def __init__(self, filter: _Optional[_Union[StudyFilter, _Mapping]] = ..., sort: _Optional[str] = ..., page: _Optional[_Union[_paging_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class GetSeriesRequest(_message.Message):
    __slots__ = ("series_instance_uid",)
    SERIES_INSTANCE_UID_FIELD_NUMBER: _ClassVar[int]
    series_instance_uid: str
    def __init__(self, series_instance_uid: _Optional[str] = ...) -> None: ...

class Series(_message.Message):
    __slots__ = ("series_instance_uid", "study_instance_uid", "modality", "description", "series_number", "body_part", "instance_count", "size_bytes", "rows", "columns", "slices", "spacing", "orientation", "plane")
    SERIES_INSTANCE_UID_FIELD_NUMBER: _ClassVar[int]
    STUDY_INSTANCE_UID_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SERIES_NUMBER_FIELD_NUMBER: _ClassVar[int]
    BODY_PART_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_COUNT_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    SLICES_FIELD_NUMBER: _ClassVar[int]
    SPACING_FIELD_NUMBER: _ClassVar[int]
    ORIENTATION_FIELD_NUMBER: _ClassVar[int]
    PLANE_FIELD_NUMBER: _ClassVar[int]
    series_instance_uid: str
    study_instance_uid: str
    modality: str
    description: str
    series_number: int
    body_part: str
    instance_count: int
    size_bytes: int
    rows: int
    columns: int
    slices: int
    spacing: _containers.RepeatedScalarFieldContainer[float]
    orientation: _containers.RepeatedScalarFieldContainer[float]
    plane: str
    def __init__(self, series_instance_uid: _Optional[str] = ..., study_instance_uid: _Optional[str] = ..., modality: _Optional[str] = ..., description: _Optional[str] = ..., series_number: _Optional[int] = ..., body_part: _Optional[str] = ..., instance_count: _Optional[int] = ..., size_bytes: _Optional[int] = ..., rows: _Optional[int] = ..., columns: _Optional[int] = ..., slices: _Optional[int] = ..., spacing: _Optional[_Iterable[float]] = ..., orientation: _Optional[_Iterable[float]] = ..., plane: _Optional[str] = ...) -> None: ...

class QuerySeriesResponse(_message.Message):
    __slots__ = ("series", "page")
    SERIES_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    series: _containers.RepeatedCompositeFieldContainer[Series]
    page: _paging_pb2.PageResponse
    def __init__(self, series: _Optional[_Iterable[_Union[Series, _Mapping]]] = ..., page: _Optional[_Union[_paging_pb2.PageResponse, _Mapping]] = ...) -> None: ...

class ListSitesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Site(_message.Message):
    __slots__ = ("id", "name", "institution_names", "registered", "modalities", "patients", "studies", "series", "instances", "size_bytes")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    INSTITUTION_NAMES_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_FIELD_NUMBER: _ClassVar[int]
    MODALITIES_FIELD_NUMBER: _ClassVar[int]
    PATIENTS_FIELD_NUMBER: _ClassVar[int]
    STUDIES_FIELD_NUMBER: _ClassVar[int]
    SERIES_FIELD_NUMBER: _ClassVar[int]
    INSTANCES_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    institution_names: _containers.RepeatedScalarFieldContainer[str]
    registered: bool
    modalities: _containers.RepeatedCompositeFieldContainer[Modality]
    patients: int
    studies: int
    series: int
    instances: int
    size_bytes: int
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., institution_names: _Optional[_Iterable[str]] = ..., registered: _Optional[bool] = ..., modalities: _Optional[_Iterable[_Union[Modality, _Mapping]]] = ..., patients: _Optional[int] = ..., studies: _Optional[int] = ..., series: _Optional[int] = ..., instances: _Optional[int] = ..., size_bytes: _Optional[int] = ...) -> None: ...

class ListSitesResponse(_message.Message):
    __slots__ = ("sites",)
    SITES_FIELD_NUMBER: _ClassVar[int]
    sites: _containers.RepeatedCompositeFieldContainer[Site]
    def __init__(self, sites: _Optional[_Iterable[_Union[Site, _Mapping]]] = ...) -> None: ...

class CreateSiteRequest(_message.Message):
    __slots__ = ("id", "name", "institution_names")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    INSTITUTION_NAMES_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    institution_names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., institution_names: _Optional[_Iterable[str]] = ...) -> None: ...

class DeleteSiteRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteSiteResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Modality(_message.Message):
    __slots__ = ("ae_title", "site_id", "host", "port", "description")
    AE_TITLE_FIELD_NUMBER: _ClassVar[int]
    SITE_ID_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ae_title: str
    site_id: str
    host: str
    port: int
    description: str
    def __init__(self, ae_title: _Optional[str] = ..., site_id: _Optional[str] = ..., host: _Optional[str] = ..., port: _Optional[int] = ..., description: _Optional[str] = ...) -> None: ...

class RegisterModalityRequest(_message.Message):
    __slots__ = ("modality",)
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    modality: Modality
    def __init__(self, modality: _Optional[_Union[Modality, _Mapping]] = ...) -> None: ...

class UnregisterModalityRequest(_message.Message):
    __slots__ = ("site_id", "ae_title")
    SITE_ID_FIELD_NUMBER: _ClassVar[int]
    AE_TITLE_FIELD_NUMBER: _ClassVar[int]
    site_id: str
    ae_title: str
    def __init__(self, site_id: _Optional[str] = ..., ae_title: _Optional[str] = ...) -> None: ...

class UnregisterModalityResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetIngestProfileRequest(_message.Message):
    __slots__ = ("project_id",)
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    def __init__(self, project_id: _Optional[str] = ...) -> None: ...

class IngestProfile(_message.Message):
    __slots__ = ("project_id", "deidentify", "options")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    DEIDENTIFY_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    deidentify: bool
    options: DeidentificationOptions
    def __init__(self, project_id: _Optional[str] = ..., deidentify: _Optional[bool] = ..., options: _Optional[_Union[DeidentificationOptions, _Mapping]] = ...) -> None: ...

class SetIngestProfileRequest(_message.Message):
    __slots__ = ("profile",)
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    profile: IngestProfile
    def __init__(self, profile: _Optional[_Union[IngestProfile, _Mapping]] = ...) -> None: ...

class StagedFile(_message.Message):
    __slots__ = ("object_key", "file_name", "byte_range")
    OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    BYTE_RANGE_FIELD_NUMBER: _ClassVar[int]
    object_key: str
    file_name: str
    byte_range: ByteRange
    def __init__(self, object_key: _Optional[str] = ..., file_name: _Optional[str] = ..., byte_range: _Optional[_Union[ByteRange, _Mapping]] = ...) -> None: ...

class ByteRange(_message.Message):
    __slots__ = ("offset", "length")
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    offset: int
    length: int
    def __init__(self, offset: _Optional[int] = ..., length: _Optional[int] = ...) -> None: ...

class IngestUploadRequest(_message.Message):
    __slots__ = ("files", "site_id", "project_id")
    FILES_FIELD_NUMBER: _ClassVar[int]
    SITE_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    files: _containers.RepeatedCompositeFieldContainer[StagedFile]
    site_id: str
    project_id: str
    def __init__(self, files: _Optional[_Iterable[_Union[StagedFile, _Mapping]]] = ..., site_id: _Optional[str] = ..., project_id: _Optional[str] = ...) -> None: ...

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
    __slots__ = ("files", "stored", "already_present", "rejected", "deidentified", "removed")
    class DeidentifiedEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    FILES_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    ALREADY_PRESENT_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    DEIDENTIFIED_FIELD_NUMBER: _ClassVar[int]
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    files: _containers.RepeatedCompositeFieldContainer[IngestedFile]
    stored: int
    already_present: int
    rejected: int
    deidentified: _containers.ScalarMap[str, int]
    removed: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, files: _Optional[_Iterable[_Union[IngestedFile, _Mapping]]] = ..., stored: _Optional[int] = ..., already_present: _Optional[int] = ..., rejected: _Optional[int] = ..., deidentified: _Optional[_Mapping[str, int]] = ..., removed: _Optional[_Iterable[str]] = ...) -> None: ...

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

class ExportSeriesHeadersRequest(_message.Message):
    __slots__ = ("series_instance_uid",)
    SERIES_INSTANCE_UID_FIELD_NUMBER: _ClassVar[int]
    series_instance_uid: str
    def __init__(self, series_instance_uid: _Optional[str] = ...) -> None: ...

class ExportSeriesHeadersResponse(_message.Message):
    __slots__ = ("object_key", "instances")
    OBJECT_KEY_FIELD_NUMBER: _ClassVar[int]
    INSTANCES_FIELD_NUMBER: _ClassVar[int]
    object_key: str
    instances: int
    def __init__(self, object_key: _Optional[str] = ..., instances: _Optional[int] = ...) -> None: ...
