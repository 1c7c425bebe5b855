"""Volumes to samples: resampling geometry, intensities, crops around lesions, 2D inputs, and the bytes form."""

from typing import Any

import numpy as np
import pytest
import SimpleITK as sitk

from radscholar_core.errors import InvalidArgument
from radscholar_training.domain.preprocess import Sample, samples_from_bytes, samples_from_volume, samples_to_bytes
from radscholar_training.domain.settings import RunSettings, parse_settings


def image_of(array: np.ndarray, spacing: tuple[float, ...] = (1.0, 1.0, 1.0), origin: Any = None) -> sitk.Image:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing[: image.GetDimension()])
    if origin is not None:
        image.SetOrigin(origin)
    return image


def settings(task: str, dims: int = 3, **preprocessing: Any) -> RunSettings:
    return parse_settings(task, dims, {"preprocessing": {"normalisation": "none", **preprocessing}})


def test_resampling_moves_to_the_spacing_and_keeps_positions() -> None:
    spacing, origin = (1.0, 1.0, 2.5), (10.0, -5.0, 3.0)
    x_mm = origin[0] + np.arange(20, dtype=np.float32)
    ramp = np.broadcast_to(x_mm, (8, 16, 20)).copy()  # each voxel holds its x position (mm)
    mask = np.zeros((8, 16, 20), dtype=np.uint8)
    mask[3:5, 6:10, 8:12] = 1
    s = settings("segmentation", size=[4, 4, 4], spacing=[2.0, 2.0, 2.0])
    [sample] = samples_from_volume("c", image_of(ramp, spacing, origin), image_of(mask, spacing, origin), None, s)
    assert sample.image.shape == (1, 10, 8, 10) and sample.target.shape == (10, 8, 10)
    assert sample.image.dtype == np.float32 and sample.target.dtype == np.uint8
    assert sample.spacing == (2.0, 2.0, 2.0)
    new_origin = np.asarray(origin) + (np.asarray([2.0, 2.0, 2.0]) - spacing) / 2  # grid edges stay put
    # Linear interpolation reproduces the ramp: each new voxel holds its own x position.
    np.testing.assert_allclose(sample.image[0, 4, 4], new_origin[0] + 2.0 * np.arange(10), atol=1e-4)

    def centroid_mm(m: np.ndarray, o: Any, sp: Any) -> np.ndarray:
        return np.asarray(o) + np.argwhere(m).mean(axis=0)[::-1] * np.asarray(sp)

    before = centroid_mm(mask, origin, spacing)
    after = centroid_mm(sample.target, new_origin, (2.0, 2.0, 2.0))
    assert np.abs(after - before).max() <= 1.0


def test_mask_on_another_grid_is_brought_onto_the_image() -> None:
    image = image_of(np.zeros((6, 6, 12), dtype=np.float32))
    mask = np.zeros((6, 6, 12), dtype=np.uint8)
    mask[2:4, 2:4, 5] = 1
    shifted = image_of(mask, origin=(2.0, 0.0, 0.0))  # the mask's x index 5 lies at the image's x index 7
    [sample] = samples_from_volume("c", image, shifted, None, settings("segmentation", size=[4, 4, 4]))
    assert sorted({int(x) for x in np.argwhere(sample.target)[:, 2]}) == [7]


def test_window_and_normalisation() -> None:
    values = np.linspace(-2000, 2000, 4 * 4 * 4, dtype=np.float32).reshape(4, 4, 4)
    windowed = settings("classification", size=[4, 4, 4], window=[-1000, 400], normalisation="minmax")
    [sample] = samples_from_volume("c", image_of(values), None, 1, windowed)
    assert sample.image.min() == 0.0 and sample.image.max() == 1.0
    assert np.count_nonzero(sample.image == 0.0) > 1  # clipped below the window
    assert sample.target.dtype == np.int64 and int(sample.target) == 1
    [z] = samples_from_volume("c", image_of(values), None, 0, settings("classification", size=[4, 4, 4]))
    np.testing.assert_allclose(z.image, values[None])  # "none" keeps intensities
    zscore = settings("classification", size=[4, 4, 4], normalisation="zscore")
    [scored] = samples_from_volume("c", image_of(values), None, 0, zscore)
    assert abs(float(scored.image.mean())) < 1e-5 and abs(float(scored.image.std()) - 1.0) < 1e-4


def test_one_sample_per_lesion_centred_with_its_class() -> None:
    background = -1000.0
    volume = np.full((30, 30, 30), background, dtype=np.float32)
    mask = np.zeros((30, 30, 30), dtype=np.uint8)
    mask[20:24, 20:24, 20:24] = 1  # class position 0
    mask[0:4, 10:14, 10:14] = 1  # class position 0, at the volume's edge
    mask[5:9, 5:9, 25:29] = 2  # class position 1
    volume[mask > 0] = 100.0
    s = settings("classification", size=[8, 8, 8], crop="lesion")
    samples = samples_from_volume("case", image_of(volume), image_of(mask), None, s)
    assert [x.id for x in samples] == ["case#1", "case#2", "case#3"]
    assert [int(x.target) for x in samples] == [0, 0, 1]
    for sample in samples:
        assert sample.image.shape == (1, 8, 8, 8)
        assert np.all(sample.image[0, 2:6, 2:6, 2:6] == 100.0)  # a 4-voxel lesion sits in the middle of 8
        assert np.count_nonzero(sample.image == 100.0) == 64
    # The edge lesion's crop reaches outside the volume: filled with the volume's lowest value.
    assert np.all(samples[0].image[0, :2] == background)


