"""Classic machine learning on a table: binary classifiers with nested cross-validation, AUC inference, k-means.

``train_classifier`` splits the complete rows into a stratified training and test part (fixed seed), estimates
performance by stratified k-fold cross-validation on the training part with the hyperparameter search run inside
each fold (nested: a ``GridSearchCV`` within the outer folds), then fits the search on the whole training part and
evaluates that model once on the test part. Preprocessing (imputation, scaling, one-hot coding) is part of the
fitted ``Pipeline``, so nothing is learned from a fold's held-out rows.

AUC intervals and the comparison of two AUCs on the same cases follow DeLong, DeLong & Clarke-Pearson (1988),
computed with the fast midrank algorithm of Sun & Xu (2014, IEEE Signal Process. Lett. 21:1389); the bootstrap
interval resamples cases within each class (as pROC's default ``boot.stratified = TRUE``) and takes percentiles.
An AUC is P(score of a positive > score of a negative) + P(tie) / 2; scores are never flipped.
"""

from __future__ import annotations

import io
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import joblib
import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV, calibration_curve
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    confusion_matrix,
    f1_score,
    roc_auc_score,
    roc_curve,
    silhouette_score,
)
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from radscholar_core.errors import InvalidArgument
from radscholar_stats.domain.tables import (
    MAX_CATEGORIES,
    Missing,
    Rows,
    binary,
    categorical,
    complete_rows,
    not_constant,
    numeric,
    require_columns,
)

MODEL_FORMAT = "radscholar-stats-classifier/1"  # the layout of the bytes ``model_bytes`` writes
CALIBRATION_BINS = 10
PERMUTATION_REPEATS = 10
KMEANS_STARTS = 10  # k-means++ initialisations; the best (lowest inertia) is kept


# --- models and their default searches -------------------------------------------------------------------------


@dataclass(frozen=True)
class _ModelSpec:
    build: Callable[[int], Any]  # seed -> an unfitted estimator
    grid: dict[str, list[Any]]  # the default search, in the estimator's own parameter names
    scale: bool  # standardise numeric features first
    prefix: str = "model__"  # where the estimator's parameters sit inside the Pipeline
    one_hot_drop: str | None = "if_binary"


def _xgboost(seed: int) -> Any:
    from xgboost import XGBClassifier  # imported on use: a heavy import, and only this model needs it

    return XGBClassifier(
        n_estimators=200, tree_method="hist", eval_metric="logloss", random_state=seed, n_jobs=1, verbosity=0
    )


# Each default grid is small on purpose: 2-6 combinations, the values that matter most for the model.
MODELS: dict[str, _ModelSpec] = {
    "decision_tree": _ModelSpec(
        lambda seed: DecisionTreeClassifier(random_state=seed),
        {"max_depth": [3, 5, None], "min_samples_leaf": [1, 10]},
        scale=False,
    ),
    "random_forest": _ModelSpec(
        lambda seed: RandomForestClassifier(n_estimators=200, random_state=seed, n_jobs=1),
        {"max_features": ["sqrt", 0.5], "min_samples_leaf": [1, 5]},
        scale=False,
    ),
    "logistic_l1": _ModelSpec(
        lambda seed: LogisticRegression(l1_ratio=1.0, solver="liblinear", random_state=seed, max_iter=1000),
        {"C": [0.01, 0.1, 1.0, 10.0]},
        scale=True,
    ),
    "logistic_l2": _ModelSpec(
        lambda seed: LogisticRegression(l1_ratio=0.0, solver="lbfgs", max_iter=1000),
        {"C": [0.01, 0.1, 1.0, 10.0]},
        scale=True,
    ),
    # Unpenalised maximum likelihood: nothing to tune. The first category is the reference level.
    "glm": _ModelSpec(
        lambda seed: LogisticRegression(C=math.inf, solver="lbfgs", max_iter=1000),
        {},
        scale=True,
        one_hot_drop="first",
    ),
    "naive_bayes": _ModelSpec(lambda seed: GaussianNB(), {"var_smoothing": [1e-9, 1e-6, 1e-3]}, scale=False),
    # Probabilities by Platt scaling fitted on internal folds (sklearn's replacement for SVC(probability=True)).
    "svm": _ModelSpec(
        lambda seed: CalibratedClassifierCV(SVC(kernel="rbf", random_state=seed), ensemble=False),
        {"C": [0.1, 1.0, 10.0]},
        scale=True,
        prefix="model__estimator__",
    ),
    "xgboost": _ModelSpec(_xgboost, {"max_depth": [2, 4], "learning_rate": [0.05, 0.2]}, scale=False),
}


