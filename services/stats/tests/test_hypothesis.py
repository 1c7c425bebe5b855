"""Hypothesis tests against R's documented outputs on R's own example data, and against scipy/statsmodels.

Tolerances follow the digits R prints: a value printed with k significant digits is compared to half a unit in
its last place.
"""

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.formula.api import ols

from radscholar_core.errors import InvalidArgument
from radscholar_stats.domain.hypothesis import HypothesisTest, TestResult, adjust_p_values, run_test


def _table(columns: dict[str, list]) -> pd.DataFrame:
    frame = pd.DataFrame(columns)
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="row")
    return frame


# R datasets::sleep (Cushny & Peebles): extra hours of sleep with drug 1 and drug 2, the same ten patients.
SLEEP_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]
SLEEP_LONG = _table({"extra": SLEEP_1 + SLEEP_2, "group": [1] * 10 + [2] * 10})
SLEEP_WIDE = _table({"drug1": SLEEP_1, "drug2": SLEEP_2})

# R datasets::PlantGrowth: dried plant weight under a control and two treatments.
CONTROL = [4.17, 5.58, 5.18, 6.11, 4.50, 4.61, 5.17, 4.53, 5.33, 5.14]
TREATMENT_1 = [4.81, 4.17, 4.41, 3.59, 5.87, 3.83, 6.03, 4.89, 4.32, 4.69]
TREATMENT_2 = [6.31, 5.12, 5.54, 5.50, 5.37, 5.29, 4.92, 6.15, 5.80, 5.26]
PLANTS = _table(
    {"weight": [*CONTROL, *TREATMENT_1, *TREATMENT_2], "group": ["ctrl"] * 10 + ["trt1"] * 10 + ["trt2"] * 10}
)

# R datasets::ToothGrowth$len: tooth length of 60 guinea pigs.
TOOTH_LENGTH = [4.2, 11.5, 7.3, 5.8, 6.4, 10, 11.2, 11.2, 5.2, 7, 16.5, 16.5, 15.2, 17.3, 22.5, 17.3, 13.6, 14.5]
TOOTH_LENGTH += [18.8, 15.5, 23.6, 18.5, 33.9, 25.5, 26.4, 32.5, 26.7, 21.5, 23.3, 29.5, 15.2, 21.5, 17.6, 9.7]
TOOTH_LENGTH += [14.5, 10, 8.2, 9.4, 16.5, 9.7, 19.7, 23.3, 23.6, 26.4, 20, 25.2, 25.8, 21.2, 14.5, 27.3, 25.5]
TOOTH_LENGTH += [26.4, 22.4, 24.5, 24.8, 30.9, 26.4, 27.3, 29.4, 23]


def _expand(counts: dict[tuple[str, str], int], first: str, second: str) -> pd.DataFrame:
    """A table with one row per observation from a contingency table's counts."""
    pairs = [pair for pair, count in counts.items() for _ in range(count)]
    return _table({first: [a for a, _ in pairs], second: [b for _, b in pairs]})


def _check(result: TestResult, **expected: tuple[float, float]) -> None:
    for name, (value, tolerance) in expected.items():
        assert getattr(result, name) == pytest.approx(value, abs=tolerance), name


# --- t-tests: R's ?t.test examples on the sleep data --------------------------------------------------------


def test_welch_t_test_matches_r_on_sleep() -> None:
    # R: t.test(extra ~ group, data = sleep) -> t = -1.8608, df = 17.776, p-value = 0.07939,
    # 95 percent confidence interval -3.3654832 0.2054832; means 0.75 and 2.33.
    result = run_test(SLEEP_LONG, "welch_t", variable="extra", group="group")
    _check(
        result,
        statistic=(-1.8608, 5e-5),
        degrees_of_freedom=(17.776, 5e-4),
        p_value=(0.07939, 5e-6),
        ci_low=(-3.3654832, 5e-8),
        ci_high=(0.2054832, 5e-8),
        estimate=(0.75 - 2.33, 1e-12),
    )
    assert (result.groups, result.n) == (("1", "2"), (10, 10))
    assert (result.rows_used, result.rows_dropped) == (tuple(range(1, 21)), ())
    assert result.effect_size_name == "Cohen's d"
    pooled = math.sqrt((np.var(SLEEP_1, ddof=1) + np.var(SLEEP_2, ddof=1)) / 2)
    assert result.effect_size == pytest.approx((0.75 - 2.33) / pooled)


