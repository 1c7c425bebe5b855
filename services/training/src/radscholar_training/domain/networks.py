"""Networks: the zoo's architectures built for one run, uploaded custom models, and pretrained weights.

Every network built here returns one logits tensor, in train and in eval mode: (B, classes) for classification,
(B, classes, *patch) for segmentation.
"""

from __future__ import annotations

import io
import json
import pydoc
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from monai.networks import nets
from torch import nn

from radscholar_core.errors import InvalidArgument
from radscholar_training.domain.zoo import ZOO, Architecture, Task

CUSTOM = "custom"
"""The architecture id of an uploaded model."""

CustomFormat = Literal["torchscript", "monai_bundle"]
CUSTOM_FORMATS: tuple[CustomFormat, ...] = ("torchscript", "monai_bundle")

PATCH_SETTING = "preprocessing.size"
MAX_BUNDLE_MEMBER_BYTES = 2 << 30
"""Largest file read from a bundle zip once inflated (a guard against zip bombs)."""


@dataclass(frozen=True)
class CustomNetwork:
    """An uploaded model: a TorchScript archive or a zipped MONAI bundle."""

    format: CustomFormat
    data: bytes


@dataclass(frozen=True)
class CustomInfo:
    """What one forward pass on zeros of (1, in_channels, *patch) told about an uploaded model."""

    format: CustomFormat
    task: Task
    out_channels: int
    output_shape: tuple[int, ...]
    outputs: int
    parameters: int


@dataclass(frozen=True)
class WeightsReport:
    """Tensors taken from a checkpoint, and the checkpoint's names left out (absent or of another shape)."""

    loaded: int
    skipped: tuple[str, ...]


def check_network(architecture: str, task: Task | str, spatial_dims: int, patch_size: Sequence[int]) -> None:
    """Checks that the architecture fits the task, the dimensions and the patch size, without building it; a
    detector's patch size may be empty (left to the boxes of its dataset).

    An uploaded model ('custom') is checked by `inspect_custom` instead, which has to run it.
    """
    if architecture == CUSTOM:
        return
    entry = _zoo_entry(architecture)
    wanted = Task(task)
    if entry.task is not wanted:
        raise InvalidArgument(
            f"{entry.display_name} is a {entry.task.value} network, not a {wanted.value} one",
            reason="WRONG_TASK",
            details={"setting": "architecture", "architecture": architecture, "task": wanted.value},
        )
    if spatial_dims not in entry.spatial_dims:
        supported = " or ".join(f"{dims}D" for dims in entry.spatial_dims)
        raise InvalidArgument(
            f"{entry.display_name} takes {supported} images, not {spatial_dims}D",
            reason="UNSUPPORTED_DIMENSIONS",
            details={"setting": "spatial_dims", "architecture": architecture},
        )
    if wanted is Task.DETECTION and not patch_size:
        return  # a detector's patch size may be left to its dataset's boxes
    _check_patch(spatial_dims, patch_size)
    if any(side < entry.min_size or side % entry.size_multiple for side in patch_size):
        multiple = f", a multiple of {entry.size_multiple}" if entry.size_multiple > 1 else ""
        raise _bad_patch(f"{entry.display_name} needs every patch side at least {entry.min_size}{multiple}", patch_size)
    if architecture == "dynunet" and len(_dynunet_strides(patch_size)) < 3:
        raise _bad_patch("DynUNet needs a patch side of at least 16 that is a multiple of 4", patch_size)


def build_network(
    architecture: str,
    spatial_dims: int,
    in_channels: int,
    out_channels: int,
    patch_size: Sequence[int],
    custom: CustomNetwork | None = None,
) -> nn.Module:
    """Builds the network for one run, with freshly initialised weights (or an uploaded model's own)."""
    if architecture == CUSTOM:
        if custom is None:
            raise InvalidArgument(
                "the custom architecture needs an uploaded model",
                reason="INVALID_CUSTOM_MODEL",
                details={"setting": "custom_model"},
            )
        return _build_custom(custom, spatial_dims, in_channels, out_channels, patch_size)
    entry = _zoo_entry(architecture)
    if entry.task is Task.DETECTION:
        raise InvalidArgument(
            f"{entry.display_name} is a detector: build it with detectors.build_detector", reason="WRONG_TASK"
        )
    check_network(architecture, entry.task, spatial_dims, patch_size)
    return _BUILDERS[architecture](spatial_dims, in_channels, out_channels, tuple(patch_size))


