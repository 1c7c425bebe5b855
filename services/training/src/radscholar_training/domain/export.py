"""Exports of a trained network: TorchScript and ONNX, each checked against the network on an example batch."""

from __future__ import annotations

import io
import logging
import warnings

import torch
from torch import nn

from radscholar_core.errors import FailedPrecondition

log = logging.getLogger(__name__)

TOLERANCE = 1e-4
"""Largest absolute difference allowed between the export's outputs and the network's, relative to their scale."""


def to_torchscript(model: nn.Module, example: torch.Tensor) -> bytes:
    """The network in eval mode as a TorchScript archive: scripted where it can be, traced on `example` otherwise."""
    training = model.training
    model.eval()
    try:
        return _torchscript(model, example)
    finally:
        model.train(training)


def _torchscript(model: nn.Module, example: torch.Tensor) -> bytes:
    with torch.no_grad():
        expected = model(example)
        try:
            compiled: torch.jit.ScriptModule = torch.jit.script(model)
        except Exception:  # a network with Python-only code cannot be scripted; trace it on the example instead
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", torch.jit.TracerWarning)
                compiled = torch.jit.trace(model, example, check_trace=False)
        buffer = io.BytesIO()
        torch.jit.save(compiled, buffer)
        archive = buffer.getvalue()
        reloaded = torch.jit.load(io.BytesIO(archive), map_location=example.device)
        _check_same("TorchScript", expected, reloaded(example))
    return archive


def to_onnx(model: nn.Module, example: torch.Tensor) -> bytes:
    """The network in eval mode as an ONNX model with input 'image', output 'logits' and a dynamic batch axis.

    The torch.export-based exporter is tried first; the TorchScript-based one (deprecated) is the fallback.
    """
    training = model.training
    model.eval()
    try:
        return _onnx(model, example)
    finally:
        model.train(training)


def _onnx(model: nn.Module, example: torch.Tensor) -> bytes:
    if example.shape[0] == 1:  # torch.export fixes axes of size 1; a batch of two keeps the batch axis dynamic
        example = torch.cat([example, example])
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            program = torch.onnx.export(
                model,
                (example,),
                input_names=["image"],
                output_names=["logits"],
                dynamic_shapes=({0: torch.export.Dim("batch")},),
                dynamo=True,
                verbose=False,
            )
            if program is None:
                raise RuntimeError("the exporter returned no program")
            return program.model_proto.SerializeToString()
        except Exception as cause:  # an operator torch.export cannot capture: fall back to tracing
            log.warning("torch.export cannot export %s (%s); using the TorchScript-based exporter", type(model), cause)
            buffer = io.BytesIO()
            torch.onnx.export(
                model,
                (example,),
                buffer,  # type: ignore[arg-type]  # the TorchScript-based exporter writes to files too
                input_names=["image"],
                output_names=["logits"],
                dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
                opset_version=18,
                dynamo=False,
            )
            return buffer.getvalue()


def _check_same(kind: str, expected: torch.Tensor, actual: torch.Tensor) -> None:
    scale = max(1.0, float(expected.abs().max()))
    if expected.shape != actual.shape or not torch.allclose(expected, actual, rtol=0.0, atol=TOLERANCE * scale):
        raise FailedPrecondition(
            f"the {kind} export does not reproduce the network's outputs", reason="EXPORT_MISMATCH"
        )
