"""The analyses a stored table can undergo, by kind: parameters (a JSON object) -> the domain -> a JSON result.

Each kind checks its parameters (``INVALID_PARAMETERS`` names an unknown or missing one), runs the domain
function, and returns an ``Analysis``: the result as JSON-ready data, the rows used and dropped, the main table
for CSV, plots (data and figure), provenance (package versions, seeds) and, for a classifier, the model.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ConfigDict, ValidationError, validate_call

from radscholar_core.errors import InvalidArgument
from radscholar_stats.domain import descriptive, hypothesis, ml, regression, survival
from radscholar_stats.domain.tables import binary, complete_rows, numeric, require_columns

Progress = Callable[[float, str], None]  # fraction done, what is being done
PACKAGES = ("numpy", "pandas", "scipy", "statsmodels", "lifelines", "scikit-learn", "xgboost")


@dataclass(frozen=True)
class Plot:
    name: str  # one of plots.draw's names
    data: Any  # what the figure draws, JSON-ready (plots.draw draws it)


@dataclass
class Analysis:
    result: Any  # JSON-ready
    rows_used: tuple[int, ...] = ()
    rows_dropped: tuple[int, ...] = ()
    table: pd.DataFrame | None = None  # the main table of the result, for CSV
    plots: list[Plot] = field(default_factory=list)
    provenance: dict[str, str] = field(default_factory=dict)
    model: bytes = b""  # a trained classifier, to score new tables


def jsonable(value: Any) -> Any:
    """Plain JSON data: dataclasses as objects, tables as lists of rows, NaN and infinities as null."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: jsonable(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.repr and not isinstance(getattr(value, f.name), pd.DataFrame | pd.Series)
        }
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, pd.DataFrame):
        return [jsonable(row) for row in value.reset_index().to_dict("records")]
    if isinstance(value, list | tuple | np.ndarray | pd.Series):
        return [jsonable(v) for v in (value.tolist() if isinstance(value, np.ndarray | pd.Series) else value)]
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _versions() -> dict[str, str]:
    return {f"{name}_version": metadata.version(name) for name in PACKAGES}


def _bind(function: Callable[..., Any], kind: str, table: pd.DataFrame, parameters: Mapping[str, Any]) -> None:
    """An unknown or missing parameter of ``function(table, **parameters)`` is INVALID_PARAMETERS naming it."""
    signature = inspect.signature(function)
    accepted = [name for name in signature.parameters if name not in ("table", "progress")]
    unknown = sorted(set(parameters) - set(accepted))
    if unknown:
        raise InvalidArgument(
            f"{kind}: unknown parameter {', '.join(unknown)}; it takes {', '.join(accepted)}",
            reason="INVALID_PARAMETERS",
        )
    try:
        signature.bind(table, **parameters)
    except TypeError as error:
        raise InvalidArgument(f"{kind}: {error}", reason="INVALID_PARAMETERS") from None


def _call(function: Callable[..., Any], kind: str, table: pd.DataFrame, parameters: Mapping[str, Any]) -> Any:
    """``function(table, **parameters)``, each parameter checked against the function's annotations: a value of the
    wrong type (``"folds": "five"``) is INVALID_PARAMETERS naming it, not a failure inside the library."""
    _bind(function, kind, table, {k: v for k, v in parameters.items() if k != "progress"})
    try:
        return validate_call(config=ConfigDict(arbitrary_types_allowed=True))(function)(table, **parameters)
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        raise InvalidArgument(
            f"{kind}: parameter {where}: {problem['msg']}", reason="INVALID_PARAMETERS", details={"parameter": where}
        ) from None


def _test(table: pd.DataFrame, parameters: Mapping[str, Any]) -> Analysis:
    result = _call(hypothesis.run_test, "test", table, parameters)
    return Analysis(jsonable(result), result.rows_used, result.rows_dropped, provenance=_versions())