def inspect_custom(
    format: CustomFormat, data: bytes, spatial_dims: int, in_channels: int, patch_size: Sequence[int]
) -> CustomInfo:
    """Loads an upload and runs it once on zeros; raises INVALID_CUSTOM_MODEL with the cause when it cannot."""
    _check_patch(spatial_dims, patch_size)
    info, _ = _probe(_load_custom(CustomNetwork(format, data)), format, in_channels, patch_size)
    return info


def load_weights(model: nn.Module, state: Mapping[str, torch.Tensor]) -> WeightsReport:
    """Loads every tensor whose name and shape match the model (checkpoint 'module.' prefixes stripped)."""
    own = model.state_dict()
    matching: dict[str, torch.Tensor] = {}
    skipped: list[str] = []
    for name, tensor in state.items():
        bare = name.removeprefix("module.")
        target = own.get(bare)
        if isinstance(tensor, torch.Tensor) and target is not None and target.shape == tensor.shape:
            matching[bare] = tensor
        else:
            skipped.append(name)
    if not matching:
        raise InvalidArgument(
            "no tensor of the weights matches the network by name and shape",
            reason="INCOMPATIBLE_WEIGHTS",
            details={"tensors": str(len(state))},
        )
    model.load_state_dict(matching, strict=False)
    return WeightsReport(loaded=len(matching), skipped=tuple(sorted(skipped)))


def read_weights(data: bytes) -> dict[str, torch.Tensor]:
    """A state dict from checkpoint bytes (tensors only), unwrapping {'state_dict' | 'model' | 'network': ...}."""
    try:
        checkpoint = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as cause:  # an upload: any failure to unpickle is the uploader's
        raise InvalidArgument(
            f"the weights are not a PyTorch checkpoint: {cause}", reason="INCOMPATIBLE_WEIGHTS"
        ) from cause
    for key in ("state_dict", "model", "network"):
        if isinstance(checkpoint, Mapping) and isinstance(checkpoint.get(key), Mapping):
            checkpoint = checkpoint[key]
    if not isinstance(checkpoint, Mapping):
        raise InvalidArgument("the weights hold no state dict", reason="INCOMPATIBLE_WEIGHTS")
    return {str(name): tensor for name, tensor in checkpoint.items() if isinstance(tensor, torch.Tensor)}


# --- the zoo -------------------------------------------------------------------------------------------------------


def _zoo_entry(architecture: str) -> Architecture:
    for entry in ZOO:
        if entry.id == architecture:
            return entry
    raise InvalidArgument(
        f"unknown architecture {architecture!r}",
        reason="UNKNOWN_ARCHITECTURE",
        details={"setting": "architecture", "architecture": architecture},
    )


def _check_patch(spatial_dims: int, patch_size: Sequence[int]) -> None:
    if len(patch_size) != spatial_dims or any(side < 1 for side in patch_size):
        raise _bad_patch(f"the patch size needs {spatial_dims} positive sides", patch_size)


def _bad_patch(message: str, patch_size: Sequence[int]) -> InvalidArgument:
    return InvalidArgument(
        f"{message}; got {tuple(patch_size)}",
        reason="INVALID_PATCH_SIZE",
        details={"setting": PATCH_SETTING, "size": "x".join(str(side) for side in patch_size)},
    )


def _resnet(factory: Callable[..., nn.Module]) -> Callable[[int, int, int, tuple[int, ...]], nn.Module]:
    # MONAI's stem defaults to stride 1 (MedicalNet); stride 2 is He et al.'s network.
    return lambda dims, inputs, classes, _: factory(
        spatial_dims=dims, n_input_channels=inputs, num_classes=classes, conv1_t_stride=2
    )


def _densenet(factory: Callable[..., nn.Module]) -> Callable[[int, int, int, tuple[int, ...]], nn.Module]:
    return lambda dims, inputs, classes, _: factory(spatial_dims=dims, in_channels=inputs, out_channels=classes)


