"""Regression checked against published reference values and statsmodels itself.

References:
- Longley (1967) data, NIST StRD certified values (www.itl.nist.gov/div898/strd/lls/data/Longley.shtml), as
  statsmodels also records them in ``statsmodels/regression/tests/results/results_regression.py``.
- Spector & Mazzeo (1980) logit (Greene, Econometric Analysis, table 21.1), as recorded (from Stata) in
  ``statsmodels/discrete/tests/results/results_discrete.py``: const -13.0213483, GPA 2.82611297,
  TUCE 0.0951576703, PSI 2.37868773; log-likelihood -12.8896334653; McFadden R^2 0.374038332.
- Capital punishment Poisson model (statsmodels' cpunish), R's glm values recorded in
  ``statsmodels/genmod/tests/results/results_glm.py``: deviance 18.5916417595, AIC 77.8546573897.
"""

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import stats

from radscholar_core.errors import InvalidArgument
from radscholar_stats.domain.regression import RegressionModel, fit_regression, forest_plot_data

LONGLEY = sm.datasets.longley.load_pandas().data
SPECTOR = sm.datasets.spector.load_pandas().data
CPUNISH = sm.datasets.cpunish.load_pandas().data.assign(LN_VC100k96=lambda d: np.log(d["VC100k96"]))

# NIST StRD, Longley: certified estimates and standard deviations (b0 is the intercept).
NIST_LONGLEY = {
    "Intercept": (-3482258.63459582, 890420.383607373),
    "GNPDEFL": (15.0618722713733, 84.9149257747669),
    "GNP": (-0.358191792925910e-01, 0.334910077722432e-01),
    "UNEMP": (-2.02022980381683, 0.488399681651699),
    "ARMED": (-1.03322686717359, 0.214274163161675),
    "POP": (-0.511041056535807e-01, 0.226073200069370),
    "YEAR": (1829.15146461355, 455.478499142212),
}
SPECTOR_LOGIT = {
    "Intercept": (-13.0213483201, 4.93132462871),
    "GPA": (2.82611297201, 1.26294114526),
    "TUCE": (0.0951576702557, 0.141554207662),
    "PSI": (2.37868772835, 1.06456430165),
}
CPUNISH_PREDICTORS = ["INCOME", "PERPOVERTY", "PERBLACK", "LN_VC100k96", "SOUTH", "DEGREE"]


def _terms(result):
    return {t.name: t for t in result.terms}


def test_longley_matches_nist_certified_values() -> None:
    result = fit_regression(LONGLEY, "TOTEMP", ["GNPDEFL", "GNP", "UNEMP", "ARMED", "POP", "YEAR"])
    terms = _terms(result)
    assert list(terms) == list(NIST_LONGLEY)
    for name, (estimate, std_error) in NIST_LONGLEY.items():
        assert terms[name].coefficient == pytest.approx(estimate, rel=1e-8), name
        assert terms[name].std_error == pytest.approx(std_error, rel=1e-8), name
        t = estimate / std_error
        assert terms[name].statistic == pytest.approx(t, rel=1e-8)
        assert terms[name].p_value == pytest.approx(2 * stats.t.sf(abs(t), 9), rel=1e-6)
        half = stats.t.ppf(0.975, 9) * std_error
        assert (terms[name].ci_low, terms[name].ci_high) == (
            pytest.approx(estimate - half, rel=1e-7),
            pytest.approx(estimate + half, rel=1e-7),
        )
        assert terms[name].ratio is None
    fit = result.fit
    assert fit.n == 16 and fit.df_model == 6 and fit.df_resid == 9
    assert fit.r_squared == pytest.approx(0.995479004577296, rel=1e-10)
    assert fit.deviance == pytest.approx(836424.055505915, rel=1e-8)  # certified residual sum of squares
    assert fit.null_deviance - fit.deviance == pytest.approx(184172401.944494, rel=1e-8)  # regression SS
    assert math.sqrt(fit.deviance / fit.df_resid) == pytest.approx(304.854073561965, rel=1e-8)  # residual SD
    assert fit.f_statistic == pytest.approx(330.285339234588, rel=1e-8)
    assert fit.adj_r_squared == pytest.approx(1 - (1 - 0.995479004577296) * 15 / 9, rel=1e-10)
    assert fit.log_likelihood == pytest.approx(-109.6174, abs=1e-4)  # Stata, in statsmodels' results
    assert fit.aic == pytest.approx(233.2349, abs=1e-4)
    assert fit.pseudo_r_squared is None
    assert result.statistic_name == "t"
    assert result.rows_used == tuple(range(16)) and result.rows_dropped == ()


