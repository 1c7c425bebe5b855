"""The training loop on phantom lung nodules: it learns, repeats itself exactly and resumes exactly.

Small MONAI networks on a single CPU thread keep each test to seconds.
"""

import math
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import SimpleITK as sitk
import torch
from monai.networks import nets
from sklearn.metrics import roc_auc_score
from torch import nn

from radscholar_training.domain.augment import Augmenter, PatchSampler
from radscholar_training.domain.loop import EpochReport, LocalSession, Outcome, predict, train
from radscholar_training.domain.metrics import classification_metrics, dice_per_class, segmentation_metrics
from radscholar_training.domain.preprocess import Sample, samples_from_volume
from radscholar_training.domain.settings import RunSettings, parse_settings
from services.training.tests.nodules import nodule_cases

PREPROCESSING = {"window": [-1000, 400], "normalisation": "minmax"}


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def classification(**changes: Any) -> RunSettings:
    raw: dict[str, Any] = {
        "architecture": "densenet121",
        "epochs": 12,
        "batch_size": 8,
        "seed": 7,
        "optimizer": {"learning_rate": 3e-3},
        "preprocessing": {**PREPROCESSING, "size": [24, 24, 24], "crop": "lesion"},
    }
    return parse_settings("classification", 3, {**raw, **changes})


def segmentation(**changes: Any) -> RunSettings:
    raw: dict[str, Any] = {
        "epochs": 6,
        "batch_size": 2,
        "seed": 7,
        "optimizer": {"learning_rate": 1e-2},
        "preprocessing": {**PREPROCESSING, "size": [24, 24, 24], "samples_per_volume": 2, "positive_fraction": 0.7},
    }
    return parse_settings("segmentation", 3, {**raw, **changes})


def nodule_samples(seed: int, count: int, s: RunSettings) -> list[Sample]:
    """Lesion crops (classification) or whole volumes with a binary nodule mask (segmentation)."""
    samples = []
    for case in nodule_cases(seed, count):
        mask = case.sitk_mask()
        if s.task == "segmentation":
            mask = sitk.GetImageFromArray((case.mask > 0).astype(np.uint8))
            mask.CopyInformation(case.sitk_image())
        samples += samples_from_volume(case.case_id, case.sitk_image(), mask, None, s)
    return samples


def classifier(dropout: float = 0.0) -> Callable[[], nn.Module]:
    return lambda: nets.DenseNet(
        spatial_dims=3,
        in_channels=1,
        out_channels=2,
        init_features=8,
        growth_rate=8,
        block_config=(2, 2, 2),
        bn_size=2,
        dropout_prob=dropout,
    )


def segmenter(dropout: float = 0.0) -> Callable[[], nn.Module]:
    return lambda: nets.UNet(
        spatial_dims=3,
        in_channels=1,
        out_channels=2,
        channels=(8, 16, 32),
        strides=(2, 2),
        num_res_units=1,
        dropout=dropout,
    )


def test_classifier_tells_malignant_from_benign_nodules(tmp_path: Path) -> None:
    s = classification(augmentation={"flip": {"probability": 0.5}})
    training, validation = nodule_samples(1, 48, s), nodule_samples(2, 32, s)
    assert {int(x.target) for x in training} == {0, 1} and training[0].image.shape == (1, 24, 24, 24)
    outcome = train(s, training, validation, LocalSession(tmp_path, "cpu"), classifier())
    assert len(outcome.history) == 12 and not outcome.stopped_early
    assert outcome.best_metric >= 0.85
    assert outcome.history[outcome.best_epoch - 1].metrics["val_auc"] == outcome.best_metric
    assert set(outcome.history[0].metrics) == {
        "val_loss",
        "val_auc",
        "val_accuracy",
        "val_sensitivity_0",
        "val_sensitivity_1",
    }
    network = classifier()()
    network.load_state_dict(outcome.best_state)
    probabilities = predict(s, network, validation)
    assert all(p.shape == (2,) and abs(float(p.sum()) - 1.0) < 1e-5 for p in probabilities)
    auc = roc_auc_score([int(x.target) for x in validation], [float(p[1]) for p in probabilities])
    assert auc == pytest.approx(outcome.best_metric)


def test_segmenter_outlines_nodules(tmp_path: Path) -> None:
    s = segmentation(augmentation={"flip": {"probability": 0.5}})
    training, validation = nodule_samples(1, 12, s), nodule_samples(2, 6, s)
    outcome = train(s, training, validation, LocalSession(tmp_path, "cpu"), segmenter())
    assert outcome.best_metric >= 0.7
    assert set(outcome.history[-1].metrics) == {"val_loss", "val_dice", "val_dice_0"}
    network = segmenter()()
    network.load_state_dict(outcome.best_state)
    maps = predict(s, network, validation)
    assert [m.shape for m in maps] == [v.target.shape for v in validation] and maps[0].dtype == np.uint8
    dice = np.mean([dice_per_class(m, v.target, 2)[0] for m, v in zip(maps, validation, strict=True)])
    assert dice == pytest.approx(outcome.best_metric)


