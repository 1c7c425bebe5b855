"""Survival analysis with lifelines: Kaplan-Meier curves, log-rank tests and Cox proportional hazards.

Kaplan-Meier intervals are lifelines' (Greenwood variance on the log(-log) scale), the median's interval is where
the bands cross 0.5. Cox models use Efron's method for ties, as R's ``coxph`` does. The proportional-hazards check
is the Grambsch-Therneau test on scaled Schoenfeld residuals against the rank of the event times
(``lifelines.statistics.proportional_hazard_test``) per covariate, with the global test of the same approximation
(R's ``cox.zph`` before survival 3.0; R now uses an exact score test, so its p-values differ slightly).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.exceptions import ConvergenceError, ConvergenceWarning
from lifelines.statistics import logrank_test, multivariate_logrank_test, proportional_hazard_test
from lifelines.utils import median_survival_times
from scipy import stats

from radscholar_core.errors import InvalidArgument
from radscholar_stats.domain import tables
from radscholar_stats.domain.regression import check_collinearity, design_matrix, level_labels
from radscholar_stats.domain.tables import Missing, complete_rows, not_constant, numeric

_DURATION = "__duration__"
_EVENT = "__event__"
_BOUNDS = ("lower", "upper")  # lifelines' interval columns: "exp(coef) lower 95%", "exp(coef) upper 95%"


@dataclass(frozen=True)
class SurvivalCurve:
    """One group's Kaplan-Meier estimate, a step function starting at (0, 1). None: not reached."""

    group: str  # the group's level; "" when the table is not split
    n: int
    events: int
    time: tuple[float, ...]  # 0 and every distinct time in the group
    survival: tuple[float, ...]
    ci_low: tuple[float, ...]
    ci_high: tuple[float, ...]
    censored: tuple[float, ...]  # distinct times at which rows were censored (tick marks on the curve)
    median: float | None  # the first time survival is 0.5 or less
    median_ci_low: float | None
    median_ci_high: float | None
    at_risk: tuple[int, ...]  # rows still followed (time >= t) at each of the result's times_at_risk


@dataclass(frozen=True)
class KaplanMeierResult:
    time: str
    event: str
    group: str
    curves: tuple[SurvivalCurve, ...]
    times_at_risk: tuple[float, ...]
    confidence_level: float
    rows_used: tuple[int, ...]
    rows_dropped: tuple[int, ...]
    imputed: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class LogRankResult:
    group: str
    groups: tuple[str, ...]
    n: tuple[int, ...]  # rows per group
    events: tuple[int, ...]  # events per group
    statistic: float  # chi-square
    df: int
    p_value: float
    rows_used: tuple[int, ...]
    rows_dropped: tuple[int, ...]


@dataclass(frozen=True)
class CoxTerm:
    name: str  # a numeric covariate, or "column[level]" against the reference level
    column: str
    level: str | None
    coefficient: float  # log hazard ratio
    hazard_ratio: float
    std_error: float
    z: float
    p_value: float
    hr_ci_low: float
    hr_ci_high: float
    ph_statistic: float  # proportional-hazards test (chi-square, 1 df)
    ph_p_value: float


@dataclass(frozen=True)
class CoxResult:
    time: str
    event: str
    terms: tuple[CoxTerm, ...]
    strata: tuple[str, ...]
    reference_levels: dict[str, str]
    n: int
    events: int
    concordance: float
    log_likelihood: float  # partial log-likelihood
    aic: float  # partial AIC: -2 log-likelihood + 2 parameters
    likelihood_ratio_statistic: float  # against the model with no covariates
    likelihood_ratio_df: int
    likelihood_ratio_p_value: float
    ph_global_statistic: float  # all covariates together
    ph_global_df: int
    ph_global_p_value: float
    confidence_level: float
    rows_used: tuple[int, ...]
    rows_dropped: tuple[int, ...]
    imputed: dict[str, int] = field(default_factory=dict)


