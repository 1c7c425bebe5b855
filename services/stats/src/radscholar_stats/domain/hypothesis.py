"""Hypothesis tests on a table's columns, with effect sizes, confidence intervals and the rows each test used.

``run_test`` checks the columns a test needs (``tables.numeric``, group columns, categories), keeps the complete
rows by the caller's explicit ``missing`` choice and reports them. All tests are two-sided. Statistics, p-values,
estimates and intervals follow R (``t.test``, ``wilcox.test``, ``aov``, ``kruskal.test``, ``chisq.test``,
``fisher.test``, ``mcnemar.test``, ``shapiro.test``, ``cor.test``) through scipy; where R's output is only a
root-finder's approximation (``fisher.test``'s odds-ratio interval) the exact root is reported.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import gammaln
from scipy.stats.contingency import association, odds_ratio
from statsmodels.stats.multitest import multipletests

from radscholar_core.errors import InvalidArgument
from radscholar_stats.domain import tables
from radscholar_stats.domain.two_groups import TwoGroupTest, compare_two_groups

NAN = math.nan
SHAPIRO_MAX = 5000  # R's shapiro.test limit: beyond it the p-value approximation is not valid


class HypothesisTest(StrEnum):
    STUDENT_T = "student_t"  # two groups of `variable` from `group`
    WELCH_T = "welch_t"
    PAIRED_T = "paired_t"  # paired columns `variable` and `second`
    MANN_WHITNEY = "mann_whitney_u"
    WILCOXON = "wilcoxon"  # signed-rank, paired columns
    ANOVA = "anova"  # one-way, k groups
    KRUSKAL_WALLIS = "kruskal_wallis"
    CHI_SQUARE = "chi_square"  # independence of the categories `variable` and `group`
    FISHER_EXACT = "fisher_exact"  # 2x2
    MCNEMAR = "mcnemar"  # paired binary columns
    SHAPIRO_WILK = "shapiro_wilk"  # one column
    PEARSON = "pearson"  # columns `variable` and `second`
    SPEARMAN = "spearman"


@dataclass(frozen=True)
class TestResult:
    """One test's outcome. NaN marks a quantity the test does not have (Fisher's test has no statistic,
    Shapiro-Wilk no effect size), never a failed computation."""

    __test__ = False  # not a pytest test class

    test: HypothesisTest
    method: str  # the test's name, e.g. "Welch's t-test"
    statistic_name: str  # as R prints it: "t", "W", "V", "F", "Kruskal-Wallis chi-squared", ...
    statistic: float
    degrees_of_freedom: float
    p_value: float
    effect_size_name: str  # "Cohen's d", "rank-biserial r", "eta squared", "Cramer's V", "odds ratio", ...
    effect_size: float
    estimate_name: str  # "difference in means", "odds ratio", "rho", ... ("" where the test has no estimate)
    estimate: float
    ci_low: float
    ci_high: float
    confidence_level: float
    groups: tuple[str, ...]  # group labels, or the columns of a paired / one-column test
    n: tuple[int, ...]  # values per entry of `groups`
    rows_used: tuple[int, ...]
    rows_dropped: tuple[int, ...]
    denominator_degrees_of_freedom: float = NAN  # the F test's second degrees of freedom
    imputed: Mapping[str, int] = field(default_factory=dict)  # column -> values filled in (missing="mean"/"median")
    variable_levels: tuple[str, ...] = ()  # rows of `contingency` (categorical tests)
    contingency: tuple[tuple[int, ...], ...] = ()  # counts: `variable_levels` x `groups`
    notes: tuple[str, ...] = ()  # caveats a reader needs, e.g. small expected counts for chi-square


def level_label(value: Any) -> str:
    """How a category prints: 1.0 (a float column with missing values) as "1", everything else as ``str``."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _problem(column: str, message: str, reason: str, **details: str) -> InvalidArgument:
    return InvalidArgument(f"column '{column}': {message}", reason=reason, details={"column": column, **details})


def _order(value: Any) -> tuple[int, float, str]:
    if isinstance(value, bool | int | float | np.number):
        return (0, float(value), "")
    return (1, 0.0, str(value))


