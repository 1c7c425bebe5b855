"""The zoo's detectors: losses and detections, the box convention, anchors and settings.

Boxes are corners in index order (x0, y0[, z0], x1, y1[, z1]) with x the last array axis; see `detectors`. That
they learn is test_detection_learning's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor
from torch.nn.parallel import DistributedDataParallel
from torchvision.ops import box_iou

from radscholar_core.errors import InvalidArgument
from radscholar_training.domain.detectors import (
    DETECTIONS_PER_IMAGE,
    Detector,
    RetinaNet,
    anchor_shapes_from_boxes,
    build_detector,
)
from radscholar_training.domain.networks import build_network, check_network
from radscholar_training.domain.zoo import ZOO, Task

CASES = [
    pytest.param(a.id, dims, id=f"{a.id}-{dims}d") for a in ZOO if a.task is Task.DETECTION for dims in a.spatial_dims
]


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def smallest_patch(architecture: str, dims: int) -> tuple[int, ...]:
    entry = next(a for a in ZOO if a.id == architecture)
    side = max(entry.min_size, 32)
    return (side + (-side) % entry.size_multiple,) * dims


def square_targets(patch: tuple[int, ...]) -> list[dict[str, Tensor]]:
    """Two images' truths: a box of class 1 around array rows 4..12 (and slices 4..12), columns 6..18; none."""
    dims = len(patch)
    box = [6.0, 4.0, 4.0, 18.0, 12.0, 12.0] if dims == 3 else [6.0, 4.0, 18.0, 12.0]
    mask = torch.zeros(1, *patch, dtype=torch.uint8)
    mask[(0, *(slice(4, 12),) * (dims - 1), slice(6, 18))] = 1
    return [
        {"boxes": torch.tensor([box]), "labels": torch.tensor([1]), "masks": mask},
        {
            "boxes": torch.zeros(0, 2 * dims),
            "labels": torch.zeros(0, dtype=torch.long),
            "masks": torch.zeros(0, *patch, dtype=torch.uint8),
        },
    ]


def detections(detector: Detector, images: Tensor) -> list[dict[str, Tensor]]:
    detector.eval()
    with torch.no_grad():
        found = detector(images)
    assert isinstance(found, list)
    return found


@pytest.mark.parametrize(("architecture", "dims"), CASES)
def test_every_detector_gives_losses_in_training_and_boxes_in_inference(architecture: str, dims: int) -> None:
    torch.manual_seed(0)
    patch = smallest_patch(architecture, dims)
    detector = build_detector(architecture, dims, 1, 2, patch, [(8.0,) * dims, (12.0,) * dims])
    images = torch.randn(2, 1, *patch)
    detector.train()
    losses = detector(images, square_targets(patch))
    assert isinstance(losses, dict) and losses
    assert all(loss.ndim == 0 and torch.isfinite(loss) for loss in losses.values())
    sum(losses.values()).backward()  # type: ignore[union-attr]
    assert all(torch.isfinite(p.grad).all() for p in detector.parameters() if p.grad is not None)

    empty = detector(images, square_targets(patch)[1:] * 2)  # no image has a box
    assert isinstance(empty, dict) and all(torch.isfinite(loss) for loss in empty.values())

    found = detections(detector, images)
    assert len(found) == 2
    for image in found:
        m = len(image["scores"])
        assert m <= DETECTIONS_PER_IMAGE
        assert image["boxes"].shape == (m, 2 * dims) and image["boxes"].dtype == torch.float32
        assert image["labels"].shape == (m,) and image["labels"].dtype == torch.long
        assert ((image["labels"] >= 0) & (image["labels"] < 2)).all()
        assert ((image["scores"] >= 0.05) & (image["scores"] <= 1)).all()
        if architecture == "maskrcnn":
            assert image["masks"].shape == (m, *patch)
            assert ((image["masks"] >= 0) & (image["masks"] <= 1)).all()


