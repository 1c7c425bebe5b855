"""Tables researchers analyse: reading them, typing their columns, and choosing the rows an analysis uses.

Every analysis takes a ``pandas.DataFrame`` and column names, checks each column for what the analysis needs
(``numeric``, ``binary``, ``categorical``, ``event``) and keeps the complete rows (``complete_rows``), naming the
rows it dropped. A problem is ``InvalidArgument`` naming the column and what is wrong with it, never a NaN result.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd

from radscholar_core.errors import InvalidArgument

ROW_ID = "row"  # the name of a table's row numbers (1-based, as in a spreadsheet's data rows)
MAX_CATEGORIES = 50  # a text column with more distinct values is free text, not a category


class ColumnType(StrEnum):
    NUMERIC = "numeric"
    BINARY = "binary"  # two distinct values
    CATEGORICAL = "categorical"
    DATE = "date"
    TEXT = "text"
    EMPTY = "empty"


@dataclass(frozen=True)
class ColumnSummary:
    name: str
    type: ColumnType
    missing: int
    distinct: int
    values: tuple[str, ...]  # the categories of a binary or categorical column, sorted; else empty


def read_table(data: bytes, name: str) -> pd.DataFrame:
    """A CSV (header row), Excel (.xlsx, first sheet) or Parquet table; the suffix of ``name`` says which. Rows
    are numbered from 1 (the index, named ``row``)."""
    lower = name.lower()
    try:
        if lower.endswith(".parquet"):
            table = pd.read_parquet(io.BytesIO(data))
        elif lower.endswith(".csv"):
            table = pd.read_csv(io.BytesIO(data))
        elif lower.endswith(".xlsx"):
            table = pd.read_excel(io.BytesIO(data), engine="openpyxl")
        else:
            raise InvalidArgument(f"'{name}' is not a .csv, .xlsx or .parquet table", reason="INVALID_TABLE")
    except InvalidArgument:
        raise
    except Exception as exc:  # pandas raises many types on a damaged file; each one is a bad table
        raise InvalidArgument(f"cannot read '{name}': {exc}", reason="INVALID_TABLE") from None
    if table.empty:
        raise InvalidArgument(f"'{name}' has no rows", reason="EMPTY_TABLE")
    table.columns = [str(c) for c in table.columns]
    for name in table.columns:  # a spreadsheet column of numbers and words is text (numeric() names the words)
        values = table[name]
        if values.dtype == object and values.dropna().map(type).nunique() > 1:
            table[name] = values.map(lambda v: v if pd.isna(v) else str(v))
    table.index = pd.RangeIndex(1, len(table) + 1, name=ROW_ID)
    return table


def column_type(values: pd.Series) -> ColumnType:
    present = values.dropna()
    if present.empty:
        return ColumnType.EMPTY
    if pd.api.types.is_datetime64_any_dtype(values):
        return ColumnType.DATE
    distinct = present.nunique()
    if distinct == 2:
        return ColumnType.BINARY
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return ColumnType.NUMERIC
    return ColumnType.CATEGORICAL if distinct <= MAX_CATEGORIES else ColumnType.TEXT


def describe_columns(table: pd.DataFrame) -> list[ColumnSummary]:
    """Each column's type, missing values and (for categories) its values."""
    summaries = []
    for name in table.columns:
        values = table[name]
        kind = column_type(values)
        labelled = kind in (ColumnType.BINARY, ColumnType.CATEGORICAL)
        categories = sorted(map(str, values.dropna().unique())) if labelled else []
        summaries.append(ColumnSummary(name, kind, int(values.isna().sum()), int(values.nunique()), tuple(categories)))
    return summaries


