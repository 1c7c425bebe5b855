"""Tables and analyses through the gateway, the SDK and the command line, against the libraries called directly:
scipy for a Welch test, statsmodels for logistic regression (scikit-learn's breast-cancer data), lifelines for
Kaplan-Meier, log-rank and Cox (the Rossi recidivism data); bad inputs are refused naming the column."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy
import statsmodels.api as sm
from lifelines import CoxPHFitter
from lifelines.datasets import load_rossi
from lifelines.statistics import logrank_test
from scipy import stats
from sklearn.datasets import load_breast_cancer
from typer.testing import CliRunner

from radscholar import Client
from radscholar.cli import app
from tests.conftest import Platform

TABLES = "/api/v1/stats/tables"
BREAST = {"mean radius": "radius", "mean texture": "texture", "mean smoothness": "smoothness"}


def upload(client: Any, path: Path) -> dict[str, Any]:
    """Uploads a table through REST with ``client`` (an httpx client signed in)."""
    with path.open("rb") as handle:
        answer = client.post(TABLES, files={"file": (path.name, handle, "application/octet-stream")})
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


def analyse(platform: Platform, table_id: str, kind: str, **parameters: Any) -> dict[str, Any]:
    answer = platform.gateway.post(f"{TABLES}/{table_id}/analyses", json={"kind": kind, "parameters": parameters})
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def refusal(answer: Any, status: int, reason: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    error: dict[str, Any] = answer.json()["error"]
    assert error["reason"] == reason, error
    return error


def signed_in_runner(platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A CLI runner whose sign-in (as the admin) is kept under ``tmp_path``."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    runner = CliRunner()
    signed = runner.invoke(
        app,
        ["login", "--username", platform.admin_username, "--password-stdin", "--url", platform.url],
        input=platform.admin_password,
    )
    assert signed.exit_code == 0, signed.output
    return runner


@pytest.fixture
def client(platform: Platform) -> Any:
    token = platform.login(platform.admin_username, platform.admin_password)["access_token"]
    with Client(platform.url, token=token) as signed:
        yield signed


@pytest.fixture(scope="module")
def breast_cancer(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, Path]:
    """scikit-learn's breast-cancer data, three columns and the outcome (1 benign, 0 malignant), as CSV."""
    data = load_breast_cancer(as_frame=True).frame
    frame = data[[*BREAST, "target"]].rename(columns=BREAST)
    path = tmp_path_factory.mktemp("breast") / "breast-cancer.csv"
    frame.to_csv(path, index=False)
    return frame, path


def mixed_table() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "age": rng.normal(60, 9, 80).round(1),
            "sex": rng.choice(["F", "M"], 80),
            "stage": rng.choice(["I", "II", "III"], 80),
            "note": [f"free text {i}" for i in range(80)],
            "seen": pd.date_range("2024-01-01", periods=80, freq="D"),
        }
    )
    frame.loc[[4, 9, 30], "age"] = np.nan
    return frame


def test_csv_and_excel_tables_are_typed(platform: Platform, tmp_path: Path) -> None:
    frame = mixed_table()
    frame.to_csv(tmp_path / "cohort.csv", index=False)
    frame.to_excel(tmp_path / "cohort.xlsx", index=False, engine="openpyxl")
    for name in ("cohort.csv", "cohort.xlsx"):
        table = upload(platform.gateway, tmp_path / name)
        assert table["name"] == name and table["rows"] == 80 and table["source"] == "upload"
        assert table["created_by"] == platform.admin_username
        columns = {c["name"]: c for c in table["columns"]}
        assert list(columns) == list(frame.columns)
        assert columns["age"]["type"] == "numeric" and columns["age"]["missing"] == 3
        assert columns["sex"]["type"] == "binary" and columns["sex"]["values"] == ["F", "M"]
        assert columns["stage"]["type"] == "categorical" and columns["stage"]["values"] == ["I", "II", "III"]
        assert columns["note"]["type"] == "text" and columns["note"]["distinct"] == 80
        assert platform.gateway.get(f"{TABLES}/{table['id']}").json() == table
    assert columns["seen"]["type"] == "date"  # Excel keeps dates as dates; a CSV has text


