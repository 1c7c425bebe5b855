"""Analysis jobs of the statistics service on a real Ray head, through the gateway, the SDK and the command line.

A classifier job on scikit-learn's breast-cancer data reports rising progress, succeeds, and its stored result equals
the same analysis run at once; `radscholar stats ml --job` follows it and prints it; a job is cancelled; unknown jobs
are not found; a bad kind or bad parameters are refused before any job starts.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from typer.testing import CliRunner

from radscholar import Client
from radscholar import cli as radscholar_cli
from radscholar.cli import app
from tests.conftest import Platform

TABLES = "/api/v1/stats/tables"
JOBS = "/api/v1/stats/jobs"
BREAST = {"mean radius": "radius", "mean texture": "texture", "mean smoothness": "smoothness"}
CLASSIFIER = {"outcome": "target", "features": list(BREAST.values()), "model": "logistic_l2", "folds": 3, "seed": 0}


def error_of(answer: httpx.Response) -> tuple[int, str]:
    return answer.status_code, answer.json()["error"]["reason"]


@pytest.fixture
def client(platform: Platform) -> Iterator[Client]:
    token = platform.login(platform.admin_username, platform.admin_password)["access_token"]
    with Client(platform.url, token=token) as signed:
        yield signed


@pytest.fixture(scope="module")
def breast_cancer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """scikit-learn's breast-cancer data, three columns and the outcome (1 benign, 0 malignant), as CSV."""
    frame = load_breast_cancer(as_frame=True).frame[[*BREAST, "target"]].rename(columns=BREAST)
    path = tmp_path_factory.mktemp("breast") / "breast-cancer.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def table(platform: Platform, breast_cancer: Path) -> dict[str, Any]:
    """The breast-cancer table, stored (by the admin)."""
    token = platform.login(platform.admin_username, platform.admin_password)["access_token"]
    with Client(platform.url, token=token) as admin:
        return admin.upload_table(breast_cancer)


def signed_in_runner(platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A CLI runner signed in as the admin (its sign-in kept under ``tmp_path``), with output wide enough for ids."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("RADSCHOLAR_API_KEY", raising=False)
    monkeypatch.setattr(radscholar_cli.console, "width", 300)
    monkeypatch.setattr(radscholar_cli.err_console, "width", 300)
    runner = CliRunner()
    signed = runner.invoke(
        app,
        ["login", "--username", platform.admin_username, "--password-stdin", "--url", platform.url],
        input=platform.admin_password,
    )
    assert signed.exit_code == 0, signed.output
    return runner


def audited(platform: Platform, resource: str) -> set[tuple[str, str]]:
    records = platform.gateway.get("/api/v1/audit", params={"resource": resource}).json()["records"]
    return {(record["action"], record["outcome"]) for record in records}


def test_a_classifier_job_reports_progress_and_equals_the_analysis_run_at_once(
    platform: Platform, ray_head: str, client: Client, table: dict[str, Any], tmp_path: Path
) -> None:
    job = client.start_analysis_job(table["id"], "classifier", **CLASSIFIER)
    assert job["state"] == "QUEUED" and job["kind"] == "stats.analysis", job
    events = list(client.watch_stats_job(job["id"]))
    job = events[-1]["job"]
    log = [line["message"] for event in events for line in event["log_lines"]]
    assert job["state"] == "SUCCEEDED", (job, log)
    # Progress came as the folds went: rising, through values between none and all, to the end.
    fractions = [event["job"]["progress"]["fraction"] for event in events]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0), fractions
    assert any(0 < fraction < 1 for fraction in fractions), fractions
    assert any("result" in line for line in log), log

    result_id = job["result"]["result_id"]
    stored = json.loads(client.download_result(result_id, "result.json", tmp_path / "result.json").read_text())
    direct = client.analyse(table["id"], "classifier", **CLASSIFIER)
    assert stored["id"] == result_id != direct["id"] and stored["kind"] == "classifier"
    for part in ("test", "cv"):
        assert stored["result"][part]["auc"] == pytest.approx(direct["result"][part]["auc"], rel=1e-12), part
    assert stored["result"]["test"]["auc_delong"] == pytest.approx(direct["result"]["test"]["auc_delong"])
    assert stored["rows_used"] == direct["rows_used"] and stored["result"]["model"] == "logistic_l2"
    roc = client.download_result(result_id, "roc.png", tmp_path / "roc.png")
    assert roc.read_bytes().startswith(b"\x89PNG")

    # An ended job: shown with its log, and waited for at once.
    detail = client.stats_job(job["id"])
    assert detail["job"]["state"] == "SUCCEEDED" and detail["job"]["result"] == job["result"]
    assert [line["message"] for line in detail["log_lines"]][-len(log) :] == log
    assert client.wait_for_stats_job(job["id"], timeout=30)["result"] == job["result"]
    assert ("stats.jobs.start", "success") in audited(platform, f"stats_job:{job['id']}")


