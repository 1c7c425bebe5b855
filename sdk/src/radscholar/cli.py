"""The `radscholar` command line."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from radscholar.client import Client

app = typer.Typer(help="RadScholar: medical imaging research platform.", no_args_is_help=True)
phantoms = typer.Typer(help="Synthetic DICOM studies with ground truth.", no_args_is_help=True)
app.add_typer(phantoms, name="phantoms")
console = Console()

Url = Annotated[str | None, typer.Option("--url", envvar="RADSCHOLAR_URL", help="gateway URL")]


@app.command()
def status(url: Url = None) -> None:
    """Print the health of the gateway and of every service behind it."""
    client = Client(url, timeout=10)
    table = Table("component", "status", title=f"RadScholar at {client.url}")
    try:
        client.alive()
    except httpx.HTTPError as exc:
        console.print(f"[red]gateway at {client.url} is not reachable: {exc}[/red]")
        raise typer.Exit(1) from None
    table.add_row("gateway", "[green]SERVING[/green]")
    readiness = client.readiness()
    for name, state in readiness["upstreams"].items():
        table.add_row(name, f"[green]{state}[/green]" if state == "SERVING" else f"[red]{state}[/red]")
    console.print(table)
    if not readiness["ready"]:
        raise typer.Exit(1)


class PhantomKind(StrEnum):
    ct = "ct"
    dx = "dx"
    mg = "mg"
    mr = "mr"


@phantoms.command("generate")
def generate(
    out: Annotated[Path, typer.Option(help="output folder (empty or absent)")],
    kind: Annotated[PhantomKind, typer.Option(help="chest CT, radiograph, mammogram or MR")] = PhantomKind.ct,
    cases: Annotated[int, typer.Option(min=1, help="number of cases (patients)")] = 20,
    sites: Annotated[int, typer.Option(min=1, help="number of sites (hospitals)")] = 2,
    seed: Annotated[int, typer.Option(min=0, help="random seed; the same seed gives the same files")] = 7,
) -> None:
    """Generate synthetic studies with ground truth (DICOM, NIfTI masks, JSON)."""
    import radscholar_phantoms

    columns = (
        *Progress.get_default_columns()[:1],
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    try:
        with Progress(*columns, console=console) as progress:
            task = progress.add_task(f"{kind.value} phantoms", total=cases)
            manifest = radscholar_phantoms.generate(
                kind.value,
                cases,
                sites,
                seed,
                out,
                lambda done, total: progress.update(task, completed=done, total=total),
            )
    except (ValueError, FileExistsError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    summary = manifest.summary()
    console.print(
        f"wrote {summary['cases']} cases, {summary['series']} series, {summary['instances']} instances, "
        f"{summary['lesions']} lesions ({summary['benign']} benign, {summary['malignant']} malignant)"
        f" to {out}"
    )