@pytest.mark.parametrize(("architecture", "dims"), CASES)
def test_a_detector_survives_a_state_dict_round_trip(architecture: str, dims: int) -> None:
    patch = smallest_patch(architecture, dims)
    anchors = [(8.0,) * dims]
    torch.manual_seed(1)
    first = build_detector(architecture, dims, 1, 1, patch, anchors)
    torch.manual_seed(2)
    second = build_detector(architecture, dims, 1, 1, patch, anchors)
    second.load_state_dict(first.state_dict())
    images = torch.randn(2, 1, *patch)
    for mine, theirs in zip(detections(first, images), detections(second, images), strict=True):
        assert mine.keys() == theirs.keys()
        for key in mine:
            assert torch.equal(mine[key], theirs[key])
    if isinstance(first, RetinaNet):  # an untrained RetinaNet scores below the threshold: compare its logits
        with torch.no_grad():
            mine_logits = first.detector.network(images)["classification"]
            their_logits = second.detector.network(images)["classification"]
        assert all(torch.equal(a, b) for a, b in zip(mine_logits, their_logits, strict=True))


@pytest.mark.parametrize("dims", [2, 3])
def test_retinanet_detects_in_index_order(dims: int) -> None:
    """One logit fired at feature cell (row 2, column 5[, ...]) of the finest level comes back as that cell's anchor."""
    patch = (32,) * dims
    detector = build_detector("retinanet", dims, 1, 1, patch, [(8.0,) * dims])
    assert isinstance(detector, RetinaNet)
    cell = (1, 2, 5) if dims == 3 else (2, 5)  # array order

    def fire(_: Any, __: Any, maps: list[Tensor]) -> list[Tensor]:
        fired = [torch.full_like(level, -20.0) for level in maps]
        fired[0][(0, 0, *cell)] = 20.0
        return fired

    def still(_: Any, __: Any, maps: list[Tensor]) -> list[Tensor]:
        return [torch.zeros_like(level) for level in maps]

    network = detector.detector.network
    network.classification_head.register_forward_hook(fire)
    network.regression_head.register_forward_hook(still)
    found = detections(detector, torch.zeros(1, 1, *patch))[0]
    centre = [4 * c + 2 for c in reversed(cell)]  # stride 4, index order
    expected = [c - 4.0 for c in centre] + [c + 4.0 for c in centre]
    assert found["boxes"][0].tolist() == expected
    assert found["scores"][0] > 0.99 and found["labels"][0] == 0


@pytest.mark.parametrize("dims", [2, 3])
def test_retinanet_matches_a_truth_where_it_lies(dims: int) -> None:
    """MONAI's matcher picks anchors around the truth as it lies in the array, not around its mirror image."""
    patch = (32,) * dims
    detector = build_detector("retinanet", dims, 1, 1, patch, [(8.0,) * dims])
    assert isinstance(detector, RetinaNet)
    monai_detector = detector.detector
    matched: list[Tensor] = []
    match = monai_detector.compute_anchor_matched_idxs

    def recording(*args: Any) -> list[Tensor]:
        matched.extend(match(*args))
        return matched

    monai_detector.compute_anchor_matched_idxs = recording  # type: ignore[method-assign]
    # index order (x 18..26, y 2..10[, z 10..18]): array rows 2..10, columns 18..26
    box = [18.0, 2.0, 10.0, 26.0, 10.0, 18.0] if dims == 3 else [18.0, 2.0, 26.0, 10.0]
    detector.train()
    detector(torch.zeros(1, 1, *patch), [{"boxes": torch.tensor([box]), "labels": torch.tensor([0])}])
    anchors = monai_detector.anchors[0][matched[0] >= 0]  # type: ignore[index]
    assert len(anchors)
    centres = (anchors[:, :dims] + anchors[:, dims:]) / 2  # MONAI's order: array order
    in_index_order = centres.flip(1)
    assert ((in_index_order >= torch.tensor(box[:dims])) & (in_index_order <= torch.tensor(box[dims:]))).all()


