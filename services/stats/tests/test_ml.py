"""Classic machine learning checked against scikit-learn run directly and against DeLong's variance computed from
its definition (the structural components of DeLong, DeLong & Clarke-Pearson 1988, Biometrics 44:837, eqs. 2-5)."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.cluster import KMeans
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score, silhouette_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_predict, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from radscholar_core.errors import InvalidArgument
from radscholar_stats.domain.ml import (
    MODELS,
    ClassifierResult,
    auc_ci_bootstrap,
    auc_ci_delong,
    delong_test,
    kmeans,
    model_bytes,
    score,
    train_classifier,
    youden_threshold,
)

RNG = np.random.default_rng(20261125)


def _numbered(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="row")
    frame.columns = [str(c) for c in frame.columns]
    return frame


CANCER = load_breast_cancer(as_frame=True)
CANCER_TABLE = _numbered(CANCER.frame)
CANCER_FEATURES = [str(c) for c in CANCER.feature_names]


def _small_table(rows: int = 120) -> pd.DataFrame:
    """Four informative numeric features, a three-level category and a 0/1 outcome."""
    rng = np.random.default_rng(7)
    outcome = rng.integers(0, 2, rows)
    table = pd.DataFrame({f"x{i}": rng.normal(0, 1, rows) + (0.8 - 0.2 * i) * outcome for i in range(4)})
    table["site"] = rng.choice(["north", "south", "west"], rows)
    table["outcome"] = np.where(outcome == 1, "malignant", "benign")
    return _numbered(table)


SMALL = _small_table()
SMALL_FEATURES = ["x0", "x1", "x2", "x3", "site"]


@pytest.fixture(scope="module")
def logistic() -> ClassifierResult:
    return train_classifier(CANCER_TABLE, "target", CANCER_FEATURES, model="logistic_l2", bootstrap=200)


def test_logistic_auc_equals_scikit_learn_nested_cross_validation(logistic: ClassifierResult) -> None:
    x, y = CANCER.data.to_numpy(), CANCER.target.to_numpy()
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, stratify=y, random_state=0)
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    search = GridSearchCV(
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
        {"logisticregression__C": [0.01, 0.1, 1.0, 10.0]},
        scoring="roc_auc",
        cv=folds,
    )
    out_of_fold = cross_val_predict(search, x_train, y_train, cv=folds, method="predict_proba")[:, 1]
    test_probability = search.fit(x_train, y_train).predict_proba(x_test)[:, 1]

    assert logistic.cv.auc == pytest.approx(roc_auc_score(y_train, out_of_fold), abs=1e-12)
    assert logistic.test.auc == pytest.approx(roc_auc_score(y_test, test_probability), abs=1e-12)
    assert logistic.cv.auc > 0.98 and logistic.test.auc > 0.97
    assert logistic.hyperparameters == {"C": search.best_params_["logisticregression__C"]}
    assert logistic.test.brier == pytest.approx(brier_score_loss(y_test, test_probability), abs=1e-12)
    assert (logistic.cv.cases, logistic.test.cases) == (y_train.size, y_test.size)
    assert len(logistic.train_rows) + len(logistic.test_rows) == 569 and logistic.rows.dropped == ()
    assert logistic.labels == ("0", "1") and len(logistic.fold_auc) == len(logistic.fold_hyperparameters) == 5


def test_youden_point_is_chosen_out_of_fold_and_applied_to_the_test_part(logistic: ClassifierResult) -> None:
    train = logistic.predictions[logistic.predictions.part == "train"]
    threshold = youden_threshold(train.outcome.to_numpy(), train.probability.to_numpy())
    assert logistic.cv.threshold == logistic.test.threshold == threshold
    test = logistic.predictions[logistic.predictions.part == "test"]
    predicted = test.probability >= threshold
    (tn, fp), (fn, tp) = logistic.test.confusion
    assert tp == int((predicted & (test.outcome == 1)).sum()) and tn == int((~predicted & (test.outcome == 0)).sum())
    assert logistic.test.sensitivity == tp / (tp + fn) and logistic.test.specificity == tn / (tn + fp)
    assert logistic.test.accuracy == pytest.approx((tp + tn) / (tp + tn + fp + fn))
    assert logistic.test.f1 == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert sum(logistic.test.calibration.cases) == logistic.test.cases
    assert logistic.test.roc.false_positive_rate[0] == 0 and logistic.test.roc.true_positive_rate[-1] == 1


def test_importance_is_ranked_and_names_the_features(logistic: ClassifierResult) -> None:
    permutation = [item.importance for item in logistic.permutation_importance]
    native = [item.importance for item in logistic.native_importance]
    assert permutation == sorted(permutation, reverse=True) and native == sorted(native, reverse=True)
    assert {item.feature for item in logistic.permutation_importance} == set(CANCER_FEATURES)
    assert all(item.importance == abs(item.coefficient or 0) for item in logistic.native_importance)
    assert logistic.versions["scikit-learn"] and logistic.seed == 0


def test_a_saved_model_scores_a_table_identically(logistic: ClassifierResult) -> None:
    saved = model_bytes(logistic)
    new_table = CANCER_TABLE.loc[list(logistic.test_rows), CANCER_FEATURES]  # no outcome column needed
    scores = score(saved, new_table)
    expected = logistic.predictions.loc[list(logistic.test_rows), "probability"]
    np.testing.assert_allclose(scores.probability.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-15)
    assert scores.used == logistic.test_rows and scores.dropped == ()
    assert set(scores.predicted) <= {"0", "1"}
    with pytest.raises(InvalidArgument) as error:
        score(saved, new_table.drop(columns=["mean area"]))
    assert error.value.reason == "UNKNOWN_COLUMN" and error.value.details["column"] == "mean area"
    with pytest.raises(InvalidArgument) as error:
        score(b"not a model", new_table)
    assert error.value.reason == "INVALID_MODEL"


def _structural_components(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's V10 (one per positive) and V01 (one per negative) from the Mann-Whitney kernel, pair by pair."""
    positive, negative = scores[y == 1], scores[y == 0]
    kernel = (positive[:, None] > negative[None, :]) + 0.5 * (positive[:, None] == negative[None, :])
    return kernel.mean(axis=1), kernel.mean(axis=0)