def test_spector_logit_matches_spector_and_mazzeo() -> None:
    result = fit_regression(SPECTOR, "GRADE", ["GPA", "TUCE", "PSI"], model="logistic", confidence_level=0.9)
    terms = _terms(result)
    for name, (estimate, std_error) in SPECTOR_LOGIT.items():
        assert terms[name].coefficient == pytest.approx(estimate, rel=1e-6), name
        assert terms[name].std_error == pytest.approx(std_error, rel=1e-6), name
        z = estimate / std_error
        assert terms[name].statistic == pytest.approx(z, rel=1e-6)
        assert terms[name].p_value == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-5)
        half = stats.norm.ppf(0.95) * std_error
        assert terms[name].ci_low == pytest.approx(estimate - half, rel=1e-6)
        assert terms[name].ci_high == pytest.approx(estimate + half, rel=1e-6)
        assert terms[name].ratio == pytest.approx(math.exp(terms[name].coefficient), rel=1e-12)
        assert terms[name].ratio_ci_low == pytest.approx(math.exp(terms[name].ci_low), rel=1e-12)
        assert terms[name].ratio_ci_high == pytest.approx(math.exp(terms[name].ci_high), rel=1e-12)
    fit = result.fit
    # Stata's figures, to the 1e-6 that separates them from the exact maximum on this data
    assert fit.log_likelihood == pytest.approx(-12.8896334653335, rel=1e-6)
    assert fit.pseudo_r_squared == pytest.approx(0.374038332124624, rel=1e-6)
    assert fit.aic == pytest.approx(33.779266930667, rel=1e-6)
    assert fit.bic == pytest.approx(39.642210541866, rel=1e-6)
    assert fit.deviance == pytest.approx(-2 * fit.log_likelihood, rel=1e-12)
    assert fit.r_squared is None and fit.f_statistic is None
    assert result.outcome_levels == ("0.0", "1.0") and result.statistic_name == "z"
    assert result.ratio_name == "odds ratio"


def test_forest_plot_shows_ratios_around_one_and_coefficients_around_zero() -> None:
    logistic = fit_regression(SPECTOR, "GRADE", ["GPA", "TUCE", "PSI"], model="logistic")
    plot = forest_plot_data(logistic)
    assert (plot.scale, plot.reference_line, plot.log_scale) == ("odds ratio", 1.0, True)
    assert [row.name for row in plot.rows] == ["GPA", "TUCE", "PSI"]
    gpa = _terms(logistic)["GPA"]
    assert (plot.rows[0].estimate, plot.rows[0].low, plot.rows[0].high) == (
        pytest.approx(gpa.ratio),
        pytest.approx(gpa.ratio_ci_low),
        pytest.approx(gpa.ratio_ci_high),
    )
    assert all(row.low < row.estimate < row.high for row in plot.rows)

    linear = forest_plot_data(fit_regression(SPECTOR, "GPA", ["TUCE", "PSI"]))
    assert (linear.scale, linear.reference_line, linear.log_scale) == ("coefficient", 0.0, False)
    assert [row.name for row in linear.rows] == ["TUCE", "PSI"]