def _confidence_level(confidence_level: float) -> None:
    if not 0.5 <= confidence_level < 1:
        raise InvalidArgument(
            f"confidence_level must be in [0.5, 1), got {confidence_level}", reason="INVALID_CONFIDENCE_LEVEL"
        )


def _problem(column: str, message: str, reason: str) -> InvalidArgument:
    return InvalidArgument(f"column '{column}': {message}", reason=reason, details={"column": column})


def _time_and_event(frame: pd.DataFrame, time: str, event_column: str) -> tuple[pd.Series, pd.Series]:
    """Non-negative times and 0/1 events with at least one event."""
    durations = numeric(frame, time)
    negative = durations[durations < 0]
    if not negative.empty:
        message = f"a time cannot be negative; found {negative.iloc[0]:g} (row {negative.index[0]})"
        raise _problem(time, message, "NEGATIVE_TIME")
    events = tables.event(frame, event_column)
    if not events.any():
        raise _problem(event_column, "has no events (every row is censored): nothing can be estimated", "NO_EVENTS")
    return durations, events


def _groups(frame: pd.DataFrame, group: str) -> tuple[pd.Series, list[str]]:
    if not group:
        return pd.Series("", index=frame.index), [""]
    labels, levels = level_labels(frame[group])
    return labels, levels


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _nice_times(longest: float, count: int = 5) -> tuple[float, ...]:
    """0 and multiples of a round step (1, 2, 2.5 or 5 times a power of ten) up to ``longest``: about count + 1."""
    if longest <= 0:
        return (0.0,)
    raw = longest / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    return tuple(float(t) for t in np.arange(0, longest + step * 1e-9, step))


def kaplan_meier(
    table: pd.DataFrame,
    time: str,
    event: str,
    group: str = "",
    times_at_risk: Sequence[float] = (),
    confidence_level: float = 0.95,
    missing: Missing | str = Missing.DROP,
) -> KaplanMeierResult:
    """The Kaplan-Meier curve of each group (or of all rows), with its band, median and numbers at risk at
    ``times_at_risk`` (default: 0 and round steps to the longest time)."""
    _confidence_level(confidence_level)
    rows = complete_rows(table, [time, event, *([group] if group else [])], missing)
    durations, events = _time_and_event(rows.table, time, event)
    labels, levels = _groups(rows.table, group)
    checkpoints = tuple(float(t) for t in times_at_risk) or _nice_times(float(durations.max()))
    if any(not math.isfinite(t) or t < 0 for t in checkpoints):
        raise InvalidArgument("times_at_risk must be finite and non-negative", reason="INVALID_TIMES_AT_RISK")
    curves = []
    for level in levels:
        chosen = labels == level
        t, e = durations[chosen], events[chosen]
        fitter = KaplanMeierFitter(alpha=1 - confidence_level).fit(t, e)
        band = fitter.confidence_interval_
        medians = median_survival_times(band).to_numpy().ravel()
        curves.append(
            SurvivalCurve(
                group=level,
                n=int(chosen.sum()),
                events=int(e.sum()),
                time=tuple(float(v) for v in fitter.survival_function_.index),
                survival=tuple(float(v) for v in fitter.survival_function_.iloc[:, 0]),
                ci_low=tuple(float(v) for v in band.iloc[:, 0]),
                ci_high=tuple(float(v) for v in band.iloc[:, 1]),
                censored=tuple(float(v) for v in np.unique(t[e == 0])),
                median=_finite_or_none(float(fitter.median_survival_time_)),
                median_ci_low=_finite_or_none(float(medians[0])),
                median_ci_high=_finite_or_none(float(medians[1])),
                at_risk=tuple(int((t >= c).sum()) for c in checkpoints),
            )
        )
    return KaplanMeierResult(
        time=time,
        event=event,
        group=group,
        curves=tuple(curves),
        times_at_risk=checkpoints,
        confidence_level=confidence_level,
        rows_used=rows.used,
        rows_dropped=rows.dropped,
        imputed=dict(rows.imputed),
    )


