"""The stats server on a real port, driven through its stub."""

import grpc
import pytest

from radscholar_core.grpc_server import serving
from radscholar_core.status import error_info
from radscholar_core.testing import gateway_keys
from radscholar_proto.stats.v1 import stats_pb2 as pb
from radscholar_proto.stats.v1 import stats_pb2_grpc
from radscholar_stats.config import Settings
from radscholar_stats.server import build_server

KEYS = gateway_keys()


@pytest.fixture
async def stats():  # type: ignore[no-untyped-def]
    async with serving(build_server(Settings(port=0, identity=KEYS.keys)), interceptors=KEYS.interceptors()) as channel:
        yield stats_pb2_grpc.StatsServiceStub(channel)


async def test_welch_comparison(stats: stats_pb2_grpc.StatsServiceStub) -> None:
    answer = await stats.CompareTwoGroups(
        pb.CompareTwoGroupsRequest(group_a=[1, 2, 3, 4, 5.5], group_b=[3, 4, 5, 6, 7.2], test=pb.TWO_GROUP_TEST_WELCH_T)
    )
    assert answer.test == "Welch's t-test"
    assert answer.estimate == pytest.approx(-1.94)
    assert answer.ci_low < answer.estimate < answer.ci_high
    assert (answer.n_a, answer.n_b) == (5, 5)


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (pb.CompareTwoGroupsRequest(group_a=[1, 2], group_b=[3, 4]), "UNKNOWN_TEST"),
        (
            pb.CompareTwoGroupsRequest(group_a=[1], group_b=[3, 4], test=pb.TWO_GROUP_TEST_STUDENT_T),
            "TOO_FEW_VALUES",
        ),
    ],
)
async def test_bad_requests_are_invalid_argument(
    stats: stats_pb2_grpc.StatsServiceStub, request_: pb.CompareTwoGroupsRequest, reason: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await stats.CompareTwoGroups(request_)
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    info = error_info(failure.value)
    assert info is not None and info.reason == reason
