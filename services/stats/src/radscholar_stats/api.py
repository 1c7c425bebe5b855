"""The stats servicer: proto -> domain -> proto, nothing else."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pandas as pd

from radscholar_core.errors import InvalidArgument
from radscholar_core.identity import Identity, current_identity
from radscholar_core.job_proto import job_to_proto, log_line_to_proto, owned_by_caller, visible_jobs, watch_job
from radscholar_core.jobs import Job, JobEvents, JobStore
from radscholar_proto.common.v1 import job_pb2
from radscholar_proto.stats.v1 import stats_pb2, stats_pb2_grpc
from radscholar_stats import analyses
from radscholar_stats.adapters.stored import Results, StoredResult, StoredTable, Tables
from radscholar_stats.domain import ml
from radscholar_stats.domain.two_groups import TwoGroupTest, compare_two_groups
from radscholar_stats.jobs import KIND, AnalysisJobs

TESTS = {
    stats_pb2.TWO_GROUP_TEST_STUDENT_T: TwoGroupTest.STUDENT_T,
    stats_pb2.TWO_GROUP_TEST_WELCH_T: TwoGroupTest.WELCH_T,
    stats_pb2.TWO_GROUP_TEST_PAIRED_T: TwoGroupTest.PAIRED_T,
    stats_pb2.TWO_GROUP_TEST_MANN_WHITNEY_U: TwoGroupTest.MANN_WHITNEY_U,
}


def _table_to_proto(table: StoredTable) -> stats_pb2.Table:
    return stats_pb2.Table(
        id=table.id,
        name=table.name,
        rows=table.rows,
        columns=[
            stats_pb2.Column(name=c.name, type=c.type, missing=c.missing, distinct=c.distinct, values=c.values)
            for c in table.columns
        ],
        created_by=table.created_by,
        source=table.source,
    )


def parameters_of(data: bytes) -> dict[str, Any]:
    """An analysis' parameters: a JSON object."""
    try:
        parameters = json.loads(data or b"{}")
    except ValueError as error:
        raise InvalidArgument(f"parameters are not JSON: {error}", reason="INVALID_PARAMETERS") from None
    if not isinstance(parameters, dict):
        raise InvalidArgument("parameters must be a JSON object", reason="INVALID_PARAMETERS")
    return parameters


