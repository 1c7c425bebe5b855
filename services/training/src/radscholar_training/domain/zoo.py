"""The model zoo: every network a researcher can pick in a form, with what it supports.

Each entry names a constructor in MONAI or torchvision; `networks.build_network` instantiates it. `min_size` and
`size_multiple` say which patch sides (pixels or voxels, per axis) the network trains on with batches of two or more;
batch-normalised networks cannot train on a batch of one sample whose deepest feature map is a single pixel.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Task(Enum):
    CLASSIFICATION = "classification"
    SEGMENTATION = "segmentation"
    DETECTION = "detection"


@dataclass(frozen=True)
class Architecture:
    id: str
    display_name: str
    task: Task
    spatial_dims: tuple[int, ...]
    library: str
    description: str
    min_size: int = 1
    size_multiple: int = 1


ZOO = (
    Architecture(
        "resnet18",
        "ResNet-18",
        Task.CLASSIFICATION,
        (2, 3),
        "monai",
        "Residual network, 18 layers (He et al., CVPR 2016).",
        min_size=32,
    ),
    Architecture(
        "resnet34",
        "ResNet-34",
        Task.CLASSIFICATION,
        (2, 3),
        "monai",
        "Residual network, 34 layers (He et al., CVPR 2016).",
        min_size=32,
    ),
    Architecture(
        "resnet50",
        "ResNet-50",
        Task.CLASSIFICATION,
        (2, 3),
        "monai",
        "Residual network with bottlenecks, 50 layers (He et al., CVPR 2016).",
        min_size=32,
    ),
    Architecture(
        "densenet121",
        "DenseNet-121",
        Task.CLASSIFICATION,
        (2, 3),
        "monai",
        "Densely connected network (Huang et al., CVPR 2017).",
        min_size=32,
    ),
    Architecture(
        "densenet169",
        "DenseNet-169",
        Task.CLASSIFICATION,
        (2, 3),
        "monai",
        "Densely connected network (Huang et al., CVPR 2017).",
        min_size=32,
    ),
    Architecture(
        "efficientnet-b0",
        "EfficientNet-B0",
        Task.CLASSIFICATION,
        (2, 3),
        "monai",
        "Compound-scaled network (Tan and Le, ICML 2019).",
        min_size=32,
    ),
    Architecture(
        "inception_v3",
        "Inception v3",
        Task.CLASSIFICATION,
        (2,),
        "torchvision",
        "Factorised inception modules (Szegedy et al., CVPR 2016).",
        min_size=75,
    ),
    Architecture(
        "unet",
        "U-Net",
        Task.SEGMENTATION,
        (2, 3),
        "monai",
        "Encoder-decoder with skip connections (Ronneberger et al., MICCAI 2015).",
        min_size=32,
        size_multiple=16,
    ),
    Architecture(
        "dynunet",
        "DynUNet (nnU-Net style)",
        Task.SEGMENTATION,
        (2, 3),
        "monai",
        "U-Net configured from the patch size by nnU-Net's rules (Isensee et al., Nat Methods 2021).",
        min_size=8,
    ),
    Architecture(
        "segresnet",
        "SegResNet",
        Task.SEGMENTATION,
        (2, 3),
        "monai",
        "Residual encoder-decoder (Myronenko, BrainLes 2018).",
        min_size=8,
        size_multiple=8,
    ),
    Architecture(
        "swinunetr",
        "SwinUNETR",
        Task.SEGMENTATION,
        (2, 3),
        "monai",
        "Swin transformer encoder, U-Net decoder (Hatamizadeh et al., BrainLes 2021).",
        min_size=64,
        size_multiple=32,
    ),
    Architecture(
        "deeplabv3",
        "DeepLabv3 (ResNet-50)",
        Task.SEGMENTATION,
        (2,),
        "torchvision",
        "Atrous spatial pyramid pooling (Chen et al., 2017).",
        min_size=32,
    ),
    Architecture(
        "retinanet",
        "RetinaNet",
        Task.DETECTION,
        (2, 3),
        "monai",
        "One-stage detector with focal-loss heads on a feature pyramid (Lin et al., ICCV 2017).",
        min_size=16,
        size_multiple=16,
    ),
    Architecture(
        "fasterrcnn",
        "Faster R-CNN (ResNet-18 FPN)",
        Task.DETECTION,
        (2,),
        "torchvision",
        "Two-stage detector with a region proposal network (Ren et al., NeurIPS 2015).",
        min_size=64,
        size_multiple=32,
    ),
    Architecture(
        "ssd",
        "SSD (ResNet-18)",
        Task.DETECTION,
        (2,),
        "torchvision",
        "Single-shot multibox detector (Liu et al., ECCV 2016).",
        min_size=64,
        size_multiple=32,
    ),
    Architecture(
        "maskrcnn",
        "Mask R-CNN (ResNet-18 FPN)",
        Task.DETECTION,
        (2,),
        "torchvision",
        "Faster R-CNN with a mask head: instance segmentation (He et al., ICCV 2017).",
        min_size=64,
        size_multiple=32,
    ),
)


def architectures(task: Task | None = None, spatial_dims: int | None = None) -> list[Architecture]:
    """The zoo filtered by task and by spatial dimensions, by id."""
    return sorted(
        (
            a
            for a in ZOO
            if (task is None or a.task is task) and (spatial_dims is None or spatial_dims in a.spatial_dims)
        ),
        key=lambda a: a.id,
    )