def log_rank(
    table: pd.DataFrame, time: str, event: str, group: str, missing: Missing | str = Missing.DROP
) -> LogRankResult:
    """The log-rank test that the groups share one survival curve (chi-square with groups - 1 df)."""
    rows = complete_rows(table, [time, event, group], missing)
    durations, events = _time_and_event(rows.table, time, event)
    labels, levels = _groups(rows.table, group)
    not_constant(labels, group)
    if len(levels) == 2:
        first, second = labels == levels[0], labels == levels[1]
        result = logrank_test(durations[first], durations[second], events[first], events[second])
    else:
        result = multivariate_logrank_test(durations, labels, events)
    return LogRankResult(
        group=group,
        groups=tuple(levels),
        n=tuple(int((labels == level).sum()) for level in levels),
        events=tuple(int(events[labels == level].sum()) for level in levels),
        statistic=float(result.test_statistic),
        df=len(levels) - 1,
        p_value=float(result.p_value),
        rows_used=rows.used,
        rows_dropped=rows.dropped,
    )


def _event_time_ranks(durations: pd.Series, events: pd.Series, _weights: object) -> pd.Series:
    """The rank of each event time among all event times (the "rank" transform, also right with strata, where
    lifelines' own orders the rows by stratum first)."""
    ranks = np.zeros(len(durations))
    observed = events.to_numpy().astype(bool)
    ranks[observed] = stats.rankdata(durations.to_numpy()[observed], method="ordinal")
    return pd.Series(ranks, index=durations.index)


