"""Ingest checks: good files pass with their UIDs; every kind of bad file or archive is refused with a reason."""

from __future__ import annotations

import io
import json
import os
import random
import struct
import time
import tracemalloc
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from pydicom import config, dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.uid import DeflatedExplicitVRLittleEndian

from radscholar_dicomstore.domain.ingest import (
    CheckedInstance,
    IngestReport,
    IngestStatus,
    Rejection,
    RejectReason,
    ZipLimits,
    ZipMember,
    check_instance,
    iter_zip_instances,
    normalise_institution,
    unsafe_path_problem,
)
from radscholar_phantoms import generate

MiB = 1 << 20
UIDS = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")
ACCEPTED_TEST_FILES = [
    "CT_small.dcm",
    "MR_small.dcm",
    "rtplan.dcm",
    "rtstruct.dcm",  # no preamble: given a file meta header
    "rtdose.dcm",
    "JPEG2000.dcm",
    "MR_small_RLE.dcm",
    "MR_small_bigendian.dcm",
    "MR_small_implicit.dcm",
    "MR_small_padded.dcm",
    "image_dfl.dcm",  # deflated transfer syntax
    "waveform_ecg.dcm",
    "test-SR.dcm",
    "liver_1frame.dcm",
    "SC_rgb_small_odd.dcm",
    "SC_ybr_full_422_uncompressed.dcm",
    "examples_palette.dcm",
    "ExplVR_LitEndNoMeta.dcm",
    "ExplVR_BigEndNoMeta.dcm",
]


def bundled(name: str) -> bytes:
    """One of pydicom's bundled test files (never downloaded)."""
    path = get_testdata_file(name)
    assert path is not None, name
    return Path(str(path)).read_bytes()


def reference(data: bytes) -> Dataset:
    return dcmread(io.BytesIO(data), force=True)


def ct_dataset() -> Dataset:
    return dcmread(io.BytesIO(bundled("CT_small.dcm")))


def encode(dataset: Dataset) -> bytes:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def rejected(result: CheckedInstance | Rejection, reason: str) -> Rejection:
    assert isinstance(result, Rejection), result
    assert result.reason == reason, result.message
    return result


def accepted(result: CheckedInstance | Rejection) -> CheckedInstance:
    assert isinstance(result, CheckedInstance), result
    return result


# ---------------------------------------------------------------------------------------------- instances


@pytest.fixture(scope="module")
def phantom_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    root = tmp_path_factory.mktemp("phantoms")
    files = {}
    for kind in ("ct", "dx", "mg", "mr"):
        generate(kind, 1, 2, 11, root / kind)
        files[kind] = sorted((root / kind).rglob("*.dcm"))
    return files


@pytest.mark.parametrize("kind", ["ct", "dx", "mg", "mr"])
def test_phantom_instances_are_accepted_with_their_uids(phantom_files: dict[str, list[Path]], kind: str) -> None:
    assert phantom_files[kind]
    for path in phantom_files[kind]:
        instance = accepted(check_instance(path))
        expected = dcmread(path)
        assert [getattr(instance, _snake(k)) for k in UIDS] == [str(expected[k].value) for k in UIDS]
        assert instance.modality == kind.upper()
        assert instance.institution_name == expected.InstitutionName
        assert instance.name == path.name
        assert instance.data == path.read_bytes() and instance.size == path.stat().st_size
        assert not instance.file_meta_added


@pytest.mark.parametrize("name", ACCEPTED_TEST_FILES)
def test_pydicom_test_files_are_accepted_with_their_uids(name: str) -> None:
    data = bundled(name)
    instance = accepted(check_instance(data, name=name))
    expected = reference(data)
    assert [getattr(instance, _snake(k)) for k in UIDS] == [str(expected[k].value) for k in UIDS]
    assert instance.modality == str(expected.get("Modality", ""))
    assert instance.institution_name == str(expected.get("InstitutionName", "") or "")
    assert instance.patient_id == str(expected.get("PatientID", "") or "")
    assert instance.name == name


def _snake(keyword: str) -> str:
    return {
        "SOPClassUID": "sop_class_uid",
        "SOPInstanceUID": "sop_instance_uid",
        "StudyInstanceUID": "study_instance_uid",
        "SeriesInstanceUID": "series_instance_uid",
    }[keyword]