def test_student_t_test_matches_r_on_sleep_and_gives_hedges_g() -> None:
    # R: t.test(extra ~ group, data = sleep, var.equal = TRUE) -> t = -1.8608, df = 18, p-value = 0.07919,
    # 95 percent confidence interval -3.363874 0.203874.
    result = run_test(SLEEP_LONG, "student_t", variable="extra", group="group")
    _check(
        result,
        statistic=(-1.8608, 5e-5),
        degrees_of_freedom=(18, 0),
        p_value=(0.07919, 5e-6),
        ci_low=(-3.363874, 5e-7),
        ci_high=(0.203874, 5e-7),
    )
    hedges = run_test(SLEEP_LONG, "student_t", variable="extra", group="group", hedges_g=True)
    # Hedges' g: d times J(18) = Gamma(9) / (sqrt(9) Gamma(8.5)) ~ 1 - 3 / (4 * 18 - 1) (Hedges 1981).
    assert hedges.effect_size_name == "Hedges' g"
    assert hedges.effect_size / result.effect_size == pytest.approx(1 - 3 / (4 * 18 - 1), abs=2e-4)


def test_paired_t_test_matches_r_on_sleep() -> None:
    # R: with(sleep, t.test(extra[group == 1], extra[group == 2], paired = TRUE)) -> t = -4.0621, df = 9,
    # p-value = 0.002833, 95 percent confidence interval -2.4598858 -0.7001142, mean difference -1.58.
    result = run_test(SLEEP_WIDE, "paired_t", variable="drug1", second="drug2")
    _check(
        result,
        statistic=(-4.0621, 5e-5),
        degrees_of_freedom=(9, 0),
        p_value=(0.002833, 5e-7),
        ci_low=(-2.4598858, 5e-8),
        ci_high=(-0.7001142, 5e-8),
        estimate=(-1.58, 1e-12),
    )
    differences = np.subtract(SLEEP_1, SLEEP_2)
    assert result.effect_size_name == "Cohen's d_z"
    assert result.effect_size == pytest.approx(differences.mean() / differences.std(ddof=1))
    assert result.groups == ("drug1", "drug2") and result.n == (10, 10)


# --- rank tests: R's ?wilcox.test and ?kruskal.test examples -----------------------------------------------


def test_mann_whitney_matches_r() -> None:
    # R ?wilcox.test (Hollander & Wolfe 1973, p. 69): permeability constants, x normal, y hyaline membrane disease.
    # wilcox.test(x, y, alternative = "g") -> W = 35, p-value = 0.1272; the exact null distribution is
    # symmetric, so the two-sided p-value is twice that (to R's rounding).
    x = [0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46]
    y = [1.15, 0.88, 0.90, 0.74, 1.21]
    frame = _table({"permeability": x + y, "group": ["normal"] * 10 + ["hyaline"] * 5})
    result = run_test(frame, "mann_whitney_u", variable="permeability", group="group")
    assert result.groups == ("hyaline", "normal")  # text groups in sort order: W counts the first group
    assert result.statistic == 5 * 10 - 35
    assert result.p_value == pytest.approx(2 * 0.1272, abs=1e-4)
    assert result.effect_size_name == "rank-biserial r"
    assert result.effect_size == pytest.approx(2 * 15 / 50 - 1)


def _depression() -> pd.DataFrame:
    # R ?wilcox.test (Hollander & Wolfe 1973, p. 29): Hamilton depression scale, first (x) and second (y) visit.
    x = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30]
    y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29]
    return _table({"first": x, "second": y})