def _efficientnet(dims: int, inputs: int, classes: int, _: tuple[int, ...]) -> nn.Module:
    return nets.EfficientNetBN(
        "efficientnet-b0", pretrained=False, spatial_dims=dims, in_channels=inputs, num_classes=classes
    )


class _InceptionV3(nn.Module):
    """torchvision's Inception v3 without auxiliary logits, its stem taking `in_channels`, returning one tensor."""

    def __init__(self, in_channels: int, classes: int) -> None:
        super().__init__()
        from torchvision.models import inception_v3
        from torchvision.models.inception import BasicConv2d

        self.network = inception_v3(
            weights=None, aux_logits=False, transform_input=False, init_weights=True, num_classes=classes
        )
        if in_channels != 3:
            self.network.Conv2d_1a_3x3 = BasicConv2d(in_channels, 32, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # `_forward` gives (logits, aux) in eager and scripted code alike, where `forward` differs between them.
        logits, _ = self.network._forward(x)
        return logits


def _unet(dims: int, inputs: int, classes: int, _: tuple[int, ...]) -> nn.Module:
    return nets.UNet(dims, inputs, classes, channels=(16, 32, 64, 128, 256), strides=(2, 2, 2, 2), num_res_units=2)


def _dynunet_strides(patch_size: Sequence[int]) -> list[list[int]]:
    """nnU-Net's rule without spacing: halve a side while it stays even and at least 4, at most 5 times."""
    halvings = []
    for side in patch_size:
        count = 0
        while count < 5 and side % 2 ** (count + 1) == 0 and side // 2 ** (count + 1) >= 4:
            count += 1
        halvings.append(count)
    levels = max(halvings)
    return [[1] * len(patch_size)] + [[2 if level <= h else 1 for h in halvings] for level in range(1, levels + 1)]


def _dynunet(dims: int, inputs: int, classes: int, patch_size: tuple[int, ...]) -> nn.Module:
    strides = _dynunet_strides(patch_size)
    return nets.DynUNet(
        dims,
        inputs,
        classes,
        kernel_size=[[3] * dims for _ in strides],
        strides=strides,
        upsample_kernel_size=strides[1:],
        deep_supervision=False,
    )


def _segresnet(dims: int, inputs: int, classes: int, _: tuple[int, ...]) -> nn.Module:
    return nets.SegResNet(spatial_dims=dims, in_channels=inputs, out_channels=classes)


def _swinunetr(dims: int, inputs: int, classes: int, _: tuple[int, ...]) -> nn.Module:
    return nets.SwinUNETR(in_channels=inputs, out_channels=classes, spatial_dims=dims)


class _DeepLabV3(nn.Module):
    """torchvision's DeepLabv3 (ResNet-50) with its stem taking `in_channels` and only the 'out' logits returned."""

    def __init__(self, in_channels: int, classes: int) -> None:
        super().__init__()
        from torchvision.models.segmentation import deeplabv3_resnet50

        self.network = deeplabv3_resnet50(weights=None, weights_backbone=None, num_classes=classes, aux_loss=False)
        if in_channels != 3:
            self.network.backbone.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x)["out"]


_BUILDERS: dict[str, Callable[[int, int, int, tuple[int, ...]], nn.Module]] = {
    "resnet18": _resnet(nets.resnet18),
    "resnet34": _resnet(nets.resnet34),
    "resnet50": _resnet(nets.resnet50),
    "densenet121": _densenet(nets.DenseNet121),
    "densenet169": _densenet(nets.DenseNet169),
    "efficientnet-b0": _efficientnet,
    "inception_v3": lambda _, inputs, classes, __: _InceptionV3(inputs, classes),
    "unet": _unet,
    "dynunet": _dynunet,
    "segresnet": _segresnet,
    "swinunetr": _swinunetr,
    "deeplabv3": lambda _, inputs, classes, __: _DeepLabV3(inputs, classes),
}

# --- uploaded models -----------------------------------------------------------------------------------------------


