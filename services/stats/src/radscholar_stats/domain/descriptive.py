"""A paper's "Table 1": each variable described overall and by group, with the p-value of the test that suits it.

Numeric variables show mean (SD) when Shapiro-Wilk keeps normality (p >= 0.05) in every group, else median
[Q1, Q3]; categories show n (%) per level. The p-value comes from Student's t-test / one-way ANOVA (normal),
Mann-Whitney / Kruskal-Wallis (otherwise), chi-square (with Yates' correction for 2x2, as R's ``chisq.test``), or
Fisher's exact test when a 2x2 table has an expected count below 5. Missing values are counted, never imputed.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from radscholar_core.errors import InvalidArgument
from radscholar_stats.domain import tables
from radscholar_stats.domain.hypothesis import HypothesisTest, category_labels, run_test

OVERALL = "Overall"
NORMALITY_ALPHA = 0.05


@dataclass(frozen=True)
class Cell:
    """One column's entry in a row: the text a reader sees and the numbers behind it."""

    text: str  # "54.20 (9.10)", "61.00 [52.00, 70.00]", "12 (40.0%)"
    values: tuple[float, ...]  # (mean, SD) | (median, Q1, Q3) | (count, percent)
    n: int  # the values described (non-missing)


@dataclass(frozen=True)
class TableOneRow:
    variable: str
    level: str  # "" on a variable's first row, a category's label, or "missing"
    statistic: str  # "n", "mean (SD)", "median [Q1, Q3]", "n (%)"
    cells: tuple[Cell, ...]  # one per ``TableOne.columns``
    p_value: float | None = None  # on a variable's first row, when there are groups and the test could run
    test: str = ""  # the test that gave ``p_value``
    note: str = ""  # why there is no p-value, or a caveat of the test


@dataclass(frozen=True)
class TableOne:
    group: str  # "" for a table without groups
    columns: tuple[str, ...]  # "Overall", then the group levels
    column_n: tuple[int, ...]
    rows: tuple[TableOneRow, ...]
    rows_used: tuple[int, ...]
    rows_dropped: tuple[int, ...]  # rows without a group value

    def to_frame(self) -> pd.DataFrame:
        """One line per row: variable, level, statistic, a column per group ("A (n=20)"), p-value, test, note."""
        headers = [f"{name} (n={n})" for name, n in zip(self.columns, self.column_n, strict=True)]
        records = [
            {
                "variable": row.variable,
                "level": row.level,
                "statistic": row.statistic,
                **{header: cell.text for header, cell in zip(headers, row.cells, strict=True)},
                "p_value": row.p_value,
                "test": row.test,
                "note": row.note,
            }
            for row in self.rows
        ]
        return pd.DataFrame(records, columns=["variable", "level", "statistic", *headers, "p_value", "test", "note"])

    def to_csv(self) -> str:
        buffer = io.StringIO()
        self.to_frame().to_csv(buffer, index=False)
        return buffer.getvalue()


def _number(value: float, digits: int) -> str:
    return f"{value:.{digits}f}"


def _normal_everywhere(samples: Sequence[np.ndarray]) -> tuple[bool, str]:
    """Whether Shapiro-Wilk keeps normality at 0.05 in every sample; a sample it cannot test counts as not normal."""
    for sample in samples:
        if sample.size < 3 or np.ptp(sample) == 0:
            return False, "normality not testable (fewer than 3 values or constant): median shown"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scipy's warning that p is approximate beyond 5000 values
            if stats.shapiro(sample).pvalue < NORMALITY_ALPHA:
                return False, ""
    return True, ""


def _numeric_row(
    frame: pd.DataFrame, variable: str, group: str, columns: Sequence[pd.Series], levels: Sequence[str], digits: int
) -> TableOneRow:
    values = tables.numeric(frame, variable)
    samples = [values[mask].dropna().to_numpy(dtype=float) for mask in columns]
    if samples[0].size == 0:
        raise InvalidArgument(f"column '{variable}': has no values", reason="NO_VALUES", details={"column": variable})
    tested = samples[1:] if group else samples[:1]
    normal, note = _normal_everywhere([sample for sample in tested if sample.size])  # an empty group is not tested
    cells = []
    for sample in samples:
        if not sample.size:
            cells.append(Cell("", (), 0))
        elif normal:
            sd = float(sample.std(ddof=1))  # normality was tested: every sample has 3 values or more
            text = f"{_number(sample.mean(), digits)} ({_number(sd, digits)})"
            cells.append(Cell(text, (float(sample.mean()), sd), sample.size))
        else:
            q1, median, q3 = (float(q) for q in np.quantile(sample, [0.25, 0.5, 0.75]))
            text = f"{_number(median, digits)} [{_number(q1, digits)}, {_number(q3, digits)}]"
            cells.append(Cell(text, (median, q1, q3), sample.size))
    p_value, test, test_note = None, "", ""
    if group:
        several = len(levels) > 2
        if normal:
            kind = HypothesisTest.ANOVA if several else HypothesisTest.STUDENT_T
        else:
            kind = HypothesisTest.KRUSKAL_WALLIS if several else HypothesisTest.MANN_WHITNEY
        p_value, test, test_note = _p_value(frame, kind, variable, group)
    statistic = "mean (SD)" if normal else "median [Q1, Q3]"
    return TableOneRow(variable, "", statistic, tuple(cells), p_value, test, "; ".join(filter(None, [note, test_note])))


