"""Feature selection on synthetic radiomics-like tables: each step, the filters, honest CV (no leakage), errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.feature_selection import SelectFdr, f_classif

from radscholar_core.errors import InvalidArgument
from radscholar_radiomics.domain.selection import MRMR, CorrelationFilter, Step, build_pipeline, select

SEED = 12  # make_classification's seed: with it each of the 5 informative features separates the classes alone
N_CASES = 150
N_INFORMATIVE = 5
N_REDUNDANT = 10
N_NOISE = 300
INFORMATIVE = [f"informative_{i}" for i in range(N_INFORMATIVE)]


def radiomics_table(n_redundant: int = N_REDUNDANT, seed: int = SEED) -> tuple[pd.DataFrame, pd.Series]:
    """Informative, redundant (their linear combinations) and noise features, an exact copy and a near copy
    (r ~ 0.995) of each informative one, every column on its own scale and offset, as radiomics features are."""
    X, y = make_classification(
        n_samples=N_CASES,
        n_features=N_INFORMATIVE + n_redundant + N_NOISE,
        n_informative=N_INFORMATIVE,
        n_redundant=n_redundant,
        n_clusters_per_class=1,
        flip_y=0.0,
        shuffle=False,  # columns: informative, redundant, noise
        random_state=seed,
    )
    names = INFORMATIVE + [f"redundant_{i}" for i in range(n_redundant)] + [f"noise_{i}" for i in range(N_NOISE)]
    table = pd.DataFrame(X, columns=names)
    rng = np.random.default_rng(seed)
    for name in INFORMATIVE:
        table[f"{name}_copy"] = table[name]
        table[f"{name}_near"] = table[name] + 0.1 * rng.standard_normal(N_CASES)
    table = table * 10.0 ** rng.uniform(-2, 3, table.shape[1]) + rng.uniform(-100, 100, table.shape[1])
    return table, pd.Series(y, name="malignant")


def noise_table(n_features: int, seed: int = 1) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    table = pd.DataFrame(rng.standard_normal((N_CASES, n_features)), columns=[f"noise_{i}" for i in range(n_features)])
    return table, pd.Series(rng.permutation(np.arange(N_CASES) % 2), name="malignant")


def origin(name: str) -> str:
    """The informative feature a column copies ("informative_2_copy" -> "informative_2"), else the name."""
    return name.removesuffix("_copy").removesuffix("_near")


def fitted_selection(steps: list[Step], table: pd.DataFrame, outcome: pd.Series) -> list[str]:
    pipeline = build_pipeline(steps, seed=0).fit(table, outcome)
    return list(pipeline[:-1].get_feature_names_out())


def carries_informative(table: pd.DataFrame, selected: list[str]) -> np.ndarray:
    """R^2 of each informative feature regressed on the selected ones: 1 when the selection carries it.

    Redundant features are exact linear combinations of informative ones, so a step may rightly keep them instead.
    """
    S = table[selected].to_numpy() - table[selected].to_numpy().mean(axis=0)
    r2 = []
    for name in INFORMATIVE:
        v = table[name].to_numpy() - table[name].mean()
        coef, *_ = np.linalg.lstsq(S, v, rcond=None)
        r2.append(1 - np.sum((v - S @ coef) ** 2) / np.sum(v**2))
    return np.array(r2)


@pytest.fixture(scope="module")
def radiomics() -> tuple[pd.DataFrame, pd.Series]:
    table, outcome = radiomics_table()
    p_values = f_classif(table[INFORMATIVE], outcome)[1]
    assert (p_values < 1e-10).all()  # the data are what the tests assume
    return table, outcome


# --- each step -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("steps", "max_noise"),
    [
        ([Step("univariate_fdr", {"alpha": 0.05})], 5),
        ([Step("mrmr", {"k": 10})], 0),
        ([Step("correlation"), Step("mrmr", {"k": 10})], 2),
        ([Step("lasso", {"Cs": 10})], 30),
        ([Step("rfe", {"n_features": 10, "step": 0.1})], 0),
    ],
    ids=["univariate_fdr", "mrmr", "correlation+mrmr", "lasso", "rfe"],
)
def test_supervised_steps_keep_the_signal_and_drop_most_noise(radiomics, steps: list[Step], max_noise: int) -> None:
    table, outcome = radiomics
    selected = fitted_selection(steps, table, outcome)
    assert carries_informative(table, selected).min() > 0.999
    assert sum(name.startswith("noise_") for name in selected) <= max_noise  # of 300


def test_variance_step_drops_constant_and_near_constant_columns(radiomics) -> None:
    table, outcome = radiomics
    table = table.assign(constant=7.0, almost_constant=np.r_[1e-4, np.zeros(N_CASES - 1)])
    selected = fitted_selection([Step("variance", {"threshold": 1e-8})], table, outcome)
    assert "constant" not in selected and "almost_constant" not in selected
    assert set(INFORMATIVE) <= set(selected)


def test_univariate_fdr_matches_sklearn_select_fdr(radiomics) -> None:
    table, outcome = radiomics
    for alpha in (0.001, 0.05, 0.2):
        expected = SelectFdr(f_classif, alpha=alpha).fit(table, outcome).get_feature_names_out()
        assert fitted_selection([Step("univariate_fdr", {"alpha": alpha})], table, outcome) == list(expected)


# --- CorrelationFilter and MRMR --------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_correlation_filter_keeps_one_feature_per_correlated_group(radiomics, method: str) -> None:
    table, _ = radiomics
    columns = INFORMATIVE + [f"{n}_copy" for n in INFORMATIVE] + [f"{n}_near" for n in INFORMATIVE]
    columns += [f"noise_{i}" for i in range(20)]
    scaled = (table[columns] - table[columns].mean()) / table[columns].std()  # ties on variance: column order
    kept = set(CorrelationFilter(threshold=0.9, method=method).fit(scaled).get_feature_names_out())
    assert kept == set(INFORMATIVE) | {f"noise_{i}" for i in range(20)}


def test_correlation_filter_prefers_the_higher_variance_feature() -> None:
    rng = np.random.default_rng(0)
    base = rng.standard_normal(50)
    frame = pd.DataFrame({"small": base, "large": 10 * base + 0.01 * rng.standard_normal(50), "other": rng.random(50)})
    selector = CorrelationFilter(threshold=0.9).fit(frame)
    assert selector.get_support().tolist() == [False, True, True]
    assert list(selector.transform(frame).shape) == [50, 2]


def test_correlation_filter_leaves_no_pair_above_threshold(radiomics) -> None:
    table, _ = radiomics
    kept = CorrelationFilter(threshold=0.8).fit(table).get_feature_names_out()
    correlation = np.abs(np.corrcoef(table[kept].to_numpy(), rowvar=False))
    assert correlation[~np.eye(len(kept), dtype=bool)].max() <= 0.8


def test_mrmr_picks_the_informative_features_first_and_never_two_copies() -> None:
    table, outcome = radiomics_table(n_redundant=0)
    table = table.drop(columns=[f"{n}_near" for n in INFORMATIVE])  # exact copies only
    mrmr = MRMR(k=8).fit(table, outcome)
    ranked = [table.columns[i] for i in mrmr.ranking_]
    assert sorted(origin(name) for name in ranked[:5]) == INFORMATIVE  # one of each, copies count as one
    assert len({origin(name) for name in ranked}) == len(ranked)  # no exact copy of a selected feature, ever


def test_mrmr_with_k_above_the_number_of_features_selects_all() -> None:
    table, outcome = noise_table(6)
    assert MRMR(k=50).fit(table, outcome).get_support().all()


# --- the whole pipeline, inside the folds ----------------------------------------------------------------------

STEPS = [Step("correlation", {"threshold": 0.9}), Step("mrmr", {"k": 10})]


def test_select_on_informative_data(radiomics) -> None:
    table, outcome = radiomics
    result = select(table, outcome, STEPS, folds=5, seed=3)
    assert result.cv_auc_mean > 0.8
    assert len(result.fold_aucs) == result.n_folds == 5 and result.seed == 3
    assert result.cv_auc_std == pytest.approx(np.std(result.fold_aucs))
    assert len(result.selected) == 10
    assert carries_informative(table, result.selected).min() > 0.99
    assert set(result.selection_frequency) == set(table.columns)
    assert all(f in {0.0, 0.2, 0.4, 0.6, 0.8, 1.0} for f in result.selection_frequency.values())
    assert sum(result.selection_frequency.values()) == pytest.approx(10)  # 10 features in each fold


def test_select_with_random_forest(radiomics) -> None:
    table, outcome = radiomics
    assert select(table, outcome, STEPS, model="random_forest", folds=3).cv_auc_mean > 0.8


def test_selection_inside_folds_is_not_optimistic_on_noise_while_leaky_selection_is(radiomics) -> None:
    table, outcome = noise_table(radiomics[0].shape[1])  # as many features as the informative table
    honest = select(table, outcome, STEPS, folds=5, seed=0)
    assert 0.35 <= honest.cv_auc_mean <= 0.65
    # The classic mistake: select on all cases, then cross-validate the model on the selected features only.
    leaky = select(table[honest.selected], outcome, [], folds=5, seed=0)
    assert leaky.cv_auc_mean > 0.7
    assert leaky.cv_auc_mean - honest.cv_auc_mean > 0.2


def test_group_folds_keep_a_patients_cases_together() -> None:
    # 40 patients with 3 near-identical lesions each, outcome per patient, no signal at all: folds that split a
    # patient let the model recognize the lesion's twins, folds that keep patients together show chance.
    rng = np.random.default_rng(0)
    patients = rng.standard_normal((40, 30))
    patient_of_case = np.repeat(np.arange(40), 3)
    table = pd.DataFrame(patients[patient_of_case] + 0.05 * rng.standard_normal((120, 30)))
    table.columns = [f"feature_{i}" for i in range(30)]
    outcome = pd.Series((np.arange(40) % 2)[patient_of_case])
    groups = pd.Series([f"patient-{p}" for p in patient_of_case])
    split = select(table, outcome, [], model="random_forest", folds=4)
    grouped = select(table, outcome, [], model="random_forest", folds=4, groups=groups)
    assert split.cv_auc_mean > 0.9
    assert 0.3 <= grouped.cv_auc_mean <= 0.7


# --- errors ----------------------------------------------------------------------------------------------------


def small_table() -> tuple[pd.DataFrame, pd.Series]:
    table, outcome = noise_table(8)
    return table.iloc[:40].copy(), outcome.iloc[:40].copy()


@pytest.mark.parametrize(
    ("steps", "model", "step", "parameter"),
    [
        ([Step("boruta")], "logistic", "boruta", None),
        ([Step("mrmr", {"n": 5})], "logistic", "mrmr", "n"),
        ([Step("mrmr", {"k": 0})], "logistic", "mrmr", "k"),
        ([Step("mrmr", {"k": 2.5})], "logistic", "mrmr", "k"),
        ([Step("correlation", {"threshold": 1.5})], "logistic", "correlation", "threshold"),
        ([Step("correlation", {"method": "kendall"})], "logistic", "correlation", "method"),
        ([Step("univariate_fdr", {"alpha": 0})], "logistic", "univariate_fdr", "alpha"),
        ([Step("variance", {"threshold": -1})], "logistic", "variance", "threshold"),
        ([Step("lasso", {"Cs": [1.0, -1.0]})], "logistic", "lasso", "Cs"),
        ([Step("rfe", {"step": 0})], "logistic", "rfe", "step"),
        ([Step("rfe", {"n_features": True})], "logistic", "rfe", "n_features"),
        ([Step("mrmr"), Step("variance")], "logistic", "variance", None),
        ([], "svm", None, "model"),
    ],
)
def test_invalid_selection(steps: list[Step], model: str, step: str | None, parameter: str | None) -> None:
    with pytest.raises(InvalidArgument) as error:
        build_pipeline(steps, model=model)
    assert error.value.reason == "INVALID_SELECTION"
    for name in (step, parameter):
        if name is not None:
            assert f"'{name}'" in error.value.message
    assert error.value.details.get("step") == step and error.value.details.get("parameter") == parameter


def test_invalid_folds_and_seed() -> None:
    table, outcome = small_table()
    for kwargs in ({"folds": 1}, {"seed": -1}):
        with pytest.raises(InvalidArgument) as error:
            select(table, outcome, [], **kwargs)  # type: ignore[arg-type]
        assert error.value.reason == "INVALID_SELECTION"


def test_invalid_table_names_the_columns() -> None:
    table, outcome = small_table()
    table.loc[3, "noise_2"] = np.nan
    table.loc[5, "noise_6"] = np.inf
    with pytest.raises(InvalidArgument) as error:
        select(table, outcome, [])
    assert error.value.reason == "INVALID_TABLE"
    assert "noise_2, noise_6" in error.value.message and error.value.details["columns"] == "noise_2,noise_6"

    table, outcome = small_table()
    for bad in (table.assign(site="a"), table.iloc[:, :0], table.rename(columns={"noise_1": "noise_0"})):
        with pytest.raises(InvalidArgument) as error:
            select(bad, outcome, [])
        assert error.value.reason == "INVALID_TABLE"


def test_invalid_outcome() -> None:
    table, outcome = small_table()
    for bad in (
        pd.Series(np.arange(40) % 3),  # three classes
        pd.Series(np.zeros(40)),  # one class
        outcome.astype(float).where(outcome.index != 4),  # a missing value
        outcome.iloc[:30],  # shorter
        outcome.set_axis(range(100, 140)),  # another index
    ):
        with pytest.raises(InvalidArgument) as error:
            select(table, bad, [])
        assert error.value.reason == "INVALID_OUTCOME"


def test_outcome_labels_need_not_be_zero_and_one() -> None:
    table, outcome = small_table()
    labels = outcome.map({0: "benign", 1: "malignant"})
    assert select(table, labels, [], folds=3).fold_aucs == select(table, outcome, [], folds=3).fold_aucs


def test_invalid_groups() -> None:
    table, outcome = small_table()
    for bad in (pd.Series(np.arange(30)), pd.Series([None] * 40)):
        with pytest.raises(InvalidArgument) as error:
            select(table, outcome, [], groups=bad)
        assert error.value.reason == "INVALID_GROUPS"


def test_too_few_cases() -> None:
    table, outcome = small_table()
    cases = [
        (table.iloc[:4], outcome.iloc[:4], {}),  # 4 cases, 5 folds
        (table, pd.Series(np.r_[np.ones(3), np.zeros(37)]), {}),  # 3 positives, 5 folds
        (table, outcome, {"groups": pd.Series(np.arange(40) % 3)}),  # 3 patients, 5 folds
    ]
    for bad_table, bad_outcome, kwargs in cases:
        with pytest.raises(InvalidArgument) as error:
            select(bad_table, bad_outcome, [], **kwargs)
        assert error.value.reason == "TOO_FEW_CASES"


def test_a_test_fold_with_one_class_is_refused() -> None:
    table, outcome = small_table()
    # Each patient's cases all share one outcome, and 6 of 8 patients are negatives: some test fold has no positive.
    patient = pd.Series(np.arange(40) % 8)
    outcome = pd.Series((patient < 2).astype(int))
    with pytest.raises(InvalidArgument) as error:
        select(table, outcome, [], folds=5, groups=patient)
    assert error.value.reason == "TOO_FEW_CASES"


@pytest.mark.filterwarnings("ignore:No features were selected:UserWarning")
@pytest.mark.parametrize(
    "steps",
    [[Step("univariate_fdr", {"alpha": 0.001})], [Step("variance", {"threshold": 100.0})]],
    ids=["fdr_on_noise", "variance"],
)
def test_no_features_selected(steps: list[Step]) -> None:
    table, outcome = small_table()
    with pytest.raises(InvalidArgument) as error:
        select(table, outcome, steps)
    assert error.value.reason == "NO_FEATURES_SELECTED"
