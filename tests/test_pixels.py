"""Series as volumes and PNGs through the gateway, checked against SimpleITK reading the same files."""

from __future__ import annotations

import io
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk
from PIL import Image

from tests.conftest import Platform


@pytest.fixture(scope="module")
def ct_series(isolated_platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> tuple[Platform, list[Path]]:
    import radscholar_phantoms

    out = tmp_path_factory.mktemp("ct-pixels")
    radscholar_phantoms.generate("ct", 1, 1, 41, out, shape=(24, 96, 96))
    files = sorted(out.rglob("*.dcm"))
    uploaded = isolated_platform.gateway.post(
        "/api/v1/dicom/uploads", files=[("files", (f.name, f.read_bytes())) for f in files]
    ).json()
    assert uploaded["stored"] == len(files)
    return isolated_platform, files


def series_uid(files: list[Path]) -> str:
    import pydicom

    return str(pydicom.dcmread(files[0], stop_before_pixels=True).SeriesInstanceUID)


def test_volume_matches_simpleitk(ct_series: tuple[Platform, list[Path]], tmp_path: Path) -> None:
    platform, files = ct_series
    answer = platform.gateway.get(f"/api/v1/dicom/series/{series_uid(files)}/volume.nii.gz")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/gzip"
    (tmp_path / "v.nii.gz").write_bytes(answer.content)
    ours = sitk.ReadImage(str(tmp_path / "v.nii.gz"))
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(files[0].parent)))
    reference = reader.Execute()
    assert ours.GetSize() == reference.GetSize() == (96, 96, 24)
    np.testing.assert_allclose(ours.GetSpacing(), reference.GetSpacing(), atol=1e-4)
    np.testing.assert_allclose(ours.GetOrigin(), reference.GetOrigin(), atol=1e-4)
    np.testing.assert_allclose(ours.GetDirection(), reference.GetDirection(), atol=1e-6)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(ours), sitk.GetArrayFromImage(reference))
    assert nib.load(tmp_path / "v.nii.gz").shape == (96, 96, 24)
    again = platform.gateway.get(f"/api/v1/dicom/series/{series_uid(files)}/volume.nii.gz")
    assert again.content == answer.content  # served from the cache, byte for byte


def test_thumbnails_and_windowed_slices(ct_series: tuple[Platform, list[Path]]) -> None:
    platform, files = ct_series
    uid = series_uid(files)
    thumb = platform.gateway.get(f"/api/v1/dicom/series/{uid}/thumbnail.png", params={"size": 64})
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/png"
    assert max(Image.open(io.BytesIO(thumb.content)).size) <= 64
    lung = platform.gateway.get(f"/api/v1/dicom/series/{uid}/images/axial.png", params={"window": "lung"})
    bone = platform.gateway.get(f"/api/v1/dicom/series/{uid}/images/axial.png", params={"window": "400/2000"})
    assert lung.status_code == bone.status_code == 200
    assert lung.content != bone.content
    coronal = Image.open(io.BytesIO(platform.gateway.get(f"/api/v1/dicom/series/{uid}/images/coronal.png").content))
    assert coronal.mode == "L"


def test_bad_requests_name_the_problem(ct_series: tuple[Platform, list[Path]]) -> None:
    platform, files = ct_series
    uid = series_uid(files)
    missing = platform.gateway.get("/api/v1/dicom/series/1.2.3.999/thumbnail.png")
    assert (missing.status_code, missing.json()["error"]["reason"]) == (404, "SERIES_NOT_FOUND")
    bad_window = platform.gateway.get(f"/api/v1/dicom/series/{uid}/images/axial.png", params={"window": "pretty"})
    assert (bad_window.status_code, bad_window.json()["error"]["reason"]) == (422, "UNKNOWN_WINDOW_PRESET")
    bad_index = platform.gateway.get(f"/api/v1/dicom/series/{uid}/images/axial.png", params={"index": 999})
    assert (bad_index.status_code, bad_index.json()["error"]["reason"]) == (422, "INDEX_OUT_OF_RANGE")
