"""Feature selection for radiomics tables, always inside cross-validation folds.

Radiomics tables have thousands of correlated features and tens to hundreds of cases, so any selection fitted on
the cases it is then evaluated on reports an optimistic AUC. Here a selection is a list of ``Step``s that
``build_pipeline`` turns into one scikit-learn ``Pipeline`` (scaler, selection steps, classifier), and ``select``
cross-validates that whole pipeline: every fold selects on its own training cases only.

Steps and their parameters (defaults in brackets):

- ``variance``: ``threshold`` [0.0], drops features whose variance is at most the threshold, in each feature's own
  units (so it must be the first step, and a threshold above 0 must suit the smallest-scaled feature);
- ``correlation``: ``threshold`` [0.9], ``method`` ["pearson" or "spearman"], ``CorrelationFilter``;
- ``univariate_fdr``: ``alpha`` [0.05], ANOVA F-test p-values with Benjamini-Hochberg control (``SelectFdr``);
- ``mrmr``: ``k`` [20], ``MRMR``;
- ``lasso``: ``Cs`` [10], L1 logistic regression with its C chosen by inner 5-fold CV (log loss), keeping the
  features with a non-zero coefficient (the inner folds are stratified, not grouped: with several cases per patient
  they only tune C, while the outer folds that measure the AUC are grouped);
- ``rfe``: ``n_features`` [10], ``step`` [0.1], recursive feature elimination with an L2 logistic regression
  (``step`` below 1 is the fraction of the original features removed per round, from 1 a count).

Every problem becomes ``InvalidArgument`` with one of these reasons:

- ``INVALID_SELECTION``: unknown step or model, unknown or bad parameter, ``variance`` not first, fewer than 2 folds,
  a seed outside [0, 2**32);
- ``INVALID_TABLE``: no rows or columns, non-string or repeated column names, non-numeric columns, NaN or inf values
  (the message names the columns);
- ``INVALID_OUTCOME``: not exactly two distinct values, missing values, or a length or index unlike the table's;
- ``INVALID_GROUPS``: missing patient ids, or a length or index unlike the table's;
- ``TOO_FEW_CASES``: fewer cases (or patients) than folds, fewer cases of either class than folds, or a test fold
  with a single class (its AUC is undefined);
- ``NO_FEATURES_SELECTED``: a step kept no feature in some fold (e.g. FDR or lasso on uninformative data).

Fitting is blocking (seconds to minutes): servers run it in a thread or a Ray task.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.base import BaseEstimator
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_selection import RFE, SelectFdr, SelectFromModel, SelectorMixin, VarianceThreshold, f_classif
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

from radscholar_core.errors import InvalidArgument

MODELS = ("logistic", "random_forest")
CORRELATION_METHODS = ("pearson", "spearman")
INNER_FOLDS = 5  # lasso's inner CV for C
# MRMR never selects a feature whose absolute correlation with a selected one is at least this: an exact copy.
DUPLICATE_CORRELATION = 1.0 - 1e-9


def _standardized(X: np.ndarray) -> np.ndarray:
    """Columns centred and scaled to unit norm, so that ``Z.T @ Z`` is the Pearson correlation matrix.

    A constant column becomes all zeros: correlation 0 with everything rather than NaN.
    """
    Z = X - X.mean(axis=0)
    norms = np.linalg.norm(Z, axis=0)
    return np.divide(Z, norms, out=np.zeros_like(Z), where=norms > 0)


class CorrelationFilter(SelectorMixin, BaseEstimator):
    """Keeps one feature of each group whose absolute correlation exceeds ``threshold``.

    Greedy, in order of decreasing variance (ties, and so every feature after ``StandardScaler`` as in
    ``build_pipeline``, by column order): a feature is kept unless its absolute correlation with an already kept
    feature is above ``threshold``. No two kept features correlate above the threshold, and each dropped one
    correlates above it with a kept one of higher rank. Constant features correlate with nothing and are kept
    (``variance`` removes them). ``method`` is "pearson" or "spearman" (Pearson on ranks).

    Memory is linear in the number of features: correlations are computed against the kept features only.
    """

    support_: np.ndarray

    def __init__(self, threshold: float = 0.9, method: str = "pearson") -> None:
        self.threshold = threshold
        self.method = method

    def fit(self, X: Any, y: Any = None) -> CorrelationFilter:
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold!r}")
        if self.method not in CORRELATION_METHODS:
            raise ValueError(f"method must be one of {CORRELATION_METHODS}, got {self.method!r}")
        X = validate_data(self, X, dtype=np.float64)
        values = rankdata(X, axis=0) if self.method == "spearman" else X
        Z = _standardized(values)
        variance = X.var(axis=0)
        # Variances equal to 9 significant digits are ties (after StandardScaler they differ by rounding only).
        rank_key = np.round(variance / variance.max(), 9) if variance.max() > 0 else variance
        order = np.argsort(-rank_key, kind="stable")
        kept = np.empty((Z.shape[1], Z.shape[0]))  # rows: the kept features' standardized columns
        n_kept = 0
        support = np.zeros(Z.shape[1], dtype=bool)
        for j in order:
            if n_kept and np.max(np.abs(kept[:n_kept] @ Z[:, j])) > self.threshold:
                continue
            kept[n_kept] = Z[:, j]
            n_kept += 1
            support[j] = True
        self.support_ = support
        return self

    def _get_support_mask(self) -> np.ndarray:
        check_is_fitted(self, "support_")
        return self.support_


class MRMR(SelectorMixin, BaseEstimator):
    """Minimum-redundancy maximum-relevance selection of ``k`` features, the "FCQ" variant.

    Relevance is the ANOVA F-statistic of each feature against the classes (``f_classif``); redundancy is the mean
    absolute Pearson correlation with the features selected so far. Greedy: first the most relevant feature, then
    repeatedly the one maximizing relevance / redundancy. With ``k`` at or above the number of features, all are
    selected (``ranking_`` then by relevance); otherwise ``ranking_`` lists the selected columns in the order chosen,
    fewer than ``k`` if only exact copies of them remain.

    Two guards the bare ratio needs on small samples. Redundancy is floored at 1 / sqrt(n_samples), the standard
    error of a correlation between independent features: below it a correlation is indistinguishable from zero,
    and without the floor a noise feature uncorrelated by chance with the first pick outscores every signal
    feature. And an exact copy of a selected feature (``|r| >= DUPLICATE_CORRELATION``) is never selected: the mean
    dilutes its correlation of 1 once several features are chosen. Near copies (r = 0.99) can still be chosen
    late; put ``CorrelationFilter`` first to remove them.

    Ding C, Peng H. Minimum redundancy feature selection from microarray gene expression data. J Bioinform Comput
    Biol 2005;3(2):185-205 (the F-test correlation quotient, FCQ). Zhao Z, Anand R, Wang M. Maximum relevance and
    minimum redundancy feature selection methods for a marketing machine learning platform. IEEE DSAA 2019.
    """

    support_: np.ndarray
    ranking_: np.ndarray
    relevance_: np.ndarray

    def __init__(self, k: int = 20) -> None:
        self.k = k

    def fit(self, X: Any, y: Any) -> MRMR:
        if isinstance(self.k, bool) or not isinstance(self.k, Integral) or self.k < 1:
            raise ValueError(f"k must be a positive integer, got {self.k!r}")
        X, y = validate_data(self, X, y, dtype=np.float64)
        n_features = X.shape[1]
        with np.errstate(divide="ignore", invalid="ignore"):
            relevance = np.nan_to_num(f_classif(X, y)[0], nan=0.0, posinf=np.finfo(float).max)
        self.relevance_ = relevance
        if self.k >= n_features:
            self.ranking_ = np.argsort(-relevance, kind="stable")
            self.support_ = np.ones(n_features, dtype=bool)
            return self
        Z = _standardized(X)
        k = int(self.k)
        chosen = [int(np.argmax(relevance))]
        available = np.ones(n_features, dtype=bool)
        available[chosen[0]] = False
        floor = 1.0 / math.sqrt(X.shape[0])
        redundancy_sum = np.zeros(n_features)
        while len(chosen) < k:
            correlation = np.abs(Z.T @ Z[:, chosen[-1]])
            redundancy_sum += correlation
            available &= correlation < DUPLICATE_CORRELATION
            if not available.any():  # only copies of selected features are left
                break
            redundancy = np.maximum(redundancy_sum / len(chosen), floor)
            score = np.where(available, relevance / redundancy, -np.inf)
            best = int(np.argmax(score))
            chosen.append(best)
            available[best] = False
        self.ranking_ = np.array(chosen)
        support = np.zeros(n_features, dtype=bool)
        support[chosen] = True
        self.support_ = support
        return self

    def _get_support_mask(self) -> np.ndarray:
        check_is_fitted(self, "support_")
        return self.support_


@dataclass(frozen=True)
class Step:
    """One selection step: a name from ``STEP_PARAMETERS`` and its parameters (missing ones take defaults)."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SelectionResult:
    """Cross-validated selection: features chosen on all cases, fold AUCs, and how stable the choice is.

    ``selected`` comes from a final fit on all cases (the feature table sent on); the AUCs and
    ``selection_frequency`` (fraction of folds selecting each feature, every table column listed) come from the
    folds, each of which selected on its training cases only. ``cv_auc_std`` is the population standard deviation
    over folds (``ddof=0``).
    """

    selected: list[str]
    cv_auc_mean: float
    cv_auc_std: float
    fold_aucs: list[float]
    selection_frequency: dict[str, float]
    n_folds: int
    seed: int