class _FirstOutput(nn.Module):
    """Keeps the logits of a model that returns several outputs: the first of a sequence, or a dict's 'out'."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _logits(self.network(x))


def _logits(output: Any) -> torch.Tensor:
    if isinstance(output, Mapping):
        output = output.get("out", next(iter(output.values()), None))
    elif isinstance(output, Sequence) and not isinstance(output, str | bytes):
        output = output[0] if output else None
    if not isinstance(output, torch.Tensor):
        raise _bad_custom(f"the model returns {type(output).__name__}, not a tensor")
    return output


def _output_count(output: Any) -> int:
    if isinstance(output, Mapping | list | tuple):
        return len(output)
    return 1


def _build_custom(
    custom: CustomNetwork, spatial_dims: int, in_channels: int, out_channels: int, patch_size: Sequence[int]
) -> nn.Module:
    _check_patch(spatial_dims, patch_size)
    network = _load_custom(custom)
    info, gives_tensor = _probe(network, custom.format, in_channels, patch_size)
    if info.out_channels != out_channels:
        raise _bad_custom(f"the model gives {info.out_channels} output channels, the run needs {out_channels}")
    network.train()
    return network if gives_tensor else _FirstOutput(network)


def _bad_custom(message: str, cause: Exception | None = None) -> InvalidArgument:
    text = f"{message}: {cause}" if cause is not None else message
    return InvalidArgument(text, reason="INVALID_CUSTOM_MODEL", details={"setting": "custom_model"})


def _load_custom(custom: CustomNetwork) -> nn.Module:
    if custom.format == "torchscript":
        try:
            return torch.jit.load(io.BytesIO(custom.data), map_location="cpu")
        except Exception as cause:  # an upload: any failure to load is the uploader's
            raise _bad_custom("the upload is not a TorchScript archive", cause) from cause
    if custom.format == "monai_bundle":
        return _load_bundle(custom.data)
    raise InvalidArgument(
        f"unknown custom model format {custom.format!r}; use one of {', '.join(CUSTOM_FORMATS)}",
        reason="INVALID_CUSTOM_MODEL",
        details={"setting": "custom_model.format"},
    )


def _probe(
    network: nn.Module, format: CustomFormat, in_channels: int, patch_size: Sequence[int]
) -> tuple[CustomInfo, bool]:
    """What the model gives on zeros, and whether that is a bare tensor."""
    network.eval()
    try:
        with torch.no_grad():
            output = network(torch.zeros(1, in_channels, *patch_size))
    except Exception as cause:  # the model's own code failed on a well-formed input
        raise _bad_custom(f"the model fails on an input of shape {(1, in_channels, *patch_size)}", cause) from cause
    logits = _logits(output)
    shape = tuple(logits.shape)
    if len(shape) == 2:
        task = Task.CLASSIFICATION
    elif shape[2:] == tuple(patch_size) and len(shape) == 2 + len(patch_size):
        task = Task.SEGMENTATION
    else:
        raise _bad_custom(
            f"the model's output {shape} is neither (1, classes) nor (1, classes, {', '.join(map(str, patch_size))})"
        )
    info = CustomInfo(
        format=format,
        task=task,
        out_channels=shape[1],
        output_shape=shape,
        outputs=_output_count(output),
        parameters=sum(p.numel() for p in network.parameters()),
    )
    return info, isinstance(output, torch.Tensor)


# A MONAI bundle's `network_def` is instantiated by ConfigParser, which can run any Python it names; an upload may
# therefore only name torch module classes, and may not hold expressions ('$'), macros ('%') or debug modes.
_TARGET_PREFIXES = ("monai.networks.", "torch.nn.")
_ALLOWED_KEYS = {"_target_", "_desc_", "_disabled_", "_mode_"}


def _load_bundle(data: bytes) -> nn.Module:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as cause:
        raise _bad_custom("the MONAI bundle is not a zip file", cause) from cause
    with archive:
        config_name = _bundle_config_name(archive)
        root = config_name.rsplit("configs/", 1)[0]
        config = _parse_config(config_name, _read_member(archive, config_name))
        if f"{root}configs/metadata.json" in archive.namelist():
            _parse_config("configs/metadata.json", _read_member(archive, f"{root}configs/metadata.json"))
        if not isinstance(config, dict) or "network_def" not in config:
            raise _bad_custom(f"{config_name} has no network_def")
        network_def = _safe_definition(config["network_def"], config, depth=0)
        weights_name = f"{root}models/model.pt"
        if weights_name not in archive.namelist():
            raise _bad_custom("the MONAI bundle has no models/model.pt")
        weights = _read_member(archive, weights_name)
    from monai.bundle import ConfigParser

    try:
        network = ConfigParser({"network_def": network_def}).get_parsed_content("network_def")
    except Exception as cause:  # a definition MONAI cannot instantiate
        raise _bad_custom("the bundle's network_def cannot be built", cause) from cause
    if not isinstance(network, nn.Module):
        raise _bad_custom(f"the bundle's network_def builds a {type(network).__name__}, not a network")
    try:
        state = read_weights(weights)
        network.load_state_dict({name.removeprefix("module."): tensor for name, tensor in state.items()})
    except (InvalidArgument, RuntimeError) as cause:
        raise _bad_custom("models/model.pt does not fit the bundle's network_def", cause) from cause
    return network


def _bundle_config_name(archive: zipfile.ZipFile) -> str:
    """configs/inference.{json,yaml,yml} at the zip's root or inside one top folder (as `monai.bundle` zips it)."""
    candidates = sorted(
        (
            name
            for name in archive.namelist()
            if name.rsplit("/", 1)[-1] in ("inference.json", "inference.yaml", "inference.yml")
            and name.split("/")[-2:-1] == ["configs"]
            and name.count("/") <= 2
        ),
        key=len,
    )
    if not candidates:
        raise _bad_custom("the MONAI bundle has no configs/inference.json (or .yaml)")
    return candidates[0]


