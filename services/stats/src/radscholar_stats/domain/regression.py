"""Linear, logistic and Poisson regression (statsmodels), with the checks that keep a fit meaningful.

Linear regression is ``OLS`` (t statistics, the F test); logistic and Poisson regression are ``GLM`` with the
Binomial and Poisson families and their canonical links (z statistics, Wald intervals), as R's ``lm`` and ``glm``
give. Categorical predictors are dummy-coded against a reference level and an intercept is always included.

A model the data cannot support is refused with the column to blame: a constant predictor, collinear predictors,
fewer rows than parameters, or, in logistic regression, a predictor that separates the outcome (the maximum
likelihood estimate does not exist; statsmodels often returns huge coefficients without a word). Separation is
decided by the linear program of Konis (2007), the method of R's ``detectseparation``; it runs on every small
model and on a large one when the fit shows the signs (a warning, no convergence, or fitted probabilities within
about 1e-5 of 0 or 1).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy.optimize import linprog
from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

from radscholar_core.errors import InvalidArgument
from radscholar_stats.domain.tables import Missing, Rows, binary, categorical, complete_rows, not_constant, numeric

INTERCEPT = "Intercept"
_COLLINEAR_TOLERANCE = 1e-7  # R's lm: a column whose residual on the earlier ones is below this (relative) is aliased
_LINEAR_PREDICTOR_SUSPECT = 12.0  # |logit| beyond this (p within 6e-6 of 0 or 1) is checked for separation
_SEPARATION_MARGIN = 1e-6
_GLM_TOLERANCE = 1e-10  # IRLS stops on the deviance; statsmodels' 1e-8 leaves standard errors 1e-5 off (Spector)
_SEPARATION_ALWAYS_CELLS = 50_000  # up to this many rows x parameters the linear program always runs (~25 ms)


class RegressionModel(StrEnum):
    LINEAR = "linear"
    LOGISTIC = "logistic"
    POISSON = "poisson"


@dataclass(frozen=True)
class RegressionTerm:
    """One coefficient. ``ratio`` is exp(coefficient): the odds ratio (logistic) or rate ratio (Poisson)."""

    name: str  # "Intercept", a numeric column, or "column[level]" for a level against the reference
    column: str  # the predictor the term belongs to ("" for the intercept)
    level: str | None  # the level of a categorical predictor
    coefficient: float
    std_error: float
    statistic: float  # t (linear) or z (logistic, Poisson)
    p_value: float
    ci_low: float
    ci_high: float
    ratio: float | None = None  # None for linear regression
    ratio_ci_low: float | None = None
    ratio_ci_high: float | None = None


@dataclass(frozen=True)
class RegressionFit:
    """Goodness of fit. Statistics that do not apply to the model are None."""

    n: int
    parameters: int  # coefficients, the intercept included
    df_model: float
    df_resid: float
    log_likelihood: float
    aic: float
    bic: float
    deviance: float  # residual sum of squares for linear regression
    null_deviance: float
    r_squared: float | None = None  # linear
    adj_r_squared: float | None = None  # linear
    f_statistic: float | None = None  # linear: all slopes zero
    f_p_value: float | None = None
    pseudo_r_squared: float | None = None  # logistic: McFadden's 1 - llf / llnull


@dataclass(frozen=True)
class RegressionResult:
    model: RegressionModel
    outcome: str
    terms: tuple[RegressionTerm, ...]
    fit: RegressionFit
    confidence_level: float
    statistic_name: str  # "t" or "z"
    ratio_name: str | None  # "odds ratio", "rate ratio" or None
    outcome_levels: tuple[str, str] | None  # logistic: (negative, positive); the model is P(positive)
    reference_levels: dict[str, str]  # categorical predictor -> its reference level
    offset: str
    rows_used: tuple[int, ...]
    rows_dropped: tuple[int, ...]
    imputed: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ForestRow:
    name: str
    estimate: float
    low: float
    high: float


@dataclass(frozen=True)
class ForestPlot:
    """What a forest plot draws: one row per term (the intercept left out) on the scale of ``scale``."""

    scale: str  # "coefficient", "odds ratio" or "rate ratio"
    reference_line: float  # 0 for coefficients, 1 for ratios
    log_scale: bool  # ratios are drawn on a log axis
    confidence_level: float
    rows: tuple[ForestRow, ...]


@dataclass(frozen=True)
class Design:
    """A model matrix: the intercept (optional), numeric columns and dummy columns, and where each came from."""

    matrix: pd.DataFrame
    columns: tuple[str, ...]  # per matrix column, its predictor ("" for the intercept)
    levels: tuple[str | None, ...]  # per matrix column, the level of a dummy
    reference_levels: dict[str, str]


def _problem(column: str, message: str, reason: str) -> InvalidArgument:
    return InvalidArgument(f"column '{column}': {message}", reason=reason, details={"column": column})


def _is_numeric(values: pd.Series) -> bool:
    """Numbers, booleans, or text of which most values read as numbers (then a stray word is NOT_NUMERIC)."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return True
    present = values.dropna()
    return bool(pd.to_numeric(present, errors="coerce").notna().mean() > 0.5) if len(present) else False