# --- results ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AucInterval:
    auc: float
    low: float
    high: float
    level: float
    method: str  # "DeLong" or "bootstrap"
    standard_error: float  # DeLong's; for the bootstrap, the standard deviation of the resampled AUCs
    resamples: int = 0  # bootstrap only


@dataclass(frozen=True)
class AucComparison:
    """DeLong's test of two AUCs measured on the same cases (a minus b)."""

    auc_a: float
    auc_b: float
    difference: float
    standard_error: float
    z: float
    p_value: float  # two-sided
    ci_low: float  # of the difference
    ci_high: float
    level: float
    correlation: float  # between the two AUC estimates
    positives: int
    negatives: int


@dataclass(frozen=True)
class RocCurve:
    false_positive_rate: tuple[float, ...]
    true_positive_rate: tuple[float, ...]
    thresholds: tuple[float, ...]  # a case is positive when its score >= threshold; the first is +inf


@dataclass(frozen=True)
class CalibrationCurve:
    """Observed fraction of positives against mean predicted probability in equal-width bins (empty bins left out,
    as ``sklearn.calibration.calibration_curve``)."""

    predicted: tuple[float, ...]
    observed: tuple[float, ...]
    cases: tuple[int, ...]


@dataclass(frozen=True)
class Evaluation:
    """How well predicted probabilities separate the classes on one set of cases."""

    cases: int
    positives: int
    auc: float
    auc_delong: AucInterval
    auc_bootstrap: AucInterval
    threshold: float  # Youden's point, chosen on the out-of-fold predictions of the training part
    sensitivity: float
    specificity: float
    accuracy: float
    f1: float
    brier: float
    confusion: tuple[tuple[int, int], tuple[int, int]]  # ((true negatives, false positives), (fn, tp))
    calibration: CalibrationCurve
    roc: RocCurve


@dataclass(frozen=True)
class PermutationImportance:
    feature: str  # a table column (a categorical column is permuted as a whole)
    importance: float  # mean fall in test AUC when the column is shuffled
    spread: float  # its standard deviation over the repeats


@dataclass(frozen=True)
class NativeImportance:
    feature: str  # a model input: a numeric column or one category of a categorical column ("sex_M")
    importance: float  # |coefficient| (per standard deviation where scaled) or feature_importances_
    coefficient: float | None  # the signed coefficient of a linear model


@dataclass(frozen=True)
class ClassifierResult:
    model: str
    outcome: str
    labels: tuple[str, str]  # (negative, positive) outcome values
    features: tuple[str, ...]
    numeric_features: tuple[str, ...]
    categorical_features: tuple[str, ...]
    folds: int
    test_fraction: float
    seed: int
    seeds: dict[str, int]  # where the seed went: the split, the folds, the models, the bootstrap, the permutations
    search: dict[str, list[Any]]  # the grid searched inside every fold (the estimator's parameter names)
    hyperparameters: dict[str, Any]  # chosen on the whole training part (the final model's)
    fold_hyperparameters: tuple[dict[str, Any], ...]  # chosen inside each outer fold
    fold_auc: tuple[float, ...]  # each outer fold's held-out AUC
    cv: Evaluation  # the pooled out-of-fold predictions of the training part
    test: Evaluation
    permutation_importance: tuple[PermutationImportance, ...]  # ranked, on the test part
    native_importance: tuple[NativeImportance, ...]  # ranked; empty where the model has none (naive Bayes, RBF SVM)
    predictions: pd.DataFrame  # by row: part ("train"/"test"), outcome (0/1), probability (out-of-fold on train)
    rows: Rows
    train_rows: tuple[int, ...]
    test_rows: tuple[int, ...]
    versions: dict[str, str]
    estimator: Any = field(repr=False, compare=False)  # the final fitted Pipeline
    missing: str = Missing.DROP.value


@dataclass(frozen=True)
class Scores:
    """A saved classifier's predictions for a new table."""

    probability: pd.Series  # by row: P(positive)
    predicted: pd.Series  # by row: the outcome value at the model's Youden threshold
    threshold: float
    labels: tuple[str, str]
    used: tuple[int, ...]
    dropped: tuple[int, ...]  # rows with a missing value the model cannot fill in


@dataclass(frozen=True)
class Clustering:
    labels: pd.Series  # by row: cluster 0..k-1
    centres: pd.DataFrame  # cluster x feature, in the features' own units
    sizes: tuple[int, ...]
    inertia: float  # within-cluster sum of squares on the standardised features (what k-means minimised)
    silhouette: float  # mean silhouette on the standardised features
    k: int
    seed: int
    rows: Rows


