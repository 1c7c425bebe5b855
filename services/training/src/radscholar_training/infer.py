"""The Ray driver of a batch prediction: ``python -m radscholar_training.infer <batch key>``.

Runs a model version on every series of the batch (progress by series), and writes the predictions table: one row
per series with its study, the predicted class and each class's probability (classification), each class's
volume with the mask as NIfTI (segmentation), or the number of findings scoring ``SHOWN_SCORE`` or more and the best
score (detection). The table's ``study_instance_uid,class`` columns (classification), or the boxes in labeling's boxes
JSON with their scores (detection, those above the score the researcher picks), are what labeling imports as the
model's pre-labels.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import SimpleITK as sitk

from radscholar_core.errors import DomainError
from radscholar_core.job_driver import done, objects_from_environment, report, say
from radscholar_training.adapters.inference import SHOWN_SCORE, load_model, run_model
from radscholar_training.adapters.tracking import Tracking
from radscholar_training.domain.plan import BatchPrediction, inference_prefix, outcome_key
from radscholar_training.run import MLFLOW_ENV, csv_bytes, read_volume


def main(key: str) -> int:
    objects = objects_from_environment()
    batch = BatchPrediction.from_json(objects.get(key))
    prefix = inference_prefix(batch.job_id)
    try:
        model = load_model(objects, Tracking(os.environ[MLFLOW_ENV]), batch.model_name, batch.model_version)
    except DomainError as error:
        say("ERROR", f"{error.reason}: {error}")
        return 1
    rows: list[dict[str, Any]] = []
    boxes: list[dict[str, Any]] = []  # detection: every box, in labeling's boxes JSON with its score: the pre-labels
    for n, series in enumerate(batch.series, start=1):
        report(n - 1, len(batch.series), f"series {n}/{len(batch.series)}")
        image = read_volume(objects, series.image_key)
        found = run_model(model, image)
        row: dict[str, Any] = {
            "study_instance_uid": series.study_instance_uid,
            "series_instance_uid": series.series_instance_uid,
        }
        if model.plan.task == "detection":
            row["findings"] = sum(d.score >= SHOWN_SCORE for d in found.detections)
            row["best_score"] = found.detections[0].score if found.detections else 0.0
            boxes.extend(
                {
                    "study_instance_uid": series.study_instance_uid,
                    "series_instance_uid": series.series_instance_uid,
                    "class": d.class_name,
                    "score": d.score,
                    "min": list(d.min),
                    "max": list(d.max),
                }
                for d in found.detections
            )
        elif found.mask is None:
            row["class"] = found.predicted_class
            row.update({f"p_{name}": value for name, value in found.probabilities.items()})
        else:
            mask = sitk.GetImageFromArray(found.mask)
            mask_key = f"{prefix}/masks/{series.series_instance_uid}.nii.gz"
            objects.put(mask_key, _nifti(mask, image))
            row.update({f"volume_{name}": value for name, value in found.volumes.items()})
            row["mask_key"] = mask_key
        rows.append(row)
    table = f"{prefix}/predictions.csv"
    objects.put(table, csv_bytes(rows), "text/csv")
    outcome = {
        "predictions_csv": table,
        "model_name": batch.model_name,
        "model_version": str(batch.model_version),
        "series": str(len(rows)),
        "task": model.plan.task,
    }
    if model.plan.task == "detection":
        outcome["boxes_json"] = f"{prefix}/boxes.json"
        objects.put(outcome["boxes_json"], json.dumps({"boxes": boxes}).encode(), "application/json")
    objects.put(outcome_key(batch.job_id), json.dumps(outcome).encode(), "application/json")
    say("INFO", f"{len(rows)} series predicted by {batch.model_name} version {batch.model_version}")
    done()
    return 0


def _nifti(mask: sitk.Image, reference: sitk.Image) -> bytes:
    """The mask on the reference's grid, as gzipped NIfTI."""
    mask.CopyInformation(reference)
    with tempfile.NamedTemporaryFile(suffix=".nii.gz") as file:
        sitk.WriteImage(sitk.Cast(mask, sitk.sitkUInt8), file.name)
        return Path(file.name).read_bytes()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.stderr.write("usage: python -m radscholar_training.infer BATCH_KEY\n")
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
