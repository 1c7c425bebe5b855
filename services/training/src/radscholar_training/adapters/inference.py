"""One series through a model version: the prediction, its explanation as a PNG, and the DICOM a viewer opens.

Model versions are loaded once (weights from MLflow, the network and settings from the run that trained them) and
kept for the next request, the most recently used few.
"""

from __future__ import annotations

import io
import threading
import time
import uuid
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pydicom
import SimpleITK as sitk
from torch import nn

from radscholar_core.errors import FailedPrecondition, InvalidArgument, NotFound
from radscholar_core.objectstore import ObjectStore
from radscholar_training.adapters.tracking import Tracking
from radscholar_training.domain.explain import (
    grad_cam,
    overlay_png,
    png_pixels,
    secondary_capture,
    segmentation_dicom,
)
from radscholar_training.domain.loop import outline, predict
from radscholar_training.domain.plan import Plan, run_key
from radscholar_training.domain.preprocess import (
    INSTANCE_SEGMENTATION,
    Sample,
    prepared,
    regrid_boxes,
    samples_from_volume,
)
from radscholar_training.domain.settings import RunSettings, parse_settings
from radscholar_training.run import network_factory, read_volume

LOADED = 4  # model versions kept in memory


@dataclass(frozen=True)
class Loaded:
    name: str
    version: int
    plan: Plan
    settings: RunSettings
    network: nn.Module


SHOWN_SCORE = 0.5  # detections drawn, written as DICOM and offered as pre-labels: those scoring at least this


@dataclass(frozen=True)
class Detection:
    """A box a detector found: corners on the image's voxel edges, index order (x, y[, z])."""

    class_name: str
    score: float
    min: tuple[float, ...]
    max: tuple[float, ...]


@dataclass
class Prediction:
    probabilities: dict[str, float] = field(default_factory=dict)
    predicted_class: str = ""
    volumes: dict[str, float] = field(default_factory=dict)
    detections: list[Detection] = field(default_factory=list)
    overlay_key: str = ""
    dicom_key: str = ""
    seconds: float = 0.0


def load_model(objects: ObjectStore, tracking: Tracking, name: str, version: int) -> Loaded:
    """A registered model version, ready to predict: the network of the run that trained it, with its weights."""
    found = tracking.version(name, version)
    try:
        plan = Plan.from_json(objects.get(run_key(found.tags.get("run_id", ""))))
    except NotFound:
        raise FailedPrecondition(
            f"{name} version {version} was not trained by a run of this platform", reason="RUN_NOT_FOUND"
        ) from None
    settings = parse_settings(plan.task, plan.spatial_dims, plan.settings)
    if settings.preprocessing.crop == "lesion":
        raise InvalidArgument(
            f"{name} version {version} classifies lesions: it needs their masks, not a whole series",
            reason="NEEDS_LESION_MASKS",
        )
    network = network_factory(objects, plan, settings, int(found.tags["in_channels"]), pretrained=False)()
    network.load_state_dict(tracking.load_state_dict(name, version))
    network.eval()
    return Loaded(name, version, plan, settings, network)


@dataclass(frozen=True)
class Found:
    """What a model found in one image: probabilities (classification), a class map on the image's grid
    (segmentation) or boxes (detection, every one the detector gives, by descending score)."""

    probabilities: dict[str, float]
    predicted_class: str
    mask: np.ndarray | None  # segmentation: (z, y, x) or (y, x) class map
    volumes: dict[str, float]
    sample: Sample | None  # classification: what the network saw (for its explanation)
    detections: tuple[Detection, ...] = ()


def run_model(model: Loaded, image: sitk.Image) -> Found:
    """One image through the model, preprocessed as its run did."""
    classes = list(model.plan.class_names)
    if model.plan.task == "classification":
        [sample] = samples_from_volume("series", image, None, 0, model.settings)
        [probabilities] = predict(model.settings, model.network, [sample])
        chosen = int(np.argmax(probabilities))
        scores = {c: float(p) for c, p in zip(classes, probabilities, strict=True)}
        return Found(scores, classes[chosen], None, {}, sample)
    pixels, grid = prepared(image, model.settings)
    if model.plan.task == "detection":
        dims = model.plan.spatial_dims
        empty = np.zeros((0, 2 * dims + 1), dtype=np.float32)
        [found] = predict(model.settings, model.network, [Sample("series", pixels, empty, ())])
        source = image if image.GetDimension() == dims else image[:, :, 0]  # a single-slice volume, 2D model
        corners = regrid_boxes(found[:, : 2 * dims], grid, source)
        detections = tuple(
            Detection(classes[int(row[2 * dims + 1])], float(row[2 * dims]), tuple(box[:dims]), tuple(box[dims:]))
            for row, box in sorted(
                zip(found, corners.tolist(), strict=True), key=lambda pair: -float(pair[0][2 * dims])
            )
        )
        mask, volumes = None, {}
        if model.settings.architecture in INSTANCE_SEGMENTATION:  # the outlines of the lesions shown
            labels = outline(model.network, Sample("series", pixels, empty, ()), SHOWN_SCORE)
            mask, volumes = _onto_image(labels, grid, image), _volumes(labels, grid, classes)
        return Found({}, "", mask, volumes, None, detections)
    [labels] = predict(model.settings, model.network, [Sample("series", pixels, np.zeros(0), ())])
    mask = _onto_image(labels, grid, image)
    return Found({}, "", mask, _volumes(mask, image, classes), None)


