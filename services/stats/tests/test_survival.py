"""Survival analysis checked against published values and lifelines itself.

References:
- Rossi et al. (1980) recidivism data (lifelines' ``load_rossi``), the Cox model of Fox & Weisberg, "Cox
  Proportional-Hazards Regression for Survival Data in R" (appendix to An R Companion to Applied Regression):
  coefficients fin -0.379, age -0.057, race 0.314, wexp -0.150, mar -0.434, paro -0.085, prio 0.091. lifelines'
  "Survival Regression" docs print the same fit: partial log-likelihood -658.75, concordance 0.64, partial
  AIC 1331.50, likelihood-ratio test 33.27 on 7 df; and, stratified by race, -620.56, 0.63, 1253.13, 32.73 on 6 df.
  lifelines' "Proportional hazard assumption" notebook prints it to 3 decimals (standard errors 0.191, 0.022,
  0.308, 0.212, 0.382, 0.196, 0.029; log-likelihood -658.748; LR 33.266).
- The log-rank test of the Rossi data by ``fin``: R's ``survdiff`` gives chi-square 3.8 on 1 df, p = 0.05.
"""

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.datasets import load_rossi, load_waltons
from lifelines.statistics import logrank_test, multivariate_logrank_test, proportional_hazard_test
from lifelines.utils import median_survival_times
from scipy import stats

from radscholar_core.errors import InvalidArgument
from radscholar_stats.domain.survival import cox, kaplan_meier, log_rank

ROSSI = load_rossi()
WALTONS = load_waltons()
COVARIATES = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]
# coefficient and standard error, to 3 decimals (Fox & Weisberg; lifelines' notebook)
PUBLISHED = {
    "fin": (-0.379, 0.191),
    "age": (-0.057, 0.022),
    "race": (0.314, 0.308),
    "wexp": (-0.150, 0.212),
    "mar": (-0.434, 0.382),
    "paro": (-0.085, 0.196),
    "prio": (0.091, 0.029),
}
THREE_DECIMALS = 5e-4 + 1e-9


def test_rossi_cox_matches_published_values() -> None:
    result = cox(ROSSI, "week", "arrest", COVARIATES)
    assert [t.name for t in result.terms] == COVARIATES
    for term in result.terms:
        coefficient, std_error = PUBLISHED[term.name]
        assert term.coefficient == pytest.approx(coefficient, abs=THREE_DECIMALS), term.name
        assert term.std_error == pytest.approx(std_error, abs=THREE_DECIMALS), term.name
        assert term.hazard_ratio == pytest.approx(np.exp(term.coefficient), rel=1e-12)
        assert term.z == pytest.approx(term.coefficient / term.std_error, rel=1e-9)
        z = stats.norm.ppf(0.975)
        assert term.hr_ci_low == pytest.approx(np.exp(term.coefficient - z * term.std_error), rel=1e-9)
        assert term.hr_ci_high == pytest.approx(np.exp(term.coefficient + z * term.std_error), rel=1e-9)
    fin = result.terms[0]
    assert (round(fin.hr_ci_low, 2), round(fin.hr_ci_high, 2), round(fin.p_value, 2)) == (0.47, 1.00, 0.05)
    assert result.log_likelihood == pytest.approx(-658.748, abs=THREE_DECIMALS)
    assert round(result.concordance, 2) == 0.64
    assert result.aic == pytest.approx(1331.50, abs=0.005)
    assert (round(result.likelihood_ratio_statistic, 3), result.likelihood_ratio_df) == (33.266, 7)
    assert (result.n, result.events) == (432, 114)


def test_stratified_cox_matches_lifelines_docs() -> None:
    result = cox(ROSSI, "week", "arrest", ["fin", "age", "wexp", "mar", "paro", "prio"], strata=["race"])
    published = {"fin": -0.38, "age": -0.06, "wexp": -0.14, "mar": -0.44, "paro": -0.09, "prio": 0.09}
    for term in result.terms:
        assert term.coefficient == pytest.approx(published[term.name], abs=0.005 + 1e-9), term.name
    assert result.log_likelihood == pytest.approx(-620.56, abs=0.005)
    assert round(result.concordance, 2) == 0.63
    assert result.aic == pytest.approx(1253.13, abs=0.005)
    assert (round(result.likelihood_ratio_statistic, 2), result.likelihood_ratio_df) == (32.73, 6)
    assert result.strata == ("race",)