def category_labels(table: pd.DataFrame, column: str) -> tuple[pd.Series, tuple[str, ...]]:
    """The column as category labels (NaN kept) and its levels, numbers in numeric order, text sorted."""
    tables.categorical(table, column)  # UNKNOWN_COLUMN, TOO_MANY_CATEGORIES
    raw = table[column]
    levels = sorted(raw.dropna().unique(), key=_order)
    names = {value: level_label(value) for value in levels}
    return raw.map(names), tuple(dict.fromkeys(names.values()))


def _complete(frame: pd.DataFrame, labelled: Sequence[str], missing: str) -> tables.Rows:
    """``tables.complete_rows``; a category cannot be imputed, so mean/median with one missing is refused."""
    if missing in (tables.Missing.MEAN, tables.Missing.MEDIAN):
        for column in labelled:
            holes = int(frame[column].isna().sum())
            if holes:
                message = f"has {holes} missing values; a category cannot be imputed (choose missing='drop')"
                raise _problem(column, message, "CANNOT_IMPUTE")
    return tables.complete_rows(frame, list(frame.columns), missing)


def _distinct(*columns: str) -> None:
    named = [c for c in columns if c]
    if len(set(named)) < len(named):
        raise InvalidArgument(
            f"a test compares different columns, got {', '.join(repr(c) for c in named)}",
            reason="SAME_COLUMN",
            details={"column": named[0]},
        )


def _required(column: str, role: str, method: str) -> None:
    if not column:
        raise InvalidArgument(f"the {method} needs a {role} column", reason="MISSING_COLUMN", details={"role": role})


@dataclass(frozen=True)
class _Grouped:
    rows: tables.Rows
    levels: tuple[str, ...]
    samples: tuple[np.ndarray, ...]


def _numeric_by_group(
    table: pd.DataFrame,
    variable: str,
    group: str,
    missing: str,
    method: str,
    *,
    exactly: int | None,
    minimum: int,
    needs_spread: bool,
) -> _Grouped:
    """The values of ``variable`` in each group of ``group``: ``exactly`` groups (None: two or more), each with at
    least ``minimum`` values, and (``needs_spread``) varying within some group."""
    _required(variable, "variable", method)
    _required(group, "group", method)
    _distinct(variable, group)
    values = tables.numeric(table, variable)
    labels, levels = category_labels(table, group)
    if (exactly is not None and len(levels) != exactly) or len(levels) < 2:
        wanted = f"exactly {exactly}" if exactly is not None else "at least 2"
        shown = ", ".join(levels[:10])
        message = f"has {len(levels)} groups ({shown}); the {method} compares {wanted}"
        raise _problem(group, message, "WRONG_GROUP_COUNT")
    rows = _complete(pd.DataFrame({variable: values, group: labels}), [group], missing)
    kept = rows.table
    samples = tuple(kept.loc[kept[group] == level, variable].to_numpy(dtype=float) for level in levels)
    for level, sample in zip(levels, samples, strict=True):
        if sample.size < minimum:
            message = (
                f"has {sample.size} values in group '{level}' of '{group}'; "
                f"the {method} needs at least {minimum} per group"
            )
            raise _problem(variable, message, "TOO_FEW_VALUES", group=level)
    tables.not_constant(kept[variable], variable)
    if needs_spread and all(np.ptp(sample) == 0 for sample in samples):
        # t and F divide by the spread within groups: without any there is no test.
        message = f"is constant within every group of '{group}'; the {method} needs values that vary"
        raise _problem(variable, message, "CONSTANT_COLUMN")
    return _Grouped(rows, levels, samples)


def _paired_numbers(
    table: pd.DataFrame, variable: str, second: str, missing: str, method: str, minimum: int
) -> tuple[tables.Rows, np.ndarray, np.ndarray]:
    _required(variable, "variable", method)
    _required(second, "second", method)
    _distinct(variable, second)
    frame = pd.DataFrame({variable: tables.numeric(table, variable), second: tables.numeric(table, second)})
    rows = _complete(frame, [], missing)
    x, y = rows.table[variable].to_numpy(dtype=float), rows.table[second].to_numpy(dtype=float)
    if x.size < minimum:
        message = f"has {x.size} complete pairs with '{second}'; the {method} needs at least {minimum}"
        raise _problem(variable, message, "TOO_FEW_VALUES")
    return rows, x, y


