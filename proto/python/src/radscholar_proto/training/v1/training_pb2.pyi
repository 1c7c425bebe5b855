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
TASK_UNSPECIFIED: Task
TASK_CLASSIFICATION: Task
TASK_SEGMENTATION: Task
TASK_DETECTION: Task

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