def test_a_path_is_checked_with_its_file_name(tmp_path: Path) -> None:
    path = tmp_path / "IM0001"
    path.write_bytes(bundled("CT_small.dcm"))
    assert accepted(check_instance(path)).name == "IM0001"
    assert rejected(check_instance(path, max_bytes=1000), "TOO_LARGE").name == "IM0001"


@pytest.mark.parametrize(
    ("source", "expected_syntax"),
    [("CT_small.dcm", "1.2.840.10008.1.2.1"), ("MR_small_implicit.dcm", "1.2.840.10008.1.2")],
)
def test_a_data_set_without_preamble_is_stored_behind_a_new_file_meta_header(source: str, expected_syntax: str) -> None:
    """Old PACS exports: no preamble, no DICM, no group 0002 - accepted, and made a Part 10 file."""
    data = bundled(source)
    meta_length = struct.unpack_from("<L", data, 140)[0]
    headerless = data[144 + meta_length :]
    assert headerless[:2] == b"\x08\x00"

    instance = accepted(check_instance(headerless, name="old-export"))

    assert instance.file_meta_added
    assert instance.transfer_syntax_uid == expected_syntax
    assert instance.data[128:132] == b"DICM" and instance.data.endswith(headerless)
    stored = dcmread(io.BytesIO(instance.data))
    assert stored.file_meta.TransferSyntaxUID == expected_syntax
    assert stored.file_meta.MediaStorageSOPInstanceUID == instance.sop_instance_uid
    assert stored.PixelData == reference(data).PixelData
    again = accepted(check_instance(instance.data))
    assert not again.file_meta_added and again.sop_instance_uid == instance.sop_instance_uid


def test_headerless_compressed_pixel_data_has_no_knowable_transfer_syntax() -> None:
    data = bundled("JPEG2000.dcm")
    meta_length = struct.unpack_from("<L", data, 140)[0]
    result = rejected(check_instance(data[144 + meta_length :], name="j2k"), "UNKNOWN_TRANSFER_SYNTAX")
    assert result.sop_instance_uid == str(reference(data).SOPInstanceUID)


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (png_bytes(), "a PNG image"),
        (b"Patient list\nDoe^John, 1970-01-01\n" * 40, "text"),
        (b"<html><body>Not found</body></html>", "text"),
        (b"%PDF-1.7\n" + bytes(300), "a PDF document"),
        (bytes(range(256)) * 4, "binary data"),
    ],
    ids=["png", "text", "html", "pdf", "binary"],
)
def test_files_that_are_not_dicom_say_what_they_look_like(content: bytes, kind: str) -> None:
    result = rejected(check_instance(content, name="scan.dcm"), "NOT_DICOM")
    assert "'scan.dcm'" in result.message and kind in result.message


def test_an_empty_file_and_a_broken_headerless_file_are_not_dicom() -> None:
    assert "empty" in rejected(check_instance(b"", name="x"), "NOT_DICOM").message
    rejected(check_instance(bundled("no_meta.dcm"), name="no_meta.dcm"), "NOT_DICOM")


def test_a_file_cut_in_its_pixel_data_is_truncated() -> None:
    data = bundled("CT_small.dcm")
    result = rejected(check_instance(data[: len(data) - 1000], name="ct.dcm"), "TRUNCATED")
    assert "'ct.dcm'" in result.message and "(7FE0,0010)" in result.message
    assert result.sop_instance_uid == str(reference(data).SOPInstanceUID)
    assert result.study_instance_uid == str(reference(data).StudyInstanceUID)


@pytest.mark.parametrize("name", ["MR_truncated.dcm", "rtplan_truncated.dcm"])
def test_pydicoms_truncated_files_are_truncated(name: str) -> None:
    rejected(check_instance(bundled(name), name=name), "TRUNCATED")