def _p_value(frame: pd.DataFrame, kind: HypothesisTest, variable: str, group: str) -> tuple[float | None, str, str]:
    """The test's p-value and name; when the data cannot be tested, no p-value and the reason why."""
    try:
        result = run_test(frame, kind, variable=variable, group=group)
    except InvalidArgument as problem:
        return None, "", f"not tested: {problem.message}"
    if kind is HypothesisTest.CHI_SQUARE and len(result.contingency) == 2 and len(result.groups) == 2:
        counts = np.asarray(result.contingency, dtype=float)
        expected = np.outer(counts.sum(axis=1), counts.sum(axis=0)) / counts.sum()
        if (expected < 5).any():
            return _p_value(frame, HypothesisTest.FISHER_EXACT, variable, group)
    return result.p_value, result.method, "; ".join(result.notes)


def _categorical_rows(
    frame: pd.DataFrame, variable: str, group: str, columns: Sequence[pd.Series]
) -> list[TableOneRow]:
    labels, levels = category_labels(frame, variable)
    if not levels:
        raise InvalidArgument(f"column '{variable}': has no values", reason="NO_VALUES", details={"column": variable})
    present = [int(labels[mask].notna().sum()) for mask in columns]
    p_value, test, note = _p_value(frame, HypothesisTest.CHI_SQUARE, variable, group) if group else (None, "", "")
    header = TableOneRow(
        variable, "", "n (%)", tuple(Cell(str(n), (float(n),), n) for n in present), p_value, test, note
    )
    rows = [header]
    for level in levels:
        cells = []
        for mask, n in zip(columns, present, strict=True):
            count = int((labels[mask] == level).sum())
            percent = 100 * count / n if n else 0.0
            cells.append(Cell(f"{count} ({percent:.1f}%)", (float(count), percent), n))
        rows.append(TableOneRow(variable, level, "n (%)", tuple(cells)))
    return rows


def _missing_row(frame: pd.DataFrame, variable: str, columns: Sequence[pd.Series]) -> TableOneRow | None:
    holes = frame[variable].isna()
    if not holes.any():
        return None
    cells = []
    for mask in columns:
        total, count = int(mask.sum()), int(holes[mask].sum())
        percent = 100 * count / total if total else 0.0
        cells.append(Cell(f"{count} ({percent:.1f}%)", (float(count), percent), total))
    return TableOneRow(variable, "missing", "n (%)", tuple(cells))


def table_one(
    table: pd.DataFrame,
    variables: Sequence[str],
    group: str = "",
    missing: str = "drop",
    as_categories: Sequence[str] = (),
    digits: int = 2,
) -> TableOne:
    """Describe ``variables`` overall and (with ``group``) per group, testing each for a difference between groups.

    A numeric column is numeric unless it has two values or is named in ``as_categories`` (e.g. a grade 1-4).
    ``missing``: "drop" describes the values present and counts the missing ones; "fail" refuses any missing value.
    Rows without a group value are left out (``rows_dropped``).
    """
    if not variables:
        raise InvalidArgument("a Table 1 needs at least one variable", reason="NO_VARIABLES")
    variables = list(dict.fromkeys(variables))
    tables.require_columns(table, [*variables, *([group] if group else []), *as_categories])
    if missing not in (tables.Missing.DROP, tables.Missing.FAIL):
        raise InvalidArgument(
            f"missing must be 'drop' or 'fail' for a Table 1 (it describes observed values), not '{missing}'",
            reason="INVALID_MISSING",
        )
    if missing == tables.Missing.FAIL:
        tables.complete_rows(table, [*variables, *([group] if group else [])], missing)
    if group in variables:
        message = f"column '{group}' is the group; it cannot also be a variable"
        raise InvalidArgument(message, reason="SAME_COLUMN", details={"column": group})
    frame = table
    levels: tuple[str, ...] = ()
    dropped: tuple[int, ...] = ()
    if group:
        labels, levels = category_labels(table, group)
        if len(levels) < 2:
            raise InvalidArgument(
                f"column '{group}': has {len(levels)} groups; a Table 1 by group needs at least 2",
                reason="WRONG_GROUP_COUNT",
                details={"column": group},
            )
        frame = table.assign(**{group: labels})[labels.notna()]
        dropped = tuple(int(i) for i in table.index[labels.isna()])
    masks = [pd.Series(True, index=frame.index)] + [frame[group] == level for level in levels]
    column_n = tuple(int(mask.sum()) for mask in masks)
    rows = [TableOneRow("n", "", "n", tuple(Cell(str(n), (float(n),), n) for n in column_n))]
    for variable in variables:
        kind = tables.column_type(frame[variable])
        if kind is tables.ColumnType.EMPTY:
            raise InvalidArgument(
                f"column '{variable}': has no values", reason="NO_VALUES", details={"column": variable}
            )
        if kind is tables.ColumnType.DATE:
            raise InvalidArgument(
                f"column '{variable}': is a date; a Table 1 describes numbers and categories",
                reason="UNSUPPORTED_COLUMN_TYPE",
                details={"column": variable},
            )
        if kind is tables.ColumnType.NUMERIC and variable not in as_categories:
            rows.append(_numeric_row(frame, variable, group, masks, levels, digits))
        else:
            rows.extend(_categorical_rows(frame, variable, group, masks))
        missing_row = _missing_row(frame, variable, masks)
        if missing_row is not None:
            rows.append(missing_row)
    return TableOne(
        group=group,
        columns=(OVERALL, *levels),
        column_n=column_n,
        rows=tuple(rows),
        rows_used=tuple(int(i) for i in frame.index),
        rows_dropped=dropped,
    )