def test_welch_test_through_rest_equals_scipy(platform: Platform, tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    a, b = rng.normal(5.0, 1.0, 25), rng.normal(5.8, 2.0, 31)
    frame = pd.DataFrame({"arm": ["A"] * 25 + ["B"] * 31, "value": np.concatenate([a, b])})
    frame.loc[len(frame)] = ["B", np.nan]  # row 57: left out, and said so
    frame.to_csv(tmp_path / "trial.csv", index=False)
    table = upload(platform.gateway, tmp_path / "trial.csv")
    analysis = analyse(platform, table["id"], "test", test="welch_t", variable="value", group="arm")
    expected = stats.ttest_ind(a, b, equal_var=False)
    interval = expected.confidence_interval(0.95)
    result = analysis["result"]
    assert result["statistic"] == pytest.approx(expected.statistic, rel=1e-9)
    assert result["p_value"] == pytest.approx(expected.pvalue, rel=1e-9)
    assert result["degrees_of_freedom"] == pytest.approx(expected.df, rel=1e-9)
    assert result["estimate"] == pytest.approx(a.mean() - b.mean(), rel=1e-9)
    assert (result["ci_low"], result["ci_high"]) == pytest.approx((interval.low, interval.high), rel=1e-9)
    assert result["effect_size"] is not None and result["n"] == [25, 31]
    assert analysis["rows_used"] == list(range(1, 57)) and analysis["rows_dropped"] == [57]
    assert analysis["provenance"]["scipy_version"] == scipy.__version__
    stored = platform.gateway.get(analysis["json_url"])
    assert stored.status_code == 200 and stored.headers["content-type"].startswith("application/json")
    assert stored.json()["result"] == result
    missing = platform.gateway.get(analysis["json_url"].replace("result.json", "nothing.png"))
    refusal(missing, 404, "PLOT_NOT_FOUND")
    missing = platform.gateway.get(analysis["json_url"].replace("result.json", "nothing.txt"))
    refusal(missing, 404, "RESULT_FILE_NOT_FOUND")
    audit = platform.gateway.get("/api/v1/audit", params={"resource": f"stats_table:{table['id']}"}).json()
    actions = {(record["action"], record["outcome"]) for record in audit["records"]}
    assert {("stats.tables.create", "success"), ("stats.analyses.run", "success")} <= actions, actions


def test_logistic_regression_through_the_sdk_equals_statsmodels(
    client: Client, breast_cancer: tuple[pd.DataFrame, Path], tmp_path: Path
) -> None:
    frame, path = breast_cancer
    table = client.upload_table(path)
    assert client.table(table["id"]) == table
    predictors = list(BREAST.values())
    analysis = client.analyse(table["id"], "regression", outcome="target", predictors=predictors, model="logistic")
    fitted = sm.GLM(frame["target"], sm.add_constant(frame[predictors]), family=sm.families.Binomial()).fit()
    intervals = fitted.conf_int(0.05)
    terms = {term["name"]: term for term in analysis["result"]["terms"]}
    assert list(terms) == ["Intercept", *predictors]
    for name, term in terms.items():
        key = "const" if name == "Intercept" else name
        assert term["coefficient"] == pytest.approx(fitted.params[key], rel=1e-6)
        assert term["std_error"] == pytest.approx(fitted.bse[key], rel=1e-6)
        assert term["p_value"] == pytest.approx(fitted.pvalues[key], rel=1e-5, abs=1e-300)
        assert (term["ci_low"], term["ci_high"]) == pytest.approx(tuple(intervals.loc[key]), rel=1e-6)
        assert term["ratio"] == pytest.approx(np.exp(fitted.params[key]), rel=1e-6)
    assert analysis["result"]["fit"]["aic"] == pytest.approx(fitted.aic, rel=1e-6)
    assert [plot["name"] for plot in analysis["plots"]] == ["forest"]
    png = client.download_result(analysis["id"], "forest.png", tmp_path / "forest.png")
    assert png.read_bytes().startswith(b"\x89PNG")
    written = client.download_result(analysis["id"], "result.csv", tmp_path / "terms.csv")
    assert list(pd.read_csv(written)["name"]) == ["Intercept", *predictors]


def test_survival_on_the_command_line_equals_lifelines(
    platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rossi = load_rossi()
    rossi.to_csv(tmp_path / "rossi.csv", index=False)
    runner = signed_in_runner(platform, tmp_path, monkeypatch)
    covariates = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        ["stats", "survival", str(tmp_path / "rossi.csv"), "--time", "week", "--event", "arrest", "--group", "fin",
         *[arg for c in covariates for arg in ("--covariate", c)], "--out", str(out), "--url", platform.url],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "hazard ratios" in result.output and "concordance" in result.output
    for kind, plot in (("kaplan-meier", "kaplan-meier"), ("cox", "forest")):
        assert (out / kind / f"{plot}.png").read_bytes().startswith(b"\x89PNG")
        assert b"<svg" in (out / kind / f"{plot}.svg").read_bytes()[:2000]
        assert (out / kind / "result.json").is_file()
    assert (out / "cox" / "result.csv").is_file()

    cox = json.loads((out / "cox" / "result.json").read_text())["result"]
    fitted = CoxPHFitter().fit(rossi, "week", "arrest")
    for term in cox["terms"]:
        assert term["coefficient"] == pytest.approx(fitted.params_[term["name"]], rel=1e-6)
        assert term["hazard_ratio"] == pytest.approx(np.exp(fitted.params_[term["name"]]), rel=1e-6)
        assert term["p_value"] == pytest.approx(fitted.summary.loc[term["name"], "p"], rel=1e-5)
    assert cox["concordance"] == pytest.approx(fitted.concordance_index_, rel=1e-6)
    published = {"fin": -0.379, "age": -0.057, "prio": 0.091}  # lifelines' and Fox's reported coefficients
    assert {t["name"]: round(t["coefficient"], 3) for t in cox["terms"] if t["name"] in published} == published
    ranked = json.loads((out / "log-rank" / "result.json").read_text())["result"]
    groups = [rossi[rossi.fin == level] for level in (0, 1)]
    expected = logrank_test(groups[0].week, groups[1].week, groups[0].arrest, groups[1].arrest)
    assert ranked["statistic"] == pytest.approx(expected.test_statistic, rel=1e-6)
    assert ranked["p_value"] == pytest.approx(expected.p_value, rel=1e-6)


def test_a_random_forest_on_the_command_line_reports_its_auc_with_a_confidence_interval(
    platform: Platform, breast_cancer: tuple[pd.DataFrame, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, path = breast_cancer
    runner = signed_in_runner(platform, tmp_path, monkeypatch)
    out = tmp_path / "forest"
    result = runner.invoke(
        app,
        ["stats", "ml", str(path), "--outcome", "target", *[arg for f in BREAST.values() for arg in ("--feature", f)],
         "--model", "random_forest", "--folds", "3", "--seed", "0", "--out", str(out), "--url", platform.url],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "AUC CI (DeLong)" in result.output and "permutation importance" in result.output
    document = json.loads((out / "result.json").read_text())
    test = document["result"]["test"]
    assert 0.85 < test["auc"] <= 1.0
    for interval in ("auc_delong", "auc_bootstrap"):
        assert test[interval]["low"] < test["auc"] < test[interval]["high"], test[interval]
    assert document["provenance"]["seed"] == "0"
    assert any(name.startswith("scikit-learn") for name in document["provenance"])
    for plot in ("roc", "calibration", "importance", "confusion-matrix"):
        assert (out / f"{plot}.png").read_bytes().startswith(b"\x89PNG")
    assert (out / "model.joblib").stat().st_size > 0 and (out / "result.csv").stat().st_size > 0


def test_bad_inputs_are_refused_naming_the_problem(platform: Platform, tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "arm": ["A", "B"] * 10,
            "grade": ["low", "high", "mid", "low", "high"] * 4,
            "week": np.arange(1, 21),
            "status": [0, 1, 2, 1] * 5,
        }
    )
    frame.to_csv(tmp_path / "bad.csv", index=False)
    table = upload(platform.gateway, tmp_path / "bad.csv")
    text = platform.gateway.post(
        f"{TABLES}/{table['id']}/analyses",
        json={"kind": "test", "parameters": {"test": "welch_t", "variable": "grade", "group": "arm"}},
    )
    error = refusal(text, 422, "NOT_NUMERIC")
    assert "grade" in error["message"] and error["details"]["column"] == "grade"
    events = platform.gateway.post(
        f"{TABLES}/{table['id']}/analyses",
        json={"kind": "kaplan-meier", "parameters": {"time": "week", "event": "status"}},
    )
    error = refusal(events, 422, "INVALID_EVENT")
    assert "status" in error["message"]
    refusal(platform.gateway.get(f"{TABLES}/no-such-table"), 404, "TABLE_NOT_FOUND")
    radiomics = platform.gateway.post(f"{TABLES}/from-radiomics", json={"job_id": "no-such-job"})
    assert radiomics.status_code == 404, radiomics.text
    unknown = platform.gateway.post(f"{TABLES}/no-such-table/analyses", json={"kind": "test", "parameters": {}})
    assert unknown.status_code == 404, unknown.text
    kind = platform.gateway.post(f"{TABLES}/{table['id']}/analyses", json={"kind": "astrology", "parameters": {}})
    refusal(kind, 422, "INVALID_REQUEST")
    analysis = analyse(platform, table["id"], "test", test="shapiro_wilk", variable="week")
    _, token = platform.user(["researcher"])
    with platform.client(token) as other:
        refusal(other.get(f"{TABLES}/{table['id']}"), 403, "NOT_YOUR_TABLE")
        theirs = other.post(f"{TABLES}/{table['id']}/analyses", json={"kind": "test", "parameters": {}})
        assert theirs.status_code == 403, theirs.text
        assert other.get(analysis["json_url"]).status_code == 403
        mine = upload(other, tmp_path / "bad.csv")
        assert mine["created_by"] != platform.admin_username
    assert platform.gateway.get(f"{TABLES}/{mine['id']}").status_code == 200  # an admin sees every table


def test_the_command_line_names_an_api_error(
    platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = signed_in_runner(platform, tmp_path, monkeypatch)
    pd.DataFrame({"y": [1.0, 2.0, 3.0, 4.0], "g": ["a", "b", "a", "b"]}).to_csv(tmp_path / "t.csv", index=False)
    shown = runner.invoke(app, ["stats", "tables", "upload", str(tmp_path / "t.csv"), "--url", platform.url])
    assert shown.exit_code == 0 and "binary" in shown.output, shown.output
    bad = runner.invoke(
        app,
        ["stats", "test", str(tmp_path / "t.csv"), "--test", "welch_t", "--variable", "nope", "--group", "g",
         "--url", platform.url],
    )  # fmt: skip
    assert bad.exit_code == 1 and "UNKNOWN_COLUMN" in bad.output and "nope" in bad.output, bad.output
    table_id = shown.output.split("table ")[1].split(":")[0]
    tested = runner.invoke(
        app,
        ["stats", "test", table_id, "--test", "student_t", "--variable", "y", "--group", "g", "--url", platform.url],
    )
    assert tested.exit_code == 0 and "p-value" in tested.output and "Cohen" in tested.output, tested.output
    mixed_table().to_csv(tmp_path / "cohort.csv", index=False)
    described = runner.invoke(
        app,
        ["stats", "table-one", str(tmp_path / "cohort.csv"), "--variable", "age", "--variable", "stage",
         "--group", "sex", "--url", platform.url],
    )  # fmt: skip
    assert described.exit_code == 0 and "Table 1 by sex" in described.output, described.output
    regressed = runner.invoke(
        app,
        ["stats", "regress", str(tmp_path / "cohort.csv"), "--outcome", "age", "--predictor", "stage",
         "--predictor", "sex", "--url", platform.url],
    )  # fmt: skip
    assert regressed.exit_code == 0 and "stage[II]" in regressed.output and "r_squared" in regressed.output
    assert "3 rows dropped" in regressed.output, regressed.output
    missing = runner.invoke(app, ["stats", "tables", "show", "no-such-table", "--url", platform.url])
    assert missing.exit_code == 1 and "TABLE_NOT_FOUND" in missing.output