class Interrupted(Exception):
    pass


class StopsAfter(LocalSession):
    """A session whose worker dies right after the checkpoint of ``epoch``."""

    def __init__(self, directory: Path, epoch: int) -> None:
        super().__init__(directory, "cpu")
        self.stop = epoch

    def end_epoch(self, report: EpochReport, state: Mapping[str, Any] | None, best: bool) -> None:
        super().end_epoch(report, state, best)
        if report.epoch == self.stop:
            raise Interrupted


def numbers(outcome: Outcome) -> list[Any]:
    return [(r.epoch, r.train_loss, r.metrics, r.learning_rate) for r in outcome.history]


def same_state(a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


CASES = {
    "classification": (
        lambda: classification(
            epochs=4,
            checkpoint_interval=2,
            schedule={"name": "plateau", "step_size": 1, "gamma": 0.5},
            early_stopping={"metric": "val_loss"},
            augmentation={
                "flip": {"probability": 0.5},
                "rotate": {"probability": 0.5},
                "noise": {"probability": 0.5, "std": 0.05},
                "contrast": {"probability": 0.5},
            },
        ),
        classifier(dropout=0.2),
        (16, 8),
    ),
    "segmentation": (
        lambda: segmentation(
            epochs=4,
            checkpoint_interval=2,
            optimizer={"name": "sgd", "learning_rate": 0.05},
            schedule={"warmup_epochs": 1},
            augmentation={"flip": {"probability": 0.5}, "scale": {"probability": 0.5}},
        ),
        segmenter(dropout=0.2),
        (6, 3),
    ),
}


@pytest.mark.parametrize("task", sorted(CASES))
def test_runs_repeat_and_resume_exactly(task: str, tmp_path: Path) -> None:
    make_settings, network, (n_train, n_validation) = CASES[task]
    s = make_settings()
    training, validation = nodule_samples(3, n_train, s), nodule_samples(4, n_validation, s)
    straight = train(s, training, validation, LocalSession(tmp_path / "a", "cpu"), network)
    again = train(s, training, validation, LocalSession(tmp_path / "b", "cpu"), network)
    assert numbers(again) == numbers(straight)
    assert same_state(again.best_state, straight.best_state)

    with pytest.raises(Interrupted):
        train(s, training, validation, StopsAfter(tmp_path / "c", 2), network)
    session = LocalSession(tmp_path / "c", "cpu")
    resumed = train(s, training, validation, session, network)
    assert [r.epoch for r in session.reports] == [3, 4]
    assert numbers(resumed) == numbers(straight)
    assert (resumed.best_epoch, resumed.best_metric) == (straight.best_epoch, straight.best_metric)
    assert same_state(resumed.best_state, straight.best_state)
    restored = session.restored()
    assert restored is not None and restored["epoch"] == 4


def test_loader_processes_change_no_numbers(tmp_path: Path) -> None:
    s = classification(epochs=2, augmentation={"flip": {"probability": 0.5}, "noise": {"probability": 0.5}})
    training, validation = nodule_samples(3, 8, s), nodule_samples(4, 4, s)
    here = train(s, training, validation, LocalSession(tmp_path / "a", "cpu"), classifier())
    there = train(s, training, validation, LocalSession(tmp_path / "b", "cpu"), classifier(), loader_workers=2)
    assert numbers(there) == numbers(here)


def test_early_stopping_and_the_checkpoint_of_the_last_epoch(tmp_path: Path) -> None:
    s = classification(
        epochs=6,
        checkpoint_interval=10,
        early_stopping={"patience": 1, "metric": "val_loss", "min_delta": 1e9},  # nothing improves on epoch 1
    )
    training, validation = nodule_samples(3, 8, s), nodule_samples(4, 4, s)
    session = LocalSession(tmp_path, "cpu")
    outcome = train(s, training, validation, session, classifier())
    assert outcome.stopped_early and [r.epoch for r in outcome.history] == [1, 2]
    assert outcome.best_epoch == 1 and outcome.best_metric == outcome.history[0].metrics["val_loss"]
    assert [p.name for p in tmp_path.glob("*.pt")] == ["checkpoint-00002.pt"]
    # Resuming a finished run trains no further and gives the same outcome.
    again = train(s, training, validation, LocalSession(tmp_path, "cpu"), classifier())
    assert numbers(again) == numbers(outcome) and again.stopped_early


def tiny_samples(count: int) -> list[Sample]:
    rng = np.random.default_rng(0)
    return [Sample(f"s{n}", rng.normal(size=(1, 4, 4, 4)).astype(np.float32), np.array(n % 2)) for n in range(count)]


def tiny_network() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 2))


