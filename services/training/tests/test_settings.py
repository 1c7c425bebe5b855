"""Run settings: per-task defaults, merging, errors that name the setting, canonical forms and the cache key."""

import json

import pytest
from pydantic import ValidationError

from radscholar_core.errors import InvalidArgument
from radscholar_training.domain.settings import parse_settings


def invalid(task: str, dims: int, raw: dict) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as caught:
        parse_settings(task, dims, raw)
    assert caught.value.reason == "INVALID_SETTING"
    return caught.value


def test_classification_defaults() -> None:
    s = parse_settings("classification", 3, {})
    assert (s.task, s.spatial_dims, s.architecture) == ("classification", 3, "resnet18")
    assert s.loss == "cross-entropy"
    assert s.monitor == "val_auc" and s.maximise
    assert s.preprocessing.size == (64, 64, 64) and s.preprocessing.crop == "centre"
    assert s.augmentation.flip.axes == (0, 1, 2) and s.augmentation.rotate.probability == 0
    flat = parse_settings("classification", 2, {})
    assert flat.preprocessing.size == (224, 224) and flat.augmentation.flip.axes == (0, 1)
    assert parse_settings("classification", 3, {"label_encoding": "multi-label"}).loss == "bce"


def test_segmentation_defaults() -> None:
    s = parse_settings("segmentation", 3, {})
    assert (s.architecture, s.loss, s.monitor, s.batch_size) == ("unet", "dice-ce", "val_dice", 2)
    assert s.preprocessing.size == (96, 96, 96)
    assert parse_settings("segmentation", 2, {}).preprocessing.size == (256, 256)


def test_changes_merge_into_the_defaults() -> None:
    s = parse_settings(
        "classification",
        3,
        {"optimizer": {"learning_rate": 0.01}, "preprocessing": {"size": [32, 24, 16], "window": [-1000, 400]}},
    )
    assert s.optimizer.name == "adamw" and s.optimizer.learning_rate == 0.01
    assert s.preprocessing.size == (32, 24, 16) and s.preprocessing.shape == (16, 24, 32)
    assert s.preprocessing.normalisation == "zscore"
    with pytest.raises(ValidationError):
        s.epochs = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("task", "dims", "raw", "setting", "words"),
    [
        ("classification", 3, {"optimizer": {"learning_rate": -1}}, "optimizer.learning_rate", "greater than 0"),
        ("classification", 3, {"optimizer": {"lr": 0.1}}, "optimizer.lr", "is not a setting"),
        ("classification", 3, {"epoch": 3}, "epoch", "is not a setting"),
        ("classification", 3, {"optimizer": {"name": "lbfgs"}}, "optimizer.name", "'sgd'"),
        ("classification", 3, {"preprocessing": {"size": [64, 64]}}, "preprocessing.size", "must have 3 values"),
        ("classification", 3, {"preprocessing": {"size": [64, 0, 64]}}, "preprocessing.size", "item 1"),
        ("classification", 2, {"preprocessing": {"spacing": [1, 1, 1]}}, "preprocessing.spacing", "2 values"),
        ("classification", 3, {"preprocessing": {"window": [400, -1000]}}, "preprocessing.window", "below"),
        ("segmentation", 3, {"preprocessing": {"crop": "lesion"}}, "preprocessing.crop", "classification"),
        ("segmentation", 3, {"label_encoding": "multi-label"}, "label_encoding", "classification"),
        ("classification", 3, {"loss": "dice"}, "loss", "cross-entropy"),
        ("classification", 3, {"early_stopping": {"metric": "val_dice"}}, "early_stopping.metric", "val_auc"),
        ("classification", 2, {"augmentation": {"flip": {"axes": [2]}}}, "augmentation.flip.axes", "below 2"),
        ("classification", 3, {"augmentation": {"noise": {"probability": 2}}}, "augmentation.noise.probability", "1"),
        ("classification", 3, {"schedule": {"warmup_epochs": 60}}, "schedule.warmup_epochs", "fewer than"),
        ("classification", 3, {"pretrained": {"model_version": "nodules"}}, "pretrained.model_version", "name/"),
        ("classification", 3, {"task": "segmentation"}, "task", "classification"),
        ("regression", 3, {}, "task", "must be"),
        ("classification", 4, {}, "spatial_dims", "2 or 3"),
    ],
)
def test_errors_name_the_setting(task: str, dims: int, raw: dict, setting: str, words: str) -> None:
    error = invalid(task, dims, raw)
    assert error.details["setting"] == setting
    assert setting in error.message and words in error.message


def test_every_problem_is_listed_the_first_named() -> None:
    error = invalid("classification", 3, {"epochs": 0, "batch_size": 0, "optimizer": {"momentum": 1.5}})
    assert error.details["setting"] == "epochs"
    lines = error.details["errors"].splitlines()
    assert [line.split(":")[0] for line in lines] == ["epochs", "batch_size", "optimizer.momentum"]


def test_canonical_forms() -> None:
    s = parse_settings("segmentation", 3, {"preprocessing": {"spacing": [0.7, 0.7, 1.25]}})
    canonical = s.canonical()
    assert json.loads(json.dumps(canonical)) == canonical
    assert canonical["preprocessing"]["spacing"] == [0.7, 0.7, 1.25]
    flat = s.flat_params()
    assert flat["optimizer.learning_rate"] == "0.001"
    assert flat["preprocessing.spacing"] == "[0.7, 0.7, 1.25]"
    assert flat["augmentation.flip.probability"] == "0.5" and flat["loss"] == "dice-ce"
    assert flat["preprocessing.window"] == "null" and flat["mixed_precision"] == "true"
    assert all(isinstance(v, str) for v in flat.values())


def test_preprocessing_key_follows_what_changes_the_samples() -> None:
    key = parse_settings("classification", 3, {}).preprocessing_key()
    same = [
        {"epochs": 3, "optimizer": {"name": "sgd"}},
        {"augmentation": {"rotate": {"probability": 0.5}}},
        {"preprocessing": {"samples_per_volume": 8, "positive_fraction": 0.9}},
    ]
    for raw in same:
        assert parse_settings("classification", 3, raw).preprocessing_key() == key
    different = [
        {"preprocessing": {"window": [-1000, 400]}},
        {"preprocessing": {"spacing": [1, 1, 1]}},
        {"preprocessing": {"crop": "lesion"}},
        {"preprocessing": {"size": [32, 32, 32]}},
        {"preprocessing": {"normalisation": "minmax"}},
    ]
    keys = {parse_settings("classification", 3, raw).preprocessing_key() for raw in different}
    assert len(keys) == len(different) and key not in keys
    assert parse_settings("segmentation", 3, {"preprocessing": {"size": [64, 64, 64]}}).preprocessing_key() != key
