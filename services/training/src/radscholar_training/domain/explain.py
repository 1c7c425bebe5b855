"""Trying one image: Grad-CAM maps, the figure a researcher looks at, and the DICOM objects a viewer opens.

Arrays are in numpy order: a network's input is ``(C, z, y, x)`` or ``(C, y, x)``, a figure's image and overlay
``(z, y, x)`` or ``(y, x)``. A class map holds 0 for background and ``k`` for ``class_names[k - 1]``; a box's
integer label is a 0-based class index, as detection networks give it. A series' slices are ordered along the slice
normal, as the DICOM store's volumes and SimpleITK order them, so ``mask[k]`` lies on the k-th of them.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np
import torch
from numpy.typing import NDArray
from pydicom.dataset import Dataset
from torch import nn

from radscholar_core.errors import FailedPrecondition, InvalidArgument
from radscholar_labeling.domain.masks import write_seg

OverlayKind = Literal["heat", "mask"]
Box = tuple[float, float, float, float, float, int | str]
"""A 2D box: x0, y0, x1, y1 (pixel indices: x the column, y the row), score, label."""
Box3D = tuple[float, float, float, float, float, float, float, int | str]
"""A 3D box: x0, y0, z0, x1, y1, z1 (voxel indices), score, label."""

MANUFACTURER = "RadScholar"
SEG_SERIES_NUMBER = 901
SC_SERIES_NUMBER = 902
WINDOW_PERCENTILES = (1.0, 99.0)
"""The grey window of a figure: these percentiles of the image's intensities."""

HEAT_ALPHA = 0.6  # a heat map's opacity where the map is 1; it fades to clear where the map is 0
MASK_ALPHA = 0.35  # a class's fill opacity; its outline is opaque
_DPI = 100
_LETTERS = (("R", "L"), ("A", "P"), ("F", "H"))  # LPS axes: the letter of the negative, then the positive direction


# --- Grad-CAM --------------------------------------------------------------------------------------------------------