def _categories(
    table: pd.DataFrame, variable: str, group: str, missing: str, method: str
) -> tuple[tables.Rows, tuple[str, ...], tuple[str, ...], np.ndarray]:
    """The contingency table of ``variable`` (rows) by ``group`` (columns), levels in sort order."""
    _required(variable, "variable", method)
    _required(group, "group", method)
    _distinct(variable, group)
    row_labels, row_levels = category_labels(table, variable)
    column_labels, column_levels = category_labels(table, group)
    rows = _complete(pd.DataFrame({variable: row_labels, group: column_labels}), [variable, group], missing)
    for column in (variable, group):
        tables.not_constant(rows.table[column], column)
    row_levels = tuple(level for level in row_levels if (rows.table[variable] == level).any())
    column_levels = tuple(level for level in column_levels if (rows.table[group] == level).any())
    counts = (
        pd.crosstab(rows.table[variable], rows.table[group])
        .reindex(index=list(row_levels), columns=list(column_levels), fill_value=0)
        .to_numpy(dtype=int)
    )
    return rows, row_levels, column_levels, counts


def _result(test: HypothesisTest, method: str, rows: tables.Rows, confidence_level: float, **values: Any) -> TestResult:
    defaults: dict[str, Any] = {
        "degrees_of_freedom": NAN,
        "effect_size_name": "",
        "effect_size": NAN,
        "estimate_name": "",
        "estimate": NAN,
        "ci_low": NAN,
        "ci_high": NAN,
    }
    return TestResult(
        test=test,
        method=method,
        confidence_level=confidence_level,
        rows_used=rows.used,
        rows_dropped=rows.dropped,
        imputed=dict(rows.imputed),
        **{**defaults, **values},
    )


def _hedges_correction(df: float) -> float:
    """Hedges' exact small-sample factor J(df) = Gamma(df/2) / (sqrt(df/2) Gamma((df-1)/2))."""
    return math.exp(gammaln(df / 2) - gammaln((df - 1) / 2)) / math.sqrt(df / 2)


def _two_groups(
    table: pd.DataFrame,
    test: HypothesisTest,
    variable: str,
    group: str,
    confidence_level: float,
    missing: str,
    hedges_g: bool,
) -> TestResult:
    kind = {
        HypothesisTest.STUDENT_T: TwoGroupTest.STUDENT_T,
        HypothesisTest.WELCH_T: TwoGroupTest.WELCH_T,
        HypothesisTest.MANN_WHITNEY: TwoGroupTest.MANN_WHITNEY_U,
    }[test]
    spread = kind is not TwoGroupTest.MANN_WHITNEY_U
    grouped = _numeric_by_group(table, variable, group, missing, kind.value, exactly=2, minimum=2, needs_spread=spread)
    a, b = grouped.samples
    outcome = compare_two_groups(a, b, kind, confidence_level)
    if kind is TwoGroupTest.MANN_WHITNEY_U:
        names = {"statistic_name": "W", "effect_size_name": "rank-biserial r", "estimate_name": "location shift"}
    else:
        names = {"statistic_name": "t", "effect_size_name": "Cohen's d", "estimate_name": "difference in means"}
    effect = outcome.effect_size
    if hedges_g:
        effect *= _hedges_correction(a.size + b.size - 2)
        names["effect_size_name"] = "Hedges' g"
    return _result(
        test,
        kind.value,
        grouped.rows,
        confidence_level,
        **names,
        statistic=outcome.statistic,
        degrees_of_freedom=outcome.degrees_of_freedom,
        p_value=outcome.p_value,
        effect_size=effect,
        estimate=outcome.estimate,
        ci_low=outcome.ci_low,
        ci_high=outcome.ci_high,
        groups=grouped.levels,
        n=(a.size, b.size),
    )


