"""Trying one image: Grad-CAM maps, overlay figures, and the DICOM SEG and Secondary Capture a viewer opens."""

from __future__ import annotations

import io
import random
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
import torch
from PIL import Image
from PIL.PngImagePlugin import PngImageFile
from pydicom.dataset import Dataset
from torch import nn

import radscholar_phantoms
from radscholar_core.errors import FailedPrecondition, InvalidArgument
from radscholar_labeling.domain.masks import read_seg
from radscholar_training.domain.explain import (
    cam_layer,
    grad_cam,
    overlay_png,
    png_pixels,
    secondary_capture,
    segmentation_dicom,
)
from radscholar_training.domain.networks import build_network

torch.set_num_threads(1)

SEG_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
SC_STORAGE = "1.2.840.10008.5.1.4.1.1.7"


# --- Grad-CAM --------------------------------------------------------------------------------------------------------

CLASSIFIERS = [
    pytest.param("resnet18", 2, 32, "layer4", id="resnet18-2d"),
    pytest.param("resnet34", 2, 32, "layer4", id="resnet34-2d"),
    pytest.param("resnet50", 2, 32, "layer4", id="resnet50-2d"),
    pytest.param("densenet121", 2, 32, "class_layers.relu", id="densenet121-2d"),
    pytest.param("densenet169", 2, 32, "class_layers.relu", id="densenet169-2d"),
    pytest.param("efficientnet-b0", 2, 64, "_bn1", id="efficientnet-b0-2d"),
    pytest.param("inception_v3", 2, 80, "network.Mixed_7c", id="inception_v3-2d"),
    pytest.param("resnet18", 3, 32, "layer4", id="resnet18-3d"),
    pytest.param("densenet121", 3, 32, "class_layers.relu", id="densenet121-3d"),
]


def hooks_of(network: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._backward_hooks) + len(m._forward_pre_hooks) for m in network.modules())