def grad_cam(
    network: nn.Module, image: NDArray[Any], class_index: int, *, target_layer: str | None = None
) -> NDArray[np.float32]:
    """Grad-CAM (Selvaraju et al., ICCV 2017) of class ``class_index`` for one image ``(C, *spatial)``.

    Gives a map of the image's spatial shape scaled to [0, 1]: 1 where the evidence for the class is strongest, 0
    where there is none (all 0 when the network finds none anywhere). A segmentation network's class score is the
    sum of its logits over the image. The map is computed by MONAI's GradCAM on a copy of the network in eval mode,
    so the network keeps its mode, weights, gradients and hooks. ``target_layer`` defaults to `cam_layer`'s choice.
    """
    pixels = np.asarray(image, dtype=np.float32)
    if pixels.ndim not in (3, 4) or 0 in pixels.shape:
        raise InvalidArgument(
            f"Grad-CAM explains one image (channels, [z,] y, x), not an array of shape {pixels.shape}",
            reason="INVALID_IMAGE",
        )
    layer = target_layer or cam_layer(network)
    if layer not in dict(network.named_modules()):
        raise InvalidArgument(
            f"the network has no layer {layer!r}", reason="UNKNOWN_LAYER", details={"target_layer": layer}
        )
    if class_index < 0:
        raise InvalidArgument(f"class index {class_index} is negative", reason="UNKNOWN_CLASS")
    from monai.visualize import GradCAM

    replica = copy.deepcopy(network)
    for module in replica.modules():
        # A backward hook cannot watch an output that a later in-place operation overwrites.
        if isinstance(getattr(module, "inplace", None), bool):
            module.inplace = False  # type: ignore[assignment]
    parameter = next(replica.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    dtype = parameter.dtype if parameter is not None and parameter.is_floating_point() else torch.float32
    with torch.inference_mode(False), torch.enable_grad():
        batch = torch.from_numpy(pixels[None]).to(device=device, dtype=dtype).requires_grad_(True)
        cam = GradCAM(nn_module=replica, target_layers=layer, postprocessing=_scaled_to_peak)
        try:
            heat = cam(x=batch, class_idx=class_index)
        except IndexError as cause:  # logits[:, class_index] beyond the network's classes
            raise InvalidArgument(
                f"the network has no class {class_index}", reason="UNKNOWN_CLASS", details={"class": str(class_index)}
            ) from cause
    return np.clip(heat[0, 0].detach().float().cpu().numpy(), 0.0, 1.0).astype(np.float32)


def cam_layer(network: nn.Module) -> str:
    """The layer whose feature map Grad-CAM weighs: the zoo's last feature map where the network is (or holds) one
    of its classifiers (ResNet's layer4, DenseNet's final ReLU, EfficientNet's head, Inception v3's Mixed_7c),
    else the last Conv2d or Conv3d. Raises NOT_EXPLAINABLE for a network without either (a TorchScript upload)."""
    modules = dict(network.named_modules())
    known = _known_feature_maps()
    for prefix, module in modules.items():
        for kind, suffix in known:
            name = f"{prefix}.{suffix}" if prefix else suffix
            if isinstance(module, kind) and name in modules:
                return name
    convolutions = [name for name, module in modules.items() if isinstance(module, nn.Conv2d | nn.Conv3d)]
    if not convolutions:
        raise FailedPrecondition(
            "Grad-CAM needs a convolutional layer the network exposes; this network has no Conv2d or Conv3d "
            "(a TorchScript upload cannot be explained)",
            reason="NOT_EXPLAINABLE",
        )
    return convolutions[-1]


def _known_feature_maps() -> tuple[tuple[type[nn.Module], str], ...]:
    from monai.networks import nets
    from torchvision.models import Inception3

    # EfficientNet applies its one `_swish` module at the stem and at the head, so its head's batch norm is taken.
    return (
        (nets.ResNet, "layer4"),
        (nets.DenseNet, "class_layers.relu"),
        (nets.EfficientNet, "_bn1"),
        (Inception3, "Mixed_7c"),
    )


def _scaled_to_peak(heat: torch.Tensor) -> torch.Tensor:
    # Not MONAI's default normaliser, which maps the maximum to 0.
    heat = heat.detach()
    peak = heat.amax()
    return heat / peak if float(peak) > 0 else torch.zeros_like(heat)


# --- figures ---------------------------------------------------------------------------------------------------------


def overlay_png(
    image: NDArray[Any],
    overlay: NDArray[Any] | None,
    kind: OverlayKind = "heat",
    class_names: Sequence[str] | None = None,
    boxes: Sequence[Box | Box3D] | None = None,
    *,
    title: str = "",
    montage: bool = False,
    spacing: Sequence[float] | None = None,
) -> bytes:
    """A PNG of ``image`` in grey (windowed at its 1st and 99th percentiles) under ``overlay``.

    ``kind`` 'heat': a map in [0, 1] drawn in jet, fading to clear where it is 0, with a colour bar; 'mask': a class
    map drawn as filled, outlined regions with a legend of the classes present. ``boxes`` are drawn with their class
    and score. A 3D image shows the axial slice where the overlay is largest (or through the best box; the middle
    one when there is neither), named in the title; ``montage`` adds the coronal and sagittal planes through the same
    place, drawn to ``spacing`` (mm, numpy order). The title is also the PNG's 'Title' text.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    grey, layer = _checked_figure_arrays(image, overlay, kind, class_names)
    gaps = tuple(float(s) for s in spacing) if spacing is not None else (1.0,) * grey.ndim
    if len(gaps) != grey.ndim or min(gaps) <= 0:
        raise InvalidArgument(f"the spacing needs {grey.ndim} positive values, got {gaps}", reason="INVALID_SPACING")
    if grey.ndim == 3 and grey.shape[0] == 1:  # one slice: a 2D figure
        grey, gaps = grey[0], gaps[1:]
        layer = layer[0] if layer is not None else None
    box_list = _checked_boxes(boxes, grey.ndim)
    low, high = np.percentile(grey, WINDOW_PERCENTILES)
    window = (float(low), float(high) if high > low else float(low) + 1.0)
    if grey.ndim == 2:
        panels = [_Panel("", grey, layer, (0, 1), None)]
        caption = title
    else:
        centre = _focus(layer, kind, box_list, grey.shape)
        depth = grey.shape[0]
        where = f"axial slice {centre[0] + 1} of {depth}"
        caption = f"{title} ({where})" if title else where.capitalize()
        panels = [_Panel("axial" if montage else "", grey[centre[0]], _at(layer, 0, centre[0]), (1, 2), (0, centre[0]))]
        if montage:
            panels += [
                _Panel(
                    f"coronal, row {centre[1] + 1}",
                    grey[:, centre[1]],
                    _at(layer, 1, centre[1]),
                    (0, 2),
                    (1, centre[1]),
                ),
                _Panel(
                    f"sagittal, column {centre[2] + 1}",
                    grey[:, :, centre[2]],
                    _at(layer, 2, centre[2]),
                    (0, 1),
                    (2, centre[2]),
                ),
            ]
    figure = Figure(figsize=(5.2 * len(panels) + 1.0, 5.8), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    shown = None
    for ax, panel in zip(axes, panels, strict=True):
        rows_axis, columns_axis = panel.axes
        aspect = gaps[rows_axis] / gaps[columns_axis]
        origin = "lower" if panel.axes[0] == 0 and grey.ndim == 3 else "upper"  # head up in coronal and sagittal
        ax.imshow(panel.image, cmap="gray", vmin=window[0], vmax=window[1], aspect=aspect, origin=origin)
        if panel.overlay is not None and kind == "heat":
            heat = np.clip(panel.overlay, 0.0, 1.0)
            shown = ax.imshow(
                heat, cmap="jet", vmin=0.0, vmax=1.0, alpha=HEAT_ALPHA * heat, aspect=aspect, origin=origin
            )
        elif panel.overlay is not None:
            _draw_mask(ax, panel.overlay, aspect, origin)
        _draw_boxes(ax, box_list, panel, class_names)
        ax.set_title(panel.name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    if kind == "heat" and shown is not None:
        figure.colorbar(shown, ax=list(axes), shrink=0.8, label="Grad-CAM")
    if kind == "mask" and layer is not None:
        _mask_legend(figure, layer, class_names)
    if caption:
        figure.suptitle(caption, fontsize=11)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Title": caption or None})
    return buffer.getvalue()


def png_pixels(png: bytes) -> NDArray[np.uint8]:
    """The RGB pixels ``(H, W, 3)`` of a PNG, for a secondary capture of a figure."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as picture:
        return np.asarray(picture.convert("RGB"), dtype=np.uint8)


@dataclass(frozen=True, eq=False)
class _Panel:
    """One plane of a figure: its grey image and overlay, which volume axes are its rows and columns, and which
    axis and index it cuts the volume at (None for a 2D image)."""

    name: str
    image: NDArray[Any]
    overlay: NDArray[Any] | None
    axes: tuple[int, int]
    cut: tuple[int, int] | None


def _checked_figure_arrays(
    image: NDArray[Any], overlay: NDArray[Any] | None, kind: str, class_names: Sequence[str] | None
) -> tuple[NDArray[np.float64], NDArray[Any] | None]:
    grey = np.asarray(image, dtype=np.float64)
    if grey.ndim not in (2, 3) or 0 in grey.shape:
        raise InvalidArgument(f"a figure shows a 2D or 3D image, not shape {grey.shape}", reason="INVALID_IMAGE")
    if not np.isfinite(grey).all():
        grey = np.nan_to_num(grey, nan=float(np.nanmin(grey)) if np.isfinite(grey).any() else 0.0)
    if kind not in ("heat", "mask"):
        raise InvalidArgument(f"unknown overlay kind {kind!r}; use 'heat' or 'mask'", reason="INVALID_OVERLAY")
    if overlay is None:
        return grey, None
    layer = np.asarray(overlay)
    if layer.shape != grey.shape:
        raise InvalidArgument(
            f"the overlay has shape {layer.shape}, the image {grey.shape}",
            reason="OVERLAY_SHAPE_MISMATCH",
            details={"overlay": str(layer.shape), "image": str(grey.shape)},
        )
    if kind == "heat":
        return grey, np.nan_to_num(layer.astype(np.float64), nan=0.0)
    if layer.dtype.kind not in "biu" or (layer.size and int(layer.min()) < 0):
        raise InvalidArgument("a mask overlay holds class numbers 0, 1, 2, ...", reason="INVALID_OVERLAY")
    if class_names is not None and layer.size and int(layer.max()) > len(class_names):
        raise InvalidArgument(
            f"the mask holds class {int(layer.max())}; there are {len(class_names)} class names",
            reason="UNKNOWN_LABEL",
        )
    return grey, layer.astype(np.int64)


def _checked_boxes(boxes: Sequence[Box | Box3D] | None, dims: int) -> list[tuple[list[float], float, int | str]]:
    """Boxes as (corners: lows then highs per axis in (x, y[, z]) order, score, label)."""
    checked = []
    for number, box in enumerate(boxes or (), start=1):
        if len(box) != 2 * dims + 2:
            shape = "x0, y0, x1, y1" if dims == 2 else "x0, y0, z0, x1, y1, z1"
            raise InvalidArgument(
                f"box {number} has {len(box)} values; a {dims}D box is ({shape}, score, label)",
                reason="INVALID_BOX",
            )
        corners = [float(v) for v in box[: 2 * dims]]  # type: ignore[arg-type]
        if any(corners[axis] > corners[axis + dims] for axis in range(dims)):
            raise InvalidArgument(f"box {number} ends before it starts", reason="INVALID_BOX")
        checked.append((corners, float(box[-2]), box[-1]))  # type: ignore[arg-type]
    return checked


def _focus(
    layer: NDArray[Any] | None, kind: str, boxes: list[tuple[list[float], float, int | str]], shape: tuple[int, ...]
) -> tuple[int, int, int]:
    """(z, y, x) of the planes shown: per axis, the plane holding most of the overlay; else the best box's centre;
    else the middle."""
    if layer is not None:
        weight = np.clip(layer, 0, None) if kind == "heat" else (layer > 0)
        if weight.any():
            z, y, x = (int(np.argmax(weight.sum(axis=tuple(a for a in range(3) if a != axis)))) for axis in range(3))
            return z, y, x
    if boxes:
        corners, _, _ = max(boxes, key=lambda box: box[1])
        x, y, z = (round((corners[a] + corners[a + 3]) / 2) for a in range(3))
        return (min(max(z, 0), shape[0] - 1), min(max(y, 0), shape[1] - 1), min(max(x, 0), shape[2] - 1))
    return shape[0] // 2, shape[1] // 2, shape[2] // 2


def _at(layer: NDArray[Any] | None, axis: int, index: int) -> NDArray[Any] | None:
    return None if layer is None else np.take(layer, index, axis=axis)


def _class_colour(value: int) -> tuple[float, float, float]:
    """The colour of class map value ``value`` (1-based), the same in figures and in DICOM SEG."""
    from matplotlib import colormaps

    palette = colormaps["tab10"]
    red, green, blue, _ = palette((value - 1) % palette.N)
    return (red, green, blue)


def _draw_mask(ax: Any, plane: NDArray[Any], aspect: float, origin: str) -> None:
    for value in (int(v) for v in np.unique(plane) if v > 0):
        colour = _class_colour(value)
        region = plane == value
        fill = np.zeros((*plane.shape, 4))
        fill[region] = (*colour, MASK_ALPHA)
        ax.imshow(fill, aspect=aspect, origin=origin, interpolation="nearest")
        rows, columns = np.arange(plane.shape[0]), np.arange(plane.shape[1])  # pixel centres, as imshow puts them
        ax.contour(columns, rows, region.astype(np.float32), levels=[0.5], colors=[colour], linewidths=1.2)


def _mask_legend(figure: Any, layer: NDArray[Any], class_names: Sequence[str] | None) -> None:
    from matplotlib.patches import Patch

    present = [int(v) for v in np.unique(layer) if v > 0]
    handles = [
        Patch(facecolor=(*_class_colour(v), MASK_ALPHA), edgecolor=_class_colour(v), label=_class_name(v, class_names))
        for v in present
    ]
    if handles:
        figure.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 4), fontsize=9)


