"""Feature tables: those a batch writes (one row per region and mask variant, provenance in the Parquet metadata)
and those researchers bring (CSV or Parquet, some columns not features)."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from radscholar_core.errors import InvalidArgument
from radscholar_radiomics.domain.batch import ID_COLUMNS, Perturbations, Region
from radscholar_radiomics.domain.stability import feature_icc, stable_features

PROVENANCE_KEY = b"radscholar.provenance"  # Parquet schema metadata: the provenance as JSON


def read_table(data: bytes, name: str) -> pd.DataFrame:
    """A CSV (with a header row) or Parquet table; the suffix of ``name`` says which."""
    try:
        if name.lower().endswith(".parquet"):
            return pd.read_parquet(io.BytesIO(data))
        if name.lower().endswith(".csv"):
            return pd.read_csv(io.BytesIO(data))
    except Exception as exc:  # pandas raises many types on a damaged file; each one is a bad table
        raise InvalidArgument(f"cannot read '{name}': {exc}", reason="INVALID_TABLE") from None
    raise InvalidArgument(f"'{name}' is not a .csv or .parquet table", reason="INVALID_TABLE")


def feature_columns(
    table: pd.DataFrame, outcome: str, group: str, ids: Sequence[str]
) -> tuple[pd.DataFrame, pd.Series, pd.Series | None]:
    """(features, outcome, groups): every column but the outcome, group and id columns is a feature; the describing
    columns of the platform's own feature tables (``batch.ID_COLUMNS``: region_id, mask_label, ...) never are."""
    for role, column in (("outcome", outcome), ("group", group), *(("id", c) for c in ids)):
        if column and column not in table.columns:
            known = ", ".join(map(str, table.columns[:20]))
            raise InvalidArgument(
                f"the table has no {role} column '{column}' (its first columns: {known})",
                reason="UNKNOWN_COLUMN",
                details={"column": column},
            )
    if not outcome:
        raise InvalidArgument("name the outcome column", reason="UNKNOWN_COLUMN")
    others = {outcome, group, *ids, *(c for c in ID_COLUMNS if c in table.columns)} - {""}
    features = table[[c for c in table.columns if c not in others]]
    non_numeric = [str(c) for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    if non_numeric:
        raise InvalidArgument(
            f"columns {', '.join(non_numeric[:10])} are not numbers: name them as id columns, or drop them",
            reason="INVALID_TABLE",
            details={"columns": ", ".join(non_numeric)},
        )
    return features.astype(float), table[outcome], table[group] if group else None


def parse_parameter(text: str) -> int | float | str:
    """A step parameter given as text: an integer, a number, or the text itself (e.g. "spearman")."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def rated_features(
    table: pd.DataFrame, target: str, rater: str, ids: Sequence[str]
) -> dict[str, dict[str, dict[str, float]]]:
    """``[rater][target][feature]`` from a long table of one row per region and rater (annotator or perturbation)."""
    if not target or not rater:
        raise InvalidArgument("name the target (region) and rater columns", reason="UNKNOWN_COLUMN")
    features, _, _ = feature_columns(table, target, rater, ids)
    rated: dict[str, dict[str, dict[str, float]]] = {}
    keys = zip(table[rater].astype(str), table[target].astype(str), strict=True)
    for (who, what), row in zip(keys, features.to_dict("records"), strict=True):
        if what in rated.setdefault(who, {}):
            raise InvalidArgument(f"rater '{who}' rates region '{what}' twice", reason="INVALID_TABLE")
        rated[who][what] = row
    return rated


Variants = Mapping[str, Mapping[str, float]]  # a region's features by mask variant ("original", "erode1", ...)


def feature_table(rows: Sequence[tuple[Region, Variants]]) -> pd.DataFrame:
    """One row per region and variant: the describing columns, then the features in pyradiomics' order, sorted by
    region id and variant ("original" first)."""
    ordered = sorted(rows, key=lambda pair: pair[0].id)
    records = [
        {**region.row(), "perturbation": name, **features}
        for region, variants in ordered
        for name, features in sorted(variants.items(), key=lambda v: (v[0] != "original", v[0]))
    ]
    names: dict[str, None] = dict.fromkeys(ID_COLUMNS)
    for record in records:
        names.update(dict.fromkeys(record))
    return pd.DataFrame.from_records(records, columns=list(names))


def stability_table(table: pd.DataFrame, perturbations: Perturbations) -> pd.DataFrame:
    """Each feature's ICC across the mask variants of the regions (``feature_icc``), and whether it is stable."""
    features = [c for c in table.columns if c not in ID_COLUMNS]
    rated: dict[str, dict[str, dict[str, float]]] = {}
    for record in table[["region_id", "perturbation", *features]].to_dict("records"):
        rated.setdefault(record["perturbation"], {})[record["region_id"]] = {f: record[f] for f in features}
    iccs = feature_icc(rated, perturbations.icc_kind)
    stable = set(stable_features(iccs, perturbations.threshold))
    return pd.DataFrame({"feature": list(iccs), "icc": list(iccs.values()), "stable": [f in stable for f in iccs]})


def parquet_bytes(table: pd.DataFrame, provenance: Mapping[str, str]) -> bytes:
    """The table as Parquet, its provenance in the schema metadata (``radscholar.provenance``, JSON)."""
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    metadata = {**(arrow.schema.metadata or {}), PROVENANCE_KEY: json.dumps(dict(provenance), sort_keys=True).encode()}
    buffer = io.BytesIO()
    pq.write_table(arrow.replace_schema_metadata(metadata), buffer)
    return buffer.getvalue()