def _paired_t(
    table: pd.DataFrame, variable: str, second: str, confidence_level: float, missing: str, hedges_g: bool
) -> TestResult:
    method = TwoGroupTest.PAIRED_T.value
    rows, x, y = _paired_numbers(table, variable, second, missing, method, minimum=2)
    if np.ptp(x - y) == 0:
        message = f"its differences from '{second}' are all {(x - y)[0]:g}; the {method} needs them to vary"
        raise _problem(variable, message, "CONSTANT_COLUMN")
    outcome = compare_two_groups(x, y, TwoGroupTest.PAIRED_T, confidence_level)
    effect, effect_name = outcome.effect_size, "Cohen's d_z"
    if hedges_g:
        effect, effect_name = effect * _hedges_correction(x.size - 1), "Hedges' g_z"
    return _result(
        HypothesisTest.PAIRED_T,
        method,
        rows,
        confidence_level,
        statistic_name="t",
        statistic=outcome.statistic,
        degrees_of_freedom=outcome.degrees_of_freedom,
        p_value=outcome.p_value,
        effect_size_name=effect_name,
        effect_size=effect,
        estimate_name="mean difference",
        estimate=outcome.estimate,
        ci_low=outcome.ci_low,
        ci_high=outcome.ci_high,
        groups=(variable, second),
        n=(x.size, y.size),
    )


def _signed_rank_counts(n: int) -> np.ndarray:
    """Number of sign assignments of ranks 1..n giving each V = 0..n(n+1)/2 (no ties)."""
    counts = np.ones(1)
    for rank in range(1, n + 1):
        grown = np.zeros(counts.size + rank)
        grown[: counts.size] += counts
        grown[rank:] += counts
        counts = grown
    return counts


def _wilcoxon(
    table: pd.DataFrame, variable: str, second: str, confidence_level: float, missing: str, correction: bool
) -> TestResult:
    """R's ``wilcox.test(x, y, paired = TRUE, conf.int = TRUE)``: zero differences dropped; exact below 50 pairs
    without ties or zeros, else the normal approximation with tie and (optional) continuity correction."""
    method = "Wilcoxon signed-rank test"
    rows, x, y = _paired_numbers(table, variable, second, missing, method, minimum=2)
    differences = x - y
    nonzero = differences[differences != 0]
    if nonzero.size == 0:
        raise _problem(variable, f"equals '{second}' in every row; the {method} needs differences", "CONSTANT_COLUMN")
    n = nonzero.size
    ranks = stats.rankdata(np.abs(nonzero))
    v = float(ranks[nonzero > 0].sum())
    total = n * (n + 1) / 2
    ties = np.unique(ranks).size < n
    zeros = nonzero.size < differences.size
    walsh = np.sort(np.add.outer(nonzero, nonzero)[np.triu_indices(n)] / 2)  # R drops zeros first
    alpha = 1 - confidence_level
    notes: list[str] = []
    if n < 50 and not ties and not zeros:
        cdf = np.cumsum(_signed_rank_counts(n))
        cdf /= cdf[-1]
        lower = cdf[int(v)] if v <= total / 2 else 1 - cdf[int(v) - 1]
        p_value = min(1.0, 2 * lower)
        # R: qu <- qsignrank(alpha/2, n); interval (diffs[qu], diffs[n(n+1)/2 - qu + 1]), 1-based.
        qu = max(int(np.searchsorted(cdf, alpha / 2 - 1e-12)), 1)
        low, high = walsh[qu - 1], walsh[int(total) - qu]
    else:
        _, tie_sizes = np.unique(ranks, return_counts=True)
        sigma = math.sqrt(n * (n + 1) * (2 * n + 1) / 24 - float((tie_sizes**3 - tie_sizes).sum()) / 48)
        z = v - total / 2
        z = (z - (math.copysign(0.5, z) if correction and z else 0.0)) / sigma
        p_value = float(2 * stats.norm.sf(abs(z)))
        # Normal approximation of the order statistic of the Walsh averages, without R's root search.
        quantile = stats.norm.ppf(1 - alpha / 2)
        m = walsh.size
        qu = min(max(math.floor(m / 2 - quantile * sigma), 1), m)
        low, high = walsh[qu - 1], walsh[m - qu]
        notes.append("normal approximation (ties, zero differences or 50 pairs or more); interval approximate")
    return _result(
        HypothesisTest.WILCOXON,
        method,
        rows,
        confidence_level,
        statistic_name="V",
        statistic=v,
        p_value=p_value,
        effect_size_name="matched-pairs rank-biserial r",
        effect_size=(2 * v - total) / total,
        estimate_name="pseudomedian of differences",
        estimate=float(np.median(walsh)),
        ci_low=float(low),
        ci_high=float(high),
        groups=(variable, second),
        n=(x.size, y.size),
        notes=tuple(notes),
    )