@pytest.mark.parametrize(("architecture", "dims", "side", "layer"), CLASSIFIERS)
def test_grad_cam_explains_every_zoo_classifier(architecture: str, dims: int, side: int, layer: str) -> None:
    torch.manual_seed(0)
    network = build_network(architecture, dims, 1, 2, (side,) * dims)
    network.train()
    # Positive class weights on the non-negative features: every class then has evidence somewhere.
    head = [m for m in network.modules() if isinstance(m, nn.Linear)][-1]
    with torch.no_grad():
        head.weight.abs_()
    before = {name: tensor.clone() for name, tensor in network.state_dict().items()}
    image = np.random.default_rng(0).normal(size=(1,) + (side,) * dims).astype(np.float32)
    image[(0,) + (slice(side // 4, side // 2),) * dims] += 3.0

    assert cam_layer(network) == layer
    maps = [grad_cam(network, image, c) for c in range(2)]

    for heat in maps:
        assert heat.shape == (side,) * dims
        assert heat.dtype == np.float32
        assert np.isfinite(heat).all() and heat.min() >= 0.0 and heat.max() <= 1.0
    assert all(heat.max() == pytest.approx(1.0) for heat in maps)
    # The network is left as it was: mode, weights, gradients, hooks, in-place flags.
    assert network.training
    assert hooks_of(network) == 0
    assert all(p.grad is None for p in network.parameters())
    assert all(torch.equal(before[name], tensor) for name, tensor in network.state_dict().items())
    if architecture.startswith("densenet"):
        assert dict(network.named_modules())["class_layers.relu"].inplace is True


class QuadrantScore(nn.Module):
    """Logits (mean, -mean) of a one-channel identity convolution: class 0 sees brightness, class 1 its absence."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, kernel_size=1, bias=False)
        with torch.no_grad():
            self.conv.weight.fill_(1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = torch.relu(self.conv(x)).mean(dim=(2, 3))
        return torch.cat([mean, -mean], dim=1)


def test_grad_cam_is_largest_where_the_evidence_is_and_zero_without_any() -> None:
    image = np.zeros((1, 24, 24), dtype=np.float32)
    image[0, 2:8, 14:20] = 1.0

    heat = grad_cam(QuadrantScore(), image, 0)
    against = grad_cam(QuadrantScore(), image, 1)

    assert cam_layer(QuadrantScore()) == "conv"
    peak = np.unravel_index(int(np.argmax(heat)), heat.shape)
    assert 2 <= peak[0] < 8 and 14 <= peak[1] < 20
    assert heat.max() == pytest.approx(1.0) and heat[20, 2] == pytest.approx(0.0)
    assert not against.any()


def test_grad_cam_refuses_what_it_cannot_explain() -> None:
    network = QuadrantScore()
    image = np.zeros((1, 8, 8), dtype=np.float32)
    with pytest.raises(InvalidArgument) as error:
        grad_cam(network, image, 5)
    assert error.value.reason == "UNKNOWN_CLASS"
    with pytest.raises(InvalidArgument) as error:
        grad_cam(network, image, 0, target_layer="nowhere")
    assert error.value.reason == "UNKNOWN_LAYER"
    with pytest.raises(InvalidArgument) as error:
        grad_cam(network, image[0], 0)
    assert error.value.reason == "INVALID_IMAGE"
    with pytest.raises(FailedPrecondition) as precondition:
        cam_layer(nn.Sequential(nn.Flatten(), nn.Linear(64, 2)))
    assert precondition.value.reason == "NOT_EXPLAINABLE"
    assert hooks_of(network) == 0


def test_grad_cam_works_under_no_grad_and_leaves_frozen_weights_frozen() -> None:
    network = QuadrantScore().eval().requires_grad_(False)
    image = np.ones((1, 8, 8), dtype=np.float32)
    with torch.no_grad():
        heat = grad_cam(network, image, 0)
    assert heat.shape == (8, 8) and heat.max() == pytest.approx(1.0)
    assert not network.training and not any(p.requires_grad for p in network.parameters())


# --- figures ---------------------------------------------------------------------------------------------------------


def title_of(png: bytes) -> str:
    with Image.open(io.BytesIO(png)) as picture:
        assert isinstance(picture, PngImageFile)
        return str(picture.text.get("Title", ""))


def test_heat_overlay_of_a_radiograph_is_a_png() -> None:
    rng = np.random.default_rng(1)
    image = rng.normal(100, 20, size=(64, 48))
    heat = np.zeros((64, 48))
    heat[10:20, 30:40] = 1.0

    png = overlay_png(image, heat, "heat", title="malignant 0.87")

    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert title_of(png) == "malignant 0.87"
    pixels = png_pixels(png)
    assert pixels.ndim == 3 and pixels.shape[2] == 3 and pixels.dtype == np.uint8
    plain = png_pixels(overlay_png(image, np.zeros_like(heat), "heat", title="malignant 0.87"))
    assert pixels.shape == plain.shape and (pixels != plain).any()


def test_mask_overlay_of_a_volume_shows_the_slice_with_most_mask() -> None:
    image = np.random.default_rng(2).normal(size=(8, 32, 32))
    mask = np.zeros((8, 32, 32), dtype=np.uint8)
    mask[5, 10:20, 10:20] = 1
    mask[4, 12:14, 12:14] = 2

    png = overlay_png(image, mask, "mask", class_names=["tumour", "cyst"], title="segmentation")
    montage = overlay_png(image, mask, "mask", class_names=["tumour", "cyst"], montage=True, spacing=(5.0, 1.0, 1.0))

    assert title_of(png) == "segmentation (axial slice 6 of 8)"
    assert title_of(montage) == "Axial slice 6 of 8"
    assert png_pixels(montage).shape[1] > 2 * png_pixels(png).shape[1]


def test_boxes_are_drawn_on_the_slices_they_cross() -> None:
    image = np.zeros((6, 40, 40))
    box = (5.0, 5.0, 1.0, 20.0, 25.0, 3.0, 0.93, 0)

    with_box = png_pixels(overlay_png(image, None, "heat", class_names=["nodule"], boxes=[box]))
    without = png_pixels(overlay_png(image, None, "heat"))
    flat = png_pixels(overlay_png(image[0], None, "heat", boxes=[(5.0, 5.0, 20.0, 25.0, 0.5, "lesion")]))

    assert (with_box != without).any()
    assert (flat != png_pixels(overlay_png(image[0], None, "heat"))).any()
    assert title_of(overlay_png(image, None, "heat", boxes=[box])) == "Axial slice 3 of 6"


def test_overlay_refuses_mismatched_arrays() -> None:
    with pytest.raises(InvalidArgument) as error:
        overlay_png(np.zeros((4, 4)), np.zeros((4, 5)), "heat")
    assert error.value.reason == "OVERLAY_SHAPE_MISMATCH"
    with pytest.raises(InvalidArgument) as error:
        overlay_png(np.zeros((4, 4)), np.full((4, 4), 3, dtype=np.uint8), "mask", class_names=["a"])
    assert error.value.reason == "UNKNOWN_LABEL"
    with pytest.raises(InvalidArgument) as error:
        overlay_png(np.zeros((4, 4)), None, "heat", boxes=[(1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 0.5, 0)])
    assert error.value.reason == "INVALID_BOX"


# --- DICOM -----------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ct_series(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Dataset], list[str]]:
    """A phantom CT series (8 x 32 x 32) in shuffled order, and its SOP instance UIDs in SimpleITK's slice order."""
    out = tmp_path_factory.mktemp("ct")
    manifest = radscholar_phantoms.generate("ct", 1, 1, 7, out, shape=(8, 32, 32))
    folder = out / manifest.case_entries[0].series[0].path
    ordered = sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder))
    uids = [str(pydicom.dcmread(name, stop_before_pixels=True).SOPInstanceUID) for name in ordered]
    instances: list[Dataset] = [pydicom.dcmread(path) for path in sorted(Path(folder).glob("*.dcm"))]
    random.Random(3).shuffle(instances)
    return instances, uids


def frames_by_slice(seg: Dataset, uids: list[str]) -> dict[tuple[int, int], np.ndarray]:
    """{(segment number, slice index): frame} of a SEG, read with pydicom alone."""
    pixels = seg.pixel_array.reshape(int(seg.NumberOfFrames), int(seg.Rows), int(seg.Columns))
    frames = {}
    for frame, group in zip(pixels, seg.PerFrameFunctionalGroupsSequence, strict=True):
        number = int(group.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        source = group.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        frames[(number, uids.index(str(source)))] = frame
    return frames


def test_seg_of_a_prediction_round_trips(ct_series: tuple[list[Dataset], list[str]]) -> None:
    instances, uids = ct_series
    mask = np.zeros((8, 32, 32), dtype=np.uint8)
    mask[2:5, 8:16, 10:20] = 3  # class 3 of 3, on slices 2-4
    mask[6, 20:24, 4:8] = 1  # class 1 on slice 6; class 2 absent

    data = segmentation_dicom(mask, instances, ["nodule", "vessel", "tumour"], ("RadScholar UNet", "4"))
    seg = pydicom.dcmread(io.BytesIO(data))

    assert seg.SOPClassUID == SEG_STORAGE and seg.Modality == "SEG" and seg.SegmentationType == "BINARY"
    assert seg.StudyInstanceUID == instances[0].StudyInstanceUID
    assert seg.FrameOfReferenceUID == instances[0].FrameOfReferenceUID
    assert seg.SeriesInstanceUID != instances[0].SeriesInstanceUID
    assert [s.SeriesInstanceUID for s in seg.ReferencedSeriesSequence] == [instances[0].SeriesInstanceUID]
    segments = seg.SegmentSequence  # every class, numbered as the model's (and the project's) classes
    assert [(int(s.SegmentNumber), s.SegmentLabel) for s in segments] == [(1, "nodule"), (2, "vessel"), (3, "tumour")]
    for segment in segments:
        assert segment.SegmentAlgorithmType == "AUTOMATIC"
        algorithm = segment.SegmentationAlgorithmIdentificationSequence[0]
        assert (algorithm.AlgorithmName, algorithm.AlgorithmVersion) == ("RadScholar UNet", "4")
        assert algorithm.AlgorithmFamilyCodeSequence[0].CodeMeaning == "Artificial Intelligence"
    frames = frames_by_slice(seg, uids)
    assert sorted(frames) == [(1, 6), (3, 2), (3, 3), (3, 4)]  # the absent class has no frame
    for (number, index), frame in frames.items():
        np.testing.assert_array_equal(frame, (mask[index] == number).astype(np.uint8))
    np.testing.assert_array_equal(read_seg(data, instances, 3), mask)  # labeling reads it back as its label map


def test_seg_of_an_empty_prediction_names_every_class(ct_series: tuple[list[Dataset], list[str]]) -> None:
    instances, _ = ct_series
    data = segmentation_dicom(np.zeros((8, 32, 32), dtype=np.uint8), instances, ["nodule", "vessel"], ("m", "1"))
    seg = pydicom.dcmread(io.BytesIO(data))
    assert [s.SegmentLabel for s in seg.SegmentSequence] == ["nodule", "vessel"]
    assert not seg.pixel_array.any()


def test_seg_refuses_a_mask_off_the_series(ct_series: tuple[list[Dataset], list[str]]) -> None:
    instances, _ = ct_series
    with pytest.raises(InvalidArgument) as error:
        segmentation_dicom(np.zeros((7, 32, 32), dtype=np.uint8), instances, ["nodule"], ("m", "1"))
    assert error.value.reason == "MASK_SHAPE_MISMATCH"
    with pytest.raises(InvalidArgument) as error:
        segmentation_dicom(np.full((8, 32, 32), 2, dtype=np.uint8), instances, ["nodule"], ("m", "1"))
    assert error.value.reason == "UNKNOWN_LABEL"
    other = pydicom.dcmread(io.BytesIO(_part10_copy(instances[0])))
    other.SeriesInstanceUID = "1.2.3.4"
    with pytest.raises(InvalidArgument) as error:
        segmentation_dicom(np.zeros((8, 32, 32), dtype=np.uint8), [*instances[1:], other], ["nodule"], ("m", "1"))
    assert error.value.reason in {"INVALID_SERIES", "INVALID_SEG"}  # highdicom refuses a mixed series


def _part10_copy(dataset: Dataset) -> bytes:
    buffer = io.BytesIO()
    dataset.save_as(buffer)
    return buffer.getvalue()


def test_seg_of_a_radiograph(tmp_path: Path) -> None:
    manifest = radscholar_phantoms.generate("dx", 1, 1, 5, tmp_path, shape=(48, 40))
    radiograph = pydicom.dcmread(next((tmp_path / manifest.case_entries[0].series[0].path).glob("*.dcm")))
    mask = np.zeros((int(radiograph.Rows), int(radiograph.Columns)), dtype=np.uint8)
    mask[10:20, 5:15] = 1

    seg = pydicom.dcmread(io.BytesIO(segmentation_dicom(mask, [radiograph], ["opacity"], ("m", "1"))))

    assert seg.StudyInstanceUID == radiograph.StudyInstanceUID
    np.testing.assert_array_equal(seg.pixel_array.reshape(mask.shape), mask)


def test_secondary_capture_of_a_figure_joins_the_study(ct_series: tuple[list[Dataset], list[str]]) -> None:
    instances, _ = ct_series
    source = instances[0]
    image = source.pixel_array.astype(np.float64)
    figure = png_pixels(overlay_png(image, np.ones_like(image) * 0.5, "heat", title="nodule 0.71"))

    capture = pydicom.dcmread(io.BytesIO(secondary_capture(figure, source, "Grad-CAM nodule 0.71")))
    montage = pydicom.dcmread(io.BytesIO(secondary_capture(figure, source, "montage", in_source_plane=False)))

    assert capture.SOPClassUID == SC_STORAGE and capture.Modality == "OT"
    assert capture.StudyInstanceUID == source.StudyInstanceUID and capture.PatientID == source.PatientID
    assert capture.SeriesInstanceUID not in (source.SeriesInstanceUID, montage.SeriesInstanceUID)
    assert capture.SeriesDescription == "Grad-CAM nodule 0.71"
    assert list(capture.ImageType)[:2] == ["DERIVED", "SECONDARY"]
    assert capture.SourceImageSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
    assert capture.PhotometricInterpretation == "RGB"
    np.testing.assert_array_equal(capture.pixel_array, figure)
    assert list(capture.PatientOrientation) == ["L", "P"]
    assert not montage.PatientOrientation
    with pytest.raises(InvalidArgument) as error:
        secondary_capture(figure.astype(np.float32), source, "x")
    assert error.value.reason == "INVALID_IMAGE"