def _fit_cox(fitter: CoxPHFitter, frame: pd.DataFrame, strata: list[str], names: Sequence[str]) -> None:
    """Fit, turning lifelines' failures (monotone likelihood: a covariate ordering the events perfectly, or a
    singular information matrix) into an error naming the covariate with the largest coefficient."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fitter.fit(frame, _DURATION, _EVENT, strata=strata or None)
    except ConvergenceError:
        raise InvalidArgument(
            f"the Cox model did not converge (collinear or separating covariates among {', '.join(names)})",
            reason="NOT_CONVERGED",
            details={"column": names[0]},
        ) from None
    failed = [w for w in caught if issubclass(w.category, ConvergenceWarning) and "Newton-Raphson" in str(w.message)]
    separated = [w for w in caught if "complete separation" in str(w.message) and "log-likelihood" in str(w.message)]
    if failed or separated:
        worst = str(fitter.params_.abs().idxmax())
        raise InvalidArgument(
            f"the Cox model did not converge: covariate '{worst}' has a coefficient of {fitter.params_[worst]:.3g}; "
            "it may order the events perfectly (monotone likelihood, an infinite hazard ratio)",
            reason="NOT_CONVERGED",
            details={"column": worst},
        )


def cox(
    table: pd.DataFrame,
    time: str,
    event: str,
    covariates: Sequence[str],
    strata: Sequence[str] = (),
    reference_levels: Mapping[str, str] | None = None,
    confidence_level: float = 0.95,
    missing: Missing | str = Missing.DROP,
) -> CoxResult:
    """A Cox proportional-hazards model: hazard ratios, concordance, fit and the proportional-hazards check.
    Categorical covariates are dummy-coded like regression predictors; ``strata`` get a baseline hazard each."""
    _confidence_level(confidence_level)
    covariates, strata = list(covariates), list(strata)
    if not covariates:
        raise InvalidArgument("a Cox model needs at least one covariate", reason="NO_PREDICTORS")
    for column in covariates:
        if column in (time, event) or column in strata:
            raise _problem(
                column, "is the time, the event or a stratum; it cannot also be a covariate", "COLUMN_IN_TWO_ROLES"
            )
    rows = complete_rows(table, [time, event, *covariates, *strata], missing)
    frame = rows.table
    durations, events = _time_and_event(frame, time, event)
    design = design_matrix(frame, covariates, reference_levels, intercept=False)
    n, parameters = design.matrix.shape
    if n <= parameters:
        raise InvalidArgument(
            f"{n} complete rows cannot fit {parameters} coefficients; the model needs at least {parameters + 1}",
            reason="TOO_FEW_ROWS",
            details={"rows": str(n), "parameters": str(parameters)},
        )
    check_collinearity(design)
    data = design.matrix.assign(**{_DURATION: durations, _EVENT: events})
    for stratum in strata:
        data[stratum] = level_labels(frame[stratum])[0]
    fitter = CoxPHFitter(alpha=1 - confidence_level)
    _fit_cox(fitter, data, strata, list(design.matrix.columns))

    residuals = fitter.compute_residuals(data, kind="scaled_schoenfeld")
    per_term = proportional_hazard_test(
        fitter, data, time_transform=_event_time_ranks, precomputed_residuals=residuals
    ).summary
    ph_global = _global_ph_statistic(fitter, residuals)
    summary = fitter.summary
    ratio_low, ratio_high = (
        next(c for c in summary.columns if c.startswith(f"exp(coef) {b}")) for b in ("lower", "upper")
    )
    terms = tuple(
        CoxTerm(
            name=str(name),
            column=design.columns[k],
            level=design.levels[k],
            coefficient=float(summary.loc[name, "coef"]),
            hazard_ratio=float(summary.loc[name, "exp(coef)"]),
            std_error=float(summary.loc[name, "se(coef)"]),
            z=float(summary.loc[name, "z"]),
            p_value=float(summary.loc[name, "p"]),
            hr_ci_low=float(summary.loc[name, ratio_low]),
            hr_ci_high=float(summary.loc[name, ratio_high]),
            ph_statistic=float(per_term.loc[name, "test_statistic"]),
            ph_p_value=float(per_term.loc[name, "p"]),
        )
        for k, name in enumerate(design.matrix.columns)
    )
    ratio_test = fitter.log_likelihood_ratio_test()
    return CoxResult(
        time=time,
        event=event,
        terms=terms,
        strata=tuple(strata),
        reference_levels=design.reference_levels,
        n=n,
        events=int(events.sum()),
        concordance=float(fitter.concordance_index_),
        log_likelihood=float(fitter.log_likelihood_),
        aic=float(fitter.AIC_partial_),
        likelihood_ratio_statistic=float(ratio_test.test_statistic),
        likelihood_ratio_df=int(ratio_test.degrees_freedom),
        likelihood_ratio_p_value=float(ratio_test.p_value),
        ph_global_statistic=ph_global,
        ph_global_df=parameters,
        ph_global_p_value=float(stats.chi2.sf(ph_global, parameters)),
        confidence_level=confidence_level,
        rows_used=rows.used,
        rows_dropped=rows.dropped,
        imputed=dict(rows.imputed),
    )


def _global_ph_statistic(fitter: CoxPHFitter, scaled_residuals: pd.DataFrame) -> float:
    """Grambsch & Therneau's global test: u' V^-1 u / (d sum g^2), with g the centred time ranks, u = g' R the
    time-weighted sums of the scaled Schoenfeld residuals R and V the coefficients' covariance; for one covariate
    it is that covariate's test."""
    observed = fitter.event_observed.to_numpy().astype(bool)
    ranks = _event_time_ranks(fitter.durations, fitter.event_observed, None).to_numpy()[observed]
    centred = ranks - ranks.mean()
    weighted = centred @ scaled_residuals.to_numpy()
    covariance = fitter.variance_matrix_.to_numpy()
    deaths = float(observed.sum())
    return float(weighted @ np.linalg.solve(covariance, weighted) / (deaths * (centred**2).sum()))
