"""The stats servicer: proto -> domain -> proto, nothing else."""

from __future__ import annotations

import asyncio

import grpc

from radscholar_core.errors import InvalidArgument
from radscholar_proto.stats.v1 import stats_pb2, stats_pb2_grpc
from radscholar_stats.domain.two_groups import TwoGroupTest, compare_two_groups

TESTS = {
    stats_pb2.TWO_GROUP_TEST_STUDENT_T: TwoGroupTest.STUDENT_T,
    stats_pb2.TWO_GROUP_TEST_WELCH_T: TwoGroupTest.WELCH_T,
    stats_pb2.TWO_GROUP_TEST_PAIRED_T: TwoGroupTest.PAIRED_T,
    stats_pb2.TWO_GROUP_TEST_MANN_WHITNEY_U: TwoGroupTest.MANN_WHITNEY_U,
}


class StatsServicer(stats_pb2_grpc.StatsServiceServicer):
    async def CompareTwoGroups(
        self, request: stats_pb2.CompareTwoGroupsRequest, context: grpc.aio.ServicerContext
    ) -> stats_pb2.CompareTwoGroupsResponse:
        if request.test not in TESTS:
            raise InvalidArgument("test must be one of " + ", ".join(TESTS_BY_NAME), reason="UNKNOWN_TEST")
        result = await asyncio.to_thread(
            compare_two_groups,
            list(request.group_a),
            list(request.group_b),
            TESTS[request.test],
            request.confidence_level or 0.95,
        )
        return stats_pb2.CompareTwoGroupsResponse(
            test=result.test.value,
            statistic=result.statistic,
            degrees_of_freedom=result.degrees_of_freedom,
            p_value=result.p_value,
            estimate=result.estimate,
            ci_low=result.ci_low,
            ci_high=result.ci_high,
            effect_size=result.effect_size,
            n_a=result.n_a,
            n_b=result.n_b,
        )


TESTS_BY_NAME = [stats_pb2.TwoGroupTest.Name(value) for value in TESTS]