class StatsServicer(stats_pb2_grpc.StatsServiceServicer):
    def __init__(
        self, tables: Tables, results: Results, jobs: AnalysisJobs, store: JobStore, events: JobEvents
    ) -> None:
        self._tables = tables
        self._results = results
        self._jobs = jobs
        self._store = store
        self._events = events

    async def CreateTable(
        self, request: stats_pb2.CreateTableRequest, context: grpc.aio.ServicerContext
    ) -> stats_pb2.CreateTableResponse:
        caller = current_identity()
        data = await asyncio.to_thread(self._tables.objects.get, request.object_key)
        stored = await asyncio.to_thread(
            self._tables.create, data, request.name or "table.csv", request.source or "upload", caller.username
        )
        return stats_pb2.CreateTableResponse(table=_table_to_proto(stored))

    async def GetTable(
        self, request: stats_pb2.GetTableRequest, context: grpc.aio.ServicerContext
    ) -> stats_pb2.GetTableResponse:
        stored = await asyncio.to_thread(self._tables.get, request.table_id, current_identity())
        return stats_pb2.GetTableResponse(table=_table_to_proto(stored))

    async def RunAnalysis(
        self, request: stats_pb2.RunAnalysisRequest, context: grpc.aio.ServicerContext
    ) -> stats_pb2.RunAnalysisResponse:
        caller = current_identity()
        await asyncio.to_thread(self._tables.get, request.table_id, caller)
        parameters = parameters_of(request.parameters_json)
        frame = await asyncio.to_thread(self._tables.frame, request.table_id)
        if request.kind == "score":
            analysis = await asyncio.to_thread(self._score, frame, parameters, caller)
        else:
            analysis = await asyncio.to_thread(analyses.run, request.kind, frame, parameters)
        stored = await asyncio.to_thread(self._results.keep, analysis, request.table_id, request.kind, caller.username)
        return stats_pb2.RunAnalysisResponse(
            id=stored.id,
            kind=stored.kind,
            result_json=json.dumps(stored.result, allow_nan=False).encode(),
            rows_used=stored.rows_used,
            rows_dropped=stored.rows_dropped,
            plots=self._plots(stored),
            provenance=stored.provenance,
            json_object_key=stored.json_key,
            csv_object_key=stored.csv_key,
            model_object_key=stored.model_key,
        )

    def _score(self, frame: pd.DataFrame, parameters: dict[str, Any], caller: Identity) -> analyses.Analysis:
        """A trained classifier (the result ``model_result_id``) scores the table."""
        if set(parameters) != {"model_result_id"}:
            raise InvalidArgument("score takes model_result_id: a classifier's result", reason="INVALID_PARAMETERS")
        stored = self._results.get(str(parameters["model_result_id"]), caller)
        if not stored.model_key:
            raise InvalidArgument("that result has no trained model", reason="NOT_A_MODEL")
        scores = ml.score(self._results.objects.get(stored.model_key), frame)
        table = pd.DataFrame({"probability": scores.probability, "predicted": scores.predicted}).reset_index()
        result = {"threshold": scores.threshold, "labels": list(scores.labels), "scores": analyses.jsonable(table)}
        return analyses.Analysis(result, scores.used, scores.dropped, table, provenance={"model": stored.id})

    def _plots(self, stored: StoredResult) -> list[stats_pb2.Plot]:
        return [
            stats_pb2.Plot(
                name=plot["name"],
                png_object_key=self._results.key(stored.id, f"{plot['name']}.png"),
                svg_object_key=self._results.key(stored.id, f"{plot['name']}.svg"),
                data_json=json.dumps(plot["data"], allow_nan=False).encode(),
            )
            for plot in stored.plots
        ]

    async def GetResult(
        self, request: stats_pb2.GetResultRequest, context: grpc.aio.ServicerContext
    ) -> stats_pb2.GetResultResponse:
        stored = await asyncio.to_thread(self._results.get, request.result_id, current_identity())
        if request.plot:
            await asyncio.to_thread(self._results.draw, stored, request.plot)
        return stats_pb2.GetResultResponse(
            json_object_key=stored.json_key,
            csv_object_key=stored.csv_key,
            plots=self._plots(stored),
            model_object_key=stored.model_key,
        )

    async def StartAnalysisJob(
        self, request: stats_pb2.StartAnalysisJobRequest, context: grpc.aio.ServicerContext
    ) -> stats_pb2.StartAnalysisJobResponse:
        caller = current_identity()
        table = await asyncio.to_thread(self._tables.get, request.table_id, caller)
        parameters = parameters_of(request.parameters_json)
        analyses.check(request.kind, [c.name for c in table.columns], parameters)  # "score" runs directly: quick
        job = await asyncio.to_thread(
            self._jobs.start, request.job_id or uuid.uuid4().hex, table, request.kind, parameters, caller.username
        )
        return stats_pb2.StartAnalysisJobResponse(job=job_to_proto(job))

    async def _job(self, job_id: str) -> Job:
        return owned_by_caller(await asyncio.to_thread(self._store.get, job_id))

    async def GetJob(
        self, request: stats_pb2.GetJobRequest, context: grpc.aio.ServicerContext
    ) -> stats_pb2.GetJobResponse:
        job = await self._job(request.job_id)
        return stats_pb2.GetJobResponse(job=job_to_proto(job), log_lines=[log_line_to_proto(line) for line in job.logs])

    async def ListJobs(
        self, request: stats_pb2.ListJobsRequest, context: grpc.aio.ServicerContext
    ) -> stats_pb2.ListJobsResponse:
        page = await asyncio.to_thread(
            self._store.list, kind=KIND, page_size=request.page_size, page_token=request.page_token
        )
        return stats_pb2.ListJobsResponse(
            jobs=visible_jobs(page.jobs, owned_by_caller), next_page_token=page.next_page_token
        )

    async def WatchJob(
        self, request: stats_pb2.WatchJobRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[job_pb2.JobEvent]:
        async for event in watch_job(self._store, self._events, request.job_id, owned_by_caller):
            yield event

    async def CancelJob(
        self, request: stats_pb2.CancelJobRequest, context: grpc.aio.ServicerContext
    ) -> stats_pb2.CancelJobResponse:
        await self._job(request.job_id)
        job = await asyncio.to_thread(self._jobs.cancel, request.job_id)
        return stats_pb2.CancelJobResponse(job=job_to_proto(job))

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