def test_wilcoxon_signed_rank_matches_r() -> None:
    # R: wilcox.test(x, y, paired = TRUE, alternative = "greater") -> V = 40, p-value = 0.01953 (= 10/512).
    # Two-sided: 20/512.
    frame = _depression()
    result = run_test(frame, "wilcoxon", variable="first", second="second")
    assert (result.statistic_name, result.statistic) == ("V", 40)
    assert result.p_value == pytest.approx(20 / 512, rel=1e-12)
    assert result.p_value == pytest.approx(2 * 0.01953, abs=1e-5)
    assert result.p_value == pytest.approx(stats.wilcoxon(frame["first"], frame["second"]).pvalue, rel=1e-12)
    assert result.effect_size == pytest.approx((40 - 5) / 45)  # (W+ - W-) / (W+ + W-)
    # R's interval (conf.int = TRUE): qu = qsignrank(0.025, 9) = 6 (P(V <= 6) = 14/512 is the first >= 0.025),
    # so (diffs[6], diffs[45 - 6 + 1]) of the 45 sorted Walsh averages; the estimate is their median.
    d = (frame["first"] - frame["second"]).to_numpy()
    walsh = np.sort(np.add.outer(d, d)[np.triu_indices(9)] / 2)
    assert (result.ci_low, result.ci_high, result.estimate) == (walsh[5], walsh[39], np.median(walsh))


def test_wilcoxon_with_ties_and_zeros_uses_the_corrected_normal_approximation() -> None:
    # With ties and zero differences R (and scipy's "asymptotic" method) drop the zeros and use the normal
    # approximation with tie and continuity corrections.
    first = [3, 5, 2, 7, 4, 4, 6, 8, 5, 3, 9, 6]
    second = [2, 5, 1, 4, 4, 2, 3, 6, 6, 1, 5, 6]
    result = run_test(_table({"a": first, "b": second}), "wilcoxon", variable="a", second="b")
    reference = stats.wilcoxon(first, second, zero_method="wilcox", correction=True, method="asymptotic")
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-10)
    differences = np.subtract(first, second)
    nonzero = differences[differences != 0]
    assert result.statistic == stats.rankdata(np.abs(nonzero))[nonzero > 0].sum()  # V = W+, zeros dropped
    assert result.notes  # says the approximation was used


def test_kruskal_wallis_matches_r() -> None:
    # R ?kruskal.test (Hollander & Wolfe 1973, p. 116): mucociliary efficiency in three groups.
    # kruskal.test(list(x, y, z)) -> Kruskal-Wallis chi-squared = 0.77143, df = 2, p-value = 0.68.
    x, y, z = [2.9, 3.0, 2.5, 2.6, 3.2], [3.8, 2.7, 4.0, 2.4], [2.8, 3.4, 3.7, 2.2, 2.0]
    frame = _table({"efficiency": x + y + z, "group": ["normal"] * 5 + ["airway"] * 4 + ["asbestosis"] * 5})
    result = run_test(frame, "kruskal_wallis", variable="efficiency", group="group")
    _check(result, statistic=(0.77143, 5e-6), degrees_of_freedom=(2, 0), p_value=(0.68, 5e-3))
    assert result.effect_size_name == "epsilon squared"
    assert result.effect_size == pytest.approx(result.statistic / (14 - 1))
    assert dict(zip(result.groups, result.n, strict=True)) == {"airway": 4, "asbestosis": 5, "normal": 5}


# --- one-way ANOVA: R's PlantGrowth, and statsmodels' anova_lm ---------------------------------------------


def test_one_way_anova_matches_r_and_statsmodels() -> None:
    # R: summary(aov(weight ~ group, data = PlantGrowth)) -> group Df 2, Sum Sq 3.766; Residuals Df 27,
    # Sum Sq 10.492; F value 4.846, Pr(>F) 0.0159.
    result = run_test(PLANTS, "anova", variable="weight", group="group")
    _check(
        result,
        statistic=(4.846, 5e-4),
        degrees_of_freedom=(2, 0),
        denominator_degrees_of_freedom=(27, 0),
        p_value=(0.0159, 5e-5),
        effect_size=(3.766 / (3.766 + 10.492), 1e-4),
    )
    reference = sm.stats.anova_lm(ols("weight ~ C(group)", data=PLANTS).fit())
    assert result.statistic == pytest.approx(reference["F"].iloc[0], rel=1e-10)
    assert result.p_value == pytest.approx(reference["PR(>F)"].iloc[0], rel=1e-10)
    sums = reference["sum_sq"]
    assert result.effect_size == pytest.approx(sums.iloc[0] / sums.sum(), rel=1e-10)
    assert result.effect_size_name == "eta squared" and result.n == (10, 10, 10)


