"""Statistics through the platform against the libraries called directly, in one run.

    .venv/bin/python -m bench.stats [--rows 10000] [--features 100] [--repeat 3]

Two workloads on synthetic data (seeded):

1. Logistic regression on rows x features with 5-fold cross-validation: the platform's classifier analysis
   (model "glm": unpenalised logistic regression, no hyperparameter search, a 25 % held-out test part) through the
   gateway (`Client.analyse` on a stored table), against `train_classifier` called in this process (the same
   computation: the folds, the final fit, AUC intervals, permutation importance), and, for scale, scikit-learn's bare
   `cross_val_predict` + `fit` of the same model.
2. A Cox model on rows with 5 covariates: the platform's cox analysis through the gateway against `survival.cox` in
   this process and lifelines' `CoxPHFitter.fit` alone.

Goal (the statistics issue): the platform's overhead over the direct call at most 15 %. The median of --repeat
runs is kept for each. Results go to stdout and, as JSON, to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import platform as host
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from bench._platform import REPO_ROOT, platform_process
from radscholar import Client
from radscholar_localstack.scratch_orthanc import running_orthanc
from radscholar_stats.domain import ml, survival

OVERHEAD_GOAL = 0.15


@dataclass
class Workload:
    name: str
    library_seconds: float  # the bare library call
    direct_seconds: float  # the platform's domain function in this process
    service_seconds: float  # through the gateway, the table already stored
    upload_seconds: float  # storing the table (once)
    overhead: float  # service / direct - 1
    goal_met: bool
    same_result: bool


def median_time(run: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    seconds, value = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        value = run()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), value


def logistic_table(rows: int, features: int, seed: int) -> pd.DataFrame:
    generator = np.random.default_rng(seed)
    x = generator.normal(size=(rows, features))
    weights = generator.normal(scale=0.3, size=features)
    y = generator.random(rows) < 1 / (1 + np.exp(-(x @ weights)))
    table = pd.DataFrame(x, columns=[f"x{i:03d}" for i in range(features)])
    table["outcome"] = y.astype(int)
    return table


def cox_table(rows: int, seed: int) -> pd.DataFrame:
    generator = np.random.default_rng(seed)
    covariates = generator.normal(size=(rows, 5))
    hazard = np.exp(covariates @ np.array([0.5, -0.3, 0.2, 0.0, 0.1]))
    event_time = generator.exponential(1 / hazard)
    censor_time = generator.exponential(1.5, size=rows)
    table = pd.DataFrame(covariates, columns=[f"c{i}" for i in range(5)])
    table["time"] = np.minimum(event_time, censor_time)
    table["event"] = (event_time <= censor_time).astype(int)
    return table


def stored_table(client: Client, table: pd.DataFrame, folder: Path, name: str) -> tuple[str, float]:
    path = folder / f"{name}.parquet"
    table.to_parquet(path, index=False)
    started = time.perf_counter()
    answer = client.upload_table(path)
    return str(answer["id"]), time.perf_counter() - started


def logistic(client: Client, folder: Path, rows: int, features: int, repeat: int, seed: int) -> Workload:
    table = logistic_table(rows, features, seed)
    names = [c for c in table.columns if c != "outcome"]
    parameters = {"outcome": "outcome", "features": names, "model": "glm", "folds": 5, "seed": seed}

    def library() -> None:
        model = make_pipeline(StandardScaler(), LogisticRegression(C=np.inf, max_iter=1000))
        folds = StratifiedKFold(5, shuffle=True, random_state=seed)
        cross_val_predict(model, table[names], table["outcome"], cv=folds, method="predict_proba")
        model.fit(table[names], table["outcome"])

    framed = table.copy()
    framed.index = pd.RangeIndex(1, len(framed) + 1, name="row")
    library_seconds, _ = median_time(library, repeat)
    direct_seconds, direct = median_time(lambda: ml.train_classifier(framed, **parameters), repeat)
    table_id, upload_seconds = stored_table(client, table, folder, "logistic")
    service_seconds, answer = median_time(lambda: client.analyse(table_id, "classifier", **parameters), repeat)
    same = answer["result"]["test"]["auc"] == direct.test.auc and answer["result"]["cv"]["auc"] == direct.cv.auc
    return Workload(
        f"logistic regression, {rows} x {features}, 5-fold CV",
        library_seconds,
        direct_seconds,
        service_seconds,
        upload_seconds,
        service_seconds / direct_seconds - 1,
        service_seconds / direct_seconds - 1 <= OVERHEAD_GOAL,
        same,
    )


def cox(client: Client, folder: Path, rows: int, repeat: int, seed: int) -> Workload:
    table = cox_table(rows, seed)
    covariates = [f"c{i}" for i in range(5)]
    parameters = {"time": "time", "event": "event", "covariates": covariates}
    framed = table.copy()
    framed.index = pd.RangeIndex(1, len(framed) + 1, name="row")
    library_seconds, _ = median_time(lambda: CoxPHFitter().fit(table, "time", "event"), repeat)
    direct_seconds, direct = median_time(lambda: survival.cox(framed, **parameters), repeat)
    table_id, upload_seconds = stored_table(client, table, folder, "cox")
    service_seconds, answer = median_time(lambda: client.analyse(table_id, "cox", **parameters), repeat)
    served = {term["name"]: term["coefficient"] for term in answer["result"]["terms"]}
    same = all(served[term.name] == term.coefficient for term in direct.terms)
    return Workload(
        f"Cox model, {rows} rows x 5 covariates",
        library_seconds,
        direct_seconds,
        service_seconds,
        upload_seconds,
        service_seconds / direct_seconds - 1,
        service_seconds / direct_seconds - 1 <= OVERHEAD_GOAL,
        same,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--features", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3, help="runs per path; the median is kept")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "var/bench/stats.json")
    args = parser.parse_args(argv)
    (REPO_ROOT / "var/bench").mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="stats-", dir=REPO_ROOT / "var/bench"))
    try:
        with (
            running_orthanc(work / "orthanc") as orthanc,
            platform_process(orthanc, work / "platform") as gateway,
            Client(gateway.url, token=gateway.token) as client,
        ):
            workloads = [
                logistic(client, work, args.rows, args.features, args.repeat, args.seed),
                cox(client, work, args.rows, args.repeat, args.seed),
            ]
        for load in workloads:
            verdict = "MET" if load.goal_met else "NOT MET"
            print(
                f"{load.name}: {load.library_seconds:.2f} s bare library, {load.direct_seconds:.2f} s the platform's"
                f" function here, {load.service_seconds:.2f} s through the gateway (table stored once in"
                f" {load.upload_seconds:.2f} s): overhead {load.overhead:+.1%} (goal <= {OVERHEAD_GOAL:.0%}): "
                f"{verdict}; same result: {'yes' if load.same_result else 'NO'}"
            )
        report = {
            "benchmark": "stats",
            "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "platform": host.platform()},
            "settings": {"rows": args.rows, "features": args.features, "repeat": args.repeat, "seed": args.seed},
            "goals": {"overhead": OVERHEAD_GOAL},
            "workloads": [asdict(load) for load in workloads],
        }
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nwritten to {args.out}")
        return 0 if all(load.same_result for load in workloads) else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
