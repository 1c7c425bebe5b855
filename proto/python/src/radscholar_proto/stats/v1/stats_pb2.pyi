from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
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