# --- categorical tests ------------------------------------------------------------------------------------


def test_chi_square_matches_r_on_agresti_party_by_gender() -> None:
    # R ?chisq.test (Agresti 2007, p. 39): M <- as.table(rbind(c(762, 327, 468), c(484, 239, 477)))
    # chisq.test(M) -> X-squared = 30.07, df = 2, p-value = 2.954e-07.
    counts = {("F", "Democrat"): 762, ("F", "Independent"): 327, ("F", "Republican"): 468}
    counts |= {("M", "Democrat"): 484, ("M", "Independent"): 239, ("M", "Republican"): 477}
    frame = _expand(counts, "gender", "party")
    result = run_test(frame, "chi_square", variable="gender", group="party")
    _check(result, statistic=(30.07, 5e-3), degrees_of_freedom=(2, 0), p_value=(2.954e-07, 5e-11))
    assert result.contingency == ((762, 327, 468), (484, 239, 477))
    assert result.effect_size_name == "Cramer's V"
    assert result.effect_size == pytest.approx(math.sqrt(result.statistic / (2757 * 1)), rel=1e-12)
    assert result.n == (1246, 566, 945) and not result.notes


def test_chi_square_yates_correction_on_a_2x2_table() -> None:
    counts = {("yes", "a"): 12, ("yes", "b"): 5, ("no", "a"): 9, ("no", "b"): 14}
    frame = _expand(counts, "outcome", "arm")
    corrected = run_test(frame, "chi_square", variable="outcome", group="arm")
    plain = run_test(frame, "chi_square", variable="outcome", group="arm", correction=False)
    (a, b), (c, d) = corrected.contingency  # rows no, yes; columns a, b
    n = a + b + c + d
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    assert corrected.statistic == pytest.approx(n * (abs(a * d - b * c) - n / 2) ** 2 / margins, rel=1e-12)
    assert plain.statistic == pytest.approx(n * (a * d - b * c) ** 2 / margins, rel=1e-12)
    assert "Yates" in corrected.method and "Yates" not in plain.method
    assert corrected.effect_size == plain.effect_size == pytest.approx(math.sqrt(plain.statistic / n))


def test_fisher_exact_matches_r_on_the_tea_tasting_table() -> None:
    # R ?fisher.test (Agresti 1990, p. 61): TeaTasting <- matrix(c(3, 1, 1, 3), nrow = 2).
    # fisher.test(TeaTasting, alternative = "greater") -> p-value = 0.2429, 95 percent CI 0.3135693 Inf,
    # odds ratio 6.408309. Two-sided: p-value = 0.4857 (= 34/70), 95 percent CI 0.2117329 621.9337505.
    counts = {("milk", "milk"): 3, ("milk", "tea"): 1, ("tea", "milk"): 1, ("tea", "tea"): 3}
    frame = _expand(counts, "truth", "guess")
    result = run_test(frame, "fisher_exact", variable="truth", group="guess")
    assert result.p_value == pytest.approx(34 / 70, rel=1e-12)
    assert result.p_value == pytest.approx(0.4857, abs=5e-5)
    assert result.estimate == result.effect_size == pytest.approx(6.408309, rel=1e-5)
    # R finds the interval with uniroot at its default tolerance, so its upper bound is good to ~1 %; the
    # exact bounds solve P(X >= 3; psi) = 0.025 and P(X <= 3; psi) = 0.025 in the noncentral hypergeometric.
    assert result.ci_low == pytest.approx(0.2117329, rel=1e-4)
    assert result.ci_high == pytest.approx(621.9337505, rel=1e-2)
    at = lambda psi: stats.nchypergeom_fisher(8, 4, 4, psi)  # noqa: E731
    assert at(result.ci_low).sf(2) == pytest.approx(0.025, rel=1e-8)
    assert at(result.ci_high).cdf(3) == pytest.approx(0.025, rel=1e-8)
    assert at(result.estimate).mean() == pytest.approx(3, rel=1e-9)  # the conditional MLE
    # A two-sided 90 % interval's lower bound is R's one-sided 95 % bound.
    ninety = run_test(frame, "fisher_exact", variable="truth", group="guess", confidence_level=0.9)
    assert ninety.ci_low == pytest.approx(0.3135693, rel=1e-4)
    assert math.isnan(result.statistic) and result.contingency == ((3, 1), (1, 3))