def require_columns(table: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        known = ", ".join(map(str, table.columns[:20]))
        raise InvalidArgument(
            f"the table has no column {', '.join(repr(c) for c in missing)} (its columns: {known})",
            reason="UNKNOWN_COLUMN",
            details={"column": missing[0]},
        )


def _problem(column: str, message: str, reason: str) -> InvalidArgument:
    return InvalidArgument(f"column '{column}': {message}", reason=reason, details={"column": column})


def numeric(table: pd.DataFrame, column: str) -> pd.Series:
    """The column as floats; NOT_NUMERIC naming the first value that is not a number, NON_FINITE for infinities."""
    require_columns(table, [column])
    values = table[column]
    if pd.api.types.is_bool_dtype(values):
        return values.astype(float)
    if not pd.api.types.is_numeric_dtype(values):
        converted = pd.to_numeric(values, errors="coerce")
        bad = values[converted.isna() & values.notna()]
        if not bad.empty:
            raise _problem(
                column, f"'{bad.iloc[0]}' (row {bad.index[0]}) is not a number; the column is text", "NOT_NUMERIC"
            )
        values = converted
    values = values.astype(float)
    if np.isinf(values).any():
        raise _problem(column, "has infinite values", "NON_FINITE_VALUES")
    return values


def binary(table: pd.DataFrame, column: str) -> tuple[pd.Series, tuple[str, str]]:
    """The column as 0/1 (NaN kept) and its two values (negative, positive): 0/1, False/True, or two labels in
    sort order (the later one is positive). NOT_BINARY when it has another number of distinct values."""
    require_columns(table, [column])
    values = table[column]
    levels = sorted(values.dropna().unique(), key=lambda v: (str(type(v)), v))
    if len(levels) != 2:
        shown = ", ".join(map(str, levels[:5]))
        raise _problem(column, f"must have exactly two distinct values, it has {len(levels)} ({shown})", "NOT_BINARY")
    coded = values.map({levels[0]: 0.0, levels[1]: 1.0})
    return coded.astype(float), (str(levels[0]), str(levels[1]))


def event(table: pd.DataFrame, column: str) -> pd.Series:
    """A survival event column: 1 (event) or 0 (censored), True/False allowed; INVALID_EVENT otherwise."""
    require_columns(table, [column])
    values = table[column]
    present = values.dropna()
    allowed = {0, 1}
    odd = [v for v in present.unique() if v not in allowed]  # True == 1 and False == 0 in Python
    if odd:
        found = odd[0].item() if isinstance(odd[0], np.generic) else odd[0]
        raise _problem(column, f"an event is 1 (event) or 0 (censored); found {found!r}", "INVALID_EVENT")
    return values.astype(float)


def categorical(table: pd.DataFrame, column: str, max_levels: int = MAX_CATEGORIES) -> pd.Series:
    """The column as text categories (NaN kept); TOO_MANY_CATEGORIES beyond ``max_levels``."""
    require_columns(table, [column])
    values = table[column]
    if values.nunique() > max_levels:
        message = f"has {values.nunique()} distinct values, more than {max_levels} categories"
        raise _problem(column, message, "TOO_MANY_CATEGORIES")
    return values.map(lambda v: v if pd.isna(v) else str(v))


def not_constant(values: pd.Series, column: str) -> pd.Series:
    if values.dropna().nunique() < 2:
        raise _problem(column, "is constant: it cannot explain or be compared", "CONSTANT_COLUMN")
    return values


class Missing(StrEnum):
    DROP = "drop"  # leave out every row with a missing value in the analysed columns
    MEAN = "mean"  # numeric columns: the column's mean; others: refused
    MEDIAN = "median"
    FAIL = "fail"  # refuse the analysis if any value is missing


@dataclass(frozen=True)
class Rows:
    """The rows an analysis used, and those it left out for missing values (row numbers, 1-based)."""

    table: pd.DataFrame
    used: tuple[int, ...]
    dropped: tuple[int, ...]
    imputed: dict[str, int]  # column -> values filled in


def complete_rows(table: pd.DataFrame, columns: Sequence[str], missing: Missing | str = Missing.DROP) -> Rows:
    """The rows with a value in every one of ``columns``, by the explicit choice ``missing``."""
    require_columns(table, columns)
    try:
        choice = Missing(missing)
    except ValueError:
        raise InvalidArgument(
            f"missing must be one of {', '.join(Missing)}, not '{missing}'", reason="INVALID_MISSING"
        ) from None
    chosen = table[list(dict.fromkeys(columns))].copy()
    imputed: dict[str, int] = {}
    if choice is Missing.FAIL:
        holes = chosen.isna().sum()
        if holes.any():
            column = str(holes[holes > 0].index[0])
            raise _problem(column, f"has {int(holes[column])} missing values", "MISSING_VALUES")
    if choice in (Missing.MEAN, Missing.MEDIAN):
        for column in chosen.columns:
            holes = int(chosen[column].isna().sum())
            if not holes:
                continue
            values = numeric(chosen, column)
            chosen[column] = values.fillna(values.mean() if choice is Missing.MEAN else values.median())
            imputed[str(column)] = holes
    kept = chosen.dropna()
    dropped = tuple(int(i) for i in chosen.index.difference(kept.index))
    if kept.empty:
        raise InvalidArgument(f"no row has a value in every one of {', '.join(columns)}", reason="NO_COMPLETE_ROWS")
    return Rows(kept, tuple(int(i) for i in kept.index), dropped, imputed)
