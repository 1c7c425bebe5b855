"""Resident memory of the running stack, per component, for the idle-footprint figure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rich.table import Table

from radscholar_localstack import proctable

MIB = 1024 * 1024


@dataclass(frozen=True)
class ComponentMemory:
    """Memory of one component's processes: RSS counts shared pages in every process, PSS splits them."""

    name: str
    processes: int
    rss: int
    pss: int


def measure(families: Mapping[str, Iterable[int]]) -> list[ComponentMemory]:
    """Memory per component from its pids; a pid listed under two components counts for the first."""
    seen: set[int] = set()
    result = []
    for name, pids in families.items():
        samples = []
        for pid in pids:
            if pid in seen:
                continue
            seen.add(pid)
            sample = proctable.memory(pid)
            if sample is not None:
                samples.append(sample)
        result.append(
            ComponentMemory(
                name=name,
                processes=len(samples),
                rss=sum(s.rss for s in samples),
                pss=sum(s.pss for s in samples),
            )
        )
    return result


def memory_table(rows: list[ComponentMemory], ready_s: float | None = None) -> Table:
    title = "Idle memory of the stack" + (f" (ready in {ready_s:.1f} s)" if ready_s is not None else "")
    table = Table(title=title, title_justify="left")
    table.add_column("component")
    table.add_column("processes", justify="right")
    table.add_column("RSS MiB", justify="right")
    table.add_column("PSS MiB", justify="right")
    for row in rows:
        table.add_row(row.name, str(row.processes), f"{row.rss / MIB:.0f}", f"{row.pss / MIB:.0f}")
    table.add_section()
    table.add_row(
        "total",
        str(sum(r.processes for r in rows)),
        f"{sum(r.rss for r in rows) / MIB:.0f}",
        f"{sum(r.pss for r in rows) / MIB:.0f}",
        style="bold",
    )
    return table