def test_mcnemar_matches_r_on_presidential_approval() -> None:
    # R ?mcnemar.test (Agresti 1990, p. 350): Performance <- matrix(c(794, 86, 150, 570), nrow = 2), 1st survey
    # in rows, 2nd in columns -> McNemar's chi-squared = 16.818, df = 1, p-value = 4.115e-05
    # (= (|150 - 86| - 1)^2 / 236; without the correction it would be 17.356).
    counts = {("approve", "approve"): 794, ("approve", "disapprove"): 150}
    counts |= {("disapprove", "approve"): 86, ("disapprove", "disapprove"): 570}
    frame = _expand(counts, "first_survey", "second_survey")
    result = run_test(frame, "mcnemar", variable="first_survey", second="second_survey")
    _check(result, statistic=(16.818, 5e-4), degrees_of_freedom=(1, 0), p_value=(4.115e-05, 5e-9))
    assert result.estimate == pytest.approx(150 / 86)
    interval = stats.binomtest(150, 236).proportion_ci(0.95, method="exact")
    assert result.ci_low == pytest.approx(interval.low / (1 - interval.low))
    plain = run_test(frame, "mcnemar", variable="first_survey", second="second_survey", correction=False)
    assert plain.statistic == pytest.approx(64**2 / 236)
    assert result.n == (1600, 1600)


# --- Shapiro-Wilk and correlations -------------------------------------------------------------------------


def test_shapiro_wilk_matches_r_on_tooth_growth() -> None:
    # R: shapiro.test(ToothGrowth$len) -> W = 0.96743, p-value = 0.1091.
    result = run_test(_table({"len": TOOTH_LENGTH}), "shapiro_wilk", variable="len")
    _check(result, statistic=(0.96743, 5e-6), p_value=(0.1091, 5e-5))
    assert math.isnan(result.degrees_of_freedom) and result.n == (60,)


X_COR = [44.4, 45.9, 41.9, 53.3, 44.7, 44.1, 50.7, 45.2, 60.1]
Y_COR = [2.6, 3.1, 2.5, 5.0, 3.6, 4.0, 5.2, 2.8, 3.8]


def test_pearson_correlation_matches_r() -> None:
    # R ?cor.test (Hollander & Wolfe 1973, p. 187f): cor.test(x, y) -> t = 1.8411, df = 7, p-value = 0.1082,
    # 95 percent confidence interval -0.1497426 0.8955795, cor 0.5711816.
    result = run_test(_table({"x": X_COR, "y": Y_COR}), "pearson", variable="x", second="y")
    _check(
        result,
        statistic=(1.8411, 5e-5),
        degrees_of_freedom=(7, 0),
        p_value=(0.1082, 5e-5),
        ci_low=(-0.1497426, 5e-8),
        ci_high=(0.8955795, 5e-8),
        estimate=(0.5711816, 5e-8),
    )
    assert result.effect_size_name == "r" and result.effect_size == result.estimate


def test_spearman_correlation_matches_r_rho_and_scipy() -> None:
    # R: cor.test(x, y, method = "spearman") -> S = 48, rho 0.6 (S = (n^3 - n)(1 - rho) / 6). R's p-value is
    # exact for n = 9; ours is scipy's t approximation, as is the statistic.
    result = run_test(_table({"x": X_COR, "y": Y_COR}), "spearman", variable="x", second="y")
    assert result.estimate == pytest.approx(0.6, abs=1e-12)
    assert (720 * (1 - result.estimate) / 6) == pytest.approx(48)
    assert result.p_value == pytest.approx(stats.spearmanr(X_COR, Y_COR).pvalue, rel=1e-12)
    assert result.statistic == pytest.approx(0.6 * math.sqrt(7 / (1 - 0.36)))
    # Fisher z with the Fieller-Hartley-Pearson standard error sqrt(1.06 / (n - 3)).
    half = stats.norm.ppf(0.975) * math.sqrt(1.06 / 6)
    assert (result.ci_low, result.ci_high) == (
        pytest.approx(math.tanh(math.atanh(0.6) - half)),
        pytest.approx(math.tanh(math.atanh(0.6) + half)),
    )


