"""Slices render as PNGs with true aspect, radiological orientation and the window asked for."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from numpy.typing import NDArray
from PIL import Image

from radscholar_core.errors import InvalidArgument
from radscholar_dicomstore.domain.rendering import (
    PRESETS,
    Axis,
    apply_window,
    auto_window,
    render_png,
    resolve_window,
    thumbnail,
)
from radscholar_dicomstore.domain.volumes import Volume, Window, to_simpleitk, volume_from_instances
from radscholar_phantoms import CT_TISSUES, Kind, build_case, generate

SEED = 3
SHAPES: dict[Kind, tuple[int, ...]] = {"ct": (24, 64, 64), "mr": (20, 48, 48), "dx": (64, 48), "mg": (64, 48)}


def read_series(root: Path, kind: Kind) -> Volume:
    manifest = generate(kind, 1, 1, SEED, root, shape=SHAPES[kind])
    folder = root / manifest.series[0].path
    return volume_from_instances([pydicom.dcmread(path) for path in folder.glob("*.dcm")])


@pytest.fixture(scope="module")
def volumes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Volume]:
    root = tmp_path_factory.mktemp("phantoms")
    return {kind: read_series(root / kind, kind) for kind in SHAPES}


@pytest.fixture(scope="module")
def ct_tissues(volumes: dict[str, Volume]) -> NDArray[np.uint8]:
    """The CT phantom's tissue labels, voxel for voxel with the series read from disk."""
    image = build_case("ct", seed=SEED, case_index=0, sites=1, shape=SHAPES["ct"]).series[0].image
    np.testing.assert_array_equal(image.pixels, volumes["ct"].array)  # the same case, the same grid
    assert image.tissue_map is not None
    return image.tissue_map


def decode(png: bytes) -> NDArray[np.uint8]:
    picture = Image.open(io.BytesIO(png))
    assert picture.format == "PNG" and picture.mode == "L"
    return np.asarray(picture)


def size_of(png: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(png)).size


# --- windows ---------------------------------------------------------------------------------


def test_presets_are_the_published_ct_windows() -> None:
    assert {name: (w.center, w.width) for name, w in PRESETS.items()} == {
        "lung": (-600, 1500),
        "mediastinum": (50, 350),
        "bone": (500, 2000),
        "brain": (40, 80),
    }


def test_linear_window_follows_dicom() -> None:
    window = Window(40.0, 400.0)  # DICOM C.11.2.1.2.1: black up to c - 0.5 - (w - 1) / 2 = -160
    values = np.array([-1000.0, -160.0, 40.0, 239.0, 240.0, 3000.0])
    assert apply_window(values, window).tolist() == [0, 0, 128, 255, 255, 255]
    assert apply_window(values, window, invert=True).tolist() == [255, 255, 127, 0, 0, 0]
    assert apply_window(np.array([0.0, 1.0]), Window(1.0, 1.0)).tolist() == [0, 255]  # width 1: threshold


def test_auto_window_is_the_series_window_else_percentiles(volumes: dict[str, Volume]) -> None:
    ct = volumes["ct"]
    assert auto_window(ct) == Window(40.0, 400.0, "MEDIASTINUM")
    assert render_png(ct, window="auto") == render_png(ct, window=(40, 400))

    bare = dataclasses.replace(volumes["mr"], windows=())
    low, high = np.percentile(bare.array, [1, 99])
    window = auto_window(bare)
    assert window.center == pytest.approx((low + high) / 2) and window.width == pytest.approx(high - low)


@pytest.mark.parametrize(
    ("window", "reason"),
    [("liver-ish", "UNKNOWN_WINDOW_PRESET"), ((40, 0), "INVALID_WINDOW"), ((1, 2, 3), "INVALID_WINDOW")],
)
def test_bad_windows(volumes: dict[str, Volume], window: object, reason: str) -> None:
    with pytest.raises(InvalidArgument) as error:
        render_png(volumes["ct"], window=window)  # type: ignore[arg-type]
    assert error.value.reason == reason


def test_hu_presets_need_hu(volumes: dict[str, Volume]) -> None:
    with pytest.raises(InvalidArgument) as error:
        resolve_window(volumes["mr"], "brain")
    assert error.value.reason == "WINDOW_PRESET_NEEDS_HU"


# --- tissue contrast on the CT phantom -------------------------------------------------------