def _class_name(value: int, class_names: Sequence[str] | None) -> str:
    """The name of class map value ``value`` (1-based)."""
    if class_names is not None and 1 <= value <= len(class_names) and class_names[value - 1].strip():
        return class_names[value - 1]
    return f"class {value}"


def _box_name(label: int | str, class_names: Sequence[str] | None) -> str:
    """The name of a box's label: a 0-based class index or a name."""
    if isinstance(label, str):
        return label
    return _class_name(int(label) + 1, class_names)


def _draw_boxes(
    ax: Any, boxes: list[tuple[list[float], float, int | str]], panel: _Panel, class_names: Sequence[str] | None
) -> None:
    from matplotlib.patches import Rectangle

    dims = 2 if panel.cut is None else 3
    numpy_to_box = {0: 2, 1: 1, 2: 0} if dims == 3 else {0: 1, 1: 0}  # numpy axis -> (x, y[, z]) position
    rows_axis, columns_axis = (numpy_to_box[a] for a in panel.axes)
    for corners, score, label in boxes:
        if panel.cut is not None:
            cut_axis = numpy_to_box[panel.cut[0]]
            if not corners[cut_axis] <= panel.cut[1] <= corners[cut_axis + dims]:
                continue
        colour = _class_colour(int(label) + 1) if not isinstance(label, str) else (1.0, 0.85, 0.0)
        left, top = corners[columns_axis], corners[rows_axis]
        width, height = corners[columns_axis + dims] - left, corners[rows_axis + dims] - top
        ax.add_patch(Rectangle((left - 0.5, top - 0.5), width + 1, height + 1, fill=False, edgecolor=colour, lw=1.5))
        ax.text(
            left - 0.5,
            top - 1.0,
            f"{_box_name(label, class_names)} {score:.2f}",
            color="white",
            fontsize=7,
            va="bottom",
            bbox={"facecolor": colour, "alpha": 0.7, "pad": 1, "edgecolor": "none"},
        )