@pytest.mark.parametrize("source", ["CT_small.dcm", "JPEG2000.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm"])
def test_no_cut_of_an_image_is_accepted_and_none_raises(source: str) -> None:
    """Every prefix of an image file, from 0 bytes up, is refused: as truncated, or as lacking what was cut off.

    (A non-image object cut exactly between two elements looks complete; nothing can tell.)
    """
    data = bundled(source)
    for cut in [*range(0, min(len(data), 7000), 4), *range(7000, len(data), 499)]:  # every header byte matters
        result = check_instance(data[:cut], name="cut")
        assert isinstance(result, Rejection), (cut, result)
        assert result.reason in {"TRUNCATED", "NOT_DICOM", "MISSING_UID"}, (cut, result.message)
    accepted(check_instance(data))


def test_damaged_bytes_never_raise() -> None:
    rng = random.Random(7)
    for source in ("CT_small.dcm", "rtplan.dcm", "image_dfl.dcm", "JPEG2000.dcm", "ExplVR_LitEndNoMeta.dcm"):
        data = bundled(source)
        for _ in range(150):
            damaged = bytearray(data)
            for _ in range(rng.randint(1, 8)):
                damaged[rng.randrange(len(damaged))] = rng.randrange(256)
            assert isinstance(check_instance(bytes(damaged)), CheckedInstance | Rejection)


def test_pixel_data_shorter_than_the_image_needs_is_truncated() -> None:
    dataset = ct_dataset()
    dataset.PixelData = dataset.PixelData[:-512]  # well-formed element, too few pixels
    result = rejected(check_instance(encode(dataset), name="short.dcm"), "TRUNCATED")
    assert "32256" in result.message and "32768" in result.message


def test_an_image_without_pixel_data_is_truncated() -> None:
    dataset = ct_dataset()
    del dataset.PixelData
    assert "no pixel data" in rejected(check_instance(encode(dataset), name="n"), "TRUNCATED").message


def test_a_file_meta_header_alone_is_truncated() -> None:
    data = bundled("CT_small.dcm")
    meta_length = struct.unpack_from("<L", data, 140)[0]
    rejected(check_instance(data[: 144 + meta_length], name="m"), "TRUNCATED")


@pytest.mark.parametrize("keyword", UIDS)
def test_a_missing_uid_is_named(keyword: str) -> None:
    dataset = ct_dataset()
    delattr(dataset, keyword)
    result = rejected(check_instance(encode(dataset), name="no-uid.dcm"), "MISSING_UID")
    assert keyword in result.message and "'no-uid.dcm'" in result.message
    assert sum(k in result.message for k in UIDS) == 1


def test_an_empty_uid_counts_as_missing() -> None:
    dataset = ct_dataset()
    dataset.StudyInstanceUID = ""
    assert "StudyInstanceUID" in rejected(check_instance(encode(dataset)), "MISSING_UID").message


@pytest.mark.parametrize(
    ("keyword", "value", "explained"),
    [
        ("SOPInstanceUID", "1.2.840.abc.1", "not numbers"),
        ("StudyInstanceUID", "1.2.840.0113654.1", "not numbers"),  # a leading zero
        ("SeriesInstanceUID", "1." + "2" * 70, "characters long"),
        ("SOPClassUID", "1.2.840.10008.5.1.4.1.1.2\\1.2.3", "several values"),
    ],
)
def test_an_invalid_uid_is_named(keyword: str, value: str, explained: str) -> None:
    dataset = ct_dataset()
    with config.disable_value_validation():
        setattr(dataset, keyword, value)
        data = encode(dataset)
    result = rejected(check_instance(data, name="bad-uid.dcm"), "INVALID_UID")
    assert keyword in result.message and explained in result.message and "'bad-uid.dcm'" in result.message


@pytest.mark.parametrize("name", ["DICOMDIR", "DICOMDIR-implicit", "DICOMDIR-bigEnd", "DICOMDIR-empty.dcm"])
def test_a_dicomdir_is_not_an_instance(name: str) -> None:
    path = get_testdata_file(f"dicomdirtests/{name}")
    assert path is not None
    result = rejected(check_instance(Path(str(path))), "NOT_AN_INSTANCE")
    assert "DICOMDIR" in result.message


def test_a_file_over_the_limit_is_too_large() -> None:
    result = rejected(check_instance(bundled("CT_small.dcm"), name="big.dcm", max_bytes=10_000), "TOO_LARGE")
    assert "'big.dcm'" in result.message and "38.3 KiB" in result.message and "9.8 KiB" in result.message