def level_labels(values: pd.Series) -> tuple[pd.Series, list[str]]:
    """A categorical column as labels and its levels in sort order (numerically for numbers: 2 before 10)."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        floats = values.astype(float)
        whole = bool(np.all(np.mod(floats, 1) == 0))
        ordered = sorted(floats.unique())
        label = {v: str(int(v)) if whole else repr(float(v)) for v in ordered}
        return floats.map(label), [label[v] for v in ordered]
    labels = categorical(values.to_frame(), str(values.name))
    return labels, sorted(labels.unique())


def design_matrix(
    frame: pd.DataFrame,
    predictors: Sequence[str],
    reference_levels: Mapping[str, str] | None = None,
    *,
    intercept: bool = True,
) -> Design:
    """Numeric predictors as they are; categorical ones (text, or named in ``reference_levels``) as a 0/1 column
    per level but the reference (the given one, else the first in sort order). CONSTANT_COLUMN for a predictor
    with one value in ``frame``."""
    given = dict(reference_levels or {})
    unknown = [c for c in given if c not in predictors]
    if unknown:
        raise _problem(unknown[0], "has a reference level but is not a predictor", "UNKNOWN_PREDICTOR")
    parts: dict[str, pd.Series] = {}
    columns: list[str] = []
    levels: list[str | None] = []
    references: dict[str, str] = {}
    if intercept:
        parts[INTERCEPT] = pd.Series(1.0, index=frame.index)
        columns.append("")
        levels.append(None)
    for predictor in predictors:
        values = frame[predictor]
        if predictor not in given and _is_numeric(values):
            parts[predictor] = not_constant(numeric(frame, predictor), predictor)
            columns.append(predictor)
            levels.append(None)
            continue
        labels, found = level_labels(values)
        not_constant(labels, predictor)
        reference = given.get(predictor, found[0])
        if reference not in found:
            raise _problem(
                predictor, f"has no level '{reference}' (its levels: {', '.join(found)})", "UNKNOWN_REFERENCE_LEVEL"
            )
        references[predictor] = reference
        for level in found:
            if level != reference:
                parts[f"{predictor}[{level}]"] = (labels == level).astype(float)
                columns.append(predictor)
                levels.append(level)
    return Design(pd.DataFrame(parts, index=frame.index), tuple(columns), tuple(levels), references)


def _names(columns: Sequence[str]) -> str:
    unique = list(dict.fromkeys(columns))
    quoted = [f"'{c}'" for c in unique]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} and {quoted[-1]}"


def check_collinearity(design: Design) -> None:
    """COLLINEAR naming the predictors of the first column that is a linear combination of earlier ones."""
    x = design.matrix.to_numpy(dtype=float)
    scaled = x / np.linalg.norm(x, axis=0)
    diagonal = np.abs(np.diag(np.linalg.qr(scaled, mode="r")))
    aliased = np.flatnonzero(diagonal < _COLLINEAR_TOLERANCE)
    if not aliased.size:
        return
    j = int(aliased[0])
    weights = np.linalg.lstsq(scaled[:, :j], scaled[:, j], rcond=None)[0]
    involved = [k for k in range(j) if abs(weights[k]) > 1e-6 * np.abs(weights).max()]
    named = [design.columns[k] for k in [*involved, j] if design.columns[k]]
    column = design.columns[j]
    others = [c for c in dict.fromkeys(named) if c != column]
    term = design.matrix.columns[j]
    if others:
        message = f"is collinear with {_names(others)} (a linear combination of them); drop one of them"
    else:
        message = f"'{term}' is a linear combination of the intercept and the column's other levels"
    raise InvalidArgument(
        f"column '{column}': {message}",
        reason="COLLINEAR",
        details={"column": column, "columns": ",".join(dict.fromkeys([column, *others]))},
    )


def _separating_direction(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Konis' linear program: a direction b (|b| <= 1) with (2y - 1) * x b >= 0 on every row and > 0 on some. It
    exists exactly when the outcome is completely or quasi-completely separated (x of full rank). Returns b (on
    standardised columns) and each row's margin, or None."""
    spread = x.std(axis=0)
    varies = spread > 0
    standard = x.copy()
    standard[:, varies] = (x[:, varies] - x[:, varies].mean(axis=0)) / spread[varies]
    signed = standard * (2 * y - 1)[:, None]
    solution = linprog(
        -signed.sum(axis=0), A_ub=-signed, b_ub=np.zeros(len(y)), bounds=[(-1, 1)] * x.shape[1], method="highs"
    )
    if solution.status != 0:
        return None
    margins = signed @ solution.x
    if margins.max() > 10 * _SEPARATION_MARGIN and margins.min() > -_SEPARATION_MARGIN:
        return solution.x, margins
    return None