def test_poisson_matches_statsmodels_and_r_on_cpunish() -> None:
    result = fit_regression(CPUNISH, "EXECUTIONS", CPUNISH_PREDICTORS, model=RegressionModel.POISSON)
    reference = sm.GLM(
        CPUNISH["EXECUTIONS"], sm.add_constant(CPUNISH[CPUNISH_PREDICTORS]), family=sm.families.Poisson()
    ).fit()
    intervals = reference.conf_int()
    for term, name in zip(result.terms, ["const", *CPUNISH_PREDICTORS], strict=True):
        assert term.coefficient == pytest.approx(reference.params[name], rel=1e-9)
        assert term.std_error == pytest.approx(reference.bse[name], rel=1e-9)
        assert term.statistic == pytest.approx(reference.tvalues[name], rel=1e-9)
        assert term.p_value == pytest.approx(reference.pvalues[name], rel=1e-8)
        assert term.ratio_ci_low == pytest.approx(math.exp(intervals.loc[name, 0]), rel=1e-9)
        assert term.ratio_ci_high == pytest.approx(math.exp(intervals.loc[name, 1]), rel=1e-9)
    assert result.ratio_name == "rate ratio"
    # R: glm(EXECUTIONS ~ ..., family = poisson)
    assert result.fit.deviance == pytest.approx(18.591641759528944, rel=1e-7)
    assert result.fit.null_deviance == pytest.approx(136.57281747225, rel=1e-7)
    assert result.fit.aic == pytest.approx(77.8546573896503, rel=1e-7)
    assert result.fit.log_likelihood == pytest.approx(-31.92732869482515, rel=1e-7)
    assert result.fit.bic == pytest.approx(reference.bic_llf, rel=1e-10)


def test_poisson_offset_matches_statsmodels() -> None:
    table = CPUNISH.assign(log_exposure=np.log(CPUNISH["INCOME"] / 1000))
    predictors = ["PERPOVERTY", "PERBLACK", "SOUTH"]
    result = fit_regression(table, "EXECUTIONS", predictors, model="poisson", offset="log_exposure")
    reference = sm.GLM(
        table["EXECUTIONS"],
        sm.add_constant(table[predictors]),
        family=sm.families.Poisson(),
        offset=table["log_exposure"],
    ).fit(tol=1e-12)  # converged fully: at the default 1e-8 its standard errors are 1e-5 off
    assert [t.coefficient for t in result.terms] == pytest.approx(list(reference.params), rel=1e-9)
    assert [t.std_error for t in result.terms] == pytest.approx(list(reference.bse), rel=1e-9)
    assert result.fit.deviance == pytest.approx(reference.deviance, rel=1e-9)
    assert result.offset == "log_exposure"


def test_categorical_predictors_are_dummy_coded_against_the_reference() -> None:
    table = SPECTOR.assign(tuce=pd.cut(SPECTOR["TUCE"], [0, 19, 22, 99], labels=["low", "mid", "high"]).astype(str))
    result = fit_regression(table, "GPA", ["tuce", "PSI"], reference_levels={"tuce": "mid"})
    reference = smf.ols("GPA ~ C(tuce, Treatment('mid')) + PSI", data=table).fit()
    assert [t.name for t in result.terms] == ["Intercept", "tuce[high]", "tuce[low]", "PSI"]
    assert result.reference_levels == {"tuce": "mid"}
    expected = [reference.params[n] for n in reference.params.index]
    ordered = [result.terms[0], result.terms[1], result.terms[2], result.terms[3]]
    assert [t.coefficient for t in ordered] == pytest.approx(expected, rel=1e-10)
    assert (result.terms[1].column, result.terms[1].level) == ("tuce", "high")

    default = fit_regression(table, "GPA", ["tuce", "PSI"])
    assert default.reference_levels == {"tuce": "high"}  # first in sort order

    numbered = SPECTOR.assign(grade=np.select([SPECTOR["TUCE"] < 20, SPECTOR["TUCE"] < 24], [2, 10], 30))
    coded = fit_regression(numbered, "GPA", ["grade"], reference_levels={"grade": "2"})
    assert [t.name for t in coded.terms] == ["Intercept", "grade[10]", "grade[30]"]  # numbers sort as numbers


