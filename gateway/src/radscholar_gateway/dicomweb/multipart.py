"""Splitting a `multipart/related` body (a STOW-RS request) into parts as it streams in.

`PartSplitter.feed` takes the body chunk by chunk and returns what each chunk completed: a part's
start (with its headers), pieces of its data, its end. Nothing is buffered beyond the chunk at hand,
so a request of any size is split in constant memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from python_multipart import MultipartParser
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import parse_options_header

STOW_PART_TYPE = "application/dicom"


class UnsupportedMediaType(ValueError):
    """The request is not `multipart/related` with `application/dicom` parts (HTTP 415)."""


class MalformedMultipart(ValueError):
    """The body is not a well-formed multipart message (HTTP 400)."""


@dataclass(frozen=True)
class PartStarted:
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names


@dataclass(frozen=True)
class PartData:
    data: bytes


@dataclass(frozen=True)
class PartEnded:
    pass


Event = PartStarted | PartData | PartEnded


def related_boundary(content_type: str | None, part_type: str = STOW_PART_TYPE) -> bytes:
    """The boundary of a `multipart/related; type="application/dicom"; boundary=...` Content-Type.

    A missing `type` parameter is accepted (some clients leave it out); another type is not.
    """
    media_type, options = parse_options_header(content_type or "")
    if media_type != b"multipart/related":
        raise UnsupportedMediaType(
            f'STOW-RS takes multipart/related; type="{part_type}", not {media_type.decode("latin-1") or "no type"}'
        )
    declared = options.get(b"type", b"").decode("latin-1").strip().lower()
    if declared and declared != part_type:
        raise UnsupportedMediaType(f"only {part_type} parts are supported (DICOM files), not {declared}")
    boundary = options.get(b"boundary", b"")
    if not boundary:
        raise MalformedMultipart("the Content-Type names no multipart boundary")
    return boundary


class PartSplitter:
    """Feeds a multipart body to python-multipart's streaming parser and collects what it finds."""

    def __init__(self, boundary: bytes) -> None:
        self.finished = False  # the closing boundary was seen
        self._events: list[Event] = []
        self._headers: dict[str, str] = {}
        self._field = bytearray()
        self._value = bytearray()
        try:
            self._parser = MultipartParser(
                boundary,
                callbacks={
                    "on_part_begin": self._on_part_begin,
                    "on_header_field": self._on_header_field,
                    "on_header_value": self._on_header_value,
                    "on_header_end": self._on_header_end,
                    "on_headers_finished": self._on_headers_finished,
                    "on_part_data": self._on_part_data,
                    "on_part_end": self._on_part_end,
                    "on_end": self._on_end,
                },
            )
        except Exception as exc:  # an overlong boundary
            raise MalformedMultipart(f"unusable multipart boundary: {exc}") from None

    def feed(self, chunk: bytes) -> list[Event]:
        """The events this chunk completes, in order; raises `MalformedMultipart` on bad syntax."""
        if not self.finished:  # anything after the closing boundary (an epilogue) is ignored
            try:
                self._parser.write(chunk)
            except MultipartParseError as exc:
                raise MalformedMultipart(f"the body is not a valid multipart message: {exc}") from None
        events, self._events = self._events, []
        return events

    def _on_part_begin(self) -> None:
        self._headers = {}

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _on_header_end(self) -> None:
        name = self._field.decode("latin-1").strip().lower()
        self._headers[name] = self._value.decode("latin-1").strip()
        self._field.clear()
        self._value.clear()

    def _on_headers_finished(self) -> None:
        self._events.append(PartStarted(self._headers))

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if end > start:
            self._events.append(PartData(bytes(data[start:end])))

    def _on_part_end(self) -> None:
        self._events.append(PartEnded())

    def _on_end(self) -> None:
        self.finished = True
