"""Projects through the real labeling server, on SQLite and on PostgreSQL."""

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from radscholar_core.db import current_revision, head_revision
from radscholar_core.errors import InvalidArgument
from radscholar_core.grpc_server import serving
from radscholar_core.objectstore import ObjectStoreSettings
from radscholar_core.status import error_info
from radscholar_core.testing import gateway_keys, person
from radscholar_labeling.config import Settings
from radscholar_labeling.domain.projects import Dimensionality, NewProject, TaskType
from radscholar_labeling.server import MIGRATIONS, build_server
from radscholar_proto.common.v1 import paging_pb2
from radscholar_proto.labeling.v1 import labeling_pb2 as pb
from radscholar_proto.labeling.v1 import labeling_pb2_grpc

KEYS = gateway_keys()
ADMIN = person("ada.admin", frozenset({"admin"}))


@pytest.fixture
async def labeling(database_url: str, tmp_path: Path) -> AsyncIterator[labeling_pb2_grpc.LabelingServiceStub]:
    async with serving(
        build_server(settings(database_url, tmp_path)),
        interceptors=KEYS.interceptors(ADMIN),
    ) as channel:
        yield labeling_pb2_grpc.LabelingServiceStub(channel)


def settings(database_url: str, tmp_path: Path) -> Settings:
    """These tests store no masks: the DICOM store is never called (its channel connects lazily)."""
    return Settings(
        port=0,
        identity=KEYS.keys,
        database_url=database_url,
        dicomstore_address="127.0.0.1:9",
        object_store=ObjectStoreSettings(root=tmp_path / "objects"),
    )


def _new(name: str) -> pb.CreateProjectRequest:
    return pb.CreateProjectRequest(
        name=name, modality="ct", task_type=pb.TASK_TYPE_SEGMENTATION, dimensionality=pb.DIMENSIONALITY_3D
    )


async def test_create_get_and_page_through_projects(
    labeling: labeling_pb2_grpc.LabelingServiceStub, database_url: str
) -> None:
    assert current_revision(database_url) == head_revision(MIGRATIONS)
    created = (await labeling.CreateProject(_new("Lung nodules"))).project
    assert created.modality == "CT"
    assert created.created_at.seconds > 0
    assert (await labeling.GetProject(pb.GetProjectRequest(project_id=created.id))).project == created
    for name in ("B", "C", "A"):
        await labeling.CreateProject(_new(name))
    names, token = [], ""
    while True:
        page = await labeling.ListProjects(
            pb.ListProjectsRequest(page=paging_pb2.PageRequest(page_size=3, page_token=token))
        )
        names += [p.name for p in page.projects]
        assert page.page.total_size == 4
        token = page.page.next_page_token
        if not token:
            break
    assert names == ["A", "B", "C", "Lung nodules"]


async def test_duplicate_name_is_already_exists_and_keeps_the_first(
    labeling: labeling_pb2_grpc.LabelingServiceStub,
) -> None:
    first = (await labeling.CreateProject(_new("Same"))).project
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await labeling.CreateProject(_new("Same"))
    assert failure.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert error_info(failure.value).reason == "PROJECT_EXISTS"  # type: ignore[union-attr]
    listed = await labeling.ListProjects(pb.ListProjectsRequest())
    assert [p.id for p in listed.projects] == [first.id]


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (
            pb.CreateProjectRequest(name="x", modality="CT", dimensionality=pb.DIMENSIONALITY_2D),
            "INVALID_TASK_TYPE",
        ),
        (pb.CreateProjectRequest(name="x", modality="CT", task_type=1), "INVALID_DIMENSIONALITY"),
        (pb.CreateProjectRequest(name="x", modality="SR", task_type=1, dimensionality=1), "INVALID_MODALITY"),
        (pb.CreateProjectRequest(name=" ", modality="CT", task_type=1, dimensionality=1), "INVALID_NAME"),
    ],
)
async def test_bad_projects_are_invalid_argument(
    labeling: labeling_pb2_grpc.LabelingServiceStub, request_: pb.CreateProjectRequest, reason: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await labeling.CreateProject(request_)
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(failure.value).reason == reason  # type: ignore[union-attr]


async def test_unknown_project_is_not_found(labeling: labeling_pb2_grpc.LabelingServiceStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await labeling.GetProject(pb.GetProjectRequest(project_id="nope"))
    assert failure.value.code() == grpc.StatusCode.NOT_FOUND


def test_project_rules() -> None:
    with pytest.raises(InvalidArgument, match="200"):
        NewProject("x" * 201, "", "CT", TaskType.DETECTION, Dimensionality.TWO_D)
    assert NewProject("Mammo masses", "", "MG", TaskType.DETECTION, Dimensionality.TWO_D).modality == "MG"


async def test_members_see_their_projects_only_and_strangers_are_refused(tmp_path: Path) -> None:
    server = build_server(settings(f"sqlite:///{tmp_path}/l.db", tmp_path))
    port = await server.start("127.0.0.1", 0)
    address = f"127.0.0.1:{port}"
    try:
        async with grpc.aio.insecure_channel(address, interceptors=KEYS.interceptors(ADMIN)) as admin_channel:
            admin = labeling_pb2_grpc.LabelingServiceStub(admin_channel)
            mine = (await admin.CreateProject(_new("Mine"))).project
            theirs = (await admin.CreateProject(_new("Theirs"))).project
        member = person("rita.researcher", projects={mine.id: "annotator"})
        async with grpc.aio.insecure_channel(address, interceptors=KEYS.interceptors(member)) as channel:
            labeling = labeling_pb2_grpc.LabelingServiceStub(channel)
            listed = await labeling.ListProjects(pb.ListProjectsRequest())
            assert [p.id for p in listed.projects] == [mine.id] and listed.page.total_size == 1
            assert (await labeling.GetProject(pb.GetProjectRequest(project_id=mine.id))).project == mine
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await labeling.GetProject(pb.GetProjectRequest(project_id=theirs.id))
            assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        async with grpc.aio.insecure_channel(address) as anonymous:
            with pytest.raises(grpc.aio.AioRpcError) as unsigned:
                await labeling_pb2_grpc.LabelingServiceStub(anonymous).ListProjects(pb.ListProjectsRequest())
            assert unsigned.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        await server.stop(0)