def _anova(table: pd.DataFrame, variable: str, group: str, confidence_level: float, missing: str) -> TestResult:
    method = "one-way ANOVA"
    grouped = _numeric_by_group(table, variable, group, missing, method, exactly=None, minimum=2, needs_spread=True)
    outcome = stats.f_oneway(*grouped.samples)
    everything = np.concatenate(grouped.samples)
    total = float(((everything - everything.mean()) ** 2).sum())
    between = float(sum(s.size * (s.mean() - everything.mean()) ** 2 for s in grouped.samples))
    return _result(
        HypothesisTest.ANOVA,
        method,
        grouped.rows,
        confidence_level,
        statistic_name="F",
        statistic=float(outcome.statistic),
        degrees_of_freedom=float(len(grouped.samples) - 1),
        denominator_degrees_of_freedom=float(everything.size - len(grouped.samples)),
        p_value=float(outcome.pvalue),
        effect_size_name="eta squared",
        effect_size=between / total,
        groups=grouped.levels,
        n=tuple(s.size for s in grouped.samples),
    )


def _kruskal(table: pd.DataFrame, variable: str, group: str, confidence_level: float, missing: str) -> TestResult:
    method = "Kruskal-Wallis test"
    grouped = _numeric_by_group(table, variable, group, missing, method, exactly=None, minimum=2, needs_spread=False)
    outcome = stats.kruskal(*grouped.samples)
    n = sum(s.size for s in grouped.samples)
    return _result(
        HypothesisTest.KRUSKAL_WALLIS,
        method,
        grouped.rows,
        confidence_level,
        statistic_name="Kruskal-Wallis chi-squared",
        statistic=float(outcome.statistic),
        degrees_of_freedom=float(len(grouped.samples) - 1),
        p_value=float(outcome.pvalue),
        # Tomczak & Tomczak (2014): epsilon^2 = H / ((n^2 - 1) / (n + 1)) = H / (n - 1).
        effect_size_name="epsilon squared",
        effect_size=float(outcome.statistic) / (n - 1),
        groups=grouped.levels,
        n=tuple(s.size for s in grouped.samples),
    )


def _small_expected(expected: np.ndarray) -> tuple[str, ...]:
    small = int((expected < 5).sum())
    if not small:
        return ()
    return (f"{small} of {expected.size} expected counts are below 5: the chi-square approximation may be poor",)


def _chi_square(
    table: pd.DataFrame, variable: str, group: str, confidence_level: float, missing: str, correction: bool
) -> TestResult:
    method = "Pearson's chi-squared test"
    rows, row_levels, column_levels, counts = _categories(table, variable, group, missing, method)
    outcome = stats.chi2_contingency(counts, correction=correction)
    yates = correction and counts.shape == (2, 2)
    return _result(
        HypothesisTest.CHI_SQUARE,
        method + (" with Yates' continuity correction" if yates else ""),
        rows,
        confidence_level,
        statistic_name="X-squared",
        statistic=float(outcome.statistic),
        degrees_of_freedom=float(outcome.dof),
        p_value=float(outcome.pvalue),
        effect_size_name="Cramer's V",  # from the uncorrected statistic, as usual
        effect_size=float(association(counts, method="cramer")),
        groups=column_levels,
        n=tuple(int(c) for c in counts.sum(axis=0)),
        variable_levels=row_levels,
        contingency=tuple(tuple(int(c) for c in row) for row in counts),
        notes=_small_expected(outcome.expected_freq),
    )