# step name -> parameter name -> default
STEP_PARAMETERS: dict[str, dict[str, Any]] = {
    "variance": {"threshold": 0.0},
    "correlation": {"threshold": 0.9, "method": "pearson"},
    "univariate_fdr": {"alpha": 0.05},
    "mrmr": {"k": 20},
    "lasso": {"Cs": 10},
    "rfe": {"n_features": 10, "step": 0.1},
}


def _bad(step: str, parameter: str, message: str) -> InvalidArgument:
    return InvalidArgument(
        f"step '{step}': parameter '{parameter}' {message}",
        reason="INVALID_SELECTION",
        details={"step": step, "parameter": parameter},
    )


def _is_real(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def _is_count(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool) and int(value) >= 1


def _step_params(step: Step) -> dict[str, Any]:
    """The step's parameters with defaults filled in, each checked; ``InvalidArgument`` names the first bad one."""
    if step.name not in STEP_PARAMETERS:
        raise InvalidArgument(
            f"unknown selection step '{step.name}': expected one of {', '.join(STEP_PARAMETERS)}",
            reason="INVALID_SELECTION",
            details={"step": step.name},
        )
    defaults = STEP_PARAMETERS[step.name]
    for name in step.params:
        if name not in defaults:
            raise _bad(step.name, name, f"is unknown: expected {', '.join(defaults) or 'none'}")
    params = {**defaults, **step.params}
    checks: dict[str, tuple[bool, str]] = {}
    if step.name == "variance":
        threshold = params["threshold"]
        checks["threshold"] = (_is_real(threshold) and threshold >= 0, "must be a number >= 0")
    elif step.name == "correlation":
        threshold = params["threshold"]
        checks["threshold"] = (_is_real(threshold) and 0 < threshold <= 1, "must be a number in (0, 1]")
        checks["method"] = (params["method"] in CORRELATION_METHODS, f"must be one of {', '.join(CORRELATION_METHODS)}")
    elif step.name == "univariate_fdr":
        alpha = params["alpha"]
        checks["alpha"] = (_is_real(alpha) and 0 < alpha <= 1, "must be a number in (0, 1]")
    elif step.name == "mrmr":
        checks["k"] = (_is_count(params["k"]), "must be an integer >= 1")
    elif step.name == "lasso":
        cs = params["Cs"]
        grid_ok = (
            isinstance(cs, Sequence)
            and not isinstance(cs, str)
            and len(cs) > 0
            and all(_is_real(c) and c > 0 for c in cs)
        )
        checks["Cs"] = (_is_count(cs) or grid_ok, "must be an integer >= 1 or a non-empty list of numbers > 0")
        if grid_ok:
            params["Cs"] = [float(c) for c in cs]
    elif step.name == "rfe":
        checks["n_features"] = (_is_count(params["n_features"]), "must be an integer >= 1")
        rfe_step = params["step"]
        checks["step"] = (
            _is_count(rfe_step) or (_is_real(rfe_step) and 0 < rfe_step < 1),
            "must be an integer >= 1 or a fraction in (0, 1)",
        )
    for name, (ok, message) in checks.items():
        if not ok:
            raise _bad(step.name, name, f"{message}, got {params[name]!r}")
    return params


def _selector(name: str, params: Mapping[str, Any], seed: int) -> BaseEstimator:
    if name == "variance":
        return VarianceThreshold(threshold=params["threshold"])
    if name == "correlation":
        return CorrelationFilter(threshold=params["threshold"], method=params["method"])
    if name == "univariate_fdr":
        return SelectFdr(f_classif, alpha=params["alpha"])
    if name == "mrmr":
        return MRMR(k=params["k"])
    if name == "lasso":
        lasso = LogisticRegressionCV(
            Cs=params["Cs"],
            l1_ratios=(1.0,),  # pure L1 (``penalty="l1"`` is deprecated since scikit-learn 1.8)
            solver="liblinear",
            cv=StratifiedKFold(INNER_FOLDS, shuffle=True, random_state=seed),
            scoring="neg_log_loss",
            max_iter=1000,
            random_state=seed,
            use_legacy_attributes=False,
        )
        return SelectFromModel(lasso, threshold=1e-5)
    if name == "rfe":
        estimator = LogisticRegression(max_iter=1000, random_state=seed)
        return RFE(estimator, n_features_to_select=params["n_features"], step=params["step"])
    raise AssertionError(name)  # _step_params refused it


def _classifier(model: str, seed: int) -> BaseEstimator:
    if model == "logistic":
        return LogisticRegression(max_iter=1000, random_state=seed)
    return RandomForestClassifier(n_estimators=200, random_state=seed)


def build_pipeline(steps: Sequence[Step], model: str = "logistic", seed: int = 0) -> Pipeline:
    """The pipeline ``[variance,] scale, <steps in order>, model``, ready to be cross-validated.

    ``variance`` may only come first: after ``StandardScaler`` every feature has variance 1 (or 0). Repeated step
    names are numbered ("mrmr", "mrmr_2"). ``model`` is "logistic" (L2, C=1) or "random_forest" (200 trees).
    """
    if model not in MODELS:
        raise InvalidArgument(
            f"parameter 'model' must be one of {', '.join(MODELS)}, got {model!r}",
            reason="INVALID_SELECTION",
            details={"parameter": "model"},
        )
    if isinstance(seed, bool) or not isinstance(seed, Integral) or not 0 <= seed < 2**32:
        raise InvalidArgument(
            f"parameter 'seed' must be an integer in [0, 2**32), got {seed!r}",
            reason="INVALID_SELECTION",
            details={"parameter": "seed"},
        )
    seed = int(seed)
    checked = [(step.name, _step_params(step)) for step in steps]
    for position, (name, _) in enumerate(checked):
        if name == "variance" and position != 0:
            raise InvalidArgument(
                "step 'variance' must be the first step: after scaling every feature has variance 1",
                reason="INVALID_SELECTION",
                details={"step": "variance"},
            )
    named: list[tuple[str, Any]] = []
    seen: dict[str, int] = {}
    for name, params in checked:
        seen[name] = seen.get(name, 0) + 1
        named.append((name if seen[name] == 1 else f"{name}_{seen[name]}", _selector(name, params, seed)))
    scaler_at = 1 if checked and checked[0][0] == "variance" else 0
    named.insert(scaler_at, ("scale", StandardScaler()))
    named.append(("model", _classifier(model, seed)))
    return Pipeline(named)


def _aligned(values: pd.Series, table: pd.DataFrame, what: str, reason: str) -> None:
    if len(values) != len(table) or not values.index.equals(table.index):
        raise InvalidArgument(
            f"the {what} must have the table's length and index ({len(table)} rows), got {len(values)} rows",
            reason=reason,
        )
    if values.isna().any():
        raise InvalidArgument(f"the {what} has missing values", reason=reason)


def _check_table(table: pd.DataFrame) -> None:
    if table.shape[0] == 0 or table.shape[1] == 0:
        raise InvalidArgument(
            f"the table is empty ({table.shape[0]} rows, {table.shape[1]} columns)", reason="INVALID_TABLE"
        )
    if not all(isinstance(c, str) for c in table.columns) or table.columns.has_duplicates:
        repeated = sorted({str(c) for c in table.columns[table.columns.duplicated()]})
        raise InvalidArgument(
            "feature names must be distinct strings" + (f"; repeated: {', '.join(repeated)}" if repeated else ""),
            reason="INVALID_TABLE",
        )
    non_numeric = [c for c in table.columns if not pd.api.types.is_numeric_dtype(table[c])]
    if non_numeric:
        raise InvalidArgument(
            f"non-numeric feature columns: {', '.join(non_numeric)}",
            reason="INVALID_TABLE",
            details={"columns": ",".join(non_numeric)},
        )
    finite = np.isfinite(table.to_numpy(dtype=np.float64))
    if not finite.all():
        bad = [str(c) for c in table.columns[~finite.all(axis=0)]]
        raise InvalidArgument(
            f"NaN or infinite values in {len(bad)} column(s): {', '.join(bad)}",
            reason="INVALID_TABLE",
            details={"columns": ",".join(bad)},
        )


def _too_few(message: str) -> InvalidArgument:
    return InvalidArgument(message, reason="TOO_FEW_CASES")


def _no_features_left(exc: ValueError) -> bool:
    """Whether scikit-learn refused an empty feature set (a step selected nothing)."""
    text = str(exc)
    return "0 feature(s)" in text or "No feature in X meets the variance threshold" in text


def select(
    table: pd.DataFrame,
    outcome: pd.Series,
    steps: Sequence[Step],
    *,
    model: str = "logistic",
    folds: int = 5,
    seed: int = 0,
    groups: pd.Series | None = None,
) -> SelectionResult:
    """Cross-validates the whole selection pipeline (ROC AUC per fold), then fits it on all cases.

    ``outcome`` has two distinct values; the greater one (1, True, or the later in sort order) is the positive
    class. Folds are ``StratifiedKFold`` (shuffled with ``seed``), or ``StratifiedGroupKFold`` when ``groups``
    (patient ids) are given, so that one patient's cases never sit on both sides of a fold.
    """
    pipeline = build_pipeline(steps, model, seed)  # checks steps, model and seed first
    if isinstance(folds, bool) or not isinstance(folds, Integral) or folds < 2:
        raise InvalidArgument(
            f"parameter 'folds' must be an integer >= 2, got {folds!r}",
            reason="INVALID_SELECTION",
            details={"parameter": "folds"},
        )
    _check_table(table)
    _aligned(outcome, table, "outcome", "INVALID_OUTCOME")
    classes = list(outcome.unique())
    if len(classes) == 2:
        try:
            classes.sort()
        except TypeError:  # e.g. 0 and "malignant"
            raise InvalidArgument("the outcome's two values are of different types", reason="INVALID_OUTCOME") from None
    if len(classes) != 2:
        raise InvalidArgument(
            f"the outcome must have exactly two distinct values, got {len(classes)}", reason="INVALID_OUTCOME"
        )
    y = (outcome == classes[1]).to_numpy(dtype=int)
    if len(table) < folds:
        raise _too_few(f"{len(table)} cases cannot fill {folds} folds")
    if min(np.bincount(y)) < folds:
        raise _too_few(
            f"each outcome class needs at least {folds} cases for {folds} folds, got {np.bincount(y).tolist()}"
        )
    if groups is None:
        splits = list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(table, y))
    else:
        _aligned(groups, table, "groups", "INVALID_GROUPS")
        if groups.nunique() < folds:
            raise _too_few(f"{groups.nunique()} patients cannot fill {folds} folds")
        splits = list(StratifiedGroupKFold(folds, shuffle=True, random_state=seed).split(table, y, groups))
    for fold, (_, test) in enumerate(splits):
        if len(np.unique(y[test])) < 2:
            raise _too_few(f"test fold {fold} has cases of one outcome class only: use fewer folds")

    try:
        scores = cross_validate(
            pipeline, table, y, cv=splits, scoring="roc_auc", return_estimator=True, error_score="raise"
        )
        pipeline.fit(table, y)
    except ValueError as exc:
        if _no_features_left(exc):
            raise InvalidArgument(
                f"a selection step kept no feature ({exc}); loosen its parameters", reason="NO_FEATURES_SELECTED"
            ) from None
        raise

    counts = dict.fromkeys(table.columns, 0)
    for fitted in scores["estimator"]:
        for name in fitted[:-1].get_feature_names_out():
            counts[name] += 1
    fold_aucs = [float(a) for a in scores["test_score"]]
    return SelectionResult(
        selected=[str(name) for name in pipeline[:-1].get_feature_names_out()],
        cv_auc_mean=float(np.mean(fold_aucs)),
        cv_auc_std=float(np.std(fold_aucs)),
        fold_aucs=fold_aucs,
        selection_frequency={name: n / len(splits) for name, n in counts.items()},
        n_folds=len(splits),
        seed=seed,
    )
