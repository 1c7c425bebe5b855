"""Is one received file a DICOM instance the store can take? A bad file is an answer, never an exception.

Files without the 128-byte preamble and ``DICM`` prefix (what many older PACS export) are accepted when
they start like a DICOM data set (group 0002 or 0008), parse, and carry SOPClassUID and SOPInstanceUID;
they are given a standard file meta header in front of their unchanged bytes, so the store always
receives a conformant Part 10 file (``CheckedInstance.file_meta_added`` says so).
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from pydicom import dcmread
from pydicom.charset import convert_encodings, decode_bytes
from pydicom.dataelem import RawDataElement
from pydicom.dataset import FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import data_element_generator
from pydicom.filewriter import write_file_meta_info
from pydicom.tag import BaseTag
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    MediaStorageDirectoryStorage,
)
from pydicom.values import TEXT_VR_DELIMS

from radscholar_dicomstore.domain.ingest.rejection import Rejection, RejectReason, human_size

DEFAULT_MAX_INSTANCE_BYTES = 1 << 30  # 1 GiB; the service passes its configured limit

# The four UIDs every stored instance must have, in the order problems are reported.
REQUIRED_UIDS: tuple[tuple[str, int], ...] = (
    ("SOPClassUID", 0x00080016),
    ("SOPInstanceUID", 0x00080018),
    ("StudyInstanceUID", 0x0020000D),
    ("SeriesInstanceUID", 0x0020000E),
)
_PIXEL_DATA = 0x7FE00010
_ANY_PIXEL_DATA = frozenset({0x7FE00008, 0x7FE00009, _PIXEL_DATA})  # float, double float, integer
_IMAGE_SIZE_TAGS = frozenset({0x00280010, 0x00280011})  # Rows, Columns
_DIRECTORY_TAGS = frozenset({0x00041200, 0x00041220})  # DICOMDIR root offset, Directory Record Sequence
_UNDEFINED_LENGTH = 0xFFFFFFFF
_SEQUENCE_DELIMITER_LE = struct.pack("<HHL", 0xFFFE, 0xE0DD, 0)
_SEQUENCE_DELIMITER_BE = struct.pack(">HHL", 0xFFFE, 0xE0DD, 0)
_LONG_LENGTH_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
# Attributes read by value; everything else (pixel data above all) is skipped, never copied.
_SPECIFIC_CHARACTER_SET, _MODALITY, _INSTITUTION_NAME, _PATIENT_ID = 0x00080005, 0x00080060, 0x00080080, 0x00100020
_READ_TAGS = [tag for _, tag in REQUIRED_UIDS] + [
    _MODALITY,
    _INSTITUTION_NAME,
    _PATIENT_ID,
    0x00280002,  # SamplesPerPixel
    0x00280004,  # PhotometricInterpretation
    0x00280008,  # NumberOfFrames
    0x00280010,  # Rows
    0x00280011,  # Columns
    0x00280100,  # BitsAllocated
]
_READ_TAG_SET = frozenset([*_READ_TAGS, _SPECIFIC_CHARACTER_SET])  # and Specific Character Set, to decode them
_SEQUENCE_DELIMITER_TAG = 0xFFFEE00D
_DEFER_BYTES = 1 << 16  # values above this (pixel data) are skipped, not read
# First bytes of common files that are not DICOM, to say what was sent instead.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a zip archive (upload it as an archive)"),
    (b"PK\x05\x06", "an empty zip archive"),
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"\x00\x00\x01\x00", "an icon"),
)


@dataclass(frozen=True)
class CheckedInstance:
    """A file that passed the checks, with what the store and the site attribution need from it.

    ``data`` is the Part 10 file to store: the received bytes, or those bytes behind a new file meta
    header when the file came without one (``file_meta_added``).
    """

    name: str
    sop_class_uid: str
    sop_instance_uid: str
    study_instance_uid: str
    series_instance_uid: str
    modality: str
    institution_name: str
    transfer_syntax_uid: str
    data: bytes = field(repr=False)
    file_meta_added: bool = False
    patient_id: str = ""

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class _Header:
    """Where the data set starts, and what the file meta header (if any) says."""

    dataset_offset: int
    transfer_syntax_uid: str  # "" when there is no meta header or it names none
    media_storage_sop_class_uid: str


@dataclass(frozen=True)
class _Layout:
    """The top level of a data set, walked without reading values."""

    tags: frozenset[int]
    pixel_data_length: int | None  # None: no Pixel Data; _UNDEFINED_LENGTH: encapsulated
    cut: str  # "" when the data set is complete, else where it ends early
    read: dict[int, RawDataElement] = field(default_factory=dict)  # the _READ_TAGS found before any cut


def check_instance(
    source: bytes | os.PathLike[str],
    *,
    name: str | None = None,
    max_bytes: int = DEFAULT_MAX_INSTANCE_BYTES,
) -> CheckedInstance | Rejection:
    """Check one received file: DICOM, complete, a single instance, with valid UIDs, within ``max_bytes``.

    ``source`` is the file's bytes or a path to it (its size is checked before it is read). ``name`` is
    what the sender called it, used in messages (default: the path's file name, else ``"unnamed file"``).
    Only a path that cannot be read raises (``OSError``): that is the caller's fault, not the sender's.
    """
    if max_bytes < 1:
        raise ValueError(f"max_bytes must be positive, got {max_bytes}")
    if isinstance(source, bytes):
        name = name or "unnamed file"
        if len(source) > max_bytes:
            return _too_large(name, len(source), max_bytes)
        data = source
    else:
        path = Path(source)
        name = name or path.name
        size = path.stat().st_size
        if size > max_bytes:
            return _too_large(name, size, max_bytes)
        data = path.read_bytes()
    return _check(data, name, max_bytes)


def _too_large(name: str, size: int, max_bytes: int) -> Rejection:
    return Rejection(
        name,
        RejectReason.TOO_LARGE,
        f"'{name}' is {human_size(size)}, over the {human_size(max_bytes)} limit for one file",
    )


def _check(data: bytes, name: str, max_bytes: int) -> CheckedInstance | Rejection:
    def reject(reason: RejectReason, problem: str, *, sop: str = "", study: str = "") -> Rejection:
        return Rejection(name, reason, f"'{name}' {problem}", sop_instance_uid=sop, study_instance_uid=study)

    has_preamble = len(data) >= 132 and data[128:132] == b"DICM"
    if not has_preamble:
        if not data:
            return reject(RejectReason.NOT_DICOM, "is empty")
        if not _looks_like_data_set(data):
            return reject(RejectReason.NOT_DICOM, f"is not a DICOM file (it looks like {_what_is(data)})")
    header = _read_header(data, 132 if has_preamble else 0)
    if header is None:
        return reject(RejectReason.TRUNCATED, "is truncated: it ends inside its file meta header")

    body, body_start = data, header.dataset_offset
    if header.transfer_syntax_uid == DeflatedExplicitVRLittleEndian:
        inflated = _inflate(memoryview(data)[body_start:], max_bytes)
        if isinstance(inflated, str):
            if inflated == "too large":
                return reject(RejectReason.TOO_LARGE, f"inflates to more than the {human_size(max_bytes)} limit")
            return reject(RejectReason.TRUNCATED, f"is truncated or damaged: its deflated data set {inflated}")
        body, body_start = inflated, 0

    encoding: tuple[bool | None, bool | None] | None = (
        _stated_encoding(header, body, body_start) if has_preamble else None
    )
    if encoding is None:  # no or an unknown transfer syntax: pydicom works out how the data set is encoded
        try:
            read = dcmread(io.BytesIO(data), force=not has_preamble, defer_size=_DEFER_BYTES, specific_tags=_READ_TAGS)
            encoding = read.original_encoding
        except Exception as exc:  # pydicom raises many types on damaged input; each one is a bad file
            if has_preamble:
                return reject(RejectReason.TRUNCATED, f"is truncated or damaged: it could not be parsed ({exc})")
            return reject(
                RejectReason.NOT_DICOM, f"is not a DICOM file: it has no DICOM header and does not parse ({exc})"
            )
    implicit_vr, little_endian = encoding
    if implicit_vr is None or little_endian is None:
        return reject(RejectReason.NOT_DICOM, "is not a DICOM file: its encoding could not be recognised")

    layout = _walk(body, body_start, implicit_vr=implicit_vr, little_endian=little_endian)
    uids = {keyword: _ascii(layout.read.get(tag)) or None for keyword, tag in REQUIRED_UIDS}  # as written
    sop, study = _valid_or_empty(uids["SOPInstanceUID"]), _valid_or_empty(uids["StudyInstanceUID"])
    if not has_preamble and uids["SOPClassUID"] is None and uids["SOPInstanceUID"] is None:
        return reject(RejectReason.NOT_DICOM, "is not a DICOM file: it has no DICOM header and no SOP UIDs")
    if layout.cut:
        return reject(RejectReason.TRUNCATED, f"is truncated: {layout.cut}", sop=sop, study=study)
    if header.media_storage_sop_class_uid == MediaStorageDirectoryStorage or layout.tags & _DIRECTORY_TAGS:
        return reject(
            RejectReason.NOT_AN_INSTANCE,
            "is a DICOMDIR (an index of a CD or folder), not an image instance; send the files it lists",
        )

    missing = [f"{keyword} {_tag_text(tag)}" for keyword, tag in REQUIRED_UIDS if uids[keyword] is None]
    if missing:
        return reject(RejectReason.MISSING_UID, f"has no {', '.join(missing)}", sop=sop, study=study)
    for keyword, _ in REQUIRED_UIDS:
        problem = _uid_problem(uids[keyword])
        if problem:
            return reject(RejectReason.INVALID_UID, f"has an invalid {keyword}: {problem}", sop=sop, study=study)

    transfer_syntax = header.transfer_syntax_uid or _encoding_syntax(implicit_vr, little_endian)
    shortfall = _pixel_shortfall(layout, transfer_syntax, _valid_or_empty(uids["SOPClassUID"]))
    if shortfall:
        return reject(RejectReason.TRUNCATED, f"is truncated: {shortfall}", sop=sop, study=study)

    stored = data
    if not has_preamble:
        if layout.pixel_data_length == _UNDEFINED_LENGTH and not header.transfer_syntax_uid:
            return reject(
                RejectReason.UNKNOWN_TRANSFER_SYNTAX,
                "has compressed pixel data but no file meta header, so its transfer syntax cannot be known",
                sop=sop,
                study=study,
            )
        stored = _with_file_meta(data, header, _valid_or_empty(uids["SOPClassUID"]), sop, transfer_syntax)

    return CheckedInstance(
        name=name,
        sop_class_uid=_valid_or_empty(uids["SOPClassUID"]),
        sop_instance_uid=sop,
        study_instance_uid=study,
        series_instance_uid=_valid_or_empty(uids["SeriesInstanceUID"]),
        modality=_text(layout.read, _MODALITY).upper(),
        institution_name=_text(layout.read, _INSTITUTION_NAME),
        transfer_syntax_uid=transfer_syntax,
        data=stored,
        file_meta_added=not has_preamble,
        patient_id=_text(layout.read, _PATIENT_ID),
    )


def _looks_like_data_set(data: bytes) -> bool:
    """A file without a preamble may still be DICOM: it then starts with an element of group 0002, 0004 or 0008."""
    if len(data) < 8:
        return False
    little, big = struct.unpack_from("<H", data)[0], struct.unpack_from(">H", data)[0]
    return little in (0x0002, 0x0004, 0x0008) or big in (0x0002, 0x0004, 0x0008)


def _what_is(data: bytes) -> str:
    for signature, kind in _SIGNATURES:
        if data.startswith(signature):
            return kind
    head = data[:4096]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        # A multi-byte character may be cut at the 4096th byte; a few trailing bytes do not make it binary.
        try:
            text = head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return "binary data of an unknown kind"
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return "text" if printable >= 0.95 * max(len(text), 1) else "binary data of an unknown kind"


def _read_header(data: bytes, offset: int) -> _Header | None:
    """Walk the group 0002 (file meta) elements from ``offset``; None when the file ends inside them."""
    transfer_syntax = media_sop_class = ""
    size = len(data)
    while offset + 8 <= size:
        group, element = struct.unpack_from("<HH", data, offset)
        if group != 0x0002:
            break
        vr = data[offset + 4 : offset + 6]
        if vr in _LONG_LENGTH_VRS:
            if offset + 12 > size:
                return None
            length, header_length = struct.unpack_from("<L", data, offset + 8)[0], 12
        elif vr.isalpha() and vr.isupper():
            length, header_length = struct.unpack_from("<H", data, offset + 6)[0], 8
        else:  # implicit VR file meta: not conformant, but written by some old software
            length, header_length = struct.unpack_from("<L", data, offset + 4)[0], 8
        end = offset + header_length + length
        if end > size:
            return None
        value = data[offset + header_length : end].decode("ascii", "replace").strip("\0 ")
        if element == 0x0010:
            transfer_syntax = value
        elif element == 0x0002:
            media_sop_class = value
        offset = end
    else:
        if offset < size:  # fewer than 8 bytes left: an element header cut short
            return None
    return _Header(offset, transfer_syntax, media_sop_class)


def _inflate(body: memoryview, max_bytes: int) -> bytes | str:
    """The deflated data set, inflated no further than ``max_bytes``; else "too large" or what went wrong."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        inflated = inflater.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        return f"does not inflate ({exc})"
    if len(inflated) > max_bytes or inflater.unconsumed_tail:
        return "too large"
    if not inflater.eof:
        return "ends before the end of its compressed stream"
    return inflated


def _stated_encoding(header: _Header, body: bytes, start: int) -> tuple[bool, bool] | None:
    """(implicit VR, little endian) of the data set as its transfer syntax states it; None when the syntax is
    absent or unknown. Like pydicom, the first element's VR decides implicit or explicit (some writers mislabel)."""
    try:
        syntax = UID(header.transfer_syntax_uid)
        implicit_vr, little_endian = syntax.is_implicit_VR, syntax.is_little_endian
    except ValueError:
        return None
    vr = body[start + 4 : start + 6]
    if len(vr) == 2:
        implicit_vr = not (0x40 < vr[0] < 0x5B and 0x40 < vr[1] < 0x5B)
    return implicit_vr, little_endian


def _walk(data: bytes, start: int, *, implicit_vr: bool, little_endian: bool) -> _Layout:
    """Walk the top-level elements from ``start``, skipping values but those of _READ_TAGS, to find where (if
    anywhere) the data set is cut. Defined-length elements are walked here; pydicom reads the rest (sequences and
    encapsulated pixel data of undefined length, unknown VRs)."""
    size = len(data)
    if size == start:
        return _Layout(frozenset(), None, "it ends right after its file meta header, with no data set")
    endian = "<" if little_endian else ">"
    short_header = struct.Struct(f"{endian}HHL" if implicit_vr else f"{endian}HH2sH").unpack_from
    long_length = struct.Struct(f"{endian}L").unpack_from
    delimiter = _SEQUENCE_DELIMITER_LE if little_endian else _SEQUENCE_DELIMITER_BE
    tags: set[int] = set()
    read: dict[int, RawDataElement] = {}
    pixel_data_length: int | None = None
    stream: io.BytesIO | None = None  # for pydicom, made on first need (it shares the bytes, no copy)

    def layout(cut: str) -> _Layout:
        return _Layout(frozenset(tags), pixel_data_length, cut, read)

    end = start  # where the last whole element ends
    while end + 8 <= size:
        if implicit_vr:
            group, number, length = short_header(data, end)
            vr, header = None, 8
        else:
            group, number, raw_vr, length = short_header(data, end)
            vr, header = raw_vr.decode("latin-1"), 8
            if raw_vr in _LONG_LENGTH_VRS:
                if end + 12 > size:
                    break
                length, header = long_length(data, end + 8)[0], 12
            elif not (raw_vr.isalpha() and raw_vr.isupper()):
                length = _UNDEFINED_LENGTH  # an unknown VR: pydicom decides how to read it
        tag = group << 16 | number
        if tag == _SEQUENCE_DELIMITER_TAG:  # as pydicom does: the data set ends here
            break
        if length != _UNDEFINED_LENGTH:
            tags.add(tag)
            value_start = end + header
            present = size - value_start
            if present < length:
                return layout(f"it ends inside {_tag_text(tag)}, with {max(present, 0)} of its {length} bytes")
            if tag in _READ_TAG_SET:
                value = data[value_start : value_start + length]
                read[tag] = RawDataElement(BaseTag(tag), vr, length, value, value_start, implicit_vr, little_endian)
            elif tag == _PIXEL_DATA:
                pixel_data_length = length
            end = value_start + length
            continue
        if stream is None:
            stream = io.BytesIO(data)
        stream.seek(end)
        try:
            element = next(data_element_generator(stream, implicit_vr, little_endian, defer_size=0))
        except Exception as exc:  # the parser's errors on a damaged stream are many; all mean "cut or damaged"
            return layout(f"it cannot be read past byte {end - start} of its data set ({exc})")
        tag = int(element.tag)
        tags.add(tag)
        if isinstance(element, RawDataElement) and element.length != _UNDEFINED_LENGTH:  # an unknown VR's value
            present = size - element.value_tell
            if present < element.length:
                return layout(f"it ends inside {_tag_text(tag)}, with {max(present, 0)} of its {element.length} bytes")
        elif data[stream.tell() - 8 : stream.tell()] != delimiter:
            return layout(f"it ends inside {_tag_text(tag)} before its delimiter")
        elif tag == _PIXEL_DATA:
            pixel_data_length = _UNDEFINED_LENGTH
        end = stream.tell()
    leftover = data[end:]
    if len(leftover) < 12 and leftover.strip(b"\0"):  # longer trailing bytes are not a cut header: leave them
        return layout("it ends inside an element header")
    return layout("")


def _pixel_shortfall(layout: _Layout, transfer_syntax: str, sop_class: str) -> str:
    """Why the pixel data looks cut short; "" if it does not (or cannot be judged, as for compressed data).

    An image (an "... Image Storage" SOP class, or Rows and Columns present) needs pixel data, and native
    pixel data needs Rows x Columns x SamplesPerPixel x BitsAllocated/8 x NumberOfFrames bytes.
    """
    if not layout.tags & _ANY_PIXEL_DATA:
        if layout.tags >= _IMAGE_SIZE_TAGS:
            return "it has Rows and Columns but no pixel data, as if cut off before it"
        if UID(sop_class).name.endswith("Image Storage"):
            return f"it is a {UID(sop_class).name} instance without pixel data, as if cut off before it"
    length = layout.pixel_data_length
    if length is None or length == _UNDEFINED_LENGTH or not _is_native(transfer_syntax):
        return ""
    expected = _expected_pixel_bytes(layout.read)
    if expected is None or length >= expected:
        return ""
    return (
        f"its pixel data holds {length} bytes but Rows, Columns, SamplesPerPixel, BitsAllocated and "
        f"NumberOfFrames call for {expected}"
    )


def _is_native(transfer_syntax: str) -> bool:
    """Uncompressed pixel data; an unknown (private or damaged) transfer syntax cannot be judged."""
    try:
        return not UID(transfer_syntax).is_encapsulated
    except ValueError:
        return False


def _expected_pixel_bytes(read: dict[int, RawDataElement]) -> int | None:
    """Bytes that native Pixel Data needs (PS3.5 8.1.1, PS3.3 C.7.6.3.1.2); None when the attributes do not say."""
    try:
        rows, columns = _unsigned_short(read[0x00280010]), _unsigned_short(read[0x00280011])
        samples, bits = _unsigned_short(read[0x00280002]), _unsigned_short(read[0x00280100])
        frames = int(_ascii(read.get(0x00280008)) or 1)  # IS
        photometric = _ascii(read.get(0x00280004))  # CS
    except (KeyError, ValueError):  # absent or malformed Image Pixel attributes: the length cannot be judged
        return None
    if min(rows, columns, samples, bits) < 1 or (bits != 1 and bits % 8):
        return None
    values = rows * columns * samples * max(frames, 1)
    expected = (values + 7) // 8 if bits == 1 else values * (bits // 8)
    return expected // 3 * 2 if photometric == "YBR_FULL_422" else expected


def _unsigned_short(element: RawDataElement) -> int:
    """A US value as stored (one value of 2 bytes), else ValueError."""
    if element.length != 2 or not element.value:
        raise ValueError(f"{_tag_text(element.tag)} is not one unsigned short")
    return int.from_bytes(element.value, "little" if element.is_little_endian else "big")


def _ascii(element: RawDataElement | None) -> str:
    """A text value (IS, CS) without its padding; "" when absent."""
    return element.value.decode("ascii", "replace").strip("\0 ") if element is not None and element.value else ""


def _uid_problem(value: str | None) -> str:
    """Why a present UID is invalid (pydicom's rule: digits and dots, no leading zeros, at most 64); "" if valid."""
    if value is None or UID(value).is_valid:
        return ""
    shown = value if len(value) <= 80 else value[:77] + "..."
    if len(value) > 64:
        return f"'{shown}' is {len(value)} characters long, over the 64 a UID may have"
    if "\\" in value:
        return f"'{shown}' holds several values where one UID belongs"
    return f"'{shown}' is not numbers separated by dots (without leading zeros)"


def _valid_or_empty(value: str | None) -> str:
    return value if value is not None and UID(value).is_valid else ""


def _tag_text(tag: int) -> str:
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def _text(read: dict[int, RawDataElement], tag: int) -> str:
    """A text value (CS, LO) in the data set's character set, without its padding; "" when absent or undecodable."""
    element = read.get(tag)
    if element is None or not element.value:
        return ""
    charset = _ascii(read.get(_SPECIFIC_CHARACTER_SET))
    try:
        encodings = convert_encodings(charset.split("\\") if charset else None)
        return decode_bytes(element.value, encodings, TEXT_VR_DELIMS).strip("\0 \t\r\n")
    except Exception:  # an undecodable value is not worth rejecting a file over
        return ""


def _encoding_syntax(implicit_vr: bool, little_endian: bool) -> str:
    if implicit_vr:
        return ImplicitVRLittleEndian
    return ExplicitVRLittleEndian if little_endian else ExplicitVRBigEndian


def _with_file_meta(data: bytes, header: _Header, sop_class: str, sop_instance: str, transfer_syntax: str) -> bytes:
    """Preamble, ``DICM`` and a new file meta header in front of the data set's unchanged bytes."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(sop_class)
    meta.MediaStorageSOPInstanceUID = UID(sop_instance)
    meta.TransferSyntaxUID = UID(transfer_syntax)
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    encoded = DicomBytesIO()
    write_file_meta_info(encoded, meta, enforce_standard=True)
    return b"\0" * 128 + b"DICM" + encoded.getvalue() + data[header.dataset_offset :]