def _p_adjust(table: pd.DataFrame, parameters: Mapping[str, Any]) -> Analysis:
    column, method = parameters.get("column", ""), parameters.get("method", "fdr_bh")
    if set(parameters) - {"column", "method"} or not column:
        raise InvalidArgument("p-adjust takes column (of p-values) and method", reason="INVALID_PARAMETERS")
    values = numeric(table, str(column)).dropna()
    adjusted = hypothesis.adjust_p_values(list(values), str(method))
    frame = pd.DataFrame({"row": values.index, column: values.to_numpy(), "adjusted": adjusted})
    return Analysis({"method": method, "rows": jsonable(frame)}, tuple(values.index), (), frame)


def _table_one(table: pd.DataFrame, parameters: Mapping[str, Any]) -> Analysis:
    result = _call(descriptive.table_one, "table-one", table, parameters)
    return Analysis(jsonable(result), result.rows_used, result.rows_dropped, result.to_frame(), provenance=_versions())


def _regression(table: pd.DataFrame, parameters: Mapping[str, Any]) -> Analysis:
    result = _call(regression.fit_regression, "regression", table, parameters)
    forest = regression.forest_plot_data(result)
    rows = [{"term": r.name, "estimate": r.estimate, "low": r.low, "high": r.high} for r in forest.rows]
    data = {"rows": jsonable(rows), "reference": forest.reference_line, "label": forest.scale}
    terms = pd.DataFrame([jsonable(term) for term in result.terms])
    return Analysis(jsonable(result), result.rows_used, result.rows_dropped, terms, [Plot("forest", data)], _versions())


def _kaplan_meier(table: pd.DataFrame, parameters: Mapping[str, Any]) -> Analysis:
    result = _call(survival.kaplan_meier, "kaplan-meier", table, parameters)
    curves = [
        {
            "group": curve.group,
            "time": list(curve.time),
            "survival": list(curve.survival),
            "low": list(curve.ci_low),
            "high": list(curve.ci_high),
            "at_risk": list(curve.at_risk),
        }
        for curve in result.curves
    ]
    return Analysis(
        jsonable(result),
        result.rows_used,
        result.rows_dropped,
        None,
        [Plot("kaplan-meier", {"curves": jsonable(curves), "times_at_risk": list(result.times_at_risk)})],
        _versions(),
    )


def _log_rank(table: pd.DataFrame, parameters: Mapping[str, Any]) -> Analysis:
    result = _call(survival.log_rank, "log-rank", table, parameters)
    return Analysis(jsonable(result), result.rows_used, result.rows_dropped, provenance=_versions())


def _cox(table: pd.DataFrame, parameters: Mapping[str, Any]) -> Analysis:
    result = _call(survival.cox, "cox", table, parameters)
    terms = result.terms
    rows = [{"term": t.name, "estimate": t.hazard_ratio, "low": t.hr_ci_low, "high": t.hr_ci_high} for t in terms]
    return Analysis(
        jsonable(result),
        result.rows_used,
        result.rows_dropped,
        pd.DataFrame([jsonable(t) for t in result.terms]),
        [Plot("forest", {"rows": jsonable(rows), "reference": 1.0, "label": "hazard ratio"})],
        _versions(),
    )


def _classifier(table: pd.DataFrame, parameters: Mapping[str, Any], progress: Progress | None = None) -> Analysis:
    if "progress" in parameters:
        raise InvalidArgument("classifier: unknown parameter progress", reason="INVALID_PARAMETERS")
    result = _call(ml.train_classifier, "classifier", table, {**parameters, "progress": progress})
    test = result.test
    roc = [
        {"name": part, "fpr": list(e.roc.false_positive_rate), "tpr": list(e.roc.true_positive_rate), "auc": e.auc}
        for part, e in (("cross-validation", result.cv), ("test", test))
    ]
    ranked = result.permutation_importance
    names, values = [i.feature for i in ranked], [i.importance for i in ranked]
    figures = [
        Plot("roc", {"curves": jsonable(roc)}),
        Plot("calibration", jsonable(test.calibration)),
        Plot("importance", {"features": names, "importance": jsonable(values)}),
        Plot("confusion-matrix", {"labels": list(result.labels), "matrix": jsonable(test.confusion)}),
    ]
    return Analysis(
        jsonable(result),
        result.rows.used,
        result.rows.dropped,
        result.predictions.reset_index(),
        figures,
        {**_versions(), "seed": str(result.seed)},
        ml.model_bytes(result),
    )