@pytest.mark.parametrize(
    ("schedule", "factors"),
    [
        ({"name": "step", "step_size": 1, "gamma": 0.5, "warmup_epochs": 2}, [1 / 3, 2 / 3, 1.0, 0.5, 0.25]),
        ({"name": "cosine"}, [1.0, 0.5 * (1 + math.cos(math.pi / 5)), 0.5 * (1 + math.cos(2 * math.pi / 5))]),
        ({"name": "none", "warmup_epochs": 1}, [0.5, 1.0, 1.0]),
    ],
)
def test_learning_rate_schedules(schedule: dict, factors: list[float], tmp_path: Path) -> None:
    s = parse_settings(
        "classification",
        3,
        {
            "epochs": 5,
            "batch_size": 4,
            "schedule": schedule,
            "preprocessing": {"size": [4, 4, 4]},
            "optimizer": {"learning_rate": 0.1},
        },
    )
    outcome = train(s, tiny_samples(8), tiny_samples(4), LocalSession(tmp_path, "cpu"), tiny_network)
    rates = [r.learning_rate for r in outcome.history][: len(factors)]
    assert rates == pytest.approx([0.1 * f for f in factors])


def test_without_validation_the_last_epoch_stands(tmp_path: Path) -> None:
    s = parse_settings("classification", 3, {"epochs": 2, "batch_size": 4, "preprocessing": {"size": [4, 4, 4]}})
    outcome = train(s, tiny_samples(8), [], LocalSession(tmp_path, "cpu"), tiny_network)
    assert outcome.best_epoch == 2 and math.isnan(outcome.best_metric)
    assert all(r.metrics == {} for r in outcome.history) and outcome.best_state


def box_mask() -> torch.Tensor:
    mask = torch.zeros((24, 24, 24), dtype=torch.uint8)
    mask[6:14, 8:16, 10:20] = 1
    mask[14:18, 8:16, 10:20] = 2
    return mask


@pytest.mark.parametrize(
    "augmentation",
    [
        {"rotate": {"probability": 1.0, "degrees": 30}},
        {"scale": {"probability": 1.0, "range": 0.2}},
        {"shift": {"probability": 1.0, "fraction": 0.2}},
        {"elastic": {"probability": 1.0, "magnitude": 1.5}},
    ],
)
def test_augmentation_moves_image_and_mask_together(augmentation: dict) -> None:
    mask = box_mask()
    image = (mask > 0)[None].float()
    augment = Augmenter(segmentation(augmentation={"flip": {"probability": 0.0}, **augmentation}))
    for seed in range(3):
        moved, moved_mask = augment(image, mask, seed)
        assert moved.shape == image.shape and moved_mask.shape == mask.shape and moved_mask.dtype == torch.uint8
        assert set(torch.unique(moved_mask).tolist()) <= {0, 1, 2}  # nearest neighbour: no new classes
        inside, labelled = moved[0] > 0.5, moved_mask > 0
        assert (inside & labelled).sum() / (inside | labelled).sum() > 0.95


def test_augmentation_is_reproducible_from_its_seed() -> None:
    everything = {
        "flip": {"probability": 0.5},
        "rotate": {"probability": 0.5},
        "scale": {"probability": 0.5},
        "elastic": {"probability": 0.5},
        "contrast": {"probability": 0.5},
        "noise": {"probability": 0.5},
    }
    augment = Augmenter(segmentation(augmentation=everything))
    mask = box_mask()
    image = torch.rand((1, 24, 24, 24))
    first = augment(image, mask, seed=5)
    again = augment(image, mask, seed=5)
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    assert not torch.equal(augment(image, mask, seed=6)[0], first[0])

    flip = Augmenter(segmentation(augmentation={"flip": {"probability": 1.0, "axes": [0]}}))
    flipped, flipped_mask = flip(image, mask, seed=0)
    assert torch.equal(flipped, image.flip(-1)) and torch.equal(flipped_mask, mask.flip(-1))  # axis 0 is x


def test_patches_centre_on_foreground() -> None:
    s = segmentation(preprocessing={"size": [8, 8, 8], "samples_per_volume": 5, "positive_fraction": 1.0})
    mask = torch.zeros((20, 20, 20), dtype=torch.uint8)
    mask[3:6, 12:15, 7:9] = 1
    image = torch.rand((1, 20, 20, 20))
    patches = PatchSampler(s)(image, mask, seed=3)
    assert len(patches) == 5
    for patch, patch_mask in patches:
        assert patch.shape == (1, 8, 8, 8) and patch_mask.shape == (8, 8, 8)
        assert patch_mask.sum() > 0


