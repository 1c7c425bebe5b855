"""One series through a model version: the prediction, its explanation as a PNG, and the DICOM a viewer opens.

Model versions are loaded once (weights from MLflow, the network and settings from the run that trained them) and
kept for the next request, the most recently used few.
"""

from __future__ import annotations

import io
import tempfile
import threading
import time
import uuid
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import pydicom
import SimpleITK as sitk
from torch import nn

from radscholar_core.errors import InvalidArgument
from radscholar_core.objectstore import ObjectStore
from radscholar_training.adapters.tracking import Tracking
from radscholar_training.domain.explain import (
    grad_cam,
    overlay_png,
    png_pixels,
    secondary_capture,
    segmentation_dicom,
)
from radscholar_training.domain.loop import predict
from radscholar_training.domain.plan import Plan
from radscholar_training.domain.preprocess import Sample, prepared, samples_from_volume
from radscholar_training.domain.settings import RunSettings, parse_settings
from radscholar_training.jobs import TrainingJobs
from radscholar_training.run import network_factory

LOADED = 4  # model versions kept in memory


@dataclass(frozen=True)
class Loaded:
    name: str
    version: int
    plan: Plan
    settings: RunSettings
    network: nn.Module


@dataclass
class Prediction:
    probabilities: dict[str, float] = field(default_factory=dict)
    predicted_class: str = ""
    volumes: dict[str, float] = field(default_factory=dict)
    overlay_key: str = ""
    dicom_key: str = ""
    seconds: float = 0.0


class Predictor:
    def __init__(self, objects: ObjectStore, tracking: Tracking, runs: TrainingJobs) -> None:
        self._objects = objects
        self._tracking = tracking
        self._runs = runs
        self._loaded: OrderedDict[tuple[str, int], Loaded] = OrderedDict()
        self._lock = threading.Lock()

    def _model(self, name: str, version: int) -> Loaded:
        with self._lock:
            if (name, version) in self._loaded:
                self._loaded.move_to_end((name, version))
                return self._loaded[(name, version)]
        found = self._tracking.version(name, version)
        plan = self._runs.plan_of(found.tags.get("run_id", ""))
        settings = parse_settings(plan.task, plan.spatial_dims, plan.settings)
        in_channels = int(found.tags["in_channels"])
        network = network_factory(self._objects, plan, settings, in_channels, pretrained=False)()
        network.load_state_dict(self._tracking.load_state_dict(name, version))
        network.eval()
        loaded = Loaded(name, version, plan, settings, network)
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
        if model.settings.preprocessing.crop == "lesion":
            raise InvalidArgument(
                f"{name} version {version} classifies lesions: it needs their masks, not a whole series",
                reason="NEEDS_LESION_MASKS",
            )
        image = _read_volume(self._objects.get(volume_key))
        classes = list(model.plan.class_names)
        out = f"training/predictions/{uuid.uuid4().hex}"
        found = Prediction()
        if model.plan.task == "classification":
            [sample] = samples_from_volume("series", image, None, 0, model.settings)
            [probabilities] = predict(model.settings, model.network, [sample])
            chosen = int(np.argmax(probabilities))
            found.probabilities = {c: float(p) for c, p in zip(classes, probabilities, strict=True)}
            found.predicted_class = classes[chosen]
            heat = grad_cam(model.network, sample.image, chosen)
            title = f"{name} v{version}: {classes[chosen]} {probabilities[chosen]:.2f} (Grad-CAM)"
            png = overlay_png(sample.image[0], heat, "heat", title=title, spacing=sample.spacing)
            if headers_key:
                first = _datasets(self._objects.get(headers_key))[0]
                dicom = secondary_capture(png_pixels(png), first, title)
        else:
            pixels, grid = prepared(image, model.settings)
            [labels] = predict(model.settings, model.network, [Sample("series", pixels, np.zeros(0), ())])
            mask = _onto_image(labels, grid, image)
            voxel = float(np.prod(image.GetSpacing())) / (1000.0 if image.GetDimension() == 3 else 1.0)
            found.volumes = {c: float((mask == k).sum()) * voxel for k, c in enumerate(classes, start=1)}
            title = f"{name} v{version}: " + ", ".join(f"{c} {v:.2f}" for c, v in found.volumes.items())
            original = sitk.GetArrayFromImage(image).astype(np.float32)
            png = overlay_png(original, mask, "mask", class_names=classes, title=title)
            if headers_key:
                series = _datasets(self._objects.get(headers_key))
                dicom = segmentation_dicom(mask.reshape(-1, *mask.shape[-2:]), series, classes, (name, str(version)))
        found.overlay_key = f"{out}/overlay.png"
        self._objects.put(found.overlay_key, png, "image/png")
        if headers_key:
            found.dicom_key = f"{out}/{'seg' if model.plan.task == 'segmentation' else 'sc'}.dcm"
            self._objects.put(found.dicom_key, dicom, "application/dicom")
        found.seconds = time.perf_counter() - began
        return found


def _read_volume(data: bytes) -> sitk.Image:
    with tempfile.NamedTemporaryFile(suffix=".nii.gz") as file:
        file.write(data)
        file.flush()
        return sitk.ReadImage(file.name)


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
