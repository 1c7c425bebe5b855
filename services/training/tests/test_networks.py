"""The zoo's networks, uploaded custom models and pretrained weights."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
import torch
from monai.networks.nets import UNet
from torch import nn

from radscholar_core.errors import InvalidArgument
from radscholar_training.domain.networks import (
    CustomNetwork,
    build_network,
    check_network,
    inspect_custom,
    load_weights,
    read_weights,
)
from radscholar_training.domain.zoo import ZOO, Task

torch.set_num_threads(1)


def smallest_patch(architecture: str, spatial_dims: int) -> tuple[int, ...]:
    entry = next(a for a in ZOO if a.id == architecture)
    side = max(entry.min_size, 32)
    return (side + (-side) % entry.size_multiple,) * spatial_dims


ZOO_CASES = [
    pytest.param(a.id, dims, id=f"{a.id}-{dims}d")
    for a in ZOO
    for dims in a.spatial_dims
    if a.task is not Task.DETECTION
]  # detectors: test_detectors.py


@pytest.mark.parametrize(("architecture", "spatial_dims"), ZOO_CASES)
def test_every_zoo_network_gives_one_logits_tensor(architecture: str, spatial_dims: int) -> None:
    patch = smallest_patch(architecture, spatial_dims)
    network = build_network(architecture, spatial_dims, in_channels=2, out_channels=3, patch_size=patch)
    task = next(a.task for a in ZOO if a.id == architecture)
    expected = (2, 3) if task is Task.CLASSIFICATION else (2, 3, *patch)
    images = torch.randn(2, 2, *patch)
    for training in (True, False):
        network.train(training)
        with torch.no_grad():
            logits = network(images)
        assert isinstance(logits, torch.Tensor)
        assert tuple(logits.shape) == expected


def test_dynunet_follows_an_anisotropic_patch() -> None:
    network = build_network("dynunet", 3, in_channels=1, out_channels=2, patch_size=(32, 32, 8))
    with torch.no_grad():
        assert network(torch.randn(2, 1, 32, 32, 8)).shape == (2, 2, 32, 32, 8)


@pytest.mark.parametrize(
    ("architecture", "task", "spatial_dims", "patch", "reason", "setting"),
    [
        ("alexnet", "classification", 2, (64, 64), "UNKNOWN_ARCHITECTURE", "architecture"),
        ("unet", "classification", 2, (64, 64), "WRONG_TASK", "architecture"),
        ("resnet18", Task.SEGMENTATION, 2, (64, 64), "WRONG_TASK", "architecture"),
        ("inception_v3", "classification", 3, (96, 96, 96), "UNSUPPORTED_DIMENSIONS", "spatial_dims"),
        ("deeplabv3", "segmentation", 3, (64, 64, 64), "UNSUPPORTED_DIMENSIONS", "spatial_dims"),
        ("inception_v3", "classification", 2, (64, 64), "INVALID_PATCH_SIZE", "preprocessing.size"),
        ("swinunetr", "segmentation", 3, (96, 96, 80), "INVALID_PATCH_SIZE", "preprocessing.size"),
        ("unet", "segmentation", 2, (40, 48), "INVALID_PATCH_SIZE", "preprocessing.size"),
        ("segresnet", "segmentation", 3, (64, 64, 20), "INVALID_PATCH_SIZE", "preprocessing.size"),
        ("dynunet", "segmentation", 2, (12, 18), "INVALID_PATCH_SIZE", "preprocessing.size"),
        ("resnet18", "classification", 3, (64, 64), "INVALID_PATCH_SIZE", "preprocessing.size"),
    ],
)
def test_check_network_names_the_setting(
    architecture: str, task: Task | str, spatial_dims: int, patch: tuple[int, ...], reason: str, setting: str
) -> None:
    with pytest.raises(InvalidArgument) as failure:
        check_network(architecture, task, spatial_dims, patch)
    assert failure.value.reason == reason
    assert failure.value.details["setting"] == setting


def test_check_network_accepts_what_fits() -> None:
    check_network("swinunetr", "segmentation", 3, (96, 96, 64))
    check_network("inception_v3", Task.CLASSIFICATION, 2, (299, 299))
    check_network("dynunet", "segmentation", 3, (160, 192, 8))
    check_network("custom", "segmentation", 3, (1, 1, 1))  # inspect_custom checks an upload


def test_build_network_checks_first() -> None:
    with pytest.raises(InvalidArgument) as failure:
        build_network("swinunetr", 2, 1, 2, (48, 48))
    assert failure.value.reason == "INVALID_PATCH_SIZE"


# --- uploaded models -----------------------------------------------------------------------------------------------


class TinySegmenter(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class TinyClassifierWithAux(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, kernel_size=3, padding=1)
        self.head = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.conv(x).mean(dim=(2, 3))
        return self.head(features), features


def torchscript_bytes(module: nn.Module) -> bytes:
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(module), buffer)
    return buffer.getvalue()


def bundle_unet(in_channels: int = 1) -> UNet:
    return UNet(2, in_channels, 2, channels=(4, 8), strides=(2,), num_res_units=1)


def bundle_zip(network_def: Any, weights: dict[str, torch.Tensor] | None, root: str = "", **extra: Any) -> bytes:
    config = {"num_classes": 2, "device": "$torch.device('cpu')", "network_def": network_def, **extra}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{root}configs/inference.json", json.dumps(config))
        archive.writestr(f"{root}configs/metadata.json", json.dumps({"version": "0.1.0", "name": "tiny unet"}))
        if weights is not None:
            checkpoint = io.BytesIO()
            torch.save(weights, checkpoint)
            archive.writestr(f"{root}models/model.pt", checkpoint.getvalue())
    return buffer.getvalue()


UNET_DEF = {
    "_target_": "UNet",
    "spatial_dims": 2,
    "in_channels": 1,
    "out_channels": "@num_classes",
    "channels": [4, 8],
    "strides": [2],
    "num_res_units": 1,
}


def train_one_step(network: nn.Module, images: torch.Tensor) -> None:
    before = [p.detach().clone() for p in network.parameters()]
    optimiser = torch.optim.SGD(network.parameters(), lr=0.1)
    network.train()
    loss = network(images).square().mean()
    loss.backward()
    optimiser.step()
    assert any(not torch.equal(b, p) for b, p in zip(before, network.parameters(), strict=True))


def test_custom_torchscript_is_inspected_and_trains() -> None:
    data = torchscript_bytes(TinySegmenter())
    info = inspect_custom("torchscript", data, spatial_dims=2, in_channels=1, patch_size=(16, 16))
    assert (info.task, info.out_channels, info.output_shape, info.outputs) == (
        Task.SEGMENTATION,
        2,
        (1, 2, 16, 16),
        1,
    )
    assert info.parameters == 1 * 2 * 9 + 2
    network = build_network("custom", 2, 1, 2, (16, 16), custom=CustomNetwork("torchscript", data))
    train_one_step(network, torch.randn(2, 1, 16, 16))


def test_custom_model_with_several_outputs_keeps_the_first() -> None:
    data = torchscript_bytes(TinyClassifierWithAux())
    info = inspect_custom("torchscript", data, spatial_dims=2, in_channels=1, patch_size=(16, 16))
    assert (info.task, info.out_channels, info.outputs) == (Task.CLASSIFICATION, 3, 2)
    network = build_network("custom", 2, 1, 3, (16, 16), custom=CustomNetwork("torchscript", data))
    assert network(torch.randn(2, 1, 16, 16)).shape == (2, 3)
    train_one_step(network, torch.randn(2, 1, 16, 16))


@pytest.mark.parametrize("root", ["", "tiny_unet/"])
def test_monai_bundle_loads_its_weights_and_trains(root: str) -> None:
    original = bundle_unet()
    data = bundle_zip(UNET_DEF, original.state_dict(), root=root)
    info = inspect_custom("monai_bundle", data, spatial_dims=2, in_channels=1, patch_size=(16, 16))
    assert (info.task, info.out_channels, info.parameters) == (
        Task.SEGMENTATION,
        2,
        sum(p.numel() for p in original.parameters()),
    )
    network = build_network("custom", 2, 1, 2, (16, 16), custom=CustomNetwork("monai_bundle", data))
    images = torch.randn(2, 1, 16, 16)
    with torch.no_grad():
        assert torch.allclose(network.eval()(images), original.eval()(images))
    train_one_step(network, images)


@pytest.mark.parametrize(
    ("format", "data", "cause"),
    [
        ("torchscript", b"not a model", "TorchScript"),
        ("monai_bundle", b"not a zip", "zip"),
        ("monai_bundle", bundle_zip(UNET_DEF, None), "models/model.pt"),
        ("monai_bundle", bundle_zip({**UNET_DEF, "channels": [4, 16]}, bundle_unet().state_dict()), "does not fit"),
        ("monai_bundle", bundle_zip({"_target_": "os.system", "command": "true"}, {}), "os.system"),
        ("monai_bundle", bundle_zip({"_target_": "monai.networks.utils.save_state", "src": {}}, {}), "save_state"),
        ("monai_bundle", bundle_zip({**UNET_DEF, "strides": "$[2]"}, {}), "expressions"),
        ("monai_bundle", bundle_zip({**UNET_DEF, "strides": "@device"}, {}), "expressions"),
        ("monai_bundle", bundle_zip({**UNET_DEF, "_mode_": "debug"}, {}), "_mode_"),
        ("monai_bundle", bundle_zip({**UNET_DEF, "_requires_": "@device"}, {}), "_requires_"),
        ("monai_bundle", bundle_zip({**UNET_DEF, "in_channels": 3}, bundle_unet(3).state_dict()), "fails on an input"),
        ("zip", b"", "format"),
    ],
)
def test_bad_uploads_say_why(format: Any, data: bytes, cause: str) -> None:
    with pytest.raises(InvalidArgument) as failure:
        inspect_custom(format, data, spatial_dims=2, in_channels=1, patch_size=(16, 16))
    assert failure.value.reason == "INVALID_CUSTOM_MODEL"
    assert cause in failure.value.message


def test_custom_model_must_give_the_run_s_classes() -> None:
    custom = CustomNetwork("torchscript", torchscript_bytes(TinySegmenter()))
    with pytest.raises(InvalidArgument) as failure:
        build_network("custom", 2, 1, 4, (16, 16), custom=custom)
    assert failure.value.reason == "INVALID_CUSTOM_MODEL"
    with pytest.raises(InvalidArgument):
        build_network("custom", 2, 1, 2, (16, 16))


# --- pretrained weights --------------------------------------------------------------------------------------------


def test_load_weights_skips_a_head_of_another_class_count() -> None:
    pretrained = build_network("resnet18", 2, 1, 5, (64, 64))
    checkpoint = {f"module.{name}": tensor for name, tensor in pretrained.state_dict().items()}
    network = build_network("resnet18", 2, 1, 3, (64, 64))
    report = load_weights(network, checkpoint)
    assert report.skipped == ("module.fc.bias", "module.fc.weight")
    assert report.loaded == len(checkpoint) - 2
    assert torch.equal(network.state_dict()["conv1.weight"], pretrained.state_dict()["conv1.weight"])
    assert network.state_dict()["fc.weight"].shape[0] == 3


def test_load_weights_refuses_unrelated_weights() -> None:
    network = build_network("resnet18", 2, 1, 3, (64, 64))
    with pytest.raises(InvalidArgument) as failure:
        load_weights(network, bundle_unet().state_dict())
    assert failure.value.reason == "INCOMPATIBLE_WEIGHTS"


def test_read_weights_unwraps_a_training_checkpoint() -> None:
    state = bundle_unet().state_dict()
    buffer = io.BytesIO()
    torch.save({"epoch": 3, "state_dict": state}, buffer)
    assert read_weights(buffer.getvalue()).keys() == state.keys()
    with pytest.raises(InvalidArgument) as failure:
        read_weights(b"garbage")
    assert failure.value.reason == "INCOMPATIBLE_WEIGHTS"