def test_anchor_shapes_reach_monai_in_its_axis_order() -> None:
    detector = build_detector("retinanet", 3, 1, 1, (32, 32, 32), [(4.0, 6.0, 8.0)])  # x, y, z
    assert isinstance(detector, RetinaNet)
    cells = detector.detector.anchor_generator.cell_anchors
    assert cells[0].tolist() == [[-4.0, -3.0, -2.0, 4.0, 3.0, 2.0]]  # z, y, x half-sides
    assert cells[1].tolist() == [[-8.0, -6.0, -4.0, 8.0, 6.0, 4.0]]  # the next level doubles them


def test_torchvision_boxes_are_in_index_order_and_labels_zero_based() -> None:
    """SSD fits a wide bright rectangle at rows 8..20, columns 36..56: (36, 8, 56, 20), class 1 of 2."""
    torch.manual_seed(0)
    detector = build_detector("ssd", 2, 1, 2, (64, 64), [(8.0, 8.0), (10.0, 10.0), (12.0, 12.0)])
    image = torch.randn(1, 1, 64, 64) * 0.1
    image[0, 0, 8:20, 36:56] += 1.0
    truth = torch.tensor([[36.0, 8.0, 56.0, 20.0]])
    optimiser = torch.optim.Adam(detector.parameters(), lr=1e-3)
    for _ in range(30):
        detector.train()
        losses = detector(image, [{"boxes": truth, "labels": torch.tensor([1])}])
        assert isinstance(losses, dict)
        optimiser.zero_grad()
        sum(losses.values()).backward()  # type: ignore[union-attr]
        optimiser.step()
    best = detections(detector, image)[0]
    assert best["labels"][0] == 1
    assert box_iou(best["boxes"][:1], truth) > 0.5
    assert box_iou(best["boxes"][:1], truth[:, [1, 0, 3, 2]]) < 0.1  # not the transposed rectangle


def test_retinanet_slides_over_volumes_larger_than_the_patch() -> None:
    detector = build_detector("retinanet", 3, 1, 1, (32, 32, 32), [(8.0, 8.0, 8.0)])
    assert isinstance(detector, RetinaNet)
    network = detector.detector.network
    network.classification_head.register_forward_hook(lambda _, __, maps: [m.clamp(min=0.0) for m in maps])
    found = detections(detector, torch.randn(1, 1, 48, 32, 40))[0]  # (z, y, x)
    assert len(found["boxes"])
    assert (found["boxes"] >= 0).all()
    assert (found["boxes"][:, 3:] <= torch.tensor([40.0, 32.0, 48.0])).all()  # x <= 40, y <= 32, z <= 48


def test_retinanet_trains_inside_distributed_data_parallel(tmp_path: Path) -> None:
    """A batch without boxes still reaches every parameter, as DistributedDataParallel requires."""
    torch.distributed.init_process_group("gloo", init_method=f"file://{tmp_path}/store", rank=0, world_size=1)
    try:
        detector = build_detector("retinanet", 3, 1, 2, (32, 32, 32), [(8.0, 8.0, 8.0)])
        model = DistributedDataParallel(detector)
        optimiser = torch.optim.SGD(model.parameters(), lr=0.01)
        for targets in (square_targets((32, 32, 32))[1:] * 2, square_targets((32, 32, 32))):
            losses = model(torch.randn(2, 1, 32, 32, 32), targets)
            optimiser.zero_grad()
            sum(losses.values()).backward()
            optimiser.step()
    finally:
        torch.distributed.destroy_process_group()


