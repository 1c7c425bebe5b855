"""Tables and results in the object store: ``stats/tables/<id>/`` (Parquet and a description) and
``stats/results/<id>/`` (the result as JSON and CSV, its plots as PNG and SVG)."""

from __future__ import annotations

import io
import json
import uuid
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from radscholar_core.errors import NotFound, PermissionDenied
from radscholar_core.identity import Identity
from radscholar_core.objectstore import ObjectStore
from radscholar_stats.analyses import Analysis
from radscholar_stats.domain.plots import draw, render
from radscholar_stats.domain.tables import ROW_ID, ColumnSummary, describe_columns, read_table


@dataclass(frozen=True)
class StoredTable:
    id: str
    name: str
    rows: int
    columns: list[ColumnSummary]
    created_by: str
    source: str


def _table_prefix(table_id: str) -> str:
    return f"stats/tables/{table_id}"


class Tables:
    def __init__(self, objects: ObjectStore) -> None:
        self.objects = objects

    def create(self, data: bytes, name: str, source: str, created_by: str) -> StoredTable:
        """Reads and types a table (INVALID_TABLE if it cannot be read) and keeps it as Parquet."""
        frame = read_table(data, name)
        stored = StoredTable(uuid.uuid4().hex, name, len(frame), describe_columns(frame), created_by, source)
        buffer = io.BytesIO()
        frame.reset_index(drop=True).to_parquet(buffer, index=False)
        prefix = _table_prefix(stored.id)
        self.objects.put(f"{prefix}/table.parquet", buffer.getvalue(), "application/vnd.apache.parquet")
        self.objects.put(f"{prefix}/table.json", json.dumps(asdict(stored)).encode(), "application/json")
        return stored

    def get(self, table_id: str, caller: Identity) -> StoredTable:
        """The table's description; NOT_FOUND for an unknown id, PERMISSION_DENIED for someone else's table."""
        try:
            document = json.loads(self.objects.get(f"{_table_prefix(table_id)}/table.json"))
        except (NotFound, ValueError):
            raise NotFound(f"table {table_id!r} not found", reason="TABLE_NOT_FOUND") from None
        stored = StoredTable(**{**document, "columns": [ColumnSummary(**c) for c in document["columns"]]})
        if stored.created_by != caller.username and not caller.is_admin:
            raise PermissionDenied(f"table {table_id!r} is {stored.created_by}'s", reason="NOT_YOUR_TABLE")
        return stored

    def frame(self, table_id: str) -> pd.DataFrame:
        """The table's rows, numbered from 1 (the index ``row``)."""
        frame = pd.read_parquet(io.BytesIO(self.objects.get(f"{_table_prefix(table_id)}/table.parquet")))
        frame.index = pd.RangeIndex(1, len(frame) + 1, name=ROW_ID)
        return frame


@dataclass(frozen=True)
class StoredResult:
    """A result as kept: what the analysis gave, who ran it, and where its files are."""

    id: str
    kind: str
    result: Any
    rows_used: list[int]
    rows_dropped: list[int]
    provenance: dict[str, str]
    created_by: str
    csv_key: str
    model_key: str
    plots: list[dict[str, Any]]  # name, and the data it draws

    @property
    def json_key(self) -> str:
        return f"stats/results/{self.id}/result.json"


class Results:
    def __init__(self, objects: ObjectStore) -> None:
        self.objects = objects

    def key(self, result_id: str, name: str) -> str:
        return f"stats/results/{result_id}/{name}"

    def put(self, result_id: str, name: str, data: bytes, content_type: str) -> str:
        key = self.key(result_id, name)
        self.objects.put(key, data, content_type)
        return key

    def draw(self, result: StoredResult, name: str) -> None:
        """Draws plot ``name`` of ``result`` as PNG and SVG unless it was drawn before; PLOT_NOT_FOUND for a plot
        the result does not have."""
        plot = next((p for p in result.plots if p["name"] == name), None)
        if plot is None:
            names = ", ".join(p["name"] for p in result.plots) or "none"
            raise NotFound(f"result {result.id!r} has no plot {name!r} (its plots: {names})", reason="PLOT_NOT_FOUND")
        if self.objects.exists(self.key(result.id, f"{name}.svg")):
            return
        drawn = render(draw(name, plot["data"]))
        self.put(result.id, f"{name}.png", drawn.png, "image/png")
        self.put(result.id, f"{name}.svg", drawn.svg, "image/svg+xml")  # last: its presence means both are there

    def keep(self, analysis: Analysis, table_id: str, kind: str, created_by: str) -> StoredResult:
        """Stores a result under a new id: ``result.json`` (the result, its plots' data, provenance, who ran it),
        its main table as ``result.csv`` and a trained model as ``model.joblib``."""
        result_id = uuid.uuid4().hex
        csv_key = model_key = ""
        if analysis.table is not None:
            csv_key = self.put(result_id, "result.csv", analysis.table.to_csv(index=False).encode(), "text/csv")
        if analysis.model:
            model_key = self.put(result_id, "model.joblib", analysis.model, "application/octet-stream")
        stored = StoredResult(
            id=result_id,
            kind=kind,
            result=analysis.result,
            rows_used=list(analysis.rows_used),
            rows_dropped=list(analysis.rows_dropped),
            provenance={**analysis.provenance, "table_id": table_id, "kind": kind},
            created_by=created_by,
            csv_key=csv_key,
            model_key=model_key,
            plots=[{"name": plot.name, "data": plot.data} for plot in analysis.plots],
        )
        self.put(result_id, "result.json", json.dumps(asdict(stored), allow_nan=False).encode(), "application/json")
        return stored

    def get(self, result_id: str, caller: Identity) -> StoredResult:
        """NOT_FOUND for an unknown id, PERMISSION_DENIED for someone else's result."""
        try:
            stored = StoredResult(**json.loads(self.objects.get(f"stats/results/{result_id}/result.json")))
        except (NotFound, ValueError):
            raise NotFound(f"result {result_id!r} not found", reason="RESULT_NOT_FOUND") from None
        if stored.created_by != caller.username and not caller.is_admin:
            raise PermissionDenied(f"result {result_id!r} is {stored.created_by}'s", reason="NOT_YOUR_RESULT")
        return stored