def _delong_covariance(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    (a10, a01), (b10, b01) = _structural_components(y, a), _structural_components(y, b)
    m, n = a10.size, a01.size
    return np.cov(np.vstack([a10, b10])) / m + np.cov(np.vstack([a01, b01])) / n


def test_delong_interval_equals_the_structural_components_variance() -> None:
    y = np.repeat([1, 0], [40, 60])
    scores = np.round(RNG.normal(0, 1, 100) + 0.9 * y, 1)  # rounded: ties between and within classes
    ci = auc_ci_delong(y, scores, 0.9)
    variance = _delong_covariance(y, scores, scores)[0, 0]
    auc = roc_auc_score(y, scores)
    z = stats.norm.ppf(0.95)
    assert ci.auc == pytest.approx(auc, abs=1e-14)
    assert ci.standard_error == pytest.approx(math.sqrt(variance), rel=1e-12)
    half_width = z * math.sqrt(variance)
    assert (ci.low, ci.high) == (pytest.approx(auc - half_width), pytest.approx(auc + half_width))


def test_delong_test_of_two_correlated_scores_on_the_same_cases() -> None:
    y = np.repeat([1, 0], [55, 70])
    marker = RNG.normal(0, 1, 125) + 1.2 * y
    weaker = marker + RNG.normal(0, 1.2, 125)  # correlated with the first, less accurate
    result = delong_test(y, marker, weaker)
    covariance = _delong_covariance(y, marker, weaker)
    difference = roc_auc_score(y, marker) - roc_auc_score(y, weaker)
    se = math.sqrt(covariance[0, 0] + covariance[1, 1] - 2 * covariance[0, 1])
    assert result.difference == pytest.approx(difference, abs=1e-14)
    assert result.standard_error == pytest.approx(se, rel=1e-12)
    assert result.z == pytest.approx(difference / se, rel=1e-12)
    assert result.p_value == pytest.approx(2 * stats.norm.sf(abs(difference / se)), rel=1e-10)
    assert result.correlation == pytest.approx(covariance[0, 1] / math.sqrt(covariance[0, 0] * covariance[1, 1]))
    assert result.correlation > 0.3 and (result.positives, result.negatives) == (55, 70)
    swapped = delong_test(y, weaker, marker)
    assert (swapped.z, swapped.p_value) == (pytest.approx(-result.z), pytest.approx(result.p_value))
    same = delong_test(y, marker, 2 * marker + 1)  # a monotone transform ranks the cases identically
    assert (same.difference, same.z, same.p_value) == (0.0, 0.0, 1.0)


def test_bootstrap_interval_holds_the_auc_and_agrees_with_delong_on_a_large_sample() -> None:
    y = RNG.integers(0, 2, 1500)
    scores = RNG.normal(0, 1, 1500) + 1.0 * y
    bootstrap = auc_ci_bootstrap(y, scores, resamples=2000, seed=3)
    delong = auc_ci_delong(y, scores)
    assert bootstrap.low < bootstrap.auc < bootstrap.high and bootstrap.auc == delong.auc
    assert bootstrap.low == pytest.approx(delong.low, abs=0.006)
    assert bootstrap.high == pytest.approx(delong.high, abs=0.006)
    assert bootstrap.standard_error == pytest.approx(delong.standard_error, rel=0.1)
    assert auc_ci_bootstrap(y, scores, resamples=2000, seed=3) == bootstrap  # seeded


def test_kmeans_silhouette_and_centres_equal_scikit_learn() -> None:
    iris = _numbered(load_iris(as_frame=True).data)
    features = list(iris.columns)
    result = kmeans(iris, features, 3, seed=1)
    scaler = StandardScaler().fit(iris.to_numpy())
    scaled = scaler.transform(iris.to_numpy())
    reference = KMeans(n_clusters=3, n_init=10, random_state=1).fit(scaled)
    assert (result.labels.to_numpy() == reference.labels_).all()
    assert result.silhouette == pytest.approx(silhouette_score(scaled, reference.labels_), abs=1e-12)
    assert result.inertia == pytest.approx(reference.inertia_, rel=1e-12)
    np.testing.assert_allclose(result.centres.to_numpy(), scaler.inverse_transform(reference.cluster_centers_))
    assert sum(result.sizes) == 150 and result.labels.index[0] == 1
    with pytest.raises(InvalidArgument) as error:
        kmeans(iris, features, 1)
    assert error.value.reason == "INVALID_K"


@pytest.mark.parametrize("model", list(MODELS))
def test_every_model_trains_with_categorical_features(model: str) -> None:
    search = {"n_estimators": [25], "min_samples_leaf": [1, 5]} if model == "random_forest" else None
    result = train_classifier(SMALL, "outcome", SMALL_FEATURES, model=model, search=search, folds=3, bootstrap=100)
    assert result.labels == ("benign", "malignant") and result.categorical_features == ("site",)
    assert result.cv.auc > 0.7 and 0 <= result.test.auc <= 1
    assert result.cv.auc_bootstrap.resamples == 100
    assert {p.feature for p in result.permutation_importance} == set(SMALL_FEATURES)
    has_native = model not in ("naive_bayes", "svm")
    assert bool(result.native_importance) == has_native
    if has_native:
        assert any(item.feature.startswith("site_") for item in result.native_importance)


def test_missing_values_are_dropped_and_named_or_imputed_inside_the_pipeline() -> None:
    table = SMALL.copy()
    table.loc[[3, 10], "x1"] = np.nan
    table.loc[12, "outcome"] = np.nan
    dropped = train_classifier(table, "outcome", SMALL_FEATURES, model="glm", folds=3, bootstrap=100)
    assert dropped.rows.dropped == (3, 10, 12) and len(dropped.rows.used) == 117
    imputed = train_classifier(table, "outcome", SMALL_FEATURES, model="glm", folds=3, bootstrap=100, missing="mean")
    assert imputed.rows.dropped == (12,) and imputed.rows.imputed == {"x1": 2}
    scores = score(model_bytes(imputed), table.loc[[3, 4, 10]])
    assert scores.used == (3, 4, 10) and scores.probability.notna().all()
    assert score(model_bytes(dropped), table.loc[[3, 4, 10]]).dropped == (3, 10)


def _error(**changes: object) -> InvalidArgument:
    arguments: dict = {"table": SMALL, "outcome": "outcome", "features": SMALL_FEATURES, "model": "glm", "folds": 3}
    arguments.update(changes)
    with pytest.raises(InvalidArgument) as error:
        train_classifier(**arguments)
    return error.value


def test_bad_inputs_name_the_column_and_the_problem() -> None:
    three = SMALL.assign(outcome=np.resize(["a", "b", "c"], len(SMALL)))
    assert _error(table=three).reason == "NOT_BINARY"

    rare = SMALL.assign(outcome=np.where(np.arange(len(SMALL)) < 3, "rare", "common"))
    error = _error(table=rare, folds=5)
    assert error.reason == "TOO_FEW_CASES" and error.details["class"] == "rare" and "'rare'" in error.message

    text = SMALL.assign(note=[f"free text {i}" for i in range(len(SMALL))])
    error = _error(table=text, features=[*SMALL_FEATURES, "note"])
    assert error.reason == "NOT_NUMERIC" and error.details["column"] == "note"
    typo = SMALL.assign(x0=SMALL["x0"].astype(object))
    typo.loc[5, "x0"] = "1,2"
    error = _error(table=typo)
    assert error.reason == "NOT_NUMERIC" and error.details["column"] == "x0" and "row 5" in error.message

    error = _error(table=SMALL.assign(x2=4.0))
    assert error.reason == "CONSTANT_COLUMN" and error.details["column"] == "x2"

    error = _error(model="deep_net")
    assert error.reason == "UNKNOWN_MODEL" and all(name in error.message for name in MODELS)

    assert _error(search={"depth": [1, 2]}).reason == "INVALID_SEARCH"
    assert _error(features=["x0", "absent"]).details["column"] == "absent"
    assert _error(features=["x0", "outcome"]).reason == "OUTCOME_AS_FEATURE"
    assert _error(missing="guess").reason == "INVALID_MISSING"


def test_auc_functions_refuse_bad_inputs() -> None:
    with pytest.raises(InvalidArgument) as error:
        auc_ci_delong([0, 1, 2, 1], [0.1, 0.2, 0.3, 0.4])
    assert error.value.reason == "NOT_BINARY"
    with pytest.raises(InvalidArgument) as error:
        delong_test([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], [0.1, 0.2])
    assert error.value.reason == "LENGTH_MISMATCH"
    with pytest.raises(InvalidArgument) as error:
        auc_ci_delong([0, 1, 0, 0], [0.1, 0.2, 0.3, 0.4])
    assert error.value.reason == "TOO_FEW_CASES"