def test_anchor_shapes_follow_the_boxes() -> None:
    rng = np.random.default_rng(0)
    sides = rng.uniform(6.0, 20.0, size=(200, 1)) * np.array([[1.0, 1.0, 0.5]])  # half as deep as wide
    shapes = anchor_shapes_from_boxes(sides)
    assert shapes == anchor_shapes_from_boxes(sides[::-1])
    assert len(shapes) == 3 and all(len(shape) == 3 for shape in shapes)
    assert all(round(side, 1) == side for shape in shapes for side in shape)
    assert all(shape[2] == pytest.approx(shape[0] / 2, rel=0.05) for shape in shapes)
    smallest = float(np.quantile(sides[:, 0], 0.1))
    assert shapes[0][0] == pytest.approx(smallest, rel=0.05)
    assert shapes[0][0] < shapes[1][0] < shapes[2][0] < 2 * shapes[0][0]  # the finest level's octave
    assert anchor_shapes_from_boxes([[10, 10]]) == ((10.0, 10.0), (12.6, 12.6), (15.9, 15.9))
    assert anchor_shapes_from_boxes([[1, 1]])[0] == (2.0, 2.0)


def test_anchor_shapes_need_boxes() -> None:
    with pytest.raises(InvalidArgument) as failure:
        anchor_shapes_from_boxes(np.zeros((0, 3)))
    assert failure.value.reason == "NO_BOXES"
    with pytest.raises(InvalidArgument) as failure:
        anchor_shapes_from_boxes([[4.0, 0.0]])
    assert failure.value.reason == "BAD_BOXES"


@pytest.mark.parametrize(
    ("architecture", "dims", "patch", "reason", "setting"),
    [
        ("yolo", 2, (64, 64), "UNKNOWN_ARCHITECTURE", "architecture"),
        ("unet", 2, (64, 64), "WRONG_TASK", "architecture"),
        ("fasterrcnn", 3, (64, 64, 64), "UNSUPPORTED_DIMENSIONS", "spatial_dims"),
        ("maskrcnn", 3, (64, 64, 64), "UNSUPPORTED_DIMENSIONS", "spatial_dims"),
        ("retinanet", 3, (32, 32), "INVALID_PATCH_SIZE", "preprocessing.size"),
        ("retinanet", 3, (32, 32, 8), "INVALID_PATCH_SIZE", "preprocessing.size"),
        ("retinanet", 2, (40, 32), "INVALID_PATCH_SIZE", "preprocessing.size"),
        ("ssd", 2, (96, 80), "INVALID_PATCH_SIZE", "preprocessing.size"),
        ("fasterrcnn", 2, (32, 32), "INVALID_PATCH_SIZE", "preprocessing.size"),
    ],
)
def test_a_detector_that_does_not_fit_is_refused_naming_the_setting(
    architecture: str, dims: int, patch: tuple[int, ...], reason: str, setting: str
) -> None:
    with pytest.raises(InvalidArgument) as failure:
        check_network(architecture, Task.DETECTION, dims, patch)
    assert failure.value.reason == reason
    assert failure.value.details["setting"] == setting


def test_the_zoo_takes_what_each_detector_allows_and_a_patch_left_to_the_boxes() -> None:
    check_network("retinanet", Task.DETECTION, 3, (16, 32, 48))
    check_network("retinanet", Task.DETECTION, 2, (512, 512))
    check_network("maskrcnn", Task.DETECTION, 2, (64, 96))
    check_network("fasterrcnn", Task.DETECTION, 2, ())
    with pytest.raises(InvalidArgument) as failure:
        build_network("retinanet", 3, 1, 2, (32, 32, 32))
    assert failure.value.reason == "WRONG_TASK"


def test_build_detector_refuses_anchors_of_other_dimensions() -> None:
    with pytest.raises(InvalidArgument) as failure:
        build_detector("retinanet", 3, 1, 1, (32, 32, 32), [(8.0, 8.0)])
    assert failure.value.details["setting"] == "detection.anchor_shapes"


# --- learning ------------------------------------------------------------------------------------------------------