def test_lesion_crop_needs_a_mask_and_classification_a_label() -> None:
    volume = image_of(np.zeros((4, 4, 4), dtype=np.float32))
    with pytest.raises(InvalidArgument) as missing_mask:
        samples_from_volume("c", volume, None, None, settings("classification", size=[4, 4, 4], crop="lesion"))
    assert missing_mask.value.reason == "MISSING_MASK"
    with pytest.raises(InvalidArgument) as missing_label:
        samples_from_volume("c", volume, None, None, settings("classification", size=[4, 4, 4]))
    assert missing_label.value.reason == "MISSING_LABEL"
    with pytest.raises(InvalidArgument) as no_mask:
        samples_from_volume("c", volume, None, None, settings("segmentation", size=[4, 4, 4]))
    assert no_mask.value.reason == "MISSING_MASK"


def test_two_dimensional_runs_take_single_slices() -> None:
    pixels = np.arange(12 * 10, dtype=np.float32).reshape(1, 12, 10)  # one slice of 12 rows, 10 columns
    s = settings("classification", 2, size=[8, 16])  # x 8 (crop 10 -> 8), y 16 (pad 12 -> 16)
    [sample] = samples_from_volume("c", image_of(pixels), None, 0, s)
    assert sample.image.shape == (1, 16, 8)
    np.testing.assert_array_equal(sample.image[0, 2:14], pixels[0, :, 1:9])
    assert np.all(sample.image[0, :2] == 0.0) and np.all(sample.image[0, 14:] == 0.0)
    [flat] = samples_from_volume("c", image_of(pixels[0], (1.0, 1.0)), None, 0, s)
    np.testing.assert_array_equal(flat.image, sample.image)
    with pytest.raises(InvalidArgument) as caught:
        samples_from_volume("c", image_of(np.zeros((3, 12, 10), dtype=np.float32)), None, 0, s)
    assert caught.value.reason == "INVALID_IMAGE"


def test_segmentation_volumes_are_padded_to_the_patch() -> None:
    volume = np.full((4, 6, 6), 5.0, dtype=np.float32)
    volume[0, 0, 0] = 1.0
    mask = np.ones((4, 6, 6), dtype=np.uint8)
    [sample] = samples_from_volume(
        "c", image_of(volume), image_of(mask), None, settings("segmentation", size=[8, 6, 7])
    )
    assert sample.image.shape == (1, 7, 6, 8) and sample.target.shape == (7, 6, 8)
    assert sample.target.sum() == mask.sum() and sample.target[0].sum() == 0
    assert sample.image[0, 0, 0, 0] == 1.0  # padding takes the lowest value


def test_channels_of_vector_images() -> None:
    rgb = np.random.default_rng(0).normal(size=(5, 6, 3)).astype(np.float32) * [1.0, 10.0, 100.0]
    image = sitk.GetImageFromArray(rgb.astype(np.float32), isVector=True)
    s = parse_settings("classification", 2, {"preprocessing": {"size": [6, 5]}})
    [sample] = samples_from_volume("c", image, None, 2, s)
    assert sample.image.shape == (3, 5, 6)
    np.testing.assert_allclose(sample.image.std(axis=(1, 2)), 1.0, atol=1e-4)  # z-scored per channel


def test_bytes_round_trip_exactly() -> None:
    rng = np.random.default_rng(1)
    samples = [
        Sample("a#1", rng.normal(size=(1, 4, 5, 6)).astype(np.float32), np.array(1, dtype=np.int64), (2.5, 1.0, 0.7)),
        Sample("ß/é", rng.normal(size=(2, 3, 3)).astype(np.float32), np.array([0.0, 1.0, 1.0], dtype=np.float32)),
        Sample("seg", rng.normal(size=(1, 7, 8, 9)).astype(np.float32), rng.integers(0, 3, (7, 8, 9)).astype(np.uint8)),
    ]
    back = samples_from_bytes(samples_to_bytes(samples))
    assert [s.id for s in back] == [s.id for s in samples]
    for original, copy in zip(samples, back, strict=True):
        assert copy.image.dtype == original.image.dtype and copy.target.dtype == original.target.dtype
        np.testing.assert_array_equal(copy.image, original.image)
        np.testing.assert_array_equal(copy.target, original.target)
        assert copy.spacing == original.spacing
    assert samples_from_bytes(samples_to_bytes([])) == []