def test_a_deflated_file_that_inflates_past_the_limit_is_too_large() -> None:
    dataset = ct_dataset()
    dataset.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    dataset.private_block(0x0009, "RADSCHOLAR TEST", create=True).add_new(0x01, "OB", bytes(4 * MiB))
    data = encode(dataset)
    assert len(data) < 64 * 1024
    rejected(check_instance(data, max_bytes=MiB), "TOO_LARGE")
    assert accepted(check_instance(data, max_bytes=8 * MiB)).transfer_syntax_uid == DeflatedExplicitVRLittleEndian


def test_a_zero_limit_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        check_instance(b"", max_bytes=0)


# ---------------------------------------------------------------------------------------------- archives

LIMITS = ZipLimits(max_entries=100, max_entry_bytes=64 * MiB, max_total_bytes=256 * MiB, max_ratio=100.0)


def write_zip(path: Path, entries: list[tuple[str, bytes]], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, content in entries:
            archive.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), content, compress_type=compression)
    return path


def read_zip(path: Path, limits: ZipLimits = LIMITS, name: str = "upload.zip") -> list[ZipMember | Rejection]:
    with path.open("rb") as fileobj:
        return list(iter_zip_instances(fileobj, limits, archive_name=name))


def reasons(results: list[ZipMember | Rejection]) -> dict[str, str]:
    return {r.name: r.reason if isinstance(r, Rejection) else "ok" for r in results}


def central_records(data: bytes) -> Iterator[int]:
    """Offsets of the central directory records, walked from the end record."""
    end = data.rfind(b"PK\x05\x06")
    count, _, offset = struct.unpack_from("<HLL", data, end + 10)
    for _ in range(count):
        assert data[offset : offset + 4] == b"PK\x01\x02"
        yield offset
        name_length, extra_length, comment_length = struct.unpack_from("<3H", data, offset + 28)
        offset += 46 + name_length + extra_length + comment_length


def test_good_entries_of_a_mixed_archive_come_through(tmp_path: Path) -> None:
    ct, mr = bundled("CT_small.dcm"), bundled("MR_small.dcm")
    entries = [
        ("study/ct.dcm", ct),
        ("study/photo.png", png_bytes()),
        ("study/notes.txt", b"remember to anonymise\n"),
        ("study/cut.dcm", ct[:-1000]),
        ("study/mr.dcm", mr),
        ("DICOMDIR", bundled("dicomdirtests/DICOMDIR")),
    ]
    results = read_zip(write_zip(tmp_path / "mixed.zip", entries))
    assert [r.name for r in results] == [f"upload.zip/{name}" for name, _ in entries]
    assert all(isinstance(r, ZipMember) for r in results)

    report = IngestReport()
    for member in results:
        assert isinstance(member, ZipMember)
        report.add(check_instance(member.data, name=member.name))
    assert report.counts == {"stored": 2, "already_present": 0, "rejected": 4, "total": 6}
    assert [(f.name, f.status, f.reason) for f in report.files] == [
        ("upload.zip/study/ct.dcm", IngestStatus.STORED, ""),
        ("upload.zip/study/photo.png", IngestStatus.REJECTED, "NOT_DICOM"),
        ("upload.zip/study/notes.txt", IngestStatus.REJECTED, "NOT_DICOM"),
        ("upload.zip/study/cut.dcm", IngestStatus.REJECTED, "TRUNCATED"),
        ("upload.zip/study/mr.dcm", IngestStatus.STORED, ""),
        ("upload.zip/DICOMDIR", IngestStatus.REJECTED, "NOT_AN_INSTANCE"),
    ]
    assert report.files[0].sop_instance_uid == str(reference(ct).SOPInstanceUID)
    assert json.loads(json.dumps(report.to_dict()))["counts"]["stored"] == 2