def test_metrics() -> None:
    binary = classification_metrics(np.array([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7]]), np.array([0, 0, 1]), False)
    assert binary["auc"] == 1.0 and binary["accuracy"] == pytest.approx(2 / 3)
    assert binary["sensitivity_0"] == 0.5 and binary["sensitivity_1"] == 1.0
    probabilities = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1]])
    three = classification_metrics(probabilities, np.array([0, 1, 0]), False)  # class 2 never occurs
    assert three["auc"] == 1.0 and math.isnan(three["sensitivity_2"])
    multi = classification_metrics(np.array([[0.9, 0.2], [0.1, 0.8]]), np.array([[1, 0], [0, 1]]), True)
    assert multi["auc"] == 1.0 and multi["accuracy"] == 1.0
    predicted = np.array([[0, 1, 1], [0, 2, 0]])
    truth = np.array([[0, 1, 0], [0, 2, 0]])
    assert dice_per_class(predicted, truth, 4)[:2] == [pytest.approx(2 / 3), 1.0]
    assert math.isnan(dice_per_class(predicted, truth, 4)[2])
    summary = segmentation_metrics([[1.0, math.nan], [0.5, 0.25]])
    assert summary == {"dice": pytest.approx((0.75 + 0.25) / 2), "dice_0": 0.75, "dice_1": 0.25}


def discs(count: int, multi_hot: bool = False) -> list[Sample]:
    """2D images of one bright disc each; the target is its mask (segmentation) or whether it is large."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[:20, :20]
    samples = []
    for n in range(count):
        radius = 3 + 3 * (n % 2)
        disc = ((y - 10 - rng.integers(-3, 4)) ** 2 + (x - 10 - rng.integers(-3, 4)) ** 2) <= radius**2
        image = (disc + rng.normal(0, 0.2, disc.shape)).astype(np.float32)[None]
        label = np.array([n % 2, 1 - n % 2], dtype=np.float32) if multi_hot else np.array(n % 2)
        samples.append(Sample(f"d{n}", image, label))
    return samples


def small_unet_2d() -> nn.Module:
    return nets.UNet(2, 1, 2, channels=(4, 8), strides=(2,), num_res_units=0)


def small_cnn_2d() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))


EVERY_AUGMENTATION = {
    "flip": {"probability": 0.5},
    "rotate": {"probability": 0.5},
    "shift": {"probability": 0.5},
    "scale": {"probability": 0.5},
    "elastic": {"probability": 0.5, "sigma": 3},
    "contrast": {"probability": 0.5},
    "noise": {"probability": 0.5},
}


@pytest.mark.parametrize("loss", ["dice-ce", "dice", "dice-focal", "cross-entropy", "focal"])
def test_two_dimensional_segmentation_with_every_loss(loss: str, tmp_path: Path) -> None:
    s = parse_settings(
        "segmentation",
        2,
        {
            "epochs": 2,
            "loss": loss,
            "preprocessing": {"size": [16, 16], "samples_per_volume": 2},
            "augmentation": EVERY_AUGMENTATION,
        },
    )
    samples = [Sample(d.id, d.image, (d.image[0] > 0.5).astype(np.uint8)) for d in discs(6)]
    outcome = train(s, samples[:4], samples[4:], LocalSession(tmp_path, "cpu"), small_unet_2d)
    assert set(outcome.history[-1].metrics) == {"val_loss", "val_dice", "val_dice_0"}
    assert all(math.isfinite(r.train_loss) for r in outcome.history)


@pytest.mark.parametrize(("encoding", "loss"), [("one-hot", "focal"), ("multi-label", "bce"), ("multi-label", "focal")])
def test_two_dimensional_classification_encodings(encoding: str, loss: str, tmp_path: Path) -> None:
    s = parse_settings(
        "classification",
        2,
        {
            "epochs": 2,
            "batch_size": 4,
            "label_encoding": encoding,
            "loss": loss,
            "preprocessing": {"size": [20, 20]},
            "augmentation": EVERY_AUGMENTATION,
        },
    )
    samples = discs(12, multi_hot=encoding == "multi-label")
    outcome = train(s, samples[:8], samples[8:], LocalSession(tmp_path, "cpu"), small_cnn_2d)
    assert {"val_auc", "val_accuracy", "val_sensitivity_1"} <= set(outcome.history[-1].metrics)
    probabilities = predict(s, small_cnn_2d(), samples[8:])
    assert all(p.shape == (2,) for p in probabilities)
