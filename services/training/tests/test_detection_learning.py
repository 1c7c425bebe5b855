"""Detectors learn through the platform's training loop: a 2D Faster R-CNN finds lesions on phantom chest radiographs
well above chance, a 3D RetinaNet finds phantom lung nodules at the sensitivity the issue asks for, and a Mask R-CNN
trains on lesion outlines.

"Chance" is the same detector's boxes read against another image's lesions: what its boxes would score if they had
nothing to do with the image. Small images and networks on one CPU thread keep each test to a minute or two.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import SimpleITK as sitk
import torch

from radscholar_phantoms.radiograph import build_dx_image
from radscholar_phantoms.sites import make_sites
from radscholar_training.domain.detection_metrics import froc
from radscholar_training.domain.detectors import build_detector
from radscholar_training.domain.loop import LocalSession, predict, train
from radscholar_training.domain.preprocess import Sample, samples_from_volume, with_box_defaults
from radscholar_training.domain.settings import RunSettings, parse_settings
from services.training.tests.nodules import nodule_cases


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def radiographs(seed: int, count: int, settings: RunSettings) -> list[Sample]:
    """Phantom PA chest radiographs at 256 x 256 (1.4 mm pixels), each with one or two lung lesions (their boxes from
    the lesion map), as detection samples."""
    rng = np.random.default_rng(seed)
    site = make_sites(1)[0]
    samples = []
    for n in range(count):
        classes = ["benign", "malignant"][: 1 + n % 2]
        phantom = build_dx_image(rng, site, shape=(256, 256), lesion_classes=classes)
        image = sitk.GetImageFromArray(phantom.pixels.astype(np.float32))
        lesions = sitk.GetImageFromArray((phantom.label_map > 0).astype(np.uint8))
        samples += samples_from_volume(f"dx-{seed}-{n}", image, lesions, None, settings)
    return samples


def trained(settings: RunSettings, training: list[Sample], validation: list[Sample], folder: Path) -> Any:
    settings = with_box_defaults(settings, training)
    session = LocalSession(folder, "cpu")

    def make() -> torch.nn.Module:
        return build_detector(
            settings.architecture,
            settings.spatial_dims,
            1,
            1,
            settings.preprocessing.shape,
            settings.detection.anchor_shapes,
        )

    outcome = train(settings, training, validation, session, make)
    network = make()
    network.load_state_dict(outcome.best_state)
    return settings, network, outcome


def scans(settings: RunSettings, found: list[np.ndarray], truths: list[Sample], shift: int = 0) -> list[Any]:
    """(boxes, scores, truths) per scan; ``shift`` pairs each scan's boxes with another scan's lesions (chance)."""
    corners = 2 * settings.spatial_dims
    return [
        (f[:, :corners], f[:, corners], truths[(n + shift) % len(truths)].target[:, :corners])
        for n, f in enumerate(found)
    ]


def test_a_2d_faster_rcnn_finds_lesions_on_phantom_radiographs_well_above_chance(tmp_path: Path) -> None:
    settings = parse_settings(
        "detection",
        2,
        {
            "architecture": "fasterrcnn",
            "epochs": 16,
            "batch_size": 4,
            "seed": 3,
            "optimizer": {"name": "adamw", "learning_rate": 1e-3},
            "preprocessing": {"normalisation": "zscore", "size": [128, 128], "samples_per_volume": 1},
        },
    )
    settings, network, _ = trained(settings, radiographs(1, 48, settings), radiographs(2, 8, settings), tmp_path)
    test = radiographs(3, 12, settings)  # whole images, twice the patch's side
    found = predict(settings, network, test)
    detected, chance = froc(scans(settings, found, test)), froc(scans(settings, found, test, shift=1))
    print("Faster R-CNN, radiographs:", detected["sensitivity_at"], detected["cpm"], "chance:", chance["cpm"])
    assert detected["cpm"] > chance["cpm"] + 0.3
    assert detected["sensitivity_at"]["2"] >= 0.5


def nodule_cts(seed: int, count: int, settings: RunSettings) -> list[Sample]:
    """Phantom lung CT volumes (32³, 1 mm) with one nodule each (8-14 mm, benign or malignant), moved to a random
    place that keeps it whole (so the detector has to find where it is), as detection samples."""
    rng = np.random.default_rng(seed)
    samples = []
    for case in nodule_cases(seed, count):
        inside = np.nonzero(case.mask)
        low, high = [int(axis.min()) for axis in inside], [int(axis.max()) + 1 for axis in inside]
        shift = tuple(int(rng.integers(-a, 32 - b + 1)) for a, b in zip(low, high, strict=True))
        image = sitk.GetImageFromArray(np.roll(case.image, shift, axis=(0, 1, 2)))
        nodule = sitk.GetImageFromArray(np.roll((case.mask > 0).astype(np.uint8), shift, axis=(0, 1, 2)))
        samples += samples_from_volume(case.case_id, image, nodule, None, settings)
    return samples


def test_a_3d_retinanet_finds_phantom_lung_nodules_at_2_false_positives_per_scan(tmp_path: Path) -> None:
    settings = parse_settings(
        "detection",
        3,
        {
            "architecture": "retinanet",
            "epochs": 10,
            "batch_size": 4,
            "seed": 3,
            "optimizer": {"name": "adamw", "learning_rate": 2e-3},
            "schedule": {"warmup_epochs": 2},
            "preprocessing": {"window": [-1000, 400], "normalisation": "minmax", "samples_per_volume": 1},
        },
    )
    settings, network, _ = trained(settings, nodule_cts(1, 32, settings), nodule_cts(2, 8, settings), tmp_path)
    test = nodule_cts(3, 16, settings)
    found = predict(settings, network, test)
    detected = froc(scans(settings, found, test))
    print("RetinaNet, lung nodules:", detected["sensitivity_at"], detected["cpm"])
    assert settings.preprocessing.size == (32, 32, 32)  # the whole volume: the default patch, at most the image
    assert detected["sensitivity_at"]["2"] >= 0.8


def test_a_mask_rcnn_trains_on_lesion_outlines_and_outlines_what_it_finds(tmp_path: Path) -> None:
    settings = parse_settings(
        "detection",
        2,
        {
            "architecture": "maskrcnn",
            "epochs": 2,
            "batch_size": 2,
            "optimizer": {"name": "adamw", "learning_rate": 1e-3},
            "preprocessing": {"normalisation": "zscore", "size": [64, 64], "samples_per_volume": 1},
        },
    )
    samples = radiographs(4, 6, settings)
    assert all(sample.instances is not None for sample in samples)
    settings, network, outcome = trained(settings, samples[:4], samples[4:], tmp_path)
    assert all(np.isfinite(report.train_loss) for report in outcome.history)
    network.eval()
    with torch.no_grad():
        [found] = network(torch.from_numpy(samples[4].image)[None])
    assert found["masks"].shape[1:] == samples[4].image.shape[1:] and len(found["masks"]) == len(found["boxes"])