@pytest.mark.parametrize(
    "unsafe",
    [
        "../../etc/passwd",
        "/abs",
        "a\\..\\..\\b",
        "C:\\Windows\\evil.dcm",
        "c:/evil.dcm",
        "ok/../../x.dcm",
        "\\\\host\\x",
    ],
)
def test_entries_with_unsafe_paths_are_refused_and_the_rest_continue(tmp_path: Path, unsafe: str) -> None:
    ct = bundled("CT_small.dcm")
    results = read_zip(write_zip(tmp_path / "t.zip", [(unsafe, ct), ("good.dcm", ct)]))
    assert reasons(results) == {f"upload.zip/{unsafe}": "UNSAFE_PATH", "upload.zip/good.dcm": "ok"}
    assert isinstance(results[0], Rejection) and f"'upload.zip/{unsafe}' was refused: its path" in results[0].message


def test_unsafe_path_problem() -> None:
    assert unsafe_path_problem("study/series/0001.dcm") == ""
    assert unsafe_path_problem("..hidden/x..dcm") == ""
    assert "absolute" in unsafe_path_problem("/etc/passwd")
    assert "drive" in unsafe_path_problem("D:x.dcm")
    assert ".." in unsafe_path_problem("a\\..\\..\\b")


def test_folders_and_macos_litter_are_skipped_silently(tmp_path: Path) -> None:
    ct = bundled("CT_small.dcm")
    entries = [
        ("study/", b""),
        ("__MACOSX/study/._ct.dcm", b"\0\5\26\7"),
        ("study/.DS_Store", b"Bud1"),
        ("study/ct.dcm", ct),
    ]
    assert reasons(read_zip(write_zip(tmp_path / "mac.zip", entries))) == {"upload.zip/study/ct.dcm": "ok"}