def _volumes(labels: np.ndarray, grid: sitk.Image, classes: list[str]) -> dict[str, float]:
    """Each class's volume (mL; mm² in 2D) in a class map on ``grid``."""
    voxel = float(np.prod(grid.GetSpacing())) / (1000.0 if grid.GetDimension() == 3 else 1.0)
    return {c: float((labels == k).sum()) * voxel for k, c in enumerate(classes, start=1)}


class Predictor:
    def __init__(self, objects: ObjectStore, tracking: Tracking) -> None:
        self._objects = objects
        self._tracking = tracking
        self._loaded: OrderedDict[tuple[str, int], Loaded] = OrderedDict()
        self._lock = threading.Lock()

    def _model(self, name: str, version: int) -> Loaded:
        with self._lock:
            if (name, version) in self._loaded:
                self._loaded.move_to_end((name, version))
                return self._loaded[(name, version)]
        loaded = load_model(self._objects, self._tracking, name, version)
        with self._lock:
            self._loaded[(name, version)] = loaded
            while len(self._loaded) > LOADED:
                self._loaded.popitem(last=False)
        return loaded

    def predict(self, name: str, version: int, volume_key: str, headers_key: str | None) -> Prediction:
        """The model version on one exported volume; with ``headers_key`` (the series' DICOM headers, zipped) also
        a DICOM SEG (segmentation) or a Secondary Capture of the heat map (classification)."""
        began = time.perf_counter()
        model = self._model(name, version)
        image = read_volume(self._objects, volume_key)
        classes = list(model.plan.class_names)
        found = run_model(model, image)
        result = Prediction(found.probabilities, found.predicted_class, found.volumes, list(found.detections))
        if model.plan.task == "detection":
            shown = [d for d in found.detections if d.score >= SHOWN_SCORE]
            title = f"{name} v{version}: {len(shown)} finding{'s' * (len(shown) != 1)} scoring {SHOWN_SCORE} or more"
            original = sitk.GetArrayFromImage(image).astype(np.float32)
            # explain's boxes are inclusive voxel indices; detections are voxel edges
            boxes: list[Any] = [
                (*d.min, *(v - 1.0 for v in d.max), d.score, classes.index(d.class_name)) for d in shown
            ]
            png = overlay_png(original, found.mask, "mask", class_names=classes, boxes=boxes, title=title)
            if headers_key and found.mask is not None:  # outlines: a SEG
                series = _datasets(self._objects.get(headers_key))
                dicom = segmentation_dicom(
                    found.mask.reshape(-1, *found.mask.shape[-2:]), series, classes, (name, str(version))
                )
            elif headers_key:
                first = _datasets(self._objects.get(headers_key))[0]
                dicom = secondary_capture(png_pixels(png), first, title)
        elif found.sample is not None:
            chosen = classes.index(found.predicted_class)
            heat = grad_cam(model.network, found.sample.image, chosen)
            score = found.probabilities[found.predicted_class]
            title = f"{name} v{version}: {found.predicted_class} {score:.2f} (Grad-CAM)"
            png = overlay_png(found.sample.image[0], heat, "heat", title=title, spacing=found.sample.spacing)
            if headers_key:
                first = _datasets(self._objects.get(headers_key))[0]
                dicom = secondary_capture(png_pixels(png), first, title)
        else:
            assert found.mask is not None
            title = f"{name} v{version}: " + ", ".join(f"{c} {v:.2f}" for c, v in found.volumes.items())
            original = sitk.GetArrayFromImage(image).astype(np.float32)
            png = overlay_png(original, found.mask, "mask", class_names=classes, title=title)
            if headers_key:
                series = _datasets(self._objects.get(headers_key))
                mask = found.mask.reshape(-1, *found.mask.shape[-2:])
                dicom = segmentation_dicom(mask, series, classes, (name, str(version)))
        out = f"training/predictions/{uuid.uuid4().hex}"
        result.overlay_key = f"{out}/overlay.png"
        self._objects.put(result.overlay_key, png, "image/png")
        if headers_key:
            result.dicom_key = f"{out}/{'seg' if found.mask is not None else 'sc'}.dcm"
            self._objects.put(result.dicom_key, dicom, "application/dicom")
        result.seconds = time.perf_counter() - began
        return result


def _onto_image(labels: np.ndarray, grid: sitk.Image, image: sitk.Image) -> np.ndarray:
    """A class map on the network's grid, brought onto the image's own grid (nearest neighbour)."""
    on_grid = sitk.GetImageFromArray(labels.astype(np.uint8))
    on_grid.CopyInformation(grid)
    if image.GetDimension() != grid.GetDimension():  # a single-slice volume run through a 2D model
        return labels.astype(np.uint8)[None]
    back = sitk.Resample(on_grid, image, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    return sitk.GetArrayFromImage(back)


def _datasets(zipped: bytes) -> list[pydicom.Dataset]:
    with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
        return [pydicom.dcmread(io.BytesIO(archive.read(name))) for name in sorted(archive.namelist())]
