"""The stats server on a real port, driven through its stub."""

import io
import json
from pathlib import Path

import grpc
import pandas as pd
import pytest
import statsmodels.api as sm
from sklearn.datasets import load_breast_cancer

from radscholar_core.grpc_server import serving
from radscholar_core.objectstore import ObjectStore, ObjectStoreSettings, open_object_store
from radscholar_core.status import error_info
from radscholar_core.testing import gateway_keys, person
from radscholar_proto.stats.v1 import stats_pb2 as pb
from radscholar_proto.stats.v1 import stats_pb2_grpc
from radscholar_stats.config import Settings
from radscholar_stats.domain import ml
from radscholar_stats.server import build_server

KEYS = gateway_keys()


@pytest.fixture
async def stats(tmp_path: Path):  # type: ignore[no-untyped-def]
    settings = Settings(
        port=0,
        identity=KEYS.keys,
        object_store=ObjectStoreSettings(root=tmp_path / "objects"),
        database_url=f"sqlite:///{tmp_path}/stats.db",
    )
    async with serving(build_server(settings), interceptors=KEYS.interceptors()) as channel:
        yield stats_pb2_grpc.StatsServiceStub(channel)


@pytest.fixture
def objects(tmp_path: Path) -> ObjectStore:
    return open_object_store(ObjectStoreSettings(root=tmp_path / "objects"))


async def stored(stats: stats_pb2_grpc.StatsServiceStub, objects: ObjectStore, frame: pd.DataFrame) -> pb.Table:
    objects.put("staging/stats/table", frame.to_csv(index=False).encode())
    answer = await stats.CreateTable(pb.CreateTableRequest(object_key="staging/stats/table", name="table.csv"))
    return answer.table


async def test_a_stored_table_is_typed_and_analysed_with_its_plots_kept(
    stats: stats_pb2_grpc.StatsServiceStub, objects: ObjectStore
) -> None:
    data = load_breast_cancer(as_frame=True).frame[["mean radius", "mean texture", "target"]]
    data.loc[3, "mean texture"] = None  # one row without a value: left out and named
    table = await stored(stats, objects, data)
    assert table.rows == len(data) and table.created_by == "rita.researcher"
    types = {c.name: (c.type, c.missing) for c in table.columns}
    assert types == {"mean radius": ("numeric", 0), "mean texture": ("numeric", 1), "target": ("binary", 0)}
    parameters = {"outcome": "target", "predictors": ["mean radius", "mean texture"], "model": "logistic"}
    answer = await stats.RunAnalysis(
        pb.RunAnalysisRequest(table_id=table.id, kind="regression", parameters_json=json.dumps(parameters).encode())
    )
    complete = data.dropna()
    direct = sm.Logit(complete["target"], sm.add_constant(complete[["mean radius", "mean texture"]])).fit(disp=0)
    result = json.loads(answer.result_json)
    coefficients = {term["name"]: term["coefficient"] for term in result["terms"]}
    assert coefficients["mean radius"] == pytest.approx(direct.params["mean radius"], rel=1e-6)
    assert coefficients["mean texture"] == pytest.approx(direct.params["mean texture"], rel=1e-6)
    assert list(answer.rows_dropped) == [4] and len(answer.rows_used) == len(data) - 1  # rows are numbered from 1
    assert answer.provenance["statsmodels_version"] and [p.name for p in answer.plots] == ["forest"]
    forest = json.loads(answer.plots[0].data_json)  # the data a browser draws; the files are drawn when asked for
    assert forest["reference"] == 1.0 and {row["term"] for row in forest["rows"]} == {"mean radius", "mean texture"}
    assert not objects.exists(answer.plots[0].png_object_key)
    kept = await stats.GetResult(pb.GetResultRequest(result_id=answer.id, plot="forest"))
    assert kept.csv_object_key == answer.csv_object_key and [p.name for p in kept.plots] == ["forest"]
    assert objects.get(answer.plots[0].png_object_key).startswith(b"\x89PNG")
    assert b"<svg" in objects.get(answer.plots[0].svg_object_key)
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await stats.GetResult(pb.GetResultRequest(result_id=answer.id, plot="roc"))
    info = error_info(failure.value)
    assert info is not None and info.reason == "PLOT_NOT_FOUND"