# --- multiple testing ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        # By definition (R's p.adjust on c(0.01, 0.02, 0.03, 0.04, 0.05)): Bonferroni p * m; Holm cumulative
        # max of p_(i) * (m - i + 1); Benjamini-Hochberg cumulative min from the top of p_(i) * m / i.
        ("bonferroni", (0.05, 0.10, 0.15, 0.20, 0.25)),
        ("holm", (0.05, 0.08, 0.09, 0.09, 0.09)),
        ("benjamini_hochberg", (0.05, 0.05, 0.05, 0.05, 0.05)),
        ("BH", (0.05, 0.05, 0.05, 0.05, 0.05)),
    ],
)
def test_adjusted_p_values_follow_their_definitions(method: str, expected: tuple[float, ...]) -> None:
    assert adjust_p_values([0.01, 0.02, 0.03, 0.04, 0.05], method) == pytest.approx(expected, abs=1e-15)


def test_adjusted_p_values_keep_the_input_order() -> None:
    # Holm on (0.04, 0.01, 0.03): sorted 0.01 * 3, 0.03 * 2, 0.04 * 1 -> 0.03, 0.06, 0.06 (cumulative max).
    assert adjust_p_values([0.04, 0.01, 0.03], "holm") == pytest.approx((0.06, 0.03, 0.06))
    assert adjust_p_values([], "holm") == ()


def test_adjusting_refuses_an_unknown_method_and_p_values_outside_zero_one() -> None:
    with pytest.raises(InvalidArgument) as error:
        adjust_p_values([0.1], "sidak")
    assert error.value.reason == "UNKNOWN_METHOD" and "holm" in error.value.message
    with pytest.raises(InvalidArgument) as error:
        adjust_p_values([0.1, float("nan")], "holm")
    assert error.value.reason == "INVALID_P_VALUE"


# --- rows used and missing values ---------------------------------------------------------------------------


def test_rows_with_a_missing_value_are_dropped_and_named() -> None:
    frame = SLEEP_LONG.copy()
    frame.loc[3, "extra"] = np.nan
    frame.loc[14, "group"] = np.nan
    result = run_test(frame, "welch_t", variable="extra", group="group")
    assert result.rows_dropped == (3, 14)
    assert result.rows_used == tuple(i for i in range(1, 21) if i not in (3, 14))
    assert result.n == (9, 9)


def test_mean_imputation_fills_the_variable_but_refuses_a_missing_group() -> None:
    frame = SLEEP_WIDE.copy()
    frame.loc[2, "drug2"] = np.nan
    result = run_test(frame, "paired_t", variable="drug1", second="drug2", missing="mean")
    assert result.imputed == {"drug2": 1} and result.rows_dropped == () and result.n == (10, 10)
    grouped = SLEEP_LONG.copy()
    grouped.loc[14, "group"] = np.nan
    with pytest.raises(InvalidArgument) as error:
        run_test(grouped, "welch_t", variable="extra", group="group", missing="mean")
    assert (error.value.reason, error.value.details["column"]) == ("CANNOT_IMPUTE", "group")
    with pytest.raises(InvalidArgument) as error:
        run_test(grouped, "welch_t", variable="extra", group="group", missing="fail")
    assert (error.value.reason, error.value.details["column"]) == ("MISSING_VALUES", "group")


# --- bad inputs: each gives its reason and names the column ------------------------------------------------


def _refused(table: pd.DataFrame, test: str, **columns: str) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as error:
        run_test(table, test, **columns)  # type: ignore[arg-type]
    return error.value