@pytest.fixture(scope="module")
def bomb_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """200 MiB of zeros deflated to about 200 KiB, between two good entries; written without holding 200 MiB."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.zip"
    ct = bundled("CT_small.dcm")
    zeros = bytes(MiB)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("first.dcm", ct)
        with archive.open("zeros.dcm", "w") as entry:
            for _ in range(200):
                entry.write(zeros)
        archive.writestr("last.dcm", ct)
    assert path.stat().st_size < 400 * 1024
    return path


def test_a_zip_bomb_stops_the_archive_without_being_expanded(bomb_zip: Path) -> None:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        results = read_zip(bomb_zip)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 2
    assert peak < 50 * MiB
    assert reasons(results) == {
        "upload.zip/first.dcm": "NOT_PROCESSED",
        "upload.zip/zeros.dcm": "ZIP_BOMB",
        "upload.zip/last.dcm": "NOT_PROCESSED",
    }
    assert isinstance(results[1], Rejection) and "zip bomb" in results[1].message
    assert isinstance(results[2], Rejection) and "'upload.zip/zeros.dcm'" in results[2].message


def test_a_bomb_whose_header_lies_about_its_size_yields_no_more_than_claimed(bomb_zip: Path, tmp_path: Path) -> None:
    """The directory claims 2 MiB (a ratio of about 10): only 2 MiB is ever decompressed, and the CRC fails."""
    data = bytearray(bomb_zip.read_bytes())
    record = list(central_records(bytes(data)))[1]
    local = struct.unpack_from("<L", data, record + 42)[0]
    struct.pack_into("<L", data, record + 24, 2 * MiB)
    struct.pack_into("<L", data, local + 22, 2 * MiB)
    liar = tmp_path / "liar.zip"
    liar.write_bytes(bytes(data))

    tracemalloc.start()
    try:
        results = read_zip(liar)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50 * MiB
    assert reasons(results) == {
        "upload.zip/first.dcm": "ok",
        "upload.zip/zeros.dcm": "CORRUPT_ARCHIVE",
        "upload.zip/last.dcm": "ok",
    }


def test_entries_sharing_compressed_data_are_a_bomb(tmp_path: Path) -> None:
    ct = bundled("CT_small.dcm")
    data = bytearray(write_zip(tmp_path / "o.zip", [("a.dcm", ct), ("b.dcm", ct)]).read_bytes())
    first, second = central_records(bytes(data))
    struct.pack_into("<L", data, second + 42, struct.unpack_from("<L", data, first + 42)[0])
    (tmp_path / "overlap.zip").write_bytes(bytes(data))
    assert reasons(read_zip(tmp_path / "overlap.zip")) == {
        "upload.zip/a.dcm": "NOT_PROCESSED",
        "upload.zip/b.dcm": "ZIP_BOMB",
    }


def test_small_entries_that_compress_well_are_not_bombs(tmp_path: Path) -> None:
    """A 512 KiB file of zeros compresses about 1000x, but is under the ratio floor."""
    results = read_zip(write_zip(tmp_path / "z.zip", [("blank.bin", bytes(512 * 1024))]))
    assert isinstance(results[0], ZipMember) and results[0].data == bytes(512 * 1024)


def test_too_many_entries_refuse_the_archive(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "many.zip", [(f"{i:03}.dcm", b"x") for i in range(11)])
    (result,) = read_zip(path, ZipLimits(max_entries=10))
    assert isinstance(result, Rejection) and result.reason == "TOO_MANY_ENTRIES" and result.name == "upload.zip"
    assert "11 entries" in result.message
    assert len(read_zip(path, ZipLimits(max_entries=11))) == 11


def test_an_archive_expanding_past_its_total_is_refused(tmp_path: Path) -> None:
    entries = [(f"{i}.bin", os.urandom(MiB)) for i in range(5)]
    path = write_zip(tmp_path / "total.zip", entries, compression=zipfile.ZIP_STORED)
    (result,) = read_zip(path, ZipLimits(max_total_bytes=3 * MiB))
    assert isinstance(result, Rejection) and result.reason == "ARCHIVE_TOO_LARGE" and result.name == "upload.zip"
    assert len(read_zip(path, ZipLimits(max_total_bytes=5 * MiB))) == 5


def test_an_entry_over_the_file_limit_is_refused_alone(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "e.zip", [("big.bin", os.urandom(3 * MiB)), ("small.bin", b"abc")])
    results = read_zip(path, ZipLimits(max_entry_bytes=2 * MiB))
    assert reasons(results) == {"upload.zip/big.bin": "TOO_LARGE", "upload.zip/small.bin": "ok"}


def test_an_encrypted_entry_is_refused_and_the_rest_continue(tmp_path: Path) -> None:
    ct = bundled("CT_small.dcm")
    data = bytearray(write_zip(tmp_path / "p.zip", [("secret.dcm", ct), ("open.dcm", ct)]).read_bytes())
    record = next(central_records(bytes(data)))
    local = struct.unpack_from("<L", data, record + 42)[0]
    data[record + 8] |= 0x1  # general purpose flag, bit 0: encrypted
    data[local + 6] |= 0x1
    (tmp_path / "encrypted.zip").write_bytes(bytes(data))
    results = read_zip(tmp_path / "encrypted.zip")
    assert reasons(results) == {"upload.zip/secret.dcm": "ENCRYPTED", "upload.zip/open.dcm": "ok"}


@pytest.mark.parametrize(
    "content",
    [b"", b"this is not a zip at all", png_bytes()],
    ids=["empty", "text", "png"],
)
def test_something_that_is_not_a_zip(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "x.zip").write_bytes(content)
    (result,) = read_zip(tmp_path / "x.zip")
    assert isinstance(result, Rejection) and result.reason == "NOT_A_ZIP" and result.name == "upload.zip"


def test_a_zip_cut_in_half_is_not_a_zip(tmp_path: Path) -> None:
    data = write_zip(tmp_path / "whole.zip", [("a.dcm", bundled("CT_small.dcm"))]).read_bytes()
    (tmp_path / "half.zip").write_bytes(data[: len(data) // 2])
    assert reasons(read_zip(tmp_path / "half.zip")) == {"upload.zip": "NOT_A_ZIP"}


def test_a_damaged_directory_is_a_corrupt_archive(tmp_path: Path) -> None:
    data = bytearray(write_zip(tmp_path / "d.zip", [("a.dcm", bundled("CT_small.dcm"))]).read_bytes())
    record = next(central_records(bytes(data)))
    data[record : record + 4] = b"XXXX"
    (tmp_path / "damaged.zip").write_bytes(bytes(data))
    assert reasons(read_zip(tmp_path / "damaged.zip")) == {"upload.zip": "CORRUPT_ARCHIVE"}


def test_a_damaged_entry_is_refused_and_the_rest_continue(tmp_path: Path) -> None:
    ct = bundled("CT_small.dcm")
    data = bytearray(write_zip(tmp_path / "c.zip", [("a.dcm", ct), ("b.dcm", ct)]).read_bytes())
    for offset in range(60, 400, 7):  # inside a.dcm's compressed data
        data[offset] ^= 0x5A
    (tmp_path / "corrupt.zip").write_bytes(bytes(data))
    results = read_zip(tmp_path / "corrupt.zip")
    assert reasons(results) == {"upload.zip/a.dcm": "CORRUPT_ARCHIVE", "upload.zip/b.dcm": "ok"}


def test_nested_archives_are_not_expanded(tmp_path: Path) -> None:
    inner = write_zip(tmp_path / "inner.zip", [("a.dcm", bundled("CT_small.dcm"))]).read_bytes()
    entries = [("inner.zip", inner), ("disguised.dcm", inner), ("ok.dcm", bundled("MR_small.dcm"))]
    assert reasons(read_zip(write_zip(tmp_path / "outer.zip", entries))) == {
        "upload.zip/inner.zip": "NESTED_ARCHIVE",
        "upload.zip/disguised.dcm": "NESTED_ARCHIVE",
        "upload.zip/ok.dcm": "ok",
    }


def test_memory_stays_bounded_for_a_100_mib_archive(tmp_path: Path) -> None:
    """20 stored entries of 5 MiB: each is held once while it is used, never the archive."""
    path = tmp_path / "large.zip"
    block = os.urandom(MiB)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for index in range(20):
            with archive.open(f"{index:02}.bin", "w") as entry:
                for _ in range(5):
                    entry.write(block)
    assert path.stat().st_size > 100 * MiB
    del block

    sizes = []
    tracemalloc.start()
    try:
        with path.open("rb") as fileobj:
            for result in iter_zip_instances(fileobj, LIMITS, archive_name="large.zip"):
                assert isinstance(result, ZipMember)
                sizes.append(len(result.data))
                del result
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sizes == [5 * MiB] * 20
    assert peak < 3 * 5 * MiB


def test_zip_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_ratio"):
        ZipLimits(max_ratio=0)


# ---------------------------------------------------------------------------------------------- report, sites


def test_the_report_counts_and_serialises() -> None:
    instance = accepted(check_instance(bundled("CT_small.dcm"), name="a.dcm"))
    report = IngestReport()
    report.add(instance)
    report.add(instance, already_present=True)
    report.add_rejected(Rejection("b.png", RejectReason.NOT_DICOM, "'b.png' is not a DICOM file"))
    body = json.loads(json.dumps(report.to_dict()))
    assert body["counts"] == {"stored": 1, "already_present": 1, "rejected": 1, "total": 3}
    assert body["files"][1] == {
        "name": "a.dcm",
        "status": "already_present",
        "reason": "",
        "message": "",
        "sop_instance_uid": instance.sop_instance_uid,
        "study_instance_uid": instance.study_instance_uid,
    }
    assert body["files"][2]["reason"] == "NOT_DICOM" and body["files"][2]["status"] == "rejected"


def test_institution_names_are_normalised() -> None:
    assert normalise_institution("  St.\u00a0Example   Hospital \n") == "St. Example Hospital"
    assert normalise_institution("   ") is None


@pytest.mark.parametrize(
    ("charset", "institution", "patient_id"),
    [
        ("ISO_IR 100", "Hôpital Saint-Éloi", "PAT-é1"),
        ("ISO_IR 192", "東京大学病院", "患者-7"),
        ("", "Plain Clinic", "P 1"),
    ],
)
def test_text_is_read_in_the_character_set_of_the_file(charset: str, institution: str, patient_id: str) -> None:
    dataset = ct_dataset()
    if charset:
        dataset.SpecificCharacterSet = charset
    else:
        del dataset.SpecificCharacterSet
    dataset.InstitutionName, dataset.PatientID = institution, patient_id
    instance = accepted(check_instance(encode(dataset)))
    assert (instance.institution_name, instance.patient_id) == (institution, patient_id)