def check_separation(design: Design, y: np.ndarray, outcome: str) -> None:
    """PERFECT_SEPARATION naming the predictor that predicts the outcome exactly, or the predictors that do so
    together when none does alone."""
    x = design.matrix.to_numpy(dtype=float)
    found = _separating_direction(x, y)
    if found is None:
        return
    direction, margins = found
    intercept = [k for k, c in enumerate(design.columns) if not c]
    separating: list[str] = []
    for predictor in dict.fromkeys(c for c in design.columns if c):
        alone = _separating_direction(x[:, intercept + [k for k, c in enumerate(design.columns) if c == predictor]], y)
        if alone is not None:
            if not separating:
                margins = alone[1]
            separating.append(predictor)
    if separating:
        who = f"column '{separating[0]}' separates"
        if len(separating) > 1:
            who = f"column '{separating[0]}' (and, each on its own, {_names(separating[1:])}) separates"
    else:
        weights = np.abs(direction) > _SEPARATION_MARGIN
        separating = list(dict.fromkeys(c for c, w in zip(design.columns, weights, strict=True) if c and w))
        who = f"columns {_names(separating)} together separate"
    exact = int((margins > _SEPARATION_MARGIN).sum())
    kind = "completely" if exact == len(y) else "quasi-completely"
    message = (
        f"{who} the outcome '{outcome}' {kind}: {exact} of {len(y)} rows are predicted exactly, so an odds ratio "
        "is infinite and maximum likelihood has no solution; remove or merge the predictor, or use penalised "
        "(Firth) regression"
    )
    details = {"column": separating[0], "columns": ",".join(separating)}
    raise InvalidArgument(message, reason="PERFECT_SEPARATION", details=details)


def _outcome(frame: pd.DataFrame, outcome: str, model: RegressionModel) -> tuple[pd.Series, tuple[str, str] | None]:
    if model is RegressionModel.LOGISTIC:
        coded, levels = binary(frame, outcome)
        return coded, levels
    values = not_constant(numeric(frame, outcome), outcome)
    if model is RegressionModel.POISSON:
        negative = values[values < 0]
        if not negative.empty:
            message = f"a count cannot be negative; found {negative.iloc[0]:g} (row {negative.index[0]})"
            raise _problem(outcome, message, "INVALID_COUNT")
        fractional = values[np.mod(values, 1) != 0]
        if not fractional.empty:
            message = f"a count is a whole number; found {fractional.iloc[0]:g} (row {fractional.index[0]})"
            raise _problem(outcome, message, "INVALID_COUNT")
    return values, None


