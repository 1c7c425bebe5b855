"""Proto messages to REST models and back."""

from __future__ import annotations

from typing import TypeVar

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from pydantic import BaseModel

from radscholar_proto.common.v1 import paging_pb2

M = TypeVar("M", bound=BaseModel)


def to_model(model: type[M], message: Message, **overrides: object) -> M:
    """Build a REST model from a message (proto field names, defaults included)."""
    fields = MessageToDict(message, always_print_fields_with_no_presence=True, preserving_proto_field_name=True)
    return model.model_validate(fields | overrides)


def page_request(page_size: int, page_token: str) -> paging_pb2.PageRequest:
    return paging_pb2.PageRequest(page_size=page_size, page_token=page_token)