def _fisher(table: pd.DataFrame, variable: str, group: str, confidence_level: float, missing: str) -> TestResult:
    """R's ``fisher.test`` on a 2x2 table: the conditional maximum-likelihood odds ratio and its exact interval."""
    method = "Fisher's exact test"
    for column in (variable, group):
        if column:
            tables.binary(table, column)  # NOT_BINARY naming the column
    rows, row_levels, column_levels, counts = _categories(table, variable, group, missing, method)
    p_value = float(stats.fisher_exact(counts).pvalue)
    ratio = odds_ratio(counts, kind="conditional")
    interval = ratio.confidence_interval(confidence_level)
    return _result(
        HypothesisTest.FISHER_EXACT,
        method,
        rows,
        confidence_level,
        statistic_name="",
        statistic=NAN,
        p_value=p_value,
        effect_size_name="odds ratio",
        effect_size=float(ratio.statistic),
        estimate_name="odds ratio (conditional MLE)",
        estimate=float(ratio.statistic),
        ci_low=float(interval.low),
        ci_high=float(interval.high),
        groups=column_levels,
        n=tuple(int(c) for c in counts.sum(axis=0)),
        variable_levels=row_levels,
        contingency=tuple(tuple(int(c) for c in row) for row in counts),
    )


def _mcnemar(
    table: pd.DataFrame, variable: str, second: str, confidence_level: float, missing: str, correction: bool
) -> TestResult:
    """R's ``mcnemar.test`` on two paired binary columns with the same two values; the estimate is the paired odds
    ratio b/c with its exact (Clopper-Pearson) interval."""
    method = "McNemar's chi-squared test"
    _required(variable, "variable", method)
    _required(second, "second", method)
    _distinct(variable, second)
    first_labels, first_levels = category_labels(table, variable)
    second_labels, second_levels = category_labels(table, second)
    levels = tuple(sorted(set(first_levels) | set(second_levels)))
    if len(levels) > 2:
        column = variable if len(first_levels) > 2 else second
        shown = ", ".join(levels[:5])
        message = f"paired binary columns share two values, '{variable}' and '{second}' have {len(levels)} ({shown})"
        raise _problem(column, message, "NOT_BINARY")
    rows = _complete(pd.DataFrame({variable: first_labels, second: second_labels}), [variable, second], missing)
    kept = rows.table
    if len(levels) < 2 or len(set(kept[variable]) | set(kept[second])) < 2:
        raise _problem(variable, f"it and '{second}' hold a single value", "CONSTANT_COLUMN")
    counts = (
        pd.crosstab(kept[variable], kept[second])
        .reindex(index=list(levels), columns=list(levels), fill_value=0)
        .to_numpy(dtype=int)
    )
    b, c = int(counts[0, 1]), int(counts[1, 0])
    if b + c == 0:
        message = f"no pair changes between '{variable}' and '{second}'; the {method} needs discordant pairs"
        raise _problem(variable, message, "NO_DISCORDANT_PAIRS")
    shift = 1 if correction and b != c else 0  # R corrects only when the table is not symmetric
    statistic = (abs(b - c) - shift) ** 2 / (b + c)
    interval = stats.binomtest(b, b + c).proportion_ci(confidence_level, method="exact")
    ratio = b / c if c else math.inf
    low = interval.low / (1 - interval.low)
    high = interval.high / (1 - interval.high) if interval.high < 1 else math.inf
    return _result(
        HypothesisTest.MCNEMAR,
        method + (" with continuity correction" if shift else ""),
        rows,
        confidence_level,
        statistic_name="McNemar's chi-squared",
        statistic=float(statistic),
        degrees_of_freedom=1.0,
        p_value=float(stats.chi2.sf(statistic, 1)),
        effect_size_name="paired odds ratio",
        effect_size=ratio,
        estimate_name="paired odds ratio (b/c)",
        estimate=ratio,
        ci_low=float(low),
        ci_high=float(high),
        groups=(variable, second),
        n=(len(kept), len(kept)),
        variable_levels=levels,
        contingency=tuple(tuple(int(v) for v in row) for row in counts),
    )


