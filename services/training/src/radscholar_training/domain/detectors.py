"""Detectors: the zoo's detection networks built for one run, behind one interface.

A `Detector` takes images (B, C, *patch) in array order ((z, y, x) or (y, x)), float32 and already normalised. In
training mode, `forward(images, targets)` returns scalar losses to be summed; in eval mode, `forward(images)` returns
one dict of boxes, scores and 0-based labels per image (and mask probabilities for Mask R-CNN). The whole work
happens in `forward`, so a detector can be wrapped in DistributedDataParallel.

Boxes are corners on voxel edges in index order: 2D ``(x0, y0, x1, y1)``, 3D ``(x0, y0, z0, x1, y1, z1)``, where x
indexes the last array axis, y the one before and z the first spatial axis; the box around the voxel at row 0,
column 0 is ``(0, 0, 1, 1)``. torchvision uses this convention in 2D; MONAI's "xyzxyz" names the first spatial axis
of the tensor x, so the RetinaNet wrapper reverses the axes of boxes and anchor shapes on the way in and out.

Anchor shapes are side lengths in voxels, in index order (x, y[, z]), at the finest pyramid level (stride 4 in every
detector here); each coarser level doubles them.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import cast

import numpy as np
import torch
from monai.apps.detection.networks.retinanet_detector import RetinaNetDetector
from monai.apps.detection.networks.retinanet_network import RetinaNet as RetinaNetNetwork
from monai.apps.detection.utils.anchor_utils import AnchorGeneratorWithAnchorShape
from monai.networks.blocks.backbone_fpn_utils import BackboneWithFPN
from monai.networks.nets import resnet
from numpy.typing import ArrayLike
from torch import Tensor, nn
from torchvision.models import ResNet, resnet18
from torchvision.models.detection import FasterRCNN, MaskRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN as TorchvisionFPN
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.models.detection.ssd import SSD, SSDHead
from torchvision.models.detection.transform import GeneralizedRCNNTransform
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

from radscholar_core.errors import InvalidArgument
from radscholar_training.domain.networks import check_network
from radscholar_training.domain.zoo import Task

AnchorShapes = tuple[tuple[float, ...], ...]
"""Base anchor shapes, side lengths in voxels in index order (x, y[, z]); JSON-able as a list of lists."""

Target = Mapping[str, Tensor]
"""One image's truth: "boxes" (N, 2d) float corners, "labels" (N,) long 0-based, Mask R-CNN's "masks" (N, *spatial)."""

SCORE_THRESHOLD = 0.05
"""Lowest score kept at inference: low, so that FROC curves reach high sensitivities."""
DETECTIONS_PER_IMAGE = 100
NMS_IOU = 0.5

TORCHVISION_FPN_CHANNELS = 64
"""Channels of the Faster and Mask R-CNN feature pyramid (torchvision's default, 256, is sized for photographs)."""
TORCHVISION_BOX_FEATURES = 256
"""Width of their box head's two fully connected layers (torchvision's default: 1024)."""
RETINANET_WIDTH = 32
"""Channels of the RetinaNet backbone's first stage (ResNet-18 layout: width, 2, 4 and 8 times it)."""
RETINANET_FPN_CHANNELS = 64
"""Channels of its feature pyramid and of its two heads (each 4 convolutions deep)."""
RETINANET_RETURNED_LAYERS = (1, 2)
"""Backbone stages feeding the pyramid: strides 4 and 8, with a max-pooled level at stride 16."""

_ANCHOR_QUANTILE = 0.1
_ANCHORS_PER_LEVEL = 3
_MIN_ANCHOR_SIDE = 2.0


class Detector(nn.Module):
    """A detection network; see the module docstring for what `forward` takes and gives."""

    def __init__(self, architecture: str, spatial_dims: int, num_classes: int, anchor_shapes: AnchorShapes) -> None:
        super().__init__()
        self.architecture = architecture
        self.spatial_dims = spatial_dims
        self.num_classes = num_classes
        self.anchor_shapes = anchor_shapes

    def forward(
        self, images: Tensor, targets: Sequence[Target] | None = None
    ) -> dict[str, Tensor] | list[dict[str, Tensor]]:
        if self.training:
            if targets is None or len(targets) != len(images):
                raise ValueError("a detector in training mode needs one target per image")
            for target in targets:
                labels = target["labels"]
                if len(labels) and not 0 <= int(labels.min()) <= int(labels.max()) < self.num_classes:
                    raise ValueError(f"box labels must be class indices 0 to {self.num_classes - 1}")
            return self.losses(images, targets)
        return self.detect(images)

    def losses(self, images: Tensor, targets: Sequence[Target]) -> dict[str, Tensor]:
        raise NotImplementedError

    def detect(self, images: Tensor) -> list[dict[str, Tensor]]:
        raise NotImplementedError


def build_detector(
    architecture: str,
    spatial_dims: int,
    in_channels: int,
    num_classes: int,
    patch_size: tuple[int, ...],
    anchor_shapes: Sequence[Sequence[float]],
) -> Detector:
    """Builds the detector for one run with freshly initialised weights (none are downloaded)."""
    check_network(architecture, Task.DETECTION, spatial_dims, patch_size)
    if not patch_size:
        raise InvalidArgument(
            "a detector is built for a patch size", reason="INVALID_SETTING", details={"setting": "preprocessing.size"}
        )
    if in_channels < 1 or num_classes < 1:
        raise InvalidArgument(
            f"a detector needs at least one channel and one class; got {in_channels} and {num_classes}",
            reason="INVALID_SETTING",
            details={"setting": "classes" if num_classes < 1 else "channels"},
        )
    shapes = _anchor_shapes(anchor_shapes, spatial_dims)
    if architecture == "retinanet":
        return RetinaNet(spatial_dims, in_channels, num_classes, tuple(patch_size), shapes)
    return TorchvisionDetector(architecture, in_channels, num_classes, shapes)


def anchor_shapes_from_boxes(sizes: ArrayLike) -> AnchorShapes:
    """Three base anchor shapes for boxes of these side lengths ((N, d) voxels, index order).

    The shapes share the boxes' median aspect and grow by 2^(1/3) from the boxes' 10th-percentile size, so they tile
    the finest pyramid level's octave; the coarser levels (2, 4, ... times) take the larger boxes. Rounded to 0.1
    voxel and at least 2 voxels (MONAI rounds half-sides to whole voxels); the same sizes give the same shapes.
    """
    sides = np.asarray(sizes, dtype=np.float64)
    if sides.size == 0:
        raise InvalidArgument("there are no boxes to fit anchors to", reason="NO_BOXES")
    if sides.ndim != 2 or sides.shape[1] not in (2, 3) or not np.isfinite(sides).all() or (sides <= 0).any():
        raise InvalidArgument(
            f"box sizes must be (N, 2) or (N, 3) positive side lengths, got shape {sides.shape}", reason="BAD_BOXES"
        )
    logs = np.log(sides)
    scale = logs.mean(axis=1)  # log of each box's geometric-mean side
    aspect = np.median(logs - scale[:, None], axis=0)
    aspect -= aspect.mean()
    smallest = float(np.quantile(scale, _ANCHOR_QUANTILE))
    return tuple(
        tuple(max(_MIN_ANCHOR_SIDE, round(float(side), 1)) for side in np.exp(smallest + aspect) * 2 ** (k / 3))
        for k in range(_ANCHORS_PER_LEVEL)
    )


# --- MONAI RetinaNet -----------------------------------------------------------------------------------------------


class RetinaNet(Detector):
    """MONAI's RetinaNet (Lin et al., ICCV 2017) on a ResNet-18-layout FPN, with ATSS matching and hard negatives.

    Images larger than the patch in any axis are predicted with MONAI's sliding window over patches.
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        num_classes: int,
        patch_size: tuple[int, ...],
        anchor_shapes: AnchorShapes,
        width: int = RETINANET_WIDTH,
        fpn_channels: int = RETINANET_FPN_CHANNELS,
    ) -> None:
        super().__init__("retinanet", spatial_dims, num_classes, anchor_shapes)
        self.patch_size = patch_size
        backbone = resnet.ResNet(
            block=resnet.ResNetBlock,
            layers=[2, 2, 2, 2],
            block_inplanes=[width, 2 * width, 4 * width, 8 * width],
            spatial_dims=spatial_dims,
            n_input_channels=in_channels,
            conv1_t_size=7,
            conv1_t_stride=2,
        )
        # MONAI's resnet_fpn_feature_extractor with its 256 pyramid channels made a setting (all layers trainable)
        layers = RETINANET_RETURNED_LAYERS
        features = BackboneWithFPN(
            backbone,
            return_layers={f"layer{layer}": str(n) for n, layer in enumerate(layers)},
            in_channels_list=[width * 2 ** (layer - 1) for layer in layers],
            out_channels=fpn_channels,
            spatial_dims=spatial_dims,
        )
        levels = len(layers) + 1
        anchors = AnchorGeneratorWithAnchorShape(
            feature_map_scales=[2**level for level in range(levels)],
            base_anchor_shapes=[list(reversed(shape)) for shape in anchor_shapes],  # MONAI's axis order
        )
        network = RetinaNetNetwork(
            spatial_dims=spatial_dims,
            num_classes=num_classes,
            num_anchors=len(anchor_shapes),
            feature_extractor=features,
            size_divisible=2 * 2 * 2 ** max(layers),  # stem stride 2, max pooling, stages and the pooled level
        )
        self.detector = RetinaNetDetector(network, anchors)
        # as MONAI's LUNA16 tutorial
        self.detector.set_target_keys(box_key="boxes", label_key="labels")
        self.detector.set_atss_matcher(num_candidates=4, center_in_gt=False)
        self.detector.set_hard_negative_sampler(
            batch_size_per_image=64, positive_fraction=0.3, pool_size=20, min_neg=16
        )
        self.detector.set_box_regression_loss(
            nn.SmoothL1Loss(beta=1.0 / 9, reduction="mean"), encode_gt=True, decode_pred=False
        )
        self.detector.set_box_selector_parameters(
            score_thresh=SCORE_THRESHOLD,
            topk_candidates_per_level=1000,
            nms_thresh=NMS_IOU,
            detections_per_img=DETECTIONS_PER_IMAGE,
        )
        self.detector.set_sliding_window_inferer(roi_size=list(patch_size), overlap=0.25, sw_batch_size=1)
        axes = list(reversed(range(spatial_dims)))
        self._flip = axes + [axis + spatial_dims for axis in axes]  # index order <-> MONAI's order, both ways

    def losses(self, images: Tensor, targets: Sequence[Target]) -> dict[str, Tensor]:
        monai_targets = [
            {"boxes": target["boxes"].to(images)[:, self._flip], "labels": target["labels"].long().to(images.device)}
            for target in targets
        ]
        losses = self.detector(images, monai_targets)
        regression = losses["box_regression"]
        if not regression.requires_grad:
            # no anchor matched a box (images without lesions): MONAI gives a constant 0, which would leave the
            # regression head out of the graph and stall DistributedDataParallel's gradient reduction
            head = cast(nn.Module, self.detector.network.regression_head)
            losses["box_regression"] = sum((p.sum() for p in head.parameters()), images.new_zeros(())) * 0.0
        return dict(losses)

    def detect(self, images: Tensor) -> list[dict[str, Tensor]]:
        larger = any(side > patch for side, patch in zip(images.shape[2:], self.patch_size, strict=True))
        detections = self.detector(images, use_inferer=larger)
        return [
            {
                "boxes": found["boxes"][:, self._flip].float(),
                "scores": found["labels_scores"].float(),
                "labels": found["labels"].long(),
            }
            for found in detections
        ]


# --- torchvision ---------------------------------------------------------------------------------------------------


class TorchvisionDetector(Detector):
    """torchvision's Faster R-CNN, SSD or Mask R-CNN on a ResNet-18 trained from scratch (batch norm, no weights).

    The stem takes `in_channels` (adapted, not repeated to RGB); images pass unresized and unnormalised; class 0 is
    torchvision's background, so labels are shifted by one in and out.
    """

    def __init__(self, architecture: str, in_channels: int, num_classes: int, anchor_shapes: AnchorShapes) -> None:
        super().__init__(architecture, 2, num_classes, anchor_shapes)
        self.network: nn.Module
        if architecture == "ssd":
            body = _resnet18_stages(in_channels)
            self.network = SSD(
                body,
                _ShapeAnchors(anchor_shapes, levels=4),
                size=(64, 64),  # only sizes torchvision's transform, replaced below by one that does not resize
                num_classes=num_classes + 1,
                head=SSDHead([64, 128, 256, 512], [len(anchor_shapes)] * 4, num_classes + 1),
                score_thresh=SCORE_THRESHOLD,
                nms_thresh=NMS_IOU,
                detections_per_img=DETECTIONS_PER_IMAGE,
            )
            self.network.transform = _Unresized(in_channels, size_divisible=32)  # strides stay exact
        else:
            heads: dict[str, nn.Module] = {
                "box_head": TwoMLPHead(TORCHVISION_FPN_CHANNELS * 7 * 7, TORCHVISION_BOX_FEATURES),
                "box_predictor": FastRCNNPredictor(TORCHVISION_BOX_FEATURES, num_classes + 1),
            }
            if architecture == "maskrcnn":
                layers = (TORCHVISION_FPN_CHANNELS,) * 4
                heads["mask_head"] = MaskRCNNHeads(TORCHVISION_FPN_CHANNELS, layers, 1)
                heads["mask_predictor"] = MaskRCNNPredictor(layers[-1], layers[-1], num_classes + 1)
            factory = MaskRCNN if architecture == "maskrcnn" else FasterRCNN
            self.network = factory(
                _resnet18_fpn(in_channels),
                rpn_anchor_generator=_ShapeAnchors(anchor_shapes, levels=5),
                **heads,
                box_score_thresh=SCORE_THRESHOLD,
                box_nms_thresh=NMS_IOU,
                box_detections_per_img=DETECTIONS_PER_IMAGE,
                # fewer regions than torchvision's defaults (sized for 800-pixel photographs) for patches
                rpn_post_nms_top_n_train=1000,
                rpn_post_nms_top_n_test=500,
                box_batch_size_per_image=128,
            )
            self.network.transform = _Unresized(in_channels, size_divisible=32)

    def losses(self, images: Tensor, targets: Sequence[Target]) -> dict[str, Tensor]:
        shifted = []
        for target in targets:
            truth = {
                "boxes": target["boxes"].to(images).reshape(-1, 4),
                "labels": target["labels"].long().to(images.device) + 1,
            }
            if self.architecture == "maskrcnn":
                truth["masks"] = target["masks"].to(device=images.device, dtype=torch.uint8)
            shifted.append(truth)
        losses: dict[str, Tensor] = self.network(list(images), shifted)
        return losses

    def detect(self, images: Tensor) -> list[dict[str, Tensor]]:
        detections: list[dict[str, Tensor]] = self.network(list(images))
        results = []
        for found in detections:
            result = {"boxes": found["boxes"].float(), "scores": found["scores"].float(), "labels": found["labels"] - 1}
            if "masks" in found:
                result["masks"] = found["masks"][:, 0].float()
            results.append(result)
        return results


def _resnet18_fpn(in_channels: int) -> nn.Module:
    """torchvision's ResNet-18 with a feature pyramid of TORCHVISION_FPN_CHANNELS (strides 4 to 64), every layer
    trainable, batch norm as when trained from scratch."""
    trunk = resnet18(weights=None, norm_layer=nn.BatchNorm2d)
    trunk.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
    stages = {f"layer{n}": str(n - 1) for n in range(1, 5)}
    return TorchvisionFPN(trunk, stages, [64, 128, 256, 512], TORCHVISION_FPN_CHANNELS, LastLevelMaxPool())


class _Stages(nn.Module):
    """A ResNet's four stages as SSD's feature maps (strides 4, 8, 16 and 32)."""

    def __init__(self, trunk: ResNet) -> None:
        super().__init__()
        self.stem = nn.Sequential(trunk.conv1, trunk.bn1, trunk.relu, trunk.maxpool)
        self.stages = nn.ModuleList([trunk.layer1, trunk.layer2, trunk.layer3, trunk.layer4])

    def forward(self, x: Tensor) -> OrderedDict[str, Tensor]:
        features: OrderedDict[str, Tensor] = OrderedDict()
        x = self.stem(x)
        for n, stage in enumerate(self.stages):
            x = stage(x)
            features[str(n)] = x
        return features


def _resnet18_stages(in_channels: int) -> nn.Module:
    trunk = resnet18(weights=None)
    trunk.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
    return _Stages(trunk)


class _ShapeAnchors(AnchorGenerator):
    """torchvision's anchor generator with given (width, height) shapes, doubled at each coarser level."""

    def __init__(self, anchor_shapes: AnchorShapes, levels: int) -> None:
        nn.Module.__init__(self)
        shapes = torch.tensor(anchor_shapes, dtype=torch.float32)
        self.sizes = tuple(tuple(float(s) for s in shapes.prod(dim=1).sqrt() * 2**level) for level in range(levels))
        self.aspect_ratios = ((1.0,),) * levels  # unused: the shapes carry their own aspect
        self.cell_anchors = [torch.cat([-shapes, shapes], dim=1) * 2**level / 2 for level in range(levels)]

    def num_anchors_per_location(self) -> list[int]:
        return [len(cell) for cell in self.cell_anchors]


class _Unresized(GeneralizedRCNNTransform):
    """torchvision's image transform without the resize: images keep their size and boxes their corners."""

    def __init__(self, in_channels: int, size_divisible: int) -> None:
        # a mean of 0 and a deviation of 1: the images come normalised
        super().__init__(1, 1, [0.0] * in_channels, [1.0] * in_channels, size_divisible=size_divisible)

    def resize(self, image: Tensor, target: dict[str, Tensor] | None = None) -> tuple[Tensor, dict[str, Tensor] | None]:
        return image, target


# --- settings ------------------------------------------------------------------------------------------------------


def _anchor_shapes(anchor_shapes: Sequence[Sequence[float]], spatial_dims: int) -> AnchorShapes:
    try:
        shapes = tuple(tuple(float(side) for side in shape) for shape in anchor_shapes)
    except (TypeError, ValueError):
        shapes = ()
    if not shapes or any(len(s) != spatial_dims or not all(np.isfinite(s)) or min(s) <= 0 for s in shapes):
        raise InvalidArgument(
            f"anchor shapes must be one or more lists of {spatial_dims} positive sides; got {anchor_shapes!r}",
            reason="INVALID_SETTING",
            details={"setting": "detection.anchor_shapes"},
        )
    return shapes
