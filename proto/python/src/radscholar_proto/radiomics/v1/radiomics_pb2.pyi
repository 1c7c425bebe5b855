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