# --- AUC inference ---------------------------------------------------------------------------------------------


def _two_classes(y_true: Any) -> np.ndarray:
    """0/1 from a vector of two values (0/1, False/True, or two labels: the later in sort order is positive)."""
    labels = np.asarray(y_true)
    if labels.ndim != 1:
        raise InvalidArgument("y_true must be one-dimensional", reason="INVALID_ARGUMENT")
    levels = np.unique(labels)
    if levels.size != 2:
        raise InvalidArgument(
            f"y_true must have exactly two distinct values, it has {levels.size}",
            reason="NOT_BINARY",
            details={"column": "y_true"},
        )
    return (labels == levels[1]).astype(int)


def _scores(name: str, values: Any, size: int) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.shape != (size,):
        raise InvalidArgument(f"{name} has {array.size} values for {size} cases", reason="LENGTH_MISMATCH")
    if not np.all(np.isfinite(array)):
        raise InvalidArgument(f"{name} contains NaN or infinite values", reason="NON_FINITE_VALUES")
    return array


def _delong(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUCs of the rows of ``scores`` (k x cases) and their DeLong covariance matrix (k x k), by midranks."""
    positive, negative = scores[:, y == 1], scores[:, y == 0]
    m, n = positive.shape[1], negative.shape[1]
    if m < 2 or n < 2:
        raise InvalidArgument(
            f"an AUC's variance needs at least 2 positive and 2 negative cases, got {m} and {n}",
            reason="TOO_FEW_CASES",
        )
    within_positive = stats.rankdata(positive, axis=1)
    within_negative = stats.rankdata(negative, axis=1)
    overall = stats.rankdata(np.hstack([positive, negative]), axis=1)
    aucs = (overall[:, :m].sum(axis=1) / m - (m + 1) / 2) / n
    v10 = (overall[:, :m] - within_positive) / n  # per positive: the share of negatives it outscores
    v01 = 1.0 - (overall[:, m:] - within_negative) / m  # per negative: the share of positives that outscore it
    covariance = np.atleast_2d(np.cov(v10)) / m + np.atleast_2d(np.cov(v01)) / n
    return aucs, covariance


def _level(level: float) -> float:
    if not 0.5 <= level < 1:
        raise InvalidArgument(f"level must be in [0.5, 1), got {level}", reason="INVALID_CONFIDENCE_LEVEL")
    return float(stats.norm.ppf(0.5 + level / 2))


def auc_ci_delong(y: Any, scores: Any, level: float = 0.95) -> AucInterval:
    """The AUC with its DeLong standard error and Wald interval, clipped to [0, 1] (as pROC's ``ci.auc``)."""
    quantile = _level(level)
    labels = _two_classes(y)
    aucs, covariance = _delong(labels, _scores("scores", scores, labels.size)[None, :])
    auc, se = float(aucs[0]), math.sqrt(max(float(covariance[0, 0]), 0.0))
    return AucInterval(auc, max(0.0, auc - quantile * se), min(1.0, auc + quantile * se), level, "DeLong", se)


def delong_test(y_true: Any, scores_a: Any, scores_b: Any, level: float = 0.95) -> AucComparison:
    """DeLong's test that two scores of the same cases have equal AUCs (two-sided), with the difference's
    interval."""
    quantile = _level(level)
    labels = _two_classes(y_true)
    matrix = np.vstack([_scores("scores_a", scores_a, labels.size), _scores("scores_b", scores_b, labels.size)])
    aucs, covariance = _delong(labels, matrix)
    difference = float(aucs[0] - aucs[1])
    variance = float(covariance[0, 0] + covariance[1, 1] - 2 * covariance[0, 1])
    if variance <= 1e-15 * max(float(covariance[0, 0] + covariance[1, 1]), 1e-300):
        if abs(difference) > 1e-12:
            raise InvalidArgument("the AUC difference has no variance to test it by", reason="DEGENERATE_COMPARISON")
        z, p, se = 0.0, 1.0, 0.0  # the two scores order the cases identically
    else:
        se = math.sqrt(variance)
        z = difference / se
        p = float(2 * stats.norm.sf(abs(z)))
    denominator = math.sqrt(float(covariance[0, 0] * covariance[1, 1]))
    correlation = float(covariance[0, 1]) / denominator if denominator > 0 else 1.0
    return AucComparison(
        auc_a=float(aucs[0]),
        auc_b=float(aucs[1]),
        difference=difference,
        standard_error=se,
        z=z,
        p_value=p,
        ci_low=difference - quantile * se,
        ci_high=difference + quantile * se,
        level=level,
        correlation=correlation,
        positives=int(labels.sum()),
        negatives=int(labels.size - labels.sum()),
    )


def auc_ci_bootstrap(y: Any, scores: Any, level: float = 0.95, resamples: int = 2000, seed: int = 0) -> AucInterval:
    """Percentile interval of the AUC over ``resamples`` stratified bootstrap samples (cases drawn with
    replacement within each class, so every sample has both)."""
    _level(level)
    if resamples < 100:
        raise InvalidArgument(f"resamples must be at least 100, got {resamples}", reason="INVALID_RESAMPLES")
    labels = _two_classes(y)
    values = _scores("scores", scores, labels.size)
    positive, negative = values[labels == 1], values[labels == 0]
    m, n = positive.size, negative.size
    rng = np.random.default_rng(seed)
    aucs = np.empty(resamples)
    chunk = max(1, 2_000_000 // (m + n))  # bounds the memory of one block of resamples
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        sample = np.hstack([positive[rng.integers(0, m, (size, m))], negative[rng.integers(0, n, (size, n))]])
        ranks = stats.rankdata(sample, axis=1)
        aucs[start : start + size] = (ranks[:, :m].sum(axis=1) - m * (m + 1) / 2) / (m * n)
    low, high = np.quantile(aucs, [(1 - level) / 2, (1 + level) / 2])
    auc = float(roc_auc_score(labels, values))
    return AucInterval(auc, float(low), float(high), level, "bootstrap", float(aucs.std(ddof=1)), resamples)


# --- evaluation ------------------------------------------------------------------------------------------------


def youden_threshold(y: np.ndarray, probability: np.ndarray) -> float:
    """The score cut-off maximising sensitivity + specificity - 1 (the highest such cut-off on ties)."""
    fpr, tpr, thresholds = roc_curve(y, probability, drop_intermediate=False)
    best = 1 + int(np.argmax((tpr - fpr)[1:]))  # the first point (+inf, nobody positive) is not a cut-off
    return float(thresholds[best])


def _evaluate(
    y: np.ndarray, probability: np.ndarray, threshold: float, resamples: int, seed: int, level: float = 0.95
) -> Evaluation:
    predicted = (probability >= threshold).astype(int)
    (tn, fp), (fn, tp) = confusion_matrix(y, predicted, labels=[0, 1]).tolist()
    fpr, tpr, thresholds = roc_curve(y, probability)
    bins = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    counts = np.bincount(np.searchsorted(bins[1:-1], probability), minlength=CALIBRATION_BINS)  # as sklearn bins
    observed, mean_predicted = calibration_curve(y, probability, n_bins=CALIBRATION_BINS)
    delong = auc_ci_delong(y, probability, level)
    return Evaluation(
        cases=int(y.size),
        positives=int(y.sum()),
        auc=delong.auc,
        auc_delong=delong,
        auc_bootstrap=auc_ci_bootstrap(y, probability, level, resamples, seed),
        threshold=threshold,
        sensitivity=tp / (tp + fn),
        specificity=tn / (tn + fp),
        accuracy=float(accuracy_score(y, predicted)),
        f1=float(f1_score(y, predicted, zero_division=0.0)),
        brier=float(brier_score_loss(y, probability)),
        confusion=((tn, fp), (fn, tp)),
        calibration=CalibrationCurve(
            tuple(map(float, mean_predicted)), tuple(map(float, observed)), tuple(int(c) for c in counts if c)
        ),
        roc=RocCurve(tuple(map(float, fpr)), tuple(map(float, tpr)), tuple(map(float, thresholds))),
    )


# --- features --------------------------------------------------------------------------------------------------


def _feature_kind(table: pd.DataFrame, column: str) -> str:
    """'numeric' or 'categorical'. A text column is categorical when it has at most MAX_CATEGORIES values and
    they are mostly not numbers; a column of mostly numbers with some text, or free text, is NOT_NUMERIC."""
    values = table[column]
    if pd.api.types.is_datetime64_any_dtype(values):
        raise InvalidArgument(
            f"column '{column}': dates cannot be a model feature; use a numeric column such as days since a date",
            reason="NOT_NUMERIC",
            details={"column": column},
        )
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        numeric(table, column)  # refuses infinities
        return "numeric"
    present = values.dropna()
    parsed = pd.to_numeric(present, errors="coerce")
    if parsed.notna().all() or parsed.notna().mean() > 0.5:
        numeric(table, column)  # all numbers, or names the first value that is not
        return "numeric"
    distinct = present.nunique()
    if distinct > MAX_CATEGORIES:
        raise InvalidArgument(
            f"column '{column}': is free text ({distinct} distinct values, e.g. '{present.iloc[0]}' in row "
            f"{present.index[0]}), neither a number nor a category of at most {MAX_CATEGORIES} values",
            reason="NOT_NUMERIC",
            details={"column": column},
        )
    return "categorical"


def _feature_frame(table: pd.DataFrame, numeric_columns: Sequence[str], categorical_columns: Sequence[str]) -> Any:
    """The features as the Pipeline takes them: floats and text categories (NaN kept)."""
    frame = pd.DataFrame(index=table.index)
    for column in numeric_columns:
        frame[column] = numeric(table, column)
    for column in categorical_columns:
        frame[column] = categorical(table, column, max_levels=max(len(table), MAX_CATEGORIES)).astype(object)
    return frame


def _pipeline(
    spec: _ModelSpec, numeric_columns: Sequence[str], categorical_columns: Sequence[str], impute: str | None, seed: int
) -> Pipeline:
    steps: list[tuple[str, Any]] = []
    if impute:
        steps.append(("impute", SimpleImputer(strategy=impute)))
    if spec.scale:
        steps.append(("scale", StandardScaler()))
    parts: list[tuple[str, Any, list[str]]] = []
    if numeric_columns:
        parts.append(("numeric", Pipeline(steps) if steps else "passthrough", list(numeric_columns)))
    if categorical_columns:
        one_hot = OneHotEncoder(drop=spec.one_hot_drop, handle_unknown="ignore", sparse_output=False)
        parts.append(("categorical", one_hot, list(categorical_columns)))
    prepare = ColumnTransformer(parts, verbose_feature_names_out=False)
    return Pipeline([("prepare", prepare), ("model", spec.build(seed))])


def _search_grid(model: str, spec: _ModelSpec, search: Mapping[str, Sequence[Any]] | None, seed: int) -> dict:
    grid = {name: list(values) for name, values in (spec.grid if search is None else search).items()}
    estimator = spec.build(seed)
    known = estimator.estimator.get_params() if spec.prefix == "model__estimator__" else estimator.get_params()
    for name, values in grid.items():
        if name not in known:
            raise InvalidArgument(
                f"'{name}' is not a parameter of {model} (its parameters: {', '.join(sorted(known))})",
                reason="INVALID_SEARCH",
                details={"parameter": name},
            )
        if not values:
            raise InvalidArgument(f"the search lists no value for '{name}'", reason="INVALID_SEARCH")
    return grid


def _with_search(pipeline: Pipeline, spec: _ModelSpec, grid: dict[str, list[Any]], folds: int, seed: int) -> Any:
    """The pipeline, wrapped in a stratified GridSearchCV (by AUC) when the grid has a choice to make; a grid of
    single values is simply set."""
    fixed = {spec.prefix + name: values[0] for name, values in grid.items() if len(values) == 1}
    pipeline = clone(pipeline).set_params(**fixed)
    choices = {spec.prefix + name: values for name, values in grid.items() if len(values) > 1}
    if not choices:
        return pipeline
    inner = StratifiedKFold(folds, shuffle=True, random_state=seed)
    return GridSearchCV(pipeline, choices, scoring="roc_auc", cv=inner, n_jobs=1, refit=True, error_score="raise")


def _chosen(fitted: Any, spec: _ModelSpec, grid: dict[str, list[Any]]) -> dict[str, Any]:
    chosen = {name: values[0] for name, values in grid.items() if len(values) == 1}
    if isinstance(fitted, GridSearchCV):
        chosen.update({name.removeprefix(spec.prefix): value for name, value in fitted.best_params_.items()})
    return {name: _plain(value) for name, value in sorted(chosen.items())}


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _native_importance(pipeline: Pipeline) -> tuple[NativeImportance, ...]:
    estimator = pipeline.named_steps["model"]
    names = [str(name) for name in pipeline.named_steps["prepare"].get_feature_names_out()]
    if hasattr(estimator, "coef_") and np.asarray(estimator.coef_).shape == (1, len(names)):
        coefficients = np.asarray(estimator.coef_)[0]
        ranked = [NativeImportance(n, abs(float(c)), float(c)) for n, c in zip(names, coefficients, strict=True)]
    elif hasattr(estimator, "feature_importances_"):
        values = np.asarray(estimator.feature_importances_, dtype=float)
        ranked = [NativeImportance(n, float(v), None) for n, v in zip(names, values, strict=True)]
    else:
        return ()
    return tuple(sorted(ranked, key=lambda item: (-item.importance, item.feature)))


def _versions(model: str) -> dict[str, str]:
    packages = ["scikit-learn", "numpy", "scipy", "pandas", "joblib"] + (["xgboost"] if model == "xgboost" else [])
    found = {}
    for package in packages:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "unknown"
    return found


# --- training --------------------------------------------------------------------------------------------------


def _check_model(model: str) -> _ModelSpec:
    if model not in MODELS:
        raise InvalidArgument(
            f"unknown model '{model}'; the models are {', '.join(MODELS)}",
            reason="UNKNOWN_MODEL",
            details={"model": str(model)},
        )
    return MODELS[model]


def _check_design(table: pd.DataFrame, outcome: str, features: Sequence[str], folds: int, test_fraction: float) -> None:
    if not features:
        raise InvalidArgument("name at least one feature column", reason="NO_FEATURES")
    if len(set(features)) != len(features):
        twice = next(f for f in features if list(features).count(f) > 1)
        raise InvalidArgument(
            f"feature '{twice}' is named twice", reason="DUPLICATE_FEATURE", details={"column": str(twice)}
        )
    if outcome in features:
        raise InvalidArgument(
            f"column '{outcome}' is the outcome and cannot also be a feature",
            reason="OUTCOME_AS_FEATURE",
            details={"column": outcome},
        )
    if not isinstance(folds, numbers.Integral) or isinstance(folds, bool) or folds < 2:
        raise InvalidArgument(f"folds must be an integer of at least 2, got {folds}", reason="INVALID_FOLDS")
    if not 0 < test_fraction < 1:
        raise InvalidArgument(
            f"test_fraction must be between 0 and 1, got {test_fraction}", reason="INVALID_TEST_FRACTION"
        )
    require_columns(table, [outcome, *features])


def _design_rows(
    table: pd.DataFrame, outcome: str, features: Sequence[str], missing: str, categorical_columns: Sequence[str]
) -> Rows:
    """The rows to model. Rows without an outcome always go (an outcome is never imputed). With ``drop`` or
    ``fail`` the features must be complete; with ``mean``/``median`` numeric features are filled in inside the
    Pipeline (from each training fold only) and rows missing a categorical value are refused."""
    try:
        choice = Missing(missing)
    except ValueError:
        raise InvalidArgument(
            f"missing must be one of {', '.join(Missing)}, not '{missing}'", reason="INVALID_MISSING"
        ) from None
    with_outcome = complete_rows(table, [outcome], Missing.FAIL if choice is Missing.FAIL else Missing.DROP)
    if choice in (Missing.DROP, Missing.FAIL):
        kept = complete_rows(table.loc[list(with_outcome.used)], features, choice)
        dropped = tuple(sorted(with_outcome.dropped + kept.dropped))
        return Rows(table.loc[list(kept.used), [outcome, *features]], kept.used, dropped, {})
    subset = table.loc[list(with_outcome.used), [outcome, *features]]
    for column in categorical_columns:
        holes = int(subset[column].isna().sum())
        if holes:
            raise InvalidArgument(
                f"column '{column}': has {holes} missing values and is categorical, so it has no {choice.value}; "
                "drop those rows (missing='drop')",
                reason="MISSING_VALUES",
                details={"column": column},
            )
    imputed = {c: int(subset[c].isna().sum()) for c in features if subset[c].isna().any()}
    return Rows(subset, with_outcome.used, with_outcome.dropped, imputed)


def _check_cases(y: np.ndarray, labels: tuple[str, str], folds: int, searched: bool, outcome: str, where: str) -> None:
    """Every class needs ``folds`` cases for stratified folds; with a search inside the folds, enough that each
    outer training fold still holds ``folds`` of them."""
    needed = math.ceil(folds * folds / (folds - 1)) if searched else folds
    for code, label in enumerate(labels):
        count = int((y == code).sum())
        if count < needed:
            plan = f"{folds}-fold cross-validation" + (" with a search inside each fold" if searched else "")
            raise InvalidArgument(
                f"column '{outcome}': class '{label}' has {count} cases in {where}; {plan} needs at least {needed}",
                reason="TOO_FEW_CASES",
                details={"column": outcome, "class": label},
            )


def train_classifier(
    table: pd.DataFrame,
    outcome: str,
    features: Sequence[str],
    *,
    model: str,
    search: Mapping[str, Sequence[Any]] | None = None,
    folds: int = 5,
    test_fraction: float = 0.25,
    seed: int = 0,
    missing: str = "drop",
    bootstrap: int = 2000,
    progress: Callable[[float, str], None] | None = None,
) -> ClassifierResult:
    """Train and evaluate a binary classifier of ``outcome`` (see the module's docstring for the design).

    ``search`` maps the estimator's parameter names to the values to try (None: the model's default grid in
    ``MODELS``; {}: no search). ``bootstrap`` is the number of resamples of each bootstrap AUC interval.
    ``progress`` (if given) is called with the fraction done and a note after each step.
    """
    spec = _check_model(model)
    features = [str(column) for column in features]
    _check_design(table, outcome, features, folds, test_fraction)
    coded, labels = binary(table, outcome)
    kinds = {column: _feature_kind(table, column) for column in features}
    numeric_columns = [c for c in features if kinds[c] == "numeric"]
    categorical_columns = [c for c in features if kinds[c] == "categorical"]
    rows = _design_rows(table, outcome, features, missing, categorical_columns)
    for column in features:
        not_constant(rows.table[column], column)
    y_all = coded.loc[list(rows.used)].to_numpy(dtype=int)
    x_all = _feature_frame(rows.table, numeric_columns, categorical_columns)
    grid = _search_grid(model, spec, search, seed)
    searched = any(len(values) > 1 for values in grid.values())
    _check_cases(y_all, labels, folds, False, outcome, "the complete rows")
    try:
        x_train, x_test, y_train, y_test = train_test_split(
            x_all, y_all, test_size=test_fraction, stratify=y_all, random_state=seed
        )
    except ValueError as exc:  # too few rows for a stratified test part of this size
        raise InvalidArgument(
            f"{len(y_all)} rows cannot be split into stratified training and test parts: {exc}",
            reason="TOO_FEW_CASES",
            details={"column": outcome},
        ) from None
    _check_cases(y_train, labels, folds, searched, outcome, "the training part")
    _check_cases(y_test, labels, 2, False, outcome, "the test part")
    impute = None if Missing(missing) in (Missing.DROP, Missing.FAIL) else Missing(missing).value
    unfitted = _pipeline(spec, numeric_columns, categorical_columns, impute, seed)
    estimator = _with_search(unfitted, spec, grid, folds, seed)

    outer = StratifiedKFold(folds, shuffle=True, random_state=seed)
    out_of_fold = np.empty(y_train.size)
    fold_auc, fold_hyperparameters = [], []
    for number, (fit_part, held_out) in enumerate(outer.split(x_train, y_train), start=1):
        fitted = clone(estimator).fit(x_train.iloc[fit_part], y_train[fit_part])
        out_of_fold[held_out] = fitted.predict_proba(x_train.iloc[held_out])[:, 1]
        fold_auc.append(float(roc_auc_score(y_train[held_out], out_of_fold[held_out])))
        fold_hyperparameters.append(_chosen(fitted, spec, grid))
        if progress:
            progress(number / (folds + 2), f"outer fold {number} of {folds}")
    final = clone(estimator).fit(x_train, y_train)
    pipeline = final.best_estimator_ if isinstance(final, GridSearchCV) else final
    test_probability = pipeline.predict_proba(x_test)[:, 1]
    if progress:
        progress((folds + 1) / (folds + 2), "final model")

    threshold = youden_threshold(y_train, out_of_fold)
    permuted = permutation_importance(
        pipeline, x_test, y_test, scoring="roc_auc", n_repeats=PERMUTATION_REPEATS, random_state=seed, n_jobs=1
    )
    permutation = sorted(
        (
            PermutationImportance(str(column), float(permuted.importances_mean[i]), float(permuted.importances_std[i]))
            for i, column in enumerate(x_test.columns)
        ),
        key=lambda item: (-item.importance, item.feature),
    )
    predictions = pd.concat(
        [
            pd.DataFrame({"part": "train", "outcome": y_train, "probability": out_of_fold}, index=x_train.index),
            pd.DataFrame({"part": "test", "outcome": y_test, "probability": test_probability}, index=x_test.index),
        ]
    ).sort_index()
    result = ClassifierResult(
        model=model,
        outcome=outcome,
        labels=labels,
        features=tuple(features),
        numeric_features=tuple(numeric_columns),
        categorical_features=tuple(categorical_columns),
        folds=folds,
        test_fraction=test_fraction,
        seed=seed,
        seeds={"test_split": seed, "folds": seed, "model": seed, "bootstrap": seed, "permutation": seed},
        search=grid,
        hyperparameters=_chosen(final, spec, grid),
        fold_hyperparameters=tuple(fold_hyperparameters),
        fold_auc=tuple(fold_auc),
        cv=_evaluate(y_train, out_of_fold, threshold, bootstrap, seed),
        test=_evaluate(y_test, test_probability, threshold, bootstrap, seed),
        permutation_importance=tuple(permutation),
        native_importance=_native_importance(pipeline),
        predictions=predictions,
        rows=rows,
        train_rows=tuple(int(i) for i in sorted(x_train.index)),
        test_rows=tuple(int(i) for i in sorted(x_test.index)),
        versions=_versions(model),
        estimator=pipeline,
        missing=Missing(missing).value,
    )
    if progress:
        progress(1.0, "done")
    return result


# --- saved models ----------------------------------------------------------------------------------------------


def model_bytes(result: ClassifierResult) -> bytes:
    """The final model and what scoring needs, as joblib bytes (a pickle: load only bytes this service wrote;
    skops is not installed)."""
    saved = {
        "format": MODEL_FORMAT,
        "estimator": result.estimator,
        "model": result.model,
        "outcome": result.outcome,
        "labels": result.labels,
        "numeric_features": result.numeric_features,
        "categorical_features": result.categorical_features,
        "threshold": result.cv.threshold,
        "imputes": result.missing in (Missing.MEAN, Missing.MEDIAN),
        "versions": result.versions,
    }
    buffer = io.BytesIO()
    joblib.dump(saved, buffer, compress=3)
    return buffer.getvalue()


def score(saved_model: bytes, table: pd.DataFrame) -> Scores:
    """P(positive) and the predicted outcome for each row of ``table``, which needs the model's feature columns.
    Rows with a missing feature value are left out (named), unless the model was trained to impute it."""
    try:
        saved = joblib.load(io.BytesIO(saved_model))
    except Exception as exc:  # a damaged or foreign file raises many types; each one is a bad model
        raise InvalidArgument(f"cannot read the saved model: {exc}", reason="INVALID_MODEL") from None
    if not isinstance(saved, dict) or saved.get("format") != MODEL_FORMAT:
        raise InvalidArgument("the bytes are not a classifier saved by this service", reason="INVALID_MODEL")
    numeric_columns, categorical_columns = list(saved["numeric_features"]), list(saved["categorical_features"])
    require_columns(table, numeric_columns + categorical_columns)
    frame = _feature_frame(table, numeric_columns, categorical_columns)
    required = categorical_columns if saved["imputes"] else numeric_columns + categorical_columns
    complete = frame[required].notna().all(axis=1) if required else pd.Series(True, index=frame.index)
    frame = frame.loc[complete]
    if frame.empty:
        raise InvalidArgument("no row has a value in every feature the model needs", reason="NO_COMPLETE_ROWS")
    probability = pd.Series(saved["estimator"].predict_proba(frame)[:, 1], index=frame.index, name="probability")
    labels = tuple(saved["labels"])
    predicted = (probability >= saved["threshold"]).map({False: labels[0], True: labels[1]}).rename("predicted")
    dropped = tuple(int(i) for i in complete.index[~complete.to_numpy()])
    return Scores(
        probability, predicted, float(saved["threshold"]), (labels[0], labels[1]), tuple(map(int, frame.index)), dropped
    )


# --- clustering ------------------------------------------------------------------------------------------------


def kmeans(table: pd.DataFrame, features: Sequence[str], k: int, seed: int = 0, missing: str = "drop") -> Clustering:
    """k-means (k-means++, best of KMEANS_STARTS starts) on the standardised numeric features; centres are reported
    back in the features' own units."""
    features = [str(column) for column in features]
    if not features:
        raise InvalidArgument("name at least one feature column", reason="NO_FEATURES")
    require_columns(table, features)
    converted = pd.DataFrame({column: numeric(table, column) for column in features}, index=table.index)
    rows = complete_rows(converted, features, missing)
    for column in features:
        not_constant(rows.table[column], column)
    values = rows.table[features].to_numpy(dtype=float)
    if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 2:
        raise InvalidArgument(f"k must be an integer of at least 2, got {k}", reason="INVALID_K")
    distinct = len(np.unique(values, axis=0))
    if distinct <= k:
        raise InvalidArgument(
            f"{k} clusters need more than {k} distinct rows; the complete rows have {distinct}", reason="TOO_FEW_ROWS"
        )
    scaler = StandardScaler().fit(values)
    scaled = scaler.transform(values)
    fitted = KMeans(n_clusters=k, n_init=KMEANS_STARTS, random_state=seed).fit(scaled)
    labels = fitted.labels_.astype(int)
    centres = pd.DataFrame(scaler.inverse_transform(fitted.cluster_centers_), columns=features)
    centres.index.name = "cluster"
    return Clustering(
        labels=pd.Series(labels, index=rows.table.index, name="cluster"),
        centres=centres,
        sizes=tuple(int(c) for c in np.bincount(labels, minlength=k)),
        inertia=float(fitted.inertia_),
        silhouette=float(silhouette_score(scaled, labels)),
        k=k,
        seed=seed,
        rows=rows,
    )
