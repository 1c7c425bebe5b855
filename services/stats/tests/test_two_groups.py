"""Two-group comparisons checked against independent implementations (statsmodels, scipy)."""

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from radscholar_core.errors import InvalidArgument
from radscholar_stats.domain.two_groups import TwoGroupTest, compare_two_groups

RNG = np.random.default_rng(20261125)
A = RNG.normal(10.0, 2.0, 23)
B = RNG.normal(11.5, 3.0, 17)


@pytest.mark.parametrize(("test", "usevar"), [(TwoGroupTest.STUDENT_T, "pooled"), (TwoGroupTest.WELCH_T, "unequal")])
def test_independent_t_tests_match_statsmodels(test: TwoGroupTest, usevar: str) -> None:
    result = compare_two_groups(A, B, test, 0.9)
    reference = CompareMeans(DescrStatsW(A), DescrStatsW(B))
    t, p, df = reference.ttest_ind(usevar=usevar)
    low, high = reference.tconfint_diff(alpha=0.1, usevar=usevar)
    assert result.statistic == pytest.approx(t, rel=1e-12)
    assert result.p_value == pytest.approx(p, rel=1e-10)
    assert result.degrees_of_freedom == pytest.approx(df, rel=1e-12)
    assert (result.ci_low, result.ci_high) == (pytest.approx(low, rel=1e-10), pytest.approx(high, rel=1e-10))
    assert result.estimate == pytest.approx(A.mean() - B.mean())


def test_cohens_d_uses_the_pooled_standard_deviation() -> None:
    pooled = math.sqrt(((A.size - 1) * A.var(ddof=1) + (B.size - 1) * B.var(ddof=1)) / (A.size + B.size - 2))
    result = compare_two_groups(A, B, TwoGroupTest.STUDENT_T)
    assert result.effect_size == pytest.approx((A.mean() - B.mean()) / pooled)


def test_paired_t_matches_one_sample_test_of_differences() -> None:
    before, after = A[:15], A[:15] + RNG.normal(0.4, 1.0, 15)
    result = compare_two_groups(before, after, TwoGroupTest.PAIRED_T)
    reference = DescrStatsW(before - after)
    t, p, df = reference.ttest_mean(0)
    assert (result.statistic, result.p_value, result.degrees_of_freedom) == (
        pytest.approx(t),
        pytest.approx(p),
        pytest.approx(df),
    )
    low, high = reference.tconfint_mean(alpha=0.05)
    assert (result.ci_low, result.ci_high) == (pytest.approx(low), pytest.approx(high))
    assert result.effect_size == pytest.approx((before - after).mean() / (before - after).std(ddof=1))


def test_mann_whitney_exact_interval_inverts_the_exact_test() -> None:
    """The exact Hodges-Lehmann interval (R's wilcox.test conf.int): the shifts the exact test keeps."""
    a, b = np.round(A[:9], 3), np.round(B[:8], 3)
    result = compare_two_groups(a, b, TwoGroupTest.MANN_WHITNEY_U, 0.95)
    assert result.statistic == stats.mannwhitneyu(a, b, method="exact").statistic
    assert result.p_value == pytest.approx(stats.mannwhitneyu(a, b, method="exact").pvalue)
    assert result.estimate == pytest.approx(np.median(np.subtract.outer(a, b)))

    def p_at(shift: float) -> float:
        return float(stats.mannwhitneyu(a - shift, b, method="exact").pvalue)

    eps = 1e-9
    # just inside the interval the exact test does not reject; just outside it does (achieved level >= 0.95)
    assert p_at(result.ci_low + eps) > 0.05
    assert p_at(result.ci_high - eps) > 0.05
    assert p_at(result.ci_low - eps) <= 0.05
    assert p_at(result.ci_high + eps) <= 0.05
    assert result.effect_size == pytest.approx(2 * result.statistic / (a.size * b.size) - 1)


def test_mann_whitney_large_samples_use_the_normal_approximation() -> None:
    a, b = RNG.normal(0, 1, 80), RNG.normal(0.5, 1, 70)
    result = compare_two_groups(a, b, TwoGroupTest.MANN_WHITNEY_U)
    assert result.ci_low < result.estimate < result.ci_high

    def p_at(shift: float) -> float:
        return float(stats.mannwhitneyu(a - shift, b, method="asymptotic").pvalue)

    # the interval's ends sit where the asymptotic test crosses the 5 % level (up to one order statistic)
    assert p_at(result.ci_low + 1e-9) > 0.045
    assert p_at(result.ci_high - 1e-9) > 0.045
    assert p_at(result.ci_low - 1e-9) < 0.055
    assert p_at(result.ci_high + 1e-9) < 0.055


@pytest.mark.parametrize(
    ("a", "b", "test", "reason"),
    [
        ([1.0], [2.0, 3.0], TwoGroupTest.WELCH_T, "TOO_FEW_VALUES"),
        ([1.0, math.nan], [2.0, 3.0], TwoGroupTest.WELCH_T, "NON_FINITE_VALUES"),
        ([1.0, 2.0, 3.0], [2.0, 3.0], TwoGroupTest.PAIRED_T, "UNPAIRED_GROUPS"),
    ],
)
def test_bad_input_is_invalid_argument(a: list[float], b: list[float], test: TwoGroupTest, reason: str) -> None:
    with pytest.raises(InvalidArgument) as error:
        compare_two_groups(a, b, test)
    assert error.value.reason == reason


def test_confidence_level_is_checked() -> None:
    with pytest.raises(InvalidArgument, match="confidence_level"):
        compare_two_groups(A, B, TwoGroupTest.WELCH_T, 1.5)
