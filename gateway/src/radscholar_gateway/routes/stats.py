"""Statistics: two-group comparisons."""

from __future__ import annotations

import math
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from radscholar_gateway.deps import Stats
from radscholar_proto.stats.v1 import stats_pb2 as pb

router = APIRouter(prefix="/api/v1/stats", tags=["stats"])

Test = Literal["STUDENT_T", "WELCH_T", "PAIRED_T", "MANN_WHITNEY_U"]


class TwoGroupComparison(BaseModel):
    group_a: list[float] = Field(max_length=1_000_000)
    group_b: list[float] = Field(max_length=1_000_000)
    test: Test
    confidence_level: float = Field(0.95, gt=0, lt=1)


class TwoGroupResult(BaseModel):
    test: str
    statistic: float
    degrees_of_freedom: float | None = Field(description="null for rank tests")
    p_value: float
    estimate: float
    ci_low: float
    ci_high: float
    confidence_level: float
    effect_size: float
    n_a: int
    n_b: int


@router.post("/two-group-comparisons", summary="Compare a numeric variable between two groups")
async def compare_two_groups(body: TwoGroupComparison, stats: Stats) -> TwoGroupResult:
    answer = await stats.CompareTwoGroups(
        pb.CompareTwoGroupsRequest(
            group_a=body.group_a,
            group_b=body.group_b,
            test=f"TWO_GROUP_TEST_{body.test}",
            confidence_level=body.confidence_level,
        )
    )
    return TwoGroupResult(
        test=answer.test,
        statistic=answer.statistic,
        degrees_of_freedom=None if math.isnan(answer.degrees_of_freedom) else answer.degrees_of_freedom,
        p_value=answer.p_value,
        estimate=answer.estimate,
        ci_low=answer.ci_low,
        ci_high=answer.ci_high,
        confidence_level=body.confidence_level,
        effect_size=answer.effect_size,
        n_a=answer.n_a,
        n_b=answer.n_b,
    )