def _confidence_level(confidence_level: float) -> None:
    if not 0.5 <= confidence_level < 1:
        raise InvalidArgument(
            f"confidence_level must be in [0.5, 1), got {confidence_level}", reason="INVALID_CONFIDENCE_LEVEL"
        )


def fit_regression(
    table: pd.DataFrame,
    outcome: str,
    predictors: Sequence[str],
    *,
    model: RegressionModel | str = RegressionModel.LINEAR,
    offset: str = "",
    reference_levels: Mapping[str, str] | None = None,
    confidence_level: float = 0.95,
    missing: Missing | str = Missing.DROP,
) -> RegressionResult:
    """Fit ``outcome ~ predictors`` (with an intercept) on the complete rows.

    ``offset`` names a column added to the linear predictor with coefficient 1 (logistic and Poisson only; for a
    Poisson rate it is the log of each row's exposure). ``reference_levels`` maps a categorical predictor to its
    reference level; a numeric column named there is treated as categorical.
    """
    try:
        kind = RegressionModel(model)
    except ValueError:
        raise InvalidArgument(
            f"model must be one of {', '.join(RegressionModel)}, not '{model}'", reason="INVALID_MODEL"
        ) from None
    _confidence_level(confidence_level)
    predictors = list(predictors)
    if not predictors:
        raise InvalidArgument("a regression needs at least one predictor", reason="NO_PREDICTORS")
    repeated = [c for c in dict.fromkeys(predictors) if predictors.count(c) > 1]
    if repeated:
        raise _problem(repeated[0], "is named twice among the predictors", "DUPLICATE_PREDICTOR")
    for special, role in ((outcome, "the outcome"), (offset, "the offset")):
        if special and special in predictors:
            raise _problem(special, f"is {role}; it cannot also be a predictor", "COLUMN_IN_TWO_ROLES")
    if offset and kind is RegressionModel.LINEAR:
        raise _problem(offset, "an offset applies to logistic and Poisson models, not linear", "INVALID_OFFSET")

    rows = complete_rows(table, [outcome, *predictors, *([offset] if offset else [])], missing)
    frame = rows.table
    y, outcome_levels = _outcome(frame, outcome, kind)
    design = design_matrix(frame, predictors, reference_levels)
    n, parameters = design.matrix.shape
    if n <= parameters:
        raise InvalidArgument(
            f"{n} complete rows cannot fit {parameters} parameters ({', '.join(design.matrix.columns)}); "
            f"the model needs at least {parameters + 1} rows",
            reason="TOO_FEW_ROWS",
            details={"rows": str(n), "parameters": str(parameters)},
        )
    check_collinearity(design)
    offset_values = numeric(frame, offset).to_numpy() if offset else None
    x = design.matrix.to_numpy(dtype=float)
    endog = y.to_numpy(dtype=float)

    if kind is RegressionModel.LINEAR:
        fitted = sm.OLS(endog, x).fit()
    else:
        family = sm.families.Binomial() if kind is RegressionModel.LOGISTIC else sm.families.Poisson()
        glm = sm.GLM(endog, x, family=family, offset=offset_values)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fitted = glm.fit(tol=_GLM_TOLERANCE)
        if kind is RegressionModel.LOGISTIC:
            linear = x @ fitted.params + (offset_values if offset_values is not None else 0.0)
            suspicious = (
                n * parameters <= _SEPARATION_ALWAYS_CELLS
                or any(issubclass(w.category, PerfectSeparationWarning) for w in caught)
                or not fitted.converged
                or np.abs(linear).max() > _LINEAR_PREDICTOR_SUSPECT
            )
            if suspicious:
                check_separation(design, endog, outcome)
        if not fitted.converged:
            raise InvalidArgument(
                f"the {kind} model of '{outcome}' did not converge; check for predictors with extreme values",
                reason="NOT_CONVERGED",
                details={"column": outcome},
            )
    return _result(kind, outcome, outcome_levels, offset, design, fitted, confidence_level, rows)