def _shapiro(table: pd.DataFrame, variable: str, confidence_level: float, missing: str) -> TestResult:
    method = "Shapiro-Wilk normality test"
    _required(variable, "variable", method)
    rows = _complete(pd.DataFrame({variable: tables.numeric(table, variable)}), [], missing)
    values = rows.table[variable].to_numpy(dtype=float)
    if values.size < 3:
        message = f"has {values.size} values; the {method} needs at least 3"
        raise _problem(variable, message, "TOO_FEW_VALUES")
    if values.size > SHAPIRO_MAX:
        message = f"has {values.size} values; the {method} is valid for at most {SHAPIRO_MAX}"
        raise _problem(variable, message, "TOO_MANY_VALUES")
    tables.not_constant(rows.table[variable], variable)
    outcome = stats.shapiro(values)
    return _result(
        HypothesisTest.SHAPIRO_WILK,
        method,
        rows,
        confidence_level,
        statistic_name="W",
        statistic=float(outcome.statistic),
        p_value=float(outcome.pvalue),
        groups=(variable,),
        n=(values.size,),
    )


def _correlation(
    table: pd.DataFrame, test: HypothesisTest, variable: str, second: str, confidence_level: float, missing: str
) -> TestResult:
    """R's ``cor.test`` statistic t = r sqrt((n-2)/(1-r^2)) on n-2 degrees of freedom for both coefficients (for
    Spearman this is scipy's p-value; R's is exact for small n). Intervals by Fisher's z: standard error
    1/sqrt(n-3) for Pearson, sqrt(1.06/(n-3)) for Spearman (Fieller, Hartley & Pearson 1957)."""
    pearson = test is HypothesisTest.PEARSON
    method = "Pearson's product-moment correlation" if pearson else "Spearman's rank correlation"
    rows, x, y = _paired_numbers(table, variable, second, missing, method, minimum=3)
    for column in (variable, second):
        tables.not_constant(rows.table[column], column)
    outcome = stats.pearsonr(x, y) if pearson else stats.spearmanr(x, y)
    r, n = float(outcome.statistic), x.size
    t = math.copysign(math.inf, r) if abs(r) >= 1 else r * math.sqrt((n - 2) / (1 - r * r))
    low = high = NAN
    notes: tuple[str, ...] = ()
    if n > 3:
        if abs(r) >= 1:
            low = high = r
        else:
            spread = stats.norm.ppf((1 + confidence_level) / 2) * math.sqrt((1.0 if pearson else 1.06) / (n - 3))
            low, high = math.tanh(math.atanh(r) - spread), math.tanh(math.atanh(r) + spread)
    else:
        notes = ("a confidence interval needs at least 4 pairs",)
    name = "r" if pearson else "rho"
    return _result(
        test,
        method,
        rows,
        confidence_level,
        statistic_name="t",
        statistic=t,
        degrees_of_freedom=float(n - 2),
        p_value=float(outcome.pvalue),
        effect_size_name=name,
        effect_size=r,
        estimate_name=name,
        estimate=r,
        ci_low=low,
        ci_high=high,
        groups=(variable, second),
        n=(n, n),
        notes=notes,
    )