def test_proportional_hazards_check_matches_lifelines_and_the_global_test() -> None:
    result = cox(ROSSI, "week", "arrest", COVARIATES)
    fitter = CoxPHFitter().fit(ROSSI, "week", "arrest")
    reference = proportional_hazard_test(fitter, ROSSI, time_transform="rank").summary
    for term in result.terms:
        assert term.ph_statistic == pytest.approx(reference.loc[term.name, "test_statistic"], rel=1e-8)
        assert term.ph_p_value == pytest.approx(reference.loc[term.name, "p"], rel=1e-7)
    # age and wexp break proportional hazards (lifelines' notebook: the two variables that fail)
    assert [t.name for t in result.terms if t.ph_p_value < 0.05] == ["age", "wexp"]

    # the global test computed independently from the unscaled Schoenfeld residuals (R's cox.zph before 3.0):
    # d * (g'S) V (S'g) / sum(g^2), g the centred ranks of the event times
    residuals = fitter.compute_residuals(ROSSI, kind="schoenfeld").to_numpy()
    ranks = stats.rankdata(ROSSI["week"][ROSSI["arrest"] == 1].sort_values(kind="stable"), method="ordinal")
    g = ranks - ranks.mean()
    u = g @ residuals
    expected = 114 * u @ fitter.variance_matrix_.to_numpy() @ u / (g @ g)
    assert result.ph_global_statistic == pytest.approx(expected, rel=1e-8)
    assert result.ph_global_df == 7
    assert result.ph_global_p_value == pytest.approx(stats.chi2.sf(expected, 7), rel=1e-8)

    single = cox(ROSSI, "week", "arrest", ["age"])
    assert single.ph_global_statistic == pytest.approx(single.terms[0].ph_statistic, rel=1e-10)


def test_cox_dummy_codes_categorical_covariates() -> None:
    table = ROSSI.assign(priors=pd.cut(ROSSI["prio"], [-1, 0, 3, 99], labels=["none", "few", "many"]).astype(str))
    result = cox(table, "week", "arrest", ["fin", "priors"], reference_levels={"priors": "none"})
    assert [t.name for t in result.terms] == ["fin", "priors[few]", "priors[many]"]
    manual = table.assign(few=(table["priors"] == "few").astype(float), many=(table["priors"] == "many").astype(float))[
        ["week", "arrest", "fin", "few", "many"]
    ]
    reference = CoxPHFitter().fit(manual, "week", "arrest")
    assert [t.coefficient for t in result.terms] == pytest.approx(list(reference.params_), rel=1e-9)
    assert result.reference_levels == {"priors": "none"}


def test_rossi_log_rank_by_financial_aid() -> None:
    result = log_rank(ROSSI, "week", "arrest", "fin")
    aid, none = ROSSI[ROSSI["fin"] == 1], ROSSI[ROSSI["fin"] == 0]
    reference = logrank_test(none["week"], aid["week"], none["arrest"], aid["arrest"])
    assert result.statistic == pytest.approx(reference.test_statistic, rel=1e-12)
    assert result.p_value == pytest.approx(reference.p_value, rel=1e-12)
    assert (round(result.statistic, 1), round(result.p_value, 2), result.df) == (3.8, 0.05, 1)  # R survdiff
    assert result.groups == ("0", "1") and result.n == (216, 216) and result.events == (66, 48)


def test_log_rank_with_more_groups_matches_lifelines() -> None:
    table = ROSSI.assign(age_band=pd.cut(ROSSI["age"], [0, 20, 25, 99], labels=["-20", "21-25", "26+"]).astype(str))
    result = log_rank(table, "week", "arrest", "age_band")
    reference = multivariate_logrank_test(table["week"], table["age_band"], table["arrest"])
    assert result.statistic == pytest.approx(reference.test_statistic, rel=1e-10)
    assert result.p_value == pytest.approx(reference.p_value, rel=1e-8)
    assert result.df == 2 and result.groups == ("-20", "21-25", "26+")