def _exp(value: float) -> float:
    """exp, infinite past the largest float (a ratio's upper limit when its interval is very wide)."""
    return math.exp(value) if value < 709.0 else math.inf


def _finite(value: float, what: str, outcome: str) -> float:
    if not math.isfinite(value):
        raise InvalidArgument(
            f"the model of '{outcome}' gives a non-finite {what}; the data cannot support it",
            reason="DEGENERATE_FIT",
            details={"column": outcome},
        )
    return float(value)


def _result(
    kind: RegressionModel,
    outcome: str,
    outcome_levels: tuple[str, str] | None,
    offset: str,
    design: Design,
    fitted: Any,  # statsmodels' OLS or GLM results
    confidence_level: float,
    rows: Rows,
) -> RegressionResult:
    ratios = kind is not RegressionModel.LINEAR
    intervals = np.asarray(fitted.conf_int(alpha=1 - confidence_level))
    terms = []
    for k, name in enumerate(design.matrix.columns):
        coefficient = _finite(fitted.params[k], f"coefficient for '{name}'", outcome)
        std_error = _finite(fitted.bse[k], f"standard error for '{name}'", outcome)
        low, high = float(intervals[k, 0]), float(intervals[k, 1])
        terms.append(
            RegressionTerm(
                name=str(name),
                column=design.columns[k],
                level=design.levels[k],
                coefficient=coefficient,
                std_error=std_error,
                statistic=float(fitted.tvalues[k]),
                p_value=float(fitted.pvalues[k]),
                ci_low=low,
                ci_high=high,
                ratio=_exp(coefficient) if ratios else None,
                ratio_ci_low=_exp(low) if ratios else None,
                ratio_ci_high=_exp(high) if ratios else None,
            )
        )
    n, parameters = design.matrix.shape
    if kind is RegressionModel.LINEAR:
        fit = RegressionFit(
            n=n,
            parameters=parameters,
            df_model=float(fitted.df_model),
            df_resid=float(fitted.df_resid),
            log_likelihood=float(fitted.llf),
            aic=float(fitted.aic),
            bic=float(fitted.bic),
            deviance=float(fitted.ssr),
            null_deviance=float(fitted.centered_tss),
            r_squared=float(fitted.rsquared),
            adj_r_squared=float(fitted.rsquared_adj),
            f_statistic=float(fitted.fvalue),
            f_p_value=float(fitted.f_pvalue),
        )
    else:
        fit = RegressionFit(
            n=n,
            parameters=parameters,
            df_model=float(fitted.df_model),
            df_resid=float(fitted.df_resid),
            log_likelihood=float(fitted.llf),
            aic=float(fitted.aic),
            bic=float(fitted.bic_llf),
            deviance=float(fitted.deviance),
            null_deviance=float(fitted.null_deviance),
            pseudo_r_squared=float(1 - fitted.llf / fitted.llnull) if kind is RegressionModel.LOGISTIC else None,
        )
    return RegressionResult(
        model=kind,
        outcome=outcome,
        terms=tuple(terms),
        fit=fit,
        confidence_level=confidence_level,
        statistic_name="t" if kind is RegressionModel.LINEAR else "z",
        ratio_name={RegressionModel.LOGISTIC: "odds ratio", RegressionModel.POISSON: "rate ratio"}.get(kind),
        outcome_levels=outcome_levels,
        reference_levels=design.reference_levels,
        offset=offset,
        rows_used=rows.used,
        rows_dropped=rows.dropped,
        imputed=dict(rows.imputed),
    )


def forest_plot_data(result: RegressionResult) -> ForestPlot:
    """The terms (no intercept) with their intervals: odds or rate ratios around 1, else coefficients around 0."""
    shown = [t for t in result.terms if t.column]
    if result.ratio_name is None:
        rows = tuple(ForestRow(t.name, t.coefficient, t.ci_low, t.ci_high) for t in shown)
        return ForestPlot("coefficient", 0.0, False, result.confidence_level, rows)
    rows = tuple(ForestRow(t.name, _exp(t.coefficient), _exp(t.ci_low), _exp(t.ci_high)) for t in shown)
    return ForestPlot(result.ratio_name, 1.0, True, result.confidence_level, rows)