def test_rows_with_missing_values_are_left_out_and_named() -> None:
    table = SPECTOR.copy()
    table.index = pd.RangeIndex(1, len(table) + 1, name="row")
    table.loc[[3, 17], "TUCE"] = np.nan
    result = fit_regression(table, "GRADE", ["GPA", "TUCE", "PSI"], model="logistic")
    assert result.rows_dropped == (3, 17)
    assert result.fit.n == 30 and len(result.rows_used) == 30
    reference = sm.GLM(
        table.dropna()["GRADE"], sm.add_constant(table.dropna()[["GPA", "TUCE", "PSI"]]), family=sm.families.Binomial()
    ).fit()
    assert [t.coefficient for t in result.terms] == pytest.approx(list(reference.params), rel=1e-8)

    with pytest.raises(InvalidArgument) as failed:
        fit_regression(table, "GRADE", ["GPA", "TUCE"], missing="fail")
    assert failed.value.reason == "MISSING_VALUES"


def _error(call) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as failed:
        call()
    return failed.value


def test_outcome_must_suit_the_model() -> None:
    text = SPECTOR.assign(GRADE=SPECTOR["GRADE"].astype(object))
    text.loc[4, "GRADE"] = "pass"
    for model in ("linear", "poisson"):
        error = _error(lambda model=model: fit_regression(text, "GRADE", ["GPA"], model=model))
        assert (error.reason, error.details["column"]) == ("NOT_NUMERIC", "GRADE")
        assert "'pass'" in error.message

    three = SPECTOR.assign(result=SPECTOR["GRADE"] + SPECTOR["PSI"])
    error = _error(lambda: fit_regression(three, "result", ["GPA"], model="logistic"))
    assert (error.reason, error.details["column"]) == ("NOT_BINARY", "result")

    negative = CPUNISH.copy()
    negative.loc[5, "EXECUTIONS"] = -2
    error = _error(lambda: fit_regression(negative, "EXECUTIONS", ["INCOME"], model="poisson"))
    assert (error.reason, error.details["column"]) == ("INVALID_COUNT", "EXECUTIONS")
    assert "negative" in error.message

    fractional = CPUNISH.assign(EXECUTIONS=CPUNISH["EXECUTIONS"] + 0.5)
    error = _error(lambda: fit_regression(fractional, "EXECUTIONS", ["INCOME"], model="poisson"))
    assert (error.reason, error.details["column"]) == ("INVALID_COUNT", "EXECUTIONS")
    assert "whole number" in error.message


def test_constant_predictor_is_refused() -> None:
    error = _error(lambda: fit_regression(SPECTOR.assign(site=7.0), "GRADE", ["GPA", "site"], model="logistic"))
    assert (error.reason, error.details["column"]) == ("CONSTANT_COLUMN", "site")

    # constant only among the complete rows
    table = SPECTOR.assign(arm=np.where(SPECTOR["PSI"] == 1, "a", "b"), dose=np.where(SPECTOR["PSI"] == 1, 1.0, np.nan))
    error = _error(lambda: fit_regression(table, "GPA", ["arm", "dose"]))
    assert (error.reason, error.details["column"]) == ("CONSTANT_COLUMN", "arm")


def test_collinear_predictors_are_named() -> None:
    table = SPECTOR.assign(gpa_scaled=SPECTOR["GPA"] * 4 + 1, total=SPECTOR["GPA"] + SPECTOR["TUCE"])
    error = _error(lambda: fit_regression(table, "GRADE", ["GPA", "TUCE", "gpa_scaled"], model="logistic"))
    assert error.reason == "COLLINEAR"
    assert error.details == {"column": "gpa_scaled", "columns": "gpa_scaled,GPA"}
    assert "'GPA'" in error.message

    error = _error(lambda: fit_regression(table, "PSI", ["GPA", "TUCE", "GRADE", "total"]))
    assert (error.reason, error.details["columns"]) == ("COLLINEAR", "total,GPA,TUCE")

    labelled = SPECTOR.assign(
        course=np.where(SPECTOR["PSI"] == 1, "new", "old"), method=np.where(SPECTOR["PSI"] == 1, "PSI", "lecture")
    )
    error = _error(lambda: fit_regression(labelled, "GPA", ["course", "method"]))
    assert (error.reason, error.details["column"]) == ("COLLINEAR", "method")


def test_longley_is_ill_conditioned_but_not_collinear() -> None:
    assert np.linalg.cond(sm.add_constant(LONGLEY.iloc[:, 1:]).to_numpy()) > 1e9
    fit_regression(LONGLEY, "TOTEMP", ["GNPDEFL", "GNP", "UNEMP", "ARMED", "POP", "YEAR"])