def run_test(
    table: pd.DataFrame,
    test: HypothesisTest | str,
    *,
    variable: str,
    group: str = "",
    second: str = "",
    confidence_level: float = 0.95,
    missing: str = "drop",
    correction: bool = True,
    hedges_g: bool = False,
) -> TestResult:
    """Run ``test`` (two-sided) on ``table``.

    ``variable`` is the analysed column; ``group`` splits it into groups (t-tests, Mann-Whitney, ANOVA,
    Kruskal-Wallis) or is the second category (chi-square, Fisher); ``second`` is its pair (paired t, Wilcoxon,
    McNemar, correlations). ``missing`` is ``tables.Missing``. ``correction``: Yates' correction for a 2x2
    chi-square, and the continuity corrections of McNemar and the approximate Wilcoxon test (R's defaults).
    ``hedges_g`` reports Hedges' g instead of Cohen's d for the t-tests.
    """
    try:
        kind = HypothesisTest(test)
    except ValueError:
        raise InvalidArgument(
            f"unknown test '{test}'; the tests are {', '.join(HypothesisTest)}",
            reason="UNKNOWN_TEST",
            details={"test": str(test)},
        ) from None
    if not 0.5 <= confidence_level < 1:
        raise InvalidArgument(
            f"confidence_level must be in [0.5, 1), got {confidence_level}", reason="INVALID_CONFIDENCE_LEVEL"
        )
    if hedges_g and kind not in (HypothesisTest.STUDENT_T, HypothesisTest.WELCH_T, HypothesisTest.PAIRED_T):
        raise InvalidArgument(f"Hedges' g applies to the t-tests, not '{kind}'", reason="INVALID_OPTION")
    match kind:
        case HypothesisTest.STUDENT_T | HypothesisTest.WELCH_T | HypothesisTest.MANN_WHITNEY:
            return _two_groups(table, kind, variable, group, confidence_level, missing, hedges_g)
        case HypothesisTest.PAIRED_T:
            return _paired_t(table, variable, second, confidence_level, missing, hedges_g)
        case HypothesisTest.WILCOXON:
            return _wilcoxon(table, variable, second, confidence_level, missing, correction)
        case HypothesisTest.ANOVA:
            return _anova(table, variable, group, confidence_level, missing)
        case HypothesisTest.KRUSKAL_WALLIS:
            return _kruskal(table, variable, group, confidence_level, missing)
        case HypothesisTest.CHI_SQUARE:
            return _chi_square(table, variable, group, confidence_level, missing, correction)
        case HypothesisTest.FISHER_EXACT:
            return _fisher(table, variable, group, confidence_level, missing)
        case HypothesisTest.MCNEMAR:
            return _mcnemar(table, variable, second, confidence_level, missing, correction)
        case HypothesisTest.SHAPIRO_WILK:
            return _shapiro(table, variable, confidence_level, missing)
        case HypothesisTest.PEARSON | HypothesisTest.SPEARMAN:
            return _correlation(table, kind, variable, second, confidence_level, missing)


class Adjustment(StrEnum):
    BONFERRONI = "bonferroni"
    HOLM = "holm"
    BENJAMINI_HOCHBERG = "benjamini_hochberg"  # also "bh" (R) and "fdr_bh" (statsmodels)


_ALIASES = {"bh": Adjustment.BENJAMINI_HOCHBERG, "fdr_bh": Adjustment.BENJAMINI_HOCHBERG}
_STATSMODELS_NAME = {
    Adjustment.BONFERRONI: "bonferroni",
    Adjustment.HOLM: "holm",
    Adjustment.BENJAMINI_HOCHBERG: "fdr_bh",
}


def adjust_p_values(p_values: Sequence[float], method: Adjustment | str) -> tuple[float, ...]:
    """Adjusted p-values (R's ``p.adjust``) in the order given: Bonferroni, Holm, or Benjamini-Hochberg (FDR)."""
    name = str(method).lower()
    try:
        choice = _ALIASES.get(name) or Adjustment(name)
    except ValueError:
        raise InvalidArgument(
            f"unknown adjustment '{method}'; the methods are {', '.join(Adjustment)}",
            reason="UNKNOWN_METHOD",
            details={"method": str(method)},
        ) from None
    values = np.asarray(list(p_values), dtype=float)
    if values.size == 0:
        return ()
    bad = np.flatnonzero(~((values >= 0) & (values <= 1)))
    if bad.size:
        raise InvalidArgument(
            f"p-value {bad[0] + 1} is {values[bad[0]]}; p-values lie in [0, 1]",
            reason="INVALID_P_VALUE",
            details={"index": str(int(bad[0]))},
        )
    adjusted = multipletests(values, method=_STATSMODELS_NAME[choice])[1]
    return tuple(float(p) for p in adjusted)
