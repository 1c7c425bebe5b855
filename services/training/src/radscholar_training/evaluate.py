"""The Ray driver of a model test: ``python -m radscholar_training.evaluate <evaluation key>``.

Preprocesses the dataset version's cases as the model's run did (or takes them from the same cache), runs the
registered model version on them, and writes the report (metrics with confidence intervals, per-site breakdown,
per-case table), its plots and the predictions table; the report is also kept with the model version's MLflow run.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import numpy as np

from radscholar_core.errors import DomainError
from radscholar_core.job_driver import done, objects_from_environment, report, say
from radscholar_training.adapters.tracking import Tracking
from radscholar_training.domain import evaluation as reports
from radscholar_training.domain.loop import outline, predict
from radscholar_training.domain.plan import Evaluation, evaluation_prefix, outcome_key, split_key
from radscholar_training.domain.preprocess import INSTANCE_SEGMENTATION, Sample, class_map, samples_from_bytes
from radscholar_training.run import (
    MLFLOW_ENV,
    csv_bytes,
    detection_rows,
    network_factory,
    prepare_samples,
    settings_of,
)

SPLITS = ("train", "validation", "test")


def main(key: str) -> int:
    objects = objects_from_environment()
    evaluation = Evaluation.from_json(objects.get(key))
    plan = evaluation.plan
    settings = settings_of(plan)
    tracking = Tracking(os.environ[MLFLOW_ENV])
    try:
        prepare_samples(objects, plan, settings)
    except DomainError as error:
        say("ERROR", f"{error.reason}: {error}")
        return 1
    present = {case.split for case in plan.cases}
    samples: list[Sample] = []
    for split in SPLITS:
        if split in present:
            samples.extend(samples_from_bytes(objects.get(split_key(plan.cache_key, split))))
    if not samples:
        say("ERROR", "the cases tested give no sample")
        return 1
    report(0, 1, f"testing {evaluation.model_name} version {evaluation.model_version} on {len(samples)} samples")
    version = tracking.version(evaluation.model_name, evaluation.model_version)
    network = network_factory(objects, plan, settings, samples[0].image.shape[0], pretrained=False)()
    network.load_state_dict(tracking.load_state_dict(evaluation.model_name, evaluation.model_version))
    predictions = predict(settings, network, samples)
    cases = {case.case_id: case for case in plan.cases}
    case_of = [cases[sample.id.partition("#")[0]] for sample in samples]  # a lesion's sample id is "<case>#<n>"
    sites = [case.site for case in case_of]
    rows: list[dict[str, Any]] = [
        {"sample_id": s.id, "case_id": c.case_id, "patient_id": c.patient_id, "site": c.site, "split": c.split}
        for s, c in zip(samples, case_of, strict=True)
    ]
    if plan.task == "classification":
        probabilities = np.stack(predictions)
        targets = np.stack([sample.target for sample in samples]).astype(np.int64)
        found = reports.classification_report(probabilities, targets, plan.class_names, sites, evaluation.threshold)
        for row, sample, p in zip(rows, samples, probabilities, strict=True):
            row["target"] = plan.class_names[int(sample.target)]
            row.update({f"p_{name}": float(value) for name, value in zip(plan.class_names, p, strict=True)})
    elif plan.task == "detection":
        corners = 2 * plan.spatial_dims
        found = reports.detection_report(
            [(p[:, :corners], p[:, corners], p[:, corners + 1].astype(np.int64)) for p in predictions],
            [(s.target[:, :corners], s.target[:, corners].astype(np.int64)) for s in samples],
            plan.class_names,
            [sample.id for sample in samples],
            sites,
            [sample.spacing[::-1] for sample in samples],
            settings.detection.iou_threshold,
        )
        if settings.architecture in INSTANCE_SEGMENTATION:  # and how well it outlines what it finds
            found["outlines"] = reports.segmentation_report(
                [outline(network, sample, reports.DETECTION_OPERATING_THRESHOLD) for sample in samples],
                [class_map(sample) for sample in samples],
                [sample.spacing for sample in samples],
                plan.class_names,
                [sample.id for sample in samples],
                sites,
            )
        rows = [
            {**row, **lesion}
            for row, sample, p in zip(rows, samples, predictions, strict=True)
            for lesion in detection_rows(settings, plan, p, sample.target)
        ]
    else:
        found = reports.segmentation_report(
            predictions,
            [sample.target for sample in samples],
            [sample.spacing for sample in samples],
            plan.class_names,
            [sample.id for sample in samples],
            sites,
        )
    prefix = evaluation_prefix(plan.job_id)
    headline = reports.headline(found)
    document = {
        "model": {"name": version.name, "version": version.version, "run_id": version.run_id},
        "dataset": dict(plan.dataset),
        "split": evaluation.split,
        "samples": len(samples),
        "task": plan.task,
        "headline": headline,
        "report": found,
    }
    report_json = json.dumps(document, allow_nan=False, default=_jsonable).encode()
    objects.put(f"{prefix}/report.json", report_json)
    objects.put(f"{prefix}/predictions.csv", csv_bytes(rows), "text/csv")
    plots = []
    for name in reports.plot_names(found):
        objects.put(f"{prefix}/{name}.png", reports.draw(name, found), "image/png")
        plots.append(name)
    tracking.log_artifact_bytes(version.run_id, f"evaluations/{plan.job_id}/report.json", report_json)
    outcome = {
        "evaluation_id": plan.job_id,
        "model_name": version.name,
        "model_version": str(version.version),
        "dataset_id": plan.dataset["dataset_id"],
        "split": evaluation.split,
        "samples": str(len(samples)),
        "plots": ",".join(plots),
        **{name: f"{value:.6g}" for name, value in headline.items()},
    }
    objects.put(outcome_key(plan.job_id), json.dumps(outcome).encode(), "application/json")
    say("INFO", "tested: " + ", ".join(f"{k} {v}" for k, v in outcome.items() if k not in ("plots", "evaluation_id")))
    done()
    return 0


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.stderr.write("usage: python -m radscholar_training.evaluate EVALUATION_KEY\n")
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