def tissue_slice(tissues: NDArray[np.uint8]) -> int:
    """The axial slice with the most lung and bone together."""
    lung, bone = (tissues == CT_TISSUES["lung"]), (tissues == CT_TISSUES["bone"])
    return int(np.argmax(np.minimum(lung.sum(axis=(1, 2)), bone.sum(axis=(1, 2)))))


def test_lung_window_shows_lung_dark_grey_and_bone_white(
    volumes: dict[str, Volume], ct_tissues: NDArray[np.uint8]
) -> None:
    k = tissue_slice(ct_tissues)
    pixels = decode(render_png(volumes["ct"], index=k, window="lung"))
    tissues = ct_tissues[k]

    assert pixels.shape == (64, 64)  # square 1.4 mm pixels: native size
    lung = pixels[tissues == CT_TISSUES["lung"]]
    bone = pixels[tissues == CT_TISSUES["bone"]]
    assert lung.size > 50 and bone.size > 20
    assert 50 <= np.median(lung) <= 110  # about -850 HU in [-1350, 150]: dark grey, not black
    assert np.median(bone) == 255 and np.mean(bone > 230) > 0.9


def test_mediastinum_and_bone_windows(volumes: dict[str, Volume], ct_tissues: NDArray[np.uint8]) -> None:
    k = tissue_slice(ct_tissues)
    tissues = ct_tissues[k]
    mediastinum = decode(render_png(volumes["ct"], index=k, window="mediastinum"))
    assert np.median(mediastinum[tissues == CT_TISSUES["lung"]]) == 0
    assert 90 <= np.median(mediastinum[tissues == CT_TISSUES["soft_tissue"]]) <= 150
    assert np.median(mediastinum[tissues == CT_TISSUES["bone"]]) == 255

    bone = decode(render_png(volumes["ct"], index=k, window="bone"))
    soft = np.median(bone[tissues == CT_TISSUES["soft_tissue"]])
    assert 50 <= soft <= 90 and np.median(bone[tissues == CT_TISSUES["bone"]]) > soft + 60


def test_monochrome1_is_inverted_for_display(volumes: dict[str, Volume]) -> None:
    ct = volumes["ct"]
    inverted = dataclasses.replace(ct, photometric_interpretation="MONOCHROME1")
    normal = decode(render_png(ct, window="lung"))
    np.testing.assert_array_equal(decode(render_png(inverted, window="lung")), 255 - normal)


# --- views and aspect ------------------------------------------------------------------------


def test_reformats_have_square_pixels(volumes: dict[str, Volume]) -> None:
    ct = volumes["ct"]  # 64 x 64 x 24 voxels of 1.4 x 1.4 x 6.667 mm
    tall = round(24 * ct.spacing[2] / 1.4)
    assert size_of(render_png(ct, axis="axial")) == (64, 64)
    assert size_of(render_png(ct, axis="coronal", window="lung")) == (64, tall)
    assert size_of(render_png(ct, axis="sagittal", index=10)) == (64, tall)
    assert size_of(render_png(ct, axis="coronal", size=200)) == (round(64 * 200 / tall), 200)
    assert size_of(render_png(ct, size=256)) == (256, 256)


def test_projection_pixels_are_made_square(volumes: dict[str, Volume]) -> None:
    dx = volumes["dx"]  # 48 columns of 7.47 mm, 64 rows of 5.6 mm: 358 mm square
    assert dx.spacing[0] != pytest.approx(dx.spacing[1])
    assert size_of(render_png(dx)) == (64, 64)
    with pytest.raises(InvalidArgument) as error:
        render_png(dx, axis="coronal")
    assert error.value.reason == "UNSUPPORTED_AXIS"


def marker_volume(direction: tuple[float, ...] = (1, 0, 0, 0, 1, 0, 0, 0, 1)) -> Volume:
    """5 columns x 6 rows x 7 slices of 1 mm, one bright voxel at (i, j, k) = (1, 2, 5)."""
    array = np.zeros((7, 6, 5), dtype=np.int16)
    array[5, 2, 1] = 1000
    return Volume(array, (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), direction, "CT", "HU", "1.2.3")


def bright(png: bytes) -> tuple[int, int]:
    row, column = np.unravel_index(np.argmax(decode(png)), decode(png).shape)
    return int(row), int(column)