@pytest.mark.parametrize("test", ["welch_t", "student_t", "mann_whitney_u", "anova", "kruskal_wallis"])
def test_a_text_column_in_a_numeric_test_is_not_numeric(test: str) -> None:
    frame = PLANTS.assign(weight=PLANTS["weight"].astype(object))
    frame.loc[4, "weight"] = "n/a"
    frame = frame[frame["group"] != "trt2"] if test in ("welch_t", "student_t", "mann_whitney_u") else frame
    problem = _refused(frame, test, variable="weight", group="group")
    assert (problem.reason, problem.details["column"]) == ("NOT_NUMERIC", "weight")
    assert "'n/a' (row 4)" in problem.message


@pytest.mark.parametrize("test", ["pearson", "spearman", "paired_t", "wilcoxon"])
def test_a_text_second_column_is_not_numeric(test: str) -> None:
    frame = SLEEP_WIDE.assign(drug2=["x"] * 10)
    problem = _refused(frame, test, variable="drug1", second="drug2")
    assert (problem.reason, problem.details["column"]) == ("NOT_NUMERIC", "drug2")


@pytest.mark.parametrize("test", ["welch_t", "student_t", "mann_whitney_u", "anova", "kruskal_wallis"])
def test_a_group_with_too_few_values_is_named(test: str) -> None:
    frame = _table({"value": [1.0, 2.0, 3.0, 4.0, 5.0], "arm": ["a", "a", "a", "a", "b"]})
    problem = _refused(frame, test, variable="value", group="arm")
    assert (problem.reason, problem.details["column"], problem.details["group"]) == ("TOO_FEW_VALUES", "value", "b")
    assert "group 'b' of 'arm'" in problem.message


@pytest.mark.parametrize(
    ("test", "columns", "needed"),
    [
        ("shapiro_wilk", {"variable": "a"}, "3"),
        ("pearson", {"variable": "a", "second": "b"}, "3"),
        ("paired_t", {"variable": "a", "second": "b"}, "2"),
    ],
)
def test_too_few_rows_for_a_test(test: str, columns: dict[str, str], needed: str) -> None:
    frame = _table({"a": [1.0, 2.0, np.nan], "b": [2.0, np.nan, 5.0]})
    frame = frame.iloc[:2] if test == "shapiro_wilk" else frame
    problem = _refused(frame, test, **columns)
    assert (problem.reason, problem.details["column"]) == ("TOO_FEW_VALUES", "a")
    assert f"at least {needed}" in problem.message


@pytest.mark.parametrize(
    ("test", "columns", "column"),
    [
        ("welch_t", {"variable": "constant", "group": "arm"}, "constant"),
        ("mann_whitney_u", {"variable": "constant", "group": "arm"}, "constant"),
        ("anova", {"variable": "constant", "group": "arm"}, "constant"),
        ("shapiro_wilk", {"variable": "constant"}, "constant"),
        ("pearson", {"variable": "value", "second": "constant"}, "constant"),
        ("spearman", {"variable": "constant", "second": "value"}, "constant"),
        ("chi_square", {"variable": "constant", "group": "arm"}, "constant"),
        ("paired_t", {"variable": "value", "second": "shifted"}, "value"),
        ("wilcoxon", {"variable": "value", "second": "value_copy"}, "value"),
        ("student_t", {"variable": "by_arm", "group": "arm"}, "by_arm"),
    ],
)
def test_a_constant_column_is_refused(test: str, columns: dict[str, str], column: str) -> None:
    frame = _table(
        {
            "constant": [7.0] * 6,
            "value": [1.0, 4.0, 2.0, 8.0, 5.0, 7.0],
            "shifted": [0.5, 3.5, 1.5, 7.5, 4.5, 6.5],
            "value_copy": [1.0, 4.0, 2.0, 8.0, 5.0, 7.0],
            "by_arm": [1.0, 1.0, 1.0, 2.0, 2.0, 2.0],  # constant within each arm
            "arm": ["a", "a", "a", "b", "b", "b"],
        }
    )
    problem = _refused(frame, test, **columns)
    assert (problem.reason, problem.details["column"]) == ("CONSTANT_COLUMN", column)
    assert f"'{column}'" in problem.message