# --- DICOM -----------------------------------------------------------------------------------------------------------


def segmentation_dicom(
    mask: NDArray[Any],
    source: Sequence[Dataset],
    class_names: Sequence[str],
    algorithm: tuple[str, str],
    *,
    series_number: int = SEG_SERIES_NUMBER,
    description: str = "",
) -> bytes:
    """A BINARY DICOM SEG (Part-10 bytes) of a predicted class map ``(z, y, x)`` (a radiograph's ``(y, x)``) over the
    ``source`` series, as the labeling service writes its SEGs: segment ``k`` is class ``k`` of the model, present
    or not (so labeling reads it back as a label map), coloured as in the figures; its segments are AUTOMATIC,
    identified by the model's ``algorithm`` (name, version)."""
    labels = np.asarray(mask)
    if labels.ndim == 2:
        labels = labels[None]
    if not class_names:
        raise InvalidArgument("a segmentation needs at least one class name", reason="UNKNOWN_LABEL")
    if labels.dtype.kind in "biu" and labels.size and int(labels.max()) > len(class_names):
        raise InvalidArgument(f"the mask must hold class numbers 0 to {len(class_names)}", reason="UNKNOWN_LABEL")
    classes = [
        (name, cast(tuple[int, int, int], tuple(round(255 * c) for c in _class_colour(k))))
        for k, name in enumerate(class_names, start=1)
    ]
    text = description or f"{algorithm[0]} {algorithm[1]} segmentation"
    return write_seg(
        labels,
        source,
        classes,
        series_number=series_number,
        manufacturer=MANUFACTURER,
        description=text,
        algorithm=algorithm,
    )


