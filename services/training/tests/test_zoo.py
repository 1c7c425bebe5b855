"""The model zoo catalogue and its filters, through the real server."""

from pathlib import Path

import grpc
import pytest

from radscholar_core.grpc_server import serving
from radscholar_core.objectstore import ObjectStoreSettings
from radscholar_core.testing import gateway_keys
from radscholar_proto.training.v1 import training_pb2 as pb
from radscholar_proto.training.v1 import training_pb2_grpc
from radscholar_training.config import Settings
from radscholar_training.domain.zoo import ZOO, Task, architectures
from radscholar_training.server import build_server

KEYS = gateway_keys()


def test_zoo_holds_what_the_issue_names() -> None:
    ids = {a.id for a in ZOO}
    assert {"resnet18", "resnet34", "resnet50", "densenet121", "densenet169", "inception_v3"} <= ids
    assert {"unet", "dynunet", "segresnet", "swinunetr", "deeplabv3"} <= ids
    assert len(ids) == len(ZOO)


def test_filters() -> None:
    three_d_segmentation = architectures(Task.SEGMENTATION, 3)
    assert "deeplabv3" not in {a.id for a in three_d_segmentation}
    assert all(a.task is Task.SEGMENTATION and 3 in a.spatial_dims for a in three_d_segmentation)


async def test_server_lists_and_validates_filters(tmp_path: Path) -> None:
    settings = Settings(
        port=0,
        identity=KEYS.keys,
        database_url=f"sqlite:///{tmp_path}/training.db",
        object_store=ObjectStoreSettings(root=tmp_path / "objects"),
        mlflow_tracking_uri="http://127.0.0.1:9",  # listing the zoo needs no MLflow
    )
    async with serving(build_server(settings), interceptors=KEYS.interceptors()) as channel:
        training = training_pb2_grpc.TrainingServiceStub(channel)
        answer = await training.ListArchitectures(
            pb.ListArchitecturesRequest(task=pb.TASK_CLASSIFICATION, spatial_dims=2)
        )
        assert "inception_v3" in {a.id for a in answer.architectures}
        assert all(a.task == pb.TASK_CLASSIFICATION for a in answer.architectures)
        with pytest.raises(grpc.aio.AioRpcError) as failure:
            await training.ListArchitectures(pb.ListArchitecturesRequest(spatial_dims=4))
        assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