def _read_member(archive: zipfile.ZipFile, name: str) -> bytes:
    if archive.getinfo(name).file_size > MAX_BUNDLE_MEMBER_BYTES:
        raise _bad_custom(f"{name} is larger than {MAX_BUNDLE_MEMBER_BYTES >> 30} GiB")
    return archive.read(name)


def _parse_config(name: str, text: bytes) -> Any:
    try:
        if name.endswith(".json"):
            return json.loads(text)
        import yaml

        return yaml.safe_load(text)
    except Exception as cause:  # ValueError, UnicodeDecodeError or yaml.YAMLError: the upload is malformed
        raise _bad_custom(f"{name} cannot be read", cause) from cause


def _safe_definition(node: Any, config: Mapping[str, Any], depth: int) -> Any:
    """The definition with '@' references to plain values resolved; refuses whatever would run code."""
    if depth > 32:
        raise _bad_custom("network_def nests too deeply or references itself")
    if isinstance(node, str):
        if node.startswith("@"):
            return _safe_definition(_referenced(node[1:], config), config, depth + 1)
        if node.startswith(("$", "%")):
            raise _bad_custom(f"network_def may not hold expressions or macros ({node[:40]!r})")
        return node
    if isinstance(node, list):
        return [_safe_definition(item, config, depth + 1) for item in node]
    if isinstance(node, dict):
        safe: dict[str, Any] = {}
        for key, value in node.items():
            if not isinstance(key, str) or (key.startswith("_") and key not in _ALLOWED_KEYS):
                raise _bad_custom(f"network_def may not use {key}")
            if key == "_mode_" and value != "default":
                raise _bad_custom("network_def may only use _mode_ 'default'")
            safe[key] = _target(value) if key == "_target_" else _safe_definition(value, config, depth + 1)
        return safe
    return node


def _target(name: Any) -> str:
    """The full name of a `_target_`, which must be a torch module class from MONAI's networks or torch.nn."""
    if isinstance(name, str) and name.isidentifier() and hasattr(nets, name):
        name = f"monai.networks.nets.{name}"
    if isinstance(name, str) and name.startswith(_TARGET_PREFIXES) and all(p.isidentifier() for p in name.split(".")):
        located = pydoc.locate(name)
        if isinstance(located, type) and issubclass(located, nn.Module):
            return name
    raise _bad_custom(f"network_def may only build MONAI networks or torch.nn layers, not {name!r}")


def _referenced(path: str, config: Mapping[str, Any]) -> Any:
    node: Any = config
    for part in path.replace("#", "::").split("::"):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise _bad_custom(f"network_def references @{path}, which the config does not hold")
    return node