def test_stats_ml_as_a_job_on_the_command_line(
    platform: Platform,
    ray_head: str,
    client: Client,
    table: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runner = signed_in_runner(platform, tmp_path, monkeypatch)
    job_id, out = f"ml-{uuid.uuid4().hex[:8]}", tmp_path / "out"
    features = [arg for feature in CLASSIFIER["features"] for arg in ("--feature", feature)]
    ran = runner.invoke(
        app,
        ["stats", "ml", table["id"], "--outcome", "target", *features, "--model", "logistic_l2", "--folds", "3",
         "--seed", "0", "--job", "--job-id", job_id, "--out", str(out), "--url", platform.url],
    )  # fmt: skip
    assert ran.exit_code == 0, ran.output
    assert f"job {job_id} SUCCEEDED" in ran.output and "result_id" in ran.output, ran.output
    assert "AUC CI (DeLong)" in ran.output and "permutation importance" in ran.output, ran.output
    document = json.loads((out / "result.json").read_text())
    assert f"result {document['id']}:" in ran.output
    direct = client.analyse(table["id"], "classifier", **CLASSIFIER)
    assert document["result"]["test"]["auc"] == pytest.approx(direct["result"]["test"]["auc"], rel=1e-12)
    for plot in ("roc", "calibration", "importance", "confusion-matrix"):
        assert (out / f"{plot}.png").read_bytes().startswith(b"\x89PNG")
        assert b"<svg" in (out / f"{plot}.svg").read_bytes()[:2000]
    assert (out / "model.joblib").stat().st_size > 0 and not pd.read_csv(out / "result.csv").empty

    shown = runner.invoke(app, ["stats", "job", job_id, "--url", platform.url])
    assert shown.exit_code == 0 and "SUCCEEDED" in shown.output and document["id"] in shown.output, shown.output
    assert "log line" in shown.output, shown.output
    watched = runner.invoke(app, ["stats", "job", job_id, "--watch", "--url", platform.url])
    assert watched.exit_code == 0 and f"job {job_id} SUCCEEDED" in watched.output, watched.output


def test_a_job_is_cancelled_and_hidden_from_outsiders(
    platform: Platform,
    ray_head: str,
    client: Client,
    table: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A search long enough to be stopped: ten folds, each searching 20 forests in ten folds of its own."""
    long_search = CLASSIFIER | {
        "model": "random_forest",
        "folds": 10,
        "search": {"max_features": [1, 2, 3, 0.5], "min_samples_leaf": [1, 2, 5, 10, 20]},
    }
    job_id = f"cancel-{uuid.uuid4().hex[:8]}"
    assert client.start_analysis_job(table["id"], "classifier", job_id=job_id, **long_search)["id"] == job_id
    retried = client.start_analysis_job(table["id"], "classifier", job_id=job_id, **long_search)
    assert retried["id"] == job_id  # a retried request does not start a second job
    runner = signed_in_runner(platform, tmp_path, monkeypatch)
    cancelled = runner.invoke(app, ["stats", "cancel", job_id, "--url", platform.url])
    assert cancelled.exit_code == 0 and f"job {job_id}:" in cancelled.output, cancelled.output
    job = client.wait_for_stats_job(job_id, timeout=120)
    assert job["state"] == "CANCELLED" and "result_id" not in job["result"], job
    assert ("stats.jobs.cancel", "success") in audited(platform, f"stats_job:{job_id}")
    followed = runner.invoke(app, ["stats", "job", job_id, "--watch", "--url", platform.url])
    assert followed.exit_code == 1 and "CANCELLED" in followed.output, followed.output

    assert job_id in [j["id"] for j in client.stats_jobs(page_size=1000)["jobs"]]
    listed = runner.invoke(app, ["stats", "job", "--url", platform.url])
    assert listed.exit_code == 0 and job_id in listed.output, listed.output

    _, token = platform.user(["researcher"])
    with platform.client(token) as outsider:
        for answer in (outsider.get(f"{JOBS}/{job_id}"), outsider.post(f"{JOBS}/{job_id}/cancel")):
            assert error_of(answer) == (404, "JOB_NOT_FOUND"), answer.text
        assert job_id not in [j["id"] for j in outsider.get(JOBS, params={"page_size": 1000}).json()["jobs"]]


def test_unknown_jobs_are_not_found(platform: Platform) -> None:
    for suffix in ("", "/events"):
        answer = platform.gateway.get(f"{JOBS}/no-such-job{suffix}")
        assert error_of(answer) == (404, "JOB_NOT_FOUND"), (suffix, answer.text)
        assert answer.headers["content-type"] == "application/json"
    answer = platform.gateway.post(f"{JOBS}/no-such-job/cancel")
    assert error_of(answer) == (404, "JOB_NOT_FOUND"), answer.text


def test_a_bad_kind_or_bad_parameters_are_refused_before_a_job_starts(
    platform: Platform, ray_head: str, table: dict[str, Any]
) -> None:
    """With Ray up, so that a refusal is the check's and not Ray's absence."""
    start = f"{TABLES}/{table['id']}/analysis-jobs"
    refused = {
        "unknown kind": ({"kind": "astrology"}, 422, "INVALID_REQUEST"),
        "parameters not an object": ({"kind": "classifier", "parameters": [1, 2]}, 422, "INVALID_REQUEST"),
        "unknown column": ({"kind": "classifier", "parameters": CLASSIFIER | {"outcome": "nope"}}, 422, None),
        "unknown model": ({"kind": "classifier", "parameters": CLASSIFIER | {"model": "astrology"}}, 422, None),
        "unknown parameter": ({"kind": "classifier", "parameters": CLASSIFIER | {"colour": "red"}}, 422, None),
    }
    for case, (body, status, reason) in refused.items():
        job_id = f"refused-{uuid.uuid4().hex[:8]}"
        answer = platform.gateway.post(start, json=body | {"job_id": job_id})
        assert answer.status_code == status and reason in (None, error_of(answer)[1]), (case, answer.text)
        never = platform.gateway.get(f"{JOBS}/{job_id}")
        assert error_of(never) == (404, "JOB_NOT_FOUND"), (case, never.text)  # nothing half-started
    answer = platform.gateway.post(start, json={"kind": "classifier", "parameters": CLASSIFIER, "job_id": "no spaces"})
    assert error_of(answer) == (422, "INVALID_REQUEST"), answer.text
    answer = platform.gateway.post(f"{TABLES}/no-such-table/analysis-jobs", json={"kind": "classifier"})
    assert error_of(answer) == (404, "TABLE_NOT_FOUND"), answer.text


def test_a_job_id_needs_a_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    argv = ["stats", "ml", "t.csv", "--outcome", "y", "--feature", "x", "--job-id", "j", "--url", "http://127.0.0.1:9"]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2 and "only with --job" in result.output, result.output
