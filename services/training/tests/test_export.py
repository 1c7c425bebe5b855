"""TorchScript and ONNX exports reproduce the network they came from."""

from __future__ import annotations

import functools
import io
import logging
import operator
from typing import Any

import numpy as np
import onnxruntime
import pytest
import torch
from torch import nn

from radscholar_training.domain.export import to_onnx, to_torchscript
from radscholar_training.domain.networks import build_network

torch.set_num_threads(1)

NETWORKS = [
    pytest.param("resnet18", (64, 64), id="classification"),
    pytest.param("unet", (32, 32), id="segmentation"),
]


def trained_a_little(architecture: str, patch: tuple[int, ...]) -> nn.Module:
    """A network whose batch-norm statistics have moved, so eval and train outputs differ."""
    torch.manual_seed(0)
    network = build_network(architecture, len(patch), in_channels=1, out_channels=2, patch_size=patch)
    with torch.no_grad():
        network.train()(torch.randn(4, 1, *patch))
    return network


def expected_logits(network: nn.Module, images: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return network.eval()(images).numpy()


@pytest.mark.parametrize(("architecture", "patch"), NETWORKS)
def test_torchscript_round_trips(architecture: str, patch: tuple[int, ...]) -> None:
    network = trained_a_little(architecture, patch)
    archive = to_torchscript(network, torch.randn(2, 1, *patch))
    assert network.training  # the caller's mode is kept
    reloaded = torch.jit.load(io.BytesIO(archive))
    images = torch.randn(3, 1, *patch)
    with torch.no_grad():
        np.testing.assert_allclose(reloaded(images).numpy(), expected_logits(network, images), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(("architecture", "patch"), NETWORKS)
def test_onnx_round_trips_with_any_batch(architecture: str, patch: tuple[int, ...]) -> None:
    network = trained_a_little(architecture, patch)
    model = to_onnx(network, torch.randn(1, 1, *patch))
    session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image"]
    images = torch.randn(3, 1, *patch)
    (logits,) = session.run(["logits"], {"image": images.numpy()})
    np.testing.assert_allclose(logits, expected_logits(network, images), rtol=1e-4, atol=1e-4)


class PythonOnly(nn.Module):
    """A forward TorchScript cannot compile (functools.reduce), so the export traces it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return functools.reduce(operator.add, [self.conv(x), x, x])


def test_torchscript_traces_what_it_cannot_script() -> None:
    network = PythonOnly()
    images = torch.randn(2, 1, 8, 8)
    reloaded = torch.jit.load(io.BytesIO(to_torchscript(network, images)))
    with torch.no_grad():
        assert torch.allclose(reloaded(images), network(images))


class DataDependent(nn.Module):
    """A branch on tensor values, which torch.export refuses, so ONNX falls back to the TorchScript-based exporter."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:
            return self.conv(x)
        return -self.conv(x)


def test_onnx_falls_back_to_the_torchscript_exporter(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whether torch.export refuses a network can depend on torch's global configuration: refuse it here for sure."""
    monkeypatch.setattr(logging.getLogger("radscholar_training.domain.export"), "disabled", False)
    caplog.set_level(logging.WARNING, logger="radscholar_training.domain.export")  # whatever the root's level
    export = torch.onnx.export

    def refusing(*args: Any, dynamo: bool = True, **kwargs: Any) -> Any:
        if dynamo:
            raise RuntimeError("data-dependent control flow")
        return export(*args, dynamo=False, **kwargs)

    monkeypatch.setattr(torch.onnx, "export", refusing)
    network = DataDependent()
    images = torch.ones(2, 1, 8, 8)
    session = onnxruntime.InferenceSession(to_onnx(network, images), providers=["CPUExecutionProvider"])
    assert "TorchScript-based exporter" in caplog.text
    (logits,) = session.run(["logits"], {"image": images.numpy()})
    np.testing.assert_allclose(logits, expected_logits(network, images), rtol=1e-4, atol=1e-4)
