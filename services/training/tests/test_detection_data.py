"""Detection data: settings, boxes onto the network's grid, training patches whose boxes follow crops and flips, and
the patch size and anchors a run leaves to its boxes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import SimpleITK as sitk
import torch

from radscholar_core.errors import InvalidArgument
from radscholar_training.domain.augment import BoxPatchSampler
from radscholar_training.domain.plan import LabeledBox
from radscholar_training.domain.preprocess import (
    Sample,
    class_map,
    regrid_boxes,
    samples_from_volume,
    with_box_defaults,
)
from radscholar_training.domain.settings import RunSettings, parse_settings


def detection(dims: int = 3, **changes: Any) -> RunSettings:
    return parse_settings("detection", dims, {"preprocessing": {"normalisation": "none"}, **changes})


def refused(raw: dict[str, Any], dims: int = 3) -> str:
    with pytest.raises(InvalidArgument) as error:
        parse_settings("detection", dims, raw)
    return str(error.value.details["setting"])


def test_detection_settings_leave_the_patch_and_anchors_to_the_boxes_and_refuse_what_boxes_cannot_follow() -> None:
    settings = detection()
    assert settings.architecture == "retinanet" and detection(2).architecture == "fasterrcnn"
    assert settings.preprocessing.size == () and settings.detection.anchor_shapes == ()
    assert settings.loss == "detector" and settings.monitor == "val_cpm" and settings.maximise
    assert refused({"augmentation": {"rotate": {"probability": 0.5}}}) == "augmentation.rotate.probability"
    assert refused({"augmentation": {"elastic": {"probability": 0.2}}}) == "augmentation.elastic.probability"
    assert refused({"detection": {"anchor_shapes": [[8, 8]]}}) == "detection.anchor_shapes"
    assert refused({"preprocessing": {"size": [64, 64]}}) == "preprocessing.size"
    assert refused({"early_stopping": {"metric": "val_dice"}}) == "early_stopping.metric"
    assert refused({"loss": "focal"}) == "loss"
    # the patch size is not part of a detection cache key: samples are whole images
    sized = {"size": [32, 32, 32], "normalisation": "none"}
    assert detection().preprocessing_key() == detection(preprocessing=sized).preprocessing_key()
    windowed = {"window": [-1000, 400], "normalisation": "none"}
    assert detection().preprocessing_key() != detection(preprocessing=windowed).preprocessing_key()


def volume(size: tuple[int, int, int], spacing: tuple[float, float, float]) -> sitk.Image:
    image = sitk.GetImageFromArray(np.zeros(size[::-1], dtype=np.float32))
    image.SetSpacing(spacing)
    image.SetOrigin((10.0, -20.0, 5.0))
    return image


def test_boxes_follow_resampling_and_lesion_masks_give_boxes() -> None:
    image = volume((40, 30, 20), (1.0, 1.0, 2.0))
    box = LabeledBox(1, (4.0, 6.0, 2.0), (12.0, 10.0, 5.0))
    [native] = samples_from_volume("c", image, None, None, detection(), (box,))
    np.testing.assert_allclose(native.target, [[4, 6, 2, 12, 10, 5, 1]], atol=1e-4)
    resampled = detection(preprocessing={"spacing": [2.0, 2.0, 1.0], "normalisation": "none"})
    [sample] = samples_from_volume("c", image, None, None, resampled, (box,))
    assert sample.image.shape == (1, 40, 15, 20)
    np.testing.assert_allclose(sample.target, [[2, 3, 4, 6, 5, 10, 1]], atol=1e-4)  # same mm, new voxels
    # and back onto the image: the box a viewer draws
    grid = sitk.Image([20, 15, 40], sitk.sitkFloat32)
    grid.SetSpacing((2.0, 2.0, 1.0))
    grid.SetOrigin(image.TransformContinuousIndexToPhysicalPoint((0.5, 0.5, -0.25)))
    np.testing.assert_allclose(regrid_boxes(sample.target[:, :6], grid, image), [[4, 6, 2, 12, 10, 5]], atol=1e-4)

    labels = np.zeros((20, 30, 40), dtype=np.uint8)
    labels[3:6, 5:9, 10:20] = 2  # z 3-5, y 5-8, x 10-19: class 1 (mask value - 1)
    labels[12:14, 20:22, 30:33] = 1
    mask = sitk.GetImageFromArray(labels)
    mask.CopyInformation(image)
    [from_mask] = samples_from_volume("c", image, mask, None, detection())
    assert sorted(map(tuple, from_mask.target.tolist())) == [(10, 5, 3, 20, 9, 6, 1), (30, 20, 12, 33, 22, 14, 0)]
    [nothing] = samples_from_volume("c", image, None, None, detection())
    assert nothing.target.shape == (0, 7)


def painted(shape: tuple[int, ...], boxes: np.ndarray) -> torch.Tensor:
    """An image that is 1 inside each box (voxel edges, index order) and 0 elsewhere."""
    image = np.zeros(shape, dtype=np.float32)
    dims = len(shape)
    for box in boxes:
        window = tuple(slice(int(box[dims - 1 - a]), int(box[2 * dims - 1 - a])) for a in range(dims))
        image[window] = 1.0
    return torch.from_numpy(image)[None]


@pytest.mark.parametrize("dims", [2, 3])
def test_training_patches_carry_their_boxes_through_crops_padding_and_flips(dims: int) -> None:
    size = [16] * dims
    settings = detection(
        dims,
        preprocessing={"size": size, "samples_per_volume": 6, "positive_fraction": 0.8, "normalisation": "none"},
        augmentation={"flip": {"probability": 0.5, "axes": list(range(dims))}},
    )
    shape = (30, 12, 40)[-dims:]  # shorter than the patch along one axis: padded
    boxes = np.asarray([[3, 2, 1, 9, 7, 6, 0], [30, 4, 2, 36, 10, 9, 1]], dtype=np.float32)
    if dims == 2:
        boxes = boxes[:, [0, 1, 3, 4, 6]]
    image = painted(shape, boxes)
    sampler = BoxPatchSampler(settings)
    seen = 0
    for seed in range(10):
        for patch, inside, _ in sampler(image, boxes, seed):
            assert tuple(patch.shape) == (1, *size)
            expected = painted(tuple(size), inside)
            # every box kept is bright in the patch (a box mostly outside is left out, though its rim may show)
            assert bool((patch >= expected).all())
            if len(inside) == len(boxes):
                assert torch.equal(patch, expected)
            seen += len(inside)
    assert seen > 0
    assert [p.tolist() for p, _, _ in sampler(image, boxes, 3)] == [p.tolist() for p, _, _ in sampler(image, boxes, 3)]


def test_the_patch_and_anchors_come_from_the_training_boxes() -> None:
    rng = np.random.default_rng(0)
    samples = []
    for n in range(6):
        side = rng.uniform(6, 14)
        target = np.asarray([[10, 10, 10, 10 + side, 10 + side, 10 + side / 2, 0]], dtype=np.float32)
        samples.append(Sample(f"c{n}", np.zeros((1, 48, 160, 160), dtype=np.float32), target))
    resolved = with_box_defaults(detection(), samples)
    assert resolved.preprocessing.size == (96, 96, 48)  # the default side, at most the largest image
    assert len(resolved.detection.anchor_shapes) >= 1
    assert all(len(shape) == 3 for shape in resolved.detection.anchor_shapes)
    given = detection(preprocessing={"size": [64, 64, 32]}, detection={"anchor_shapes": [[8, 8, 4]]})
    assert with_box_defaults(given, samples) == given
    with pytest.raises(InvalidArgument) as none:
        with_box_defaults(detection(), [Sample("c", np.zeros((1, 8, 8, 8), np.float32), np.zeros((0, 7), np.float32))])
    assert none.value.reason == "NO_BOXES"


def test_mask_rcnn_samples_carry_each_lesions_outline_into_its_patches() -> None:
    labels = np.zeros((40, 40), dtype=np.uint8)
    labels[5:12, 6:15] = 1
    labels[20:30, 22:26] = 2
    labels[28:30, 30:33] = 2  # a second lesion of the same class
    image = sitk.GetImageFromArray(labels.astype(np.float32))
    mask = sitk.GetImageFromArray(labels)
    raw = {"architecture": "maskrcnn", "preprocessing": {"normalisation": "none", "size": [64, 64]}}
    settings = parse_settings("detection", 2, raw)
    assert settings.preprocessing_key() != detection(2, preprocessing={"normalisation": "none"}).preprocessing_key()
    [sample] = samples_from_volume("c", image, mask, None, settings)
    assert sample.instances is not None and int(sample.instances.max()) == 3
    np.testing.assert_array_equal(class_map(sample), labels)  # the outlines with their classes, as the mask had them
    for k, box in enumerate(sample.target, start=1):  # lesion k's outline lies in its box
        rows, columns = np.nonzero(sample.instances == k)
        assert (columns.min(), rows.min(), columns.max() + 1, rows.max() + 1) == tuple(box[:4])
    with pytest.raises(InvalidArgument) as boxes_only:
        samples_from_volume("c", image, None, None, settings, (LabeledBox(0, (1.0, 1.0), (5.0, 5.0)),))
    assert boxes_only.value.reason == "NEEDS_LESION_MASKS"
    instances = torch.from_numpy(sample.instances.astype(np.int32))
    for patch, inside, masks in BoxPatchSampler(settings)(torch.from_numpy(sample.image), sample.target, 1, instances):
        assert masks is not None and masks.shape == (len(inside), 64, 64) and masks.dtype == torch.uint8
        for box, outline in zip(inside, masks, strict=True):  # each mask is its lesion's, moved with the patch
            rows, columns = np.nonzero(outline.numpy())
            assert (columns.min(), rows.min(), columns.max() + 1, rows.max() + 1) == tuple(box[:4])
            assert float(patch[0][outline.bool()].min()) > 0