def test_kaplan_meier_on_waltons_matches_lifelines() -> None:
    result = kaplan_meier(WALTONS, "T", "E", "group", confidence_level=0.9)
    assert [c.group for c in result.curves] == ["control", "miR-137"]
    assert result.times_at_risk == (0.0, 20.0, 40.0, 60.0)  # round steps up to the longest time, 75
    for curve in result.curves:
        rows = WALTONS[WALTONS["group"] == curve.group]
        reference = KaplanMeierFitter(alpha=0.1).fit(rows["T"], rows["E"])
        assert curve.time == tuple(reference.survival_function_.index)
        assert curve.survival == pytest.approx(list(reference.survival_function_["KM_estimate"]), rel=1e-12)
        band = reference.confidence_interval_
        assert curve.ci_low == pytest.approx(list(band.iloc[:, 0]), rel=1e-12)
        assert curve.ci_high == pytest.approx(list(band.iloc[:, 1]), rel=1e-12)
        assert curve.median == reference.median_survival_time_
        low, high = median_survival_times(band).iloc[0]
        assert (curve.median_ci_low, curve.median_ci_high) == (low, high)
        assert curve.at_risk == tuple(int((rows["T"] >= t).sum()) for t in result.times_at_risk)
        table = reference.event_table
        assert curve.at_risk[0] == table["at_risk"].iloc[0] == len(rows)
        assert (curve.n, curve.events) == (len(rows), int(rows["E"].sum()))
        assert curve.censored == tuple(sorted(set(rows["T"][rows["E"] == 0])))
    control, treated = result.curves
    assert (control.median, treated.median) == (58.0, 26.0)


def test_kaplan_meier_without_groups_and_at_chosen_times() -> None:
    table = ROSSI.copy()
    table.index = pd.RangeIndex(1, len(table) + 1, name="row")
    table.loc[[2, 9], "week"] = np.nan
    result = kaplan_meier(table, "week", "arrest", times_at_risk=[0, 10, 52])
    (curve,) = result.curves
    assert curve.group == "" and curve.n == 430
    assert result.rows_dropped == (2, 9)
    assert curve.at_risk[0] == 430 and curve.at_risk[2] == int((table["week"] >= 52).sum())
    assert curve.median is None and curve.median_ci_low is None  # survival stays above 0.5 in a year


def _error(call) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as failed:
        call()
    return failed.value


@pytest.mark.parametrize(
    "call",
    [
        lambda table: kaplan_meier(table, "week", "arrest"),
        lambda table: log_rank(table, "week", "arrest", "fin"),
        lambda table: cox(table, "week", "arrest", ["fin", "age"]),
    ],
)
def test_bad_times_and_events_are_named(call) -> None:
    negative = ROSSI.copy()
    negative.loc[7, "week"] = -3
    error = _error(lambda: call(negative))
    assert (error.reason, error.details["column"]) == ("NEGATIVE_TIME", "week")

    text = ROSSI.assign(week=ROSSI["week"].astype(object))
    text.loc[4, "week"] = "lost"
    assert _error(lambda: call(text)).reason == "NOT_NUMERIC"

    odd = ROSSI.copy()
    odd.loc[3, "arrest"] = 2
    error = _error(lambda: call(odd))
    assert (error.reason, error.details["column"]) == ("INVALID_EVENT", "arrest")

    censored = ROSSI.assign(arrest=0)
    error = _error(lambda: call(censored))
    assert (error.reason, error.details["column"]) == ("NO_EVENTS", "arrest")


def test_log_rank_needs_two_groups() -> None:
    error = _error(lambda: log_rank(ROSSI.assign(site="A"), "week", "arrest", "site"))
    assert (error.reason, error.details["column"]) == ("CONSTANT_COLUMN", "site")


def test_cox_refuses_what_it_cannot_fit() -> None:
    error = _error(lambda: cox(ROSSI.assign(site=1), "week", "arrest", ["fin", "site"]))
    assert (error.reason, error.details["column"]) == ("CONSTANT_COLUMN", "site")

    collinear = ROSSI.assign(age_and_prio=ROSSI["age"] + ROSSI["prio"])
    error = _error(lambda: cox(collinear, "week", "arrest", ["age", "prio", "age_and_prio"]))
    assert error.reason == "COLLINEAR" and error.details["columns"] == "age_and_prio,age,prio"

    # a covariate equal to the event orders the events perfectly: the partial likelihood has no maximum
    monotone = ROSSI.assign(rearrested=ROSSI["arrest"])
    error = _error(lambda: cox(monotone, "week", "arrest", ["fin", "rearrested"]))
    assert (error.reason, error.details["column"]) == ("NOT_CONVERGED", "rearrested")

    tiny = pd.DataFrame({"week": [5, 8, 12], "arrest": [1, 0, 1], "fin": [0, 1, 0], "age": [20, 30, 25]})
    error = _error(lambda: cox(tiny.assign(prio=[1, 3, 0]), "week", "arrest", ["fin", "age", "prio"]))
    assert (error.reason, error.details) == ("TOO_FEW_ROWS", {"rows": "3", "parameters": "3"})
    assert _error(lambda: cox(ROSSI, "week", "arrest", [])).reason == "NO_PREDICTORS"
    assert _error(lambda: cox(ROSSI, "week", "arrest", ["week"])).reason == "COLUMN_IN_TWO_ROLES"