@pytest.mark.parametrize("test", ["welch_t", "student_t", "mann_whitney_u"])
def test_a_two_group_test_refuses_three_groups(test: str) -> None:
    problem = _refused(PLANTS, test, variable="weight", group="group")
    assert (problem.reason, problem.details["column"]) == ("WRONG_GROUP_COUNT", "group")
    assert "3 groups (ctrl, trt1, trt2)" in problem.message


@pytest.mark.parametrize("test", ["anova", "kruskal_wallis"])
def test_a_k_group_test_refuses_one_group(test: str) -> None:
    frame = PLANTS[PLANTS["group"] == "ctrl"]
    problem = _refused(frame, test, variable="weight", group="group")
    assert (problem.reason, problem.details["column"]) == ("WRONG_GROUP_COUNT", "group")


def test_fisher_refuses_a_column_with_three_values() -> None:
    frame = _table({"stage": ["I", "II", "III", "I", "II", "III"], "arm": ["a", "b", "a", "b", "a", "b"]})
    problem = _refused(frame, "fisher_exact", variable="stage", group="arm")
    assert (problem.reason, problem.details["column"]) == ("NOT_BINARY", "stage")


def test_mcnemar_refuses_columns_with_different_values_and_no_discordant_pairs() -> None:
    frame = _table({"before": ["yes", "no", "yes", "no"], "after": ["pos", "neg", "pos", "neg"]})
    problem = _refused(frame, "mcnemar", variable="before", second="after")
    assert (problem.reason, problem.details["column"]) == ("NOT_BINARY", "after")
    same = _table({"before": ["yes", "no", "yes", "no"], "after": ["yes", "no", "yes", "no"]})
    problem = _refused(same, "mcnemar", variable="before", second="after")
    assert (problem.reason, problem.details["column"]) == ("NO_DISCORDANT_PAIRS", "before")


def test_an_unknown_test_lists_the_tests() -> None:
    problem = _refused(PLANTS, "t-test", variable="weight", group="group")
    assert problem.reason == "UNKNOWN_TEST"
    assert all(str(test) in problem.message for test in HypothesisTest)


def test_an_unknown_column_and_a_missing_group_are_named() -> None:
    problem = _refused(PLANTS, "anova", variable="height", group="group")
    assert (problem.reason, problem.details["column"]) == ("UNKNOWN_COLUMN", "height")
    problem = _refused(PLANTS, "anova", variable="weight")
    assert (problem.reason, problem.details["role"]) == ("MISSING_COLUMN", "group")


def test_every_test_gives_finite_numbers_on_valid_data() -> None:
    rng = np.random.default_rng(7)
    frame = _table(
        {
            "x": rng.normal(0, 1, 40),
            "y": rng.normal(0, 1, 40),
            "arm": ["a", "b"] * 20,
            "site": ["p", "q", "r", "s"] * 10,
            "before": rng.integers(0, 2, 40),
            "after": rng.integers(0, 2, 40),
        }
    )
    columns = {
        "student_t": {"variable": "x", "group": "arm"},
        "welch_t": {"variable": "x", "group": "arm"},
        "mann_whitney_u": {"variable": "x", "group": "arm"},
        "paired_t": {"variable": "x", "second": "y"},
        "wilcoxon": {"variable": "x", "second": "y"},
        "anova": {"variable": "x", "group": "site"},
        "kruskal_wallis": {"variable": "x", "group": "site"},
        "chi_square": {"variable": "before", "group": "site"},
        "fisher_exact": {"variable": "before", "group": "arm"},
        "mcnemar": {"variable": "before", "second": "after"},
        "shapiro_wilk": {"variable": "x"},
        "pearson": {"variable": "x", "second": "y"},
        "spearman": {"variable": "x", "second": "y"},
    }
    assert set(columns) == set(HypothesisTest)
    for test, named in columns.items():
        result = run_test(frame, test, **named)  # type: ignore[arg-type]
        assert 0 <= result.p_value <= 1, test
        assert result.rows_used == tuple(range(1, 41)), test
        assert math.isfinite(result.effect_size) or result.test is HypothesisTest.SHAPIRO_WILK, test
