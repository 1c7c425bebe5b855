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
TASK_TYPE_UNSPECIFIED: TaskType
TASK_TYPE_CLASSIFICATION: TaskType
TASK_TYPE_DETECTION: TaskType
TASK_TYPE_SEGMENTATION: TaskType
DIMENSIONALITY_UNSPECIFIED: Dimensionality
DIMENSIONALITY_2D: Dimensionality
DIMENSIONALITY_3D: Dimensionality

class Project(_message.Message):
    __slots__ = ("id", "name", "description", "modality", "task_type", "dimensionality", "created_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    DIMENSIONALITY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    description: str
    modality: str
    task_type: TaskType
    dimensionality: Dimensionality
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., modality: _Optional[str] = ..., task_type: _Optional[_Union[TaskType, str]] = ..., dimensionality: _Optional[_Union[Dimensionality, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateProjectRequest(_message.Message):
    __slots__ = ("name", "description", "modality", "task_type", "dimensionality")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    DIMENSIONALITY_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    modality: str
    task_type: TaskType
    dimensionality: Dimensionality
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., modality: _Optional[str] = ..., task_type: _Optional[_Union[TaskType, str]] = ..., dimensionality: _Optional[_Union[Dimensionality, str]] = ...) -> None: ...

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