async def test_tables_and_results_are_their_owners(
    tmp_path: Path, stats: stats_pb2_grpc.StatsServiceStub, objects: ObjectStore
) -> None:
    table = await stored(stats, objects, pd.DataFrame({"x": [1.0, 2.0, 3.0], "g": ["a", "b", "a"]}))
    settings = Settings(
        port=0,
        identity=KEYS.keys,
        object_store=ObjectStoreSettings(root=tmp_path / "objects"),
        database_url=f"sqlite:///{tmp_path}/stats.db",
    )
    other = KEYS.interceptors(person("otto.other"))
    async with serving(build_server(settings), interceptors=other) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as failure:
            await stats_pb2_grpc.StatsServiceStub(channel).GetTable(pb.GetTableRequest(table_id=table.id))
    assert failure.value.code() == grpc.StatusCode.PERMISSION_DENIED
    for request, reason in (
        (pb.RunAnalysisRequest(table_id=table.id, kind="anova"), "UNKNOWN_ANALYSIS"),
        (pb.RunAnalysisRequest(table_id=table.id, kind="test", parameters_json=b"[1]"), "INVALID_PARAMETERS"),
        (
            pb.RunAnalysisRequest(table_id=table.id, kind="kmeans", parameters_json=b'{"features": ["x"], "j": 2}'),
            "INVALID_PARAMETERS",
        ),
        (pb.RunAnalysisRequest(table_id="nope", kind="test"), "TABLE_NOT_FOUND"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as failure:
            await stats.RunAnalysis(request)
        info = error_info(failure.value)
        assert info is not None and info.reason == reason, (request.kind, info)


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


async def analyse(
    stats: stats_pb2_grpc.StatsServiceStub, table_id: str, kind: str, **parameters: object
) -> pb.RunAnalysisResponse:
    request = pb.RunAnalysisRequest(table_id=table_id, kind=kind, parameters_json=json.dumps(parameters).encode())
    return await stats.RunAnalysis(request)


async def test_a_trained_classifier_scores_a_table_and_the_other_analyses_run(
    stats: stats_pb2_grpc.StatsServiceStub, objects: ObjectStore
) -> None:
    data = load_breast_cancer(as_frame=True).frame
    columns = ["mean radius", "mean texture", "mean smoothness"]
    table = await stored(stats, objects, data[[*columns, "target"]])
    trained = await analyse(
        stats, table.id, "classifier", outcome="target", features=columns, model="logistic_l2", folds=3, seed=1
    )
    assert trained.model_object_key and {p.name for p in trained.plots} >= {"roc", "calibration", "importance"}
    assert trained.provenance["seed"] == "1" and trained.provenance["scikit-learn_version"]
    scored = await analyse(stats, table.id, "score", model_result_id=trained.id)
    probabilities = [row["probability"] for row in json.loads(scored.result_json)["scores"]]
    direct = ml.score(objects.get(trained.model_object_key), data[columns].set_axis(range(1, len(data) + 1)))
    assert probabilities == pytest.approx(list(direct.probability), abs=1e-12)
    not_a_model = await analyse(stats, table.id, "kmeans", features=columns, k=2, seed=0)
    clusters = json.loads(not_a_model.result_json)
    assert clusters["k"] == 2 and -1 <= clusters["silhouette"] <= 1
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await analyse(stats, table.id, "score", model_result_id=not_a_model.id)
    info = error_info(failure.value)
    assert info is not None and info.reason == "NOT_A_MODEL"

    scores = data[columns[:2]].assign(target=data["target"])
    compared = await analyse(
        stats,
        (await stored(stats, objects, scores)).id,
        "delong",
        outcome="target",
        score_a=columns[0],
        score_b=columns[1],
    )
    delong = json.loads(compared.result_json)
    expected = ml.delong_test(data["target"], data[columns[0]], data[columns[1]])
    assert delong["p_value"] == pytest.approx(expected.p_value, rel=1e-12)
    p_values = pd.DataFrame({"p": [0.01, 0.04, 0.03, 0.2]})
    adjusted = await analyse(stats, (await stored(stats, objects, p_values)).id, "p-adjust", column="p", method="holm")
    rows = json.loads(adjusted.result_json)["rows"]
    assert [row["adjusted"] for row in rows] == pytest.approx([0.04, 0.09, 0.09, 0.2])  # Holm, as R's p.adjust


async def test_a_spreadsheet_column_of_numbers_and_words_is_stored_as_text(
    stats: stats_pb2_grpc.StatsServiceStub, objects: ObjectStore
) -> None:
    workbook = io.BytesIO()
    pd.DataFrame({"size": [1, "two", 3.5, 4], "group": ["a", "b", "a", "b"]}).to_excel(workbook, index=False)
    objects.put("staging/stats/mixed", workbook.getvalue())
    answer = await stats.CreateTable(pb.CreateTableRequest(object_key="staging/stats/mixed", name="mixed.xlsx"))
    assert {c.name: c.type for c in answer.table.columns}["size"] == "categorical"
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await analyse(stats, answer.table.id, "test", test="welch_t", variable="size", group="group")
    info = error_info(failure.value)
    assert info is not None and info.reason == "NOT_NUMERIC" and "'two' (row 2)" in failure.value.details()