def secondary_capture(
    png_rgb: NDArray[Any],
    source: Dataset,
    description: str,
    *,
    series_number: int = SC_SERIES_NUMBER,
    in_source_plane: bool = True,
) -> bytes:
    """A derived Secondary Capture (Part-10 bytes) of an RGB figure ``(H, W, 3)`` uint8, in ``source``'s study and
    patient, in a new series described by ``description``, referencing ``source`` as its source image.

    Its patient orientation is the source plane's when ``in_source_plane`` (a figure of one slice of the source's
    own plane), otherwise empty (a montage of several planes).
    """
    import highdicom as hd

    pixels = np.asarray(png_rgb)
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8 or 0 in pixels.shape:
        raise InvalidArgument(
            f"a secondary capture holds RGB pixels (height, width, 3) of uint8, not {pixels.dtype} {pixels.shape}",
            reason="INVALID_IMAGE",
        )
    missing = [k for k in ("StudyInstanceUID", "SOPInstanceUID", "SOPClassUID") if not source.get(k)]
    if missing:
        raise InvalidArgument(f"the source image lacks {', '.join(missing)}", reason="INVALID_SERIES")
    orientation = _patient_orientation(source) if in_source_plane else None
    text = description[:64] or "RadScholar explanation"
    try:
        capture = hd.sc.SCImage.from_ref_dataset(
            ref_dataset=source,
            pixel_array=np.ascontiguousarray(pixels),
            photometric_interpretation=hd.PhotometricInterpretationValues.RGB,
            bits_allocated=8,
            coordinate_system=hd.CoordinateSystemNames.PATIENT,
            series_instance_uid=hd.UID(),
            series_number=series_number,
            sop_instance_uid=hd.UID(),
            instance_number=1,
            manufacturer=MANUFACTURER,
            patient_orientation=orientation or ("L", "P"),  # highdicom requires one; cleared below when unknown
            transfer_syntax_uid="1.2.840.10008.1.2.1",
            series_description=text,
        )
    except (ValueError, TypeError) as cause:
        raise InvalidArgument(f"the secondary capture cannot be built: {cause}", reason="INVALID_SC") from cause
    if orientation is None:
        capture.PatientOrientation = []  # type 2: present and empty when unknown
    reference = Dataset()
    reference.ReferencedSOPClassUID = source.SOPClassUID
    reference.ReferencedSOPInstanceUID = source.SOPInstanceUID
    capture.SourceImageSequence = [reference]
    capture.DerivationDescription = description[:1024] or text
    capture.BurnedInAnnotation = "NO"  # the figure names no patient
    return _part10(capture)


def _patient_orientation(source: Dataset) -> tuple[str, str] | None:
    """The patient directions of the source's rows and columns, by their main axis; None when unknown."""
    if "ImageOrientationPatient" in source:
        cosines = np.asarray(source.ImageOrientationPatient, dtype=np.float64)
        if cosines.shape == (6,):
            row, column = cosines[:3], cosines[3:]
            return _direction_letter(row), _direction_letter(column)
    given = source.get("PatientOrientation")
    if given and len(given) == 2 and all(str(v)[:1] in "LRAPHF" and str(v) for v in given):
        return str(given[0])[0], str(given[1])[0]
    return None


def _direction_letter(vector: NDArray[np.float64]) -> str:
    axis = int(np.argmax(np.abs(vector)))
    return _LETTERS[axis][int(vector[axis] > 0)]


def _part10(instance: Dataset) -> bytes:
    buffer = io.BytesIO()
    instance.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
