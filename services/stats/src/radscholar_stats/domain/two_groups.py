"""Comparing a numeric variable between two groups: t-tests and the Mann-Whitney U test.

Statistics and p-values come from scipy; estimates, intervals and effect sizes follow R's
``t.test`` and ``wilcox.test(conf.int = TRUE)`` (Hodges-Lehmann shift with its distribution-free
interval, Bauer 1972).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

import numpy as np
from scipy import stats

from radscholar_core.errors import InvalidArgument


class TwoGroupTest(Enum):
    STUDENT_T = "Student's t-test"
    WELCH_T = "Welch's t-test"
    PAIRED_T = "paired t-test"
    MANN_WHITNEY_U = "Mann-Whitney U test"


@dataclass(frozen=True)
class TwoGroupResult:
    test: TwoGroupTest
    statistic: float
    degrees_of_freedom: float
    p_value: float
    estimate: float
    ci_low: float
    ci_high: float
    effect_size: float
    n_a: int
    n_b: int


def _values(name: str, values: list[float] | np.ndarray, minimum: int) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(array)):
        raise InvalidArgument(f"{name} contains NaN or infinite values", reason="NON_FINITE_VALUES")
    if array.size < minimum:
        raise InvalidArgument(f"{name} needs at least {minimum} values, got {array.size}", reason="TOO_FEW_VALUES")
    return array


def compare_two_groups(
    group_a: list[float] | np.ndarray,
    group_b: list[float] | np.ndarray,
    test: TwoGroupTest,
    confidence_level: float = 0.95,
) -> TwoGroupResult:
    """Run `test` on the two groups (two-sided) and report estimate, interval and effect size."""
    if not 0.5 <= confidence_level < 1:
        raise InvalidArgument(
            f"confidence_level must be in [0.5, 1), got {confidence_level}", reason="INVALID_CONFIDENCE_LEVEL"
        )
    a, b = _values("group_a", group_a, 2), _values("group_b", group_b, 2)
    if test is TwoGroupTest.MANN_WHITNEY_U:
        return _mann_whitney(a, b, confidence_level)
    if test is TwoGroupTest.PAIRED_T:
        if a.size != b.size:
            raise InvalidArgument(
                f"a paired test needs groups of equal length, got {a.size} and {b.size}",
                reason="UNPAIRED_GROUPS",
            )
        result = stats.ttest_rel(a, b)
        diff = a - b
        effect = diff.mean() / diff.std(ddof=1)
    else:
        result = stats.ttest_ind(a, b, equal_var=test is TwoGroupTest.STUDENT_T)
        pooled = math.sqrt(((a.size - 1) * a.var(ddof=1) + (b.size - 1) * b.var(ddof=1)) / (a.size + b.size - 2))
        effect = (a.mean() - b.mean()) / pooled
    ci = result.confidence_interval(confidence_level)
    return TwoGroupResult(
        test=test,
        statistic=float(result.statistic),
        degrees_of_freedom=float(result.df),
        p_value=float(result.pvalue),
        estimate=float(a.mean() - b.mean()),
        ci_low=float(ci.low),
        ci_high=float(ci.high),
        effect_size=float(effect),
        n_a=int(a.size),
        n_b=int(b.size),
    )


def _exact_u_counts(n_a: int, n_b: int) -> np.ndarray:
    """Number of rank arrangements giving each U = 0..n_a*n_b under H0 (no ties)."""
    # counts[i][j] over U for i values of a and j of b: f(i, j) = f(i-1, j) shifted by j + f(i, j-1).
    table = [[np.zeros(1)] * (n_b + 1) for _ in range(n_a + 1)]
    for i in range(n_a + 1):
        for j in range(n_b + 1):
            if i == 0 or j == 0:
                table[i][j] = np.ones(1)
                continue
            counts = np.zeros(i * j + 1)
            with_a = table[i - 1][j]
            counts[j : j + with_a.size] += with_a
            with_b = table[i][j - 1]
            counts[: with_b.size] += with_b
            table[i][j] = counts
    return table[n_a][n_b]


def _mann_whitney(a: np.ndarray, b: np.ndarray, confidence_level: float) -> TwoGroupResult:
    n_a, n_b = a.size, b.size
    ties = np.unique(np.concatenate([a, b])).size < n_a + n_b
    exact = n_a < 50 and n_b < 50 and not ties  # as R's wilcox.test: exact below 50 per group without ties
    result = stats.mannwhitneyu(a, b, alternative="two-sided", method="exact" if exact else "asymptotic")
    diffs = np.sort(np.subtract.outer(a, b).ravel())
    alpha = 1 - confidence_level
    if n_a < 50 and n_b < 50 and not ties:
        # R: qu <- qwilcox(alpha/2, n.x, n.y); interval (diffs[qu], diffs[n.x*n.y - qu + 1]), 1-based.
        cdf = np.cumsum(_exact_u_counts(n_a, n_b))
        cdf /= cdf[-1]
        qu = max(int(np.searchsorted(cdf, alpha / 2 - 1e-12)), 1)
    else:
        # Normal approximation of the order statistic (Hollander & Wolfe), without R's root search.
        z = stats.norm.ppf(1 - alpha / 2)
        qu = max(math.floor(n_a * n_b / 2 - z * math.sqrt(n_a * n_b * (n_a + n_b + 1) / 12)), 1)
    low, high = diffs[qu - 1], diffs[n_a * n_b - qu]
    u = float(result.statistic)
    return TwoGroupResult(
        test=TwoGroupTest.MANN_WHITNEY_U,
        statistic=u,
        degrees_of_freedom=math.nan,
        p_value=float(result.pvalue),
        estimate=float(np.median(diffs)),
        ci_low=float(low),
        ci_high=float(high),
        effect_size=2 * u / (n_a * n_b) - 1,
        n_a=int(n_a),
        n_b=int(n_b),
    )