def _delong(table: pd.DataFrame, parameters: Mapping[str, Any]) -> Analysis:
    names = {"outcome", "score_a", "score_b", "level"}
    if set(parameters) - names or not {"outcome", "score_a", "score_b"} <= set(parameters):
        raise InvalidArgument("delong takes outcome, score_a, score_b and level", reason="INVALID_PARAMETERS")
    columns = [str(parameters["outcome"]), str(parameters["score_a"]), str(parameters["score_b"])]
    level = parameters.get("level", 0.95)
    if isinstance(level, bool) or not isinstance(level, int | float):
        raise InvalidArgument(f"delong: level must be a number, not {level!r}", reason="INVALID_PARAMETERS")
    rows = complete_rows(table, columns)
    outcome, _ = binary(rows.table, columns[0])
    result = ml.delong_test(
        outcome.to_numpy(),
        numeric(rows.table, columns[1]).to_numpy(),
        numeric(rows.table, columns[2]).to_numpy(),
        float(level),
    )
    return Analysis(jsonable(result), rows.used, rows.dropped, provenance=_versions())


def _kmeans(table: pd.DataFrame, parameters: Mapping[str, Any]) -> Analysis:
    result = _call(ml.kmeans, "kmeans", table, parameters)
    clusters = result.labels.rename("cluster").reset_index()
    return Analysis(jsonable(result), result.rows.used, result.rows.dropped, clusters, provenance=_versions())


ANALYSES: dict[str, Callable[[pd.DataFrame, Mapping[str, Any]], Analysis]] = {
    "test": _test,
    "p-adjust": _p_adjust,
    "table-one": _table_one,
    "regression": _regression,
    "kaplan-meier": _kaplan_meier,
    "log-rank": _log_rank,
    "cox": _cox,
    "classifier": _classifier,
    "delong": _delong,
    "kmeans": _kmeans,
}


FUNCTIONS: dict[str, Callable[..., Any]] = {  # the analyses whose parameters are a domain function's
    "test": hypothesis.run_test,
    "table-one": descriptive.table_one,
    "regression": regression.fit_regression,
    "kaplan-meier": survival.kaplan_meier,
    "log-rank": survival.log_rank,
    "cox": survival.cox,
    "classifier": ml.train_classifier,
    "kmeans": ml.kmeans,
}
COLUMN = ("outcome", "variable", "group", "second", "time", "event", "column", "score_a", "score_b")
COLUMNS = ("features", "predictors", "covariates", "strata", "variables")


def check_kind(kind: str) -> None:
    if kind not in ANALYSES:
        raise InvalidArgument(
            f"unknown analysis '{kind}'; the analyses are {', '.join(ANALYSES)}", reason="UNKNOWN_ANALYSIS"
        )


def check(kind: str, columns: Sequence[str], parameters: Mapping[str, Any]) -> None:
    """What can be checked before a long analysis starts, from the table's column names alone: the kind, the
    parameters' names, the columns they name, the classifier's model."""
    table = pd.DataFrame(columns=list(columns))
    check_kind(kind)
    if kind in FUNCTIONS:
        _bind(FUNCTIONS[kind], kind, table, parameters)
    named = [parameters[p] for p in COLUMN if parameters.get(p)]
    named += [column for p in COLUMNS for column in parameters.get(p) or ()]
    require_columns(table, [str(column) for column in named])
    if kind == "classifier" and parameters.get("model") not in ml.MODELS:
        raise InvalidArgument(
            f"unknown model {parameters.get('model')!r}; the models are {', '.join(ml.MODELS)}",
            reason="UNKNOWN_MODEL",
        )


def run(kind: str, table: pd.DataFrame, parameters: Mapping[str, Any], progress: Progress | None = None) -> Analysis:
    """The analysis ``kind`` of ``table``; ``progress`` hears how far a classifier's folds have come."""
    check_kind(kind)
    if kind == "classifier":
        return _classifier(table, parameters, progress)
    return ANALYSES[kind](table, parameters)