def test_views_follow_the_radiological_convention() -> None:
    volume = marker_volume()  # identity: i towards patient left, j posterior, k superior
    window = (500, 1000)
    # axial: patient left on the image right, anterior at the top -> (row j, column i)
    assert bright(render_png(volume, axis="axial", index=5, window=window)) == (2, 1)
    # coronal: superior at the top -> row 6 - k; column i
    assert bright(render_png(volume, axis="coronal", index=2, window=window)) == (1, 1)
    # sagittal: anterior on the left -> column j; superior at the top -> row 6 - k
    assert bright(render_png(volume, axis="sagittal", index=1, window=window)) == (1, 2)
    assert size_of(render_png(volume, axis="sagittal", index=1, window=window)) == (6, 7)


def stored_as(volume: Volume, orientation: str) -> Volume:
    """The same voxels at the same places, stored along other axes (as a sagittal MR is)."""
    image = sitk.DICOMOrient(to_simpleitk(volume), orientation)
    return dataclasses.replace(
        volume,
        array=sitk.GetArrayFromImage(image),
        spacing=image.GetSpacing(),
        origin=image.GetOrigin(),
        direction=image.GetDirection(),
    )


@pytest.mark.parametrize("orientation", ["RAI", "ASL", "SPR", "IRA"])
def test_views_do_not_depend_on_how_the_series_was_stored(volumes: dict[str, Volume], orientation: str) -> None:
    for volume, window in ((marker_volume(), (500, 1000)), (volumes["ct"], "lung")):
        turned = stored_as(volume, orientation)
        assert turned.direction != volume.direction
        to_index = np.linalg.inv(turned.affine)
        views: tuple[tuple[Axis, int], ...] = (("axial", 2), ("coronal", 1), ("sagittal", 0))
        for axis, patient_axis in views:
            # identity direction: the original's voxel axis is the patient axis; find that plane in `turned`
            index = [0, 0, 0]
            index[patient_axis] = volume.shape[2 - patient_axis] // 2
            turned_index = np.rint(to_index @ (volume.affine @ np.array([*index, 1.0])))[:3]
            normal = int(np.argmax(np.abs(turned.direction_matrix[patient_axis])))
            original = render_png(volume, axis=axis, window=window)
            np.testing.assert_array_equal(
                decode(render_png(turned, axis=axis, index=int(turned_index[normal]), window=window)),
                decode(original),
            )


def test_mr_axial_view_of_a_sagittal_series(volumes: dict[str, Volume]) -> None:
    mr = volumes["mr"]  # 48 x 48 sagittal slices, 20 of them from left to right
    square = min(mr.spacing)
    width, height = size_of(render_png(mr, axis="axial"))
    assert (width, height) == (round(20 * mr.spacing[2] / square), round(48 * mr.spacing[0] / square))
    assert size_of(render_png(mr, axis="sagittal")) == (48, 48)


# --- thumbnails and plain arrays -------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "max_size", "expected"),
    [
        ("ct", 128, (64, 64)),  # never enlarged
        ("ct", 32, (32, 32)),
        ("mr", 128, (48, 48)),
        ("dx", 40, (40, 40)),
        ("mg", 32, (24, 32)),  # 48 x 64 pixels of 3.2 mm
    ],
)
def test_thumbnail_fits(volumes: dict[str, Volume], kind: str, max_size: int, expected: tuple[int, int]) -> None:
    png = thumbnail(volumes[kind], max_size=max_size)
    assert size_of(png) == expected and max(size_of(png)) <= max_size
    decode(png)


def test_plain_array() -> None:
    array = np.arange(200, dtype=np.float32).reshape(10, 20)
    pixels = decode(render_png(array, window=(100, 200)))
    assert pixels.shape == (10, 20) and pixels[0, 0] == 0 and pixels[-1, -1] == 255  # 199 = c - 0.5 + (w - 1) / 2
    assert size_of(thumbnail(array, max_size=8)) == (8, 4)
    with pytest.raises(InvalidArgument) as error:
        render_png(np.zeros((2, 3, 4)))
    assert error.value.reason == "EXPECTED_2D_ARRAY"


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        ({"index": 24}, "INDEX_OUT_OF_RANGE"),
        ({"index": -1}, "INDEX_OUT_OF_RANGE"),
        ({"axis": "oblique"}, "UNKNOWN_AXIS"),
        ({"size": 0}, "INVALID_SIZE"),
    ],
)
def test_bad_requests(volumes: dict[str, Volume], arguments: dict[str, object], reason: str) -> None:
    with pytest.raises(InvalidArgument) as error:
        render_png(volumes["ct"], **arguments)  # type: ignore[arg-type]
    assert error.value.reason == reason