def test_complete_separation_names_the_column() -> None:
    table = SPECTOR.assign(passed_quiz=SPECTOR["GRADE"] * 3 + 1)
    error = _error(lambda: fit_regression(table, "GRADE", ["GPA", "passed_quiz"], model="logistic"))
    assert (error.reason, error.details["column"]) == ("PERFECT_SEPARATION", "passed_quiz")
    assert "completely" in error.message and "quasi" not in error.message


def test_quasi_complete_separation_names_the_column() -> None:
    # every student with flag = 1 passed; those with flag = 0 did either. statsmodels fits this silently.
    flag = ((SPECTOR["GRADE"] == 1) & (SPECTOR["PSI"] == 1)).astype(int)
    table = SPECTOR.assign(flag=flag)
    error = _error(lambda: fit_regression(table, "GRADE", ["GPA", "TUCE", "flag"], model="logistic"))
    assert (error.reason, error.details["column"]) == ("PERFECT_SEPARATION", "flag")
    assert "quasi-completely" in error.message and f"{int(flag.sum())} of 32 rows" in error.message


def test_separation_by_predictors_together_names_them() -> None:
    rng = np.random.default_rng(7)
    x1, x2 = rng.normal(size=60), rng.normal(size=60)
    table = pd.DataFrame({"x1": x1, "x2": x2, "y": (x1 + x2 > 0).astype(int)})
    error = _error(lambda: fit_regression(table, "y", ["x1", "x2"], model="logistic"))
    assert error.reason == "PERFECT_SEPARATION"
    assert error.details["columns"] == "x1,x2" and "together" in error.message


def test_separation_is_found_in_a_large_table() -> None:
    """Past the size where the linear program always runs, the fit's extreme probabilities trigger it."""
    rng = np.random.default_rng(11)
    n = 8000
    table = pd.DataFrame(rng.normal(size=(n, 7)), columns=[f"x{i}" for i in range(7)])
    table["y"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-table["x0"]))).astype(int)
    table["rare_marker"] = 0
    table.loc[table.index[:40], ["rare_marker", "y"]] = 1
    predictors = [*(f"x{i}" for i in range(7)), "rare_marker"]
    error = _error(lambda: fit_regression(table, "y", predictors, model="logistic"))
    assert (error.reason, error.details["column"]) == ("PERFECT_SEPARATION", "rare_marker")


def test_fewer_rows_than_parameters() -> None:
    table = SPECTOR.iloc[[0, 5, 13, 27]]
    error = _error(lambda: fit_regression(table, "GPA", ["TUCE", "PSI", "GRADE"]))
    assert error.reason == "TOO_FEW_ROWS"
    assert error.details == {"rows": "4", "parameters": "4"}


def test_invalid_requests() -> None:
    assert _error(lambda: fit_regression(SPECTOR, "GPA", ["TUCE"], model="probit")).reason == "INVALID_MODEL"
    assert _error(lambda: fit_regression(SPECTOR, "GPA", [])).reason == "NO_PREDICTORS"
    assert _error(lambda: fit_regression(SPECTOR, "GPA", ["GPA"])).reason == "COLUMN_IN_TWO_ROLES"
    assert _error(lambda: fit_regression(SPECTOR, "GPA", ["PSI", "PSI"])).reason == "DUPLICATE_PREDICTOR"
    assert _error(lambda: fit_regression(SPECTOR, "GPA", ["PSI"], offset="TUCE")).reason == "INVALID_OFFSET"
    assert _error(lambda: fit_regression(SPECTOR, "GPA", ["nope"])).reason == "UNKNOWN_COLUMN"
    assert _error(lambda: fit_regression(SPECTOR, "GPA", ["PSI"], confidence_level=1.0)).reason == (
        "INVALID_CONFIDENCE_LEVEL"
    )
    error = _error(lambda: fit_regression(SPECTOR, "GPA", ["PSI"], reference_levels={"PSI": "7"}))
    assert (error.reason, error.details["column"]) == ("UNKNOWN_REFERENCE_LEVEL", "PSI")
