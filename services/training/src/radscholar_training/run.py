"""The Ray driver of a training job: ``python -m radscholar_training.run <plan key>``.

1. Preprocesses the dataset version's cases into samples, or takes them from the cache (same dataset version, same
   preprocessing: no DICOM is decoded twice).
2. Opens the run's MLflow run (the same one again when the run is resumed) with every setting as a parameter.
3. Trains with a Ray Train ``TorchTrainer``: one worker per ``workers`` setting, on GPUs when the cluster has enough;
   Ray restarts a failed worker group up to ``max_failures`` times and it continues from the run's last checkpoint.
4. Evaluates the best checkpoint on the validation and test splits, writes the predictions table, registers the best
   checkpoint as a model version with its dataset version and metrics, and writes the outcome for the service.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import SimpleITK as sitk
import torch
from torch import nn

from radscholar_core.errors import DomainError
from radscholar_core.job_driver import done, objects_from_environment, report, say
from radscholar_core.objectstore import ObjectStore
from radscholar_training.adapters.tracking import Tracking
from radscholar_training.domain import metrics as scores
from radscholar_training.domain.detection_metrics import match
from radscholar_training.domain.detectors import build_detector
from radscholar_training.domain.loop import EpochReport, detection_scores, predict, train
from radscholar_training.domain.networks import CustomNetwork, build_network, load_weights, read_weights
from radscholar_training.domain.plan import Plan, checkpoint_key, outcome_key, run_key, run_prefix, split_key
from radscholar_training.domain.preprocess import (
    Sample,
    samples_from_bytes,
    samples_from_volume,
    samples_to_bytes,
    with_box_defaults,
)
from radscholar_training.domain.settings import RunSettings, parse_settings

MLFLOW_ENV = "RADSCHOLAR_TRAINING_MLFLOW_URI"
MAX_FAILURES_ENV = "RADSCHOLAR_TRAINING_MAX_FAILURES"


def settings_of(plan: Plan) -> RunSettings:
    return parse_settings(plan.task, plan.spatial_dims, plan.settings)


def read_volume(objects: ObjectStore, key: str) -> sitk.Image:
    """A NIfTI volume of the object store (read in place from the filesystem store)."""
    path = objects.local_path(key)
    if path is not None:
        return sitk.ReadImage(str(path))
    with tempfile.NamedTemporaryFile(suffix=".nii.gz") as file:
        file.write(objects.get(key))
        file.flush()
        return sitk.ReadImage(file.name)


def prepare_samples(objects: ObjectStore, plan: Plan, settings: RunSettings) -> dict[str, int]:
    """Each split's samples in the cache, made from the cases' volumes when missing; samples per split."""
    counts: dict[str, int] = {}
    for split in ("train", "validation", "test"):
        cases = [case for case in plan.cases if case.split == split]
        key = split_key(plan.cache_key, split)
        if not cases:
            continue
        if objects.exists(key):
            counts[split] = len(samples_from_bytes(objects.get(key)))
            say("INFO", f"{split}: {counts[split]} samples from the cache ({key})")
            continue
        samples: list[Sample] = []
        for n, case in enumerate(cases, start=1):
            report(n - 1, len(cases), f"preprocessing the {split} split: case {n}/{len(cases)}")
            image = read_volume(objects, case.image_key)
            mask = read_volume(objects, case.mask_key) if case.mask_key else None
            found = samples_from_volume(case.case_id, image, mask, case.label, settings, case.boxes)
            if not found:
                say("WARNING", f"case {case.case_id} gives no sample (no lesion in its mask)")
            samples.extend(found)
        objects.put(key, samples_to_bytes(samples))
        counts[split] = len(samples)
        say("INFO", f"{split}: {len(samples)} samples from {len(cases)} cases, cached")
    return counts


def box_defaults(objects: ObjectStore, key: str, plan: Plan, settings: RunSettings) -> tuple[Plan, RunSettings]:
    """The patch size and anchors a detection run left to its data, from its training boxes, written into the run's
    plans (this job's, and the run's first, which resumptions and the model's users read)."""
    resolved = with_box_defaults(settings, samples_from_bytes(objects.get(split_key(plan.cache_key, "train"))))
    say(
        "INFO",
        f"from the training boxes: patch size {list(resolved.preprocessing.size)}, "
        f"anchor shapes {[list(shape) for shape in resolved.detection.anchor_shapes]}",
    )
    plan = replace(plan, settings=resolved.canonical())
    objects.put(key, plan.to_json(), "application/json")
    first = Plan.from_json(objects.get(run_key(plan.run_id)))
    objects.put(run_key(plan.run_id), replace(first, settings=resolved.canonical()).to_json(), "application/json")
    return plan, resolved


def network_factory(
    objects: ObjectStore, plan: Plan, settings: RunSettings, in_channels: int, pretrained: bool = True
) -> Callable[[], nn.Module]:
    """Builds the run's network, starting from the pretrained weights the plan names (unless ``pretrained`` is
    False: the caller loads trained weights)."""
    custom = None
    if plan.custom:
        custom = CustomNetwork(plan.custom["format"], objects.get(plan.custom["object_key"]))  # type: ignore[arg-type]
    weights = None
    if pretrained and settings.pretrained.weights_key:
        weights = read_weights(objects.get(settings.pretrained.weights_key))
    elif pretrained and settings.pretrained.model_version:
        weights = read_weights(objects.get(f"{run_prefix(plan.run_id)}/pretrained.pt"))

    def make() -> nn.Module:
        network: nn.Module
        if plan.task == "detection":
            network = build_detector(
                settings.architecture,
                plan.spatial_dims,
                in_channels,
                len(plan.class_names),
                settings.preprocessing.shape,
                settings.detection.anchor_shapes,
            )
        else:
            network = build_network(
                "custom" if custom else settings.architecture,
                plan.spatial_dims,
                in_channels,
                plan.output_channels,
                settings.preprocessing.shape,
                custom,
            )
        if weights is not None:
            loaded = load_weights(network, weights)
            say("INFO", f"pretrained weights: {loaded.loaded} tensors loaded, {len(loaded.skipped)} left out")
        return network

    return make


def train_worker(config: Mapping[str, Any]) -> None:
    """What each Ray Train worker runs."""
    from radscholar_training.ray_session import RaySession

    objects = objects_from_environment()
    plan = Plan.from_json(objects.get(config["plan_key"]))
    settings = settings_of(plan)
    training = samples_from_bytes(objects.get(split_key(plan.cache_key, "train")))
    validation = samples_from_bytes(objects.get(split_key(plan.cache_key, "validation")))
    tracking = Tracking(os.environ[MLFLOW_ENV])
    session = RaySession(objects, plan.run_id, settings.epochs, tracking, config["mlflow_run"])
    make = network_factory(objects, plan, settings, training[0].image.shape[0])
    train(settings, training, validation, session, make)


def evaluate(
    plan: Plan, settings: RunSettings, network: nn.Module, split: str, samples: Sequence[Sample]
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Metrics of one split and its rows of the predictions table."""
    predictions = predict(settings, network, samples)
    cases = {case.case_id: case for case in plan.cases}

    def described(sample: Sample) -> dict[str, Any]:
        case = cases[sample.id.partition("#")[0]]  # a lesion's sample id is "<case id>#<n>"
        return {
            "sample_id": sample.id,
            "case_id": case.case_id,
            "patient_id": case.patient_id,
            "site": case.site,
            "split": split,
        }

    rows: list[dict[str, Any]] = []
    if plan.task == "classification":
        probabilities = np.stack(predictions)
        targets = np.stack([sample.target for sample in samples])
        found = scores.classification_metrics(probabilities, targets, settings.label_encoding == "multi-label")
        for sample, p in zip(samples, probabilities, strict=True):
            row = described(sample)
            if settings.label_encoding == "one-hot":
                row["target"] = plan.class_names[int(sample.target)]
                row["predicted"] = plan.class_names[int(np.argmax(p))]
            row.update({f"p_{name}": float(value) for name, value in zip(plan.class_names, p, strict=True)})
            rows.append(row)
    elif plan.task == "detection":
        found = detection_scores(settings, predictions, [sample.target for sample in samples], "")
        for sample, detected in zip(samples, predictions, strict=True):
            rows.extend({**described(sample), **row} for row in detection_rows(settings, plan, detected, sample.target))
    else:
        dice = [
            scores.dice_per_class(p, sample.target, plan.output_channels)
            for p, sample in zip(predictions, samples, strict=True)
        ]
        found = scores.segmentation_metrics(dice)
        for sample, per_class in zip(samples, dice, strict=True):
            classes = {f"dice_{n}": float(d) for n, d in zip(plan.class_names, per_class, strict=True)}
            rows.append({**described(sample), **classes})
    return {f"{split}_{name}": value for name, value in found.items()}, rows


def detection_rows(settings: RunSettings, plan: Plan, detected: np.ndarray, truths: np.ndarray) -> list[dict[str, Any]]:
    """One scan's lesions (found or missed, with the score of the detection that found it, 0 when missed) and its
    false positives, matched at ``detection.iou_threshold`` whatever their classes: a lesion-level score table."""
    corners = 2 * settings.spatial_dims
    matching = match(detected[:, :corners], detected[:, corners], truths[:, :corners], settings.detection.iou_threshold)
    rows = []
    for n, truth in enumerate(truths):
        by = int(matching.matched_prediction[n])
        rows.append(
            {
                "lesion": n + 1,
                "target": plan.class_names[int(truth[corners])],
                "box": _box_text(truth[:corners]),
                "hit": by >= 0,
                "score": float(detected[by, corners]) if by >= 0 else 0.0,
                "predicted": plan.class_names[int(detected[by, corners + 1])] if by >= 0 else "",
            }
        )
    for k in np.flatnonzero(~matching.prediction_hit):
        rows.append(
            {
                "lesion": "",
                "target": "",
                "box": _box_text(detected[k, :corners]),
                "hit": False,
                "score": float(detected[k, corners]),
                "predicted": plan.class_names[int(detected[k, corners + 1])],
            }
        )
    return rows


def _box_text(corners: np.ndarray) -> str:
    return " ".join(f"{value:.1f}" for value in corners)


def csv_bytes(rows: Sequence[Mapping[str, Any]]) -> bytes:
    buffer = io.StringIO()
    names = list(dict.fromkeys(name for row in rows for name in row))
    writer = csv.DictWriter(buffer, fieldnames=names)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def main(plan_key: str) -> int:
    import ray
    from ray.train import FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    objects = objects_from_environment()
    plan = Plan.from_json(objects.get(plan_key))
    settings = settings_of(plan)
    tracking = Tracking(os.environ[MLFLOW_ENV])
    try:
        counts = prepare_samples(objects, plan, settings)
    except DomainError as error:
        say("ERROR", f"{error.reason}: {error}")
        return 1
    if not counts.get("train") or not counts.get("validation"):
        say("ERROR", "the train and validation splits must each give samples")
        return 1
    if plan.task == "detection" and not (settings.preprocessing.size and settings.detection.anchor_shapes):
        try:
            plan, settings = box_defaults(objects, plan_key, plan, settings)
        except DomainError as error:
            say("ERROR", f"{error.reason}: {error}")
            return 1
    params = {**settings.flat_params(), **{f"dataset.{k}": v for k, v in plan.dataset.items()}}
    tags = {"radscholar.run_id": plan.run_id, "radscholar.job_id": plan.job_id, "created_by": plan.created_by}
    mlflow_run = tracking.start_run(plan.experiment, plan.run_id, params, tags)
    if settings.pretrained.model_version and not objects.exists(f"{run_prefix(plan.run_id)}/pretrained.pt"):
        name, _, number = settings.pretrained.model_version.rpartition("/")
        buffer = io.BytesIO()
        torch.save(tracking.load_state_dict(name, int(number)), buffer)
        objects.put(f"{run_prefix(plan.run_id)}/pretrained.pt", buffer.getvalue())
    ray.init()
    gpus = ray.cluster_resources().get("GPU", 0)
    use_gpu = gpus >= settings.workers
    say("INFO", f"{settings.workers} Ray Train worker(s) on {'GPU' if use_gpu else 'CPU'}; {counts} samples")
    trainer = TorchTrainer(
        train_worker,
        train_loop_config={"plan_key": plan_key, "mlflow_run": mlflow_run},
        scaling_config=ScalingConfig(num_workers=settings.workers, use_gpu=use_gpu),
        run_config=RunConfig(
            name=plan.job_id, failure_config=FailureConfig(max_failures=int(os.environ.get(MAX_FAILURES_ENV, "3")))
        ),
    )
    try:
        trainer.fit()
    except Exception as error:  # Ray Train's TrainingFailedError and what led to it
        say("ERROR", f"training failed: {error}")
        tracking.end_run(mlflow_run, "FAILED")
        return 1
    return finish_run(objects, plan, settings, tracking, mlflow_run)


def finish_run(objects: ObjectStore, plan: Plan, settings: RunSettings, tracking: Tracking, mlflow_run: str) -> int:
    from radscholar_training.ray_session import read_state

    report(0, 1, "evaluating the best checkpoint")
    last = read_state(objects, checkpoint_key(plan.run_id))
    if last is None:
        say("ERROR", "the run left no checkpoint")
        return 1
    tracker = last["tracker"]
    best_epoch = int(tracker["best_epoch"]) or int(last["epoch"])
    history = [EpochReport.from_dict(entry) for entry in tracker["history"]]
    splits = {
        s: samples_from_bytes(objects.get(split_key(plan.cache_key, s)))
        for s in ("validation", "test")
        if objects.exists(split_key(plan.cache_key, s))
    }
    in_channels = splits["validation"][0].image.shape[0]
    network = network_factory(objects, plan, settings, in_channels, pretrained=False)()
    network.load_state_dict(tracker["best_state"] or last["model"])
    measured: dict[str, float] = {}
    rows: list[dict[str, Any]] = []
    for split, samples in splits.items():
        found, split_rows = evaluate(plan, settings, network, split, samples)
        measured.update(found)
        rows.extend(split_rows)
    predictions_key = f"{run_prefix(plan.run_id)}/predictions.csv"
    table = csv_bytes(rows)
    objects.put(predictions_key, table, "text/csv")
    tracking.log_artifact_bytes(mlflow_run, "predictions.csv", table)
    tracking.log_artifact_bytes(mlflow_run, "settings.json", json.dumps(settings.canonical(), indent=2).encode())
    tracking.log_artifact_bytes(mlflow_run, "history.csv", csv_bytes([_history_row(entry) for entry in history]))
    tracking.log_artifact_bytes(mlflow_run, "curves.png", curves_png(history))
    tracking.log_epoch(mlflow_run, int(best_epoch), {f"best_{k}": v for k, v in measured.items()})
    tags = {
        "run_id": plan.run_id,
        "task": plan.task,
        "architecture": plan.custom.get("id", settings.architecture) if plan.custom else settings.architecture,
        "spatial_dims": str(plan.spatial_dims),
        "in_channels": str(in_channels),
        "out_channels": str(plan.output_channels),
        "patch_size": "x".join(str(side) for side in settings.preprocessing.shape),
        **({"anchor_shapes": json.dumps(settings.detection.anchor_shapes)} if plan.task == "detection" else {}),
        "class_names": json.dumps(list(plan.class_names)),
        "best_epoch": str(best_epoch),
        "monitor": settings.monitor,
        "created_by": plan.created_by,
        **plan.dataset,
        **({"custom_key": plan.custom["object_key"], "custom_format": plan.custom["format"]} if plan.custom else {}),
        **{name: f"{value:.6g}" for name, value in measured.items()},
    }
    # A detector's output (boxes per image) has no tensor signature: MLflow stores it without an example.
    example = (
        None if plan.task == "detection" else np.zeros((1, in_channels, *settings.preprocessing.shape), np.float32)
    )
    description = f"{plan.task} of {', '.join(plan.class_names)}; best epoch {best_epoch} by {settings.monitor}"
    version = tracking.register(mlflow_run, plan.model_name, network, example, tags, description)
    tracking.end_run(mlflow_run, "FINISHED")
    outcome = {
        "run_id": plan.run_id,
        "mlflow_run_id": mlflow_run,
        "model_name": version.name,
        "model_version": str(version.version),
        "best_epoch": str(best_epoch),
        "epochs_trained": str(last["epoch"]),
        "predictions_csv": predictions_key,
        **{name: f"{value:.6g}" for name, value in measured.items()},
    }
    objects.put(outcome_key(plan.job_id), json.dumps(outcome).encode(), "application/json")
    say(
        "INFO",
        f"registered {version.name} version {version.version}: "
        + ", ".join(f"{k} {v:.4g}" for k, v in measured.items()),
    )
    done()
    return 0


def _history_row(entry: EpochReport) -> dict[str, Any]:
    return {
        "epoch": entry.epoch,
        "train_loss": entry.train_loss,
        "learning_rate": entry.learning_rate,
        "samples_per_second": entry.samples_per_second,
        "seconds": entry.seconds,
        **entry.metrics,
    }


def curves_png(history: Sequence[EpochReport]) -> bytes:
    """The loss curves and the validation metrics by epoch."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, (losses, others) = plt.subplots(1, 2, figsize=(10, 4))
    epochs = [entry.epoch for entry in history]
    losses.plot(epochs, [entry.train_loss for entry in history], label="train loss")
    validated = [(entry.epoch, entry.metrics) for entry in history if entry.metrics]
    if validated:
        losses.plot(
            [e for e, _ in validated], [m.get("val_loss", np.nan) for _, m in validated], label="validation loss"
        )
        for name in sorted({name for _, m in validated for name in m} - {"val_loss"}):
            others.plot([e for e, _ in validated], [m.get(name, np.nan) for _, m in validated], marker="o", label=name)
    for axes, title in ((losses, "loss"), (others, "validation")):
        axes.set_xlabel("epoch")
        axes.set_title(title)
        axes.legend()
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return buffer.getvalue()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.stderr.write("usage: python -m radscholar_training.run PLAN_KEY\n")
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
