"""`radscholar radiomics extract --dataset`, `status`, `features` and `cancel`: wrong usage is refused before any
call. The commands themselves run against the real platform and Ray in test_radiomics_jobs."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from radscholar import cli as radscholar_cli
from radscholar.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def homes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Private config and cache folders; no credentials from the environment; output wide enough for ids."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("RADSCHOLAR_API_KEY", raising=False)
    monkeypatch.delenv("RADSCHOLAR_URL", raising=False)
    monkeypatch.setattr(radscholar_cli.console, "width", 300)
    monkeypatch.setattr(radscholar_cli.err_console, "width", 300)
    return tmp_path


@pytest.fixture
def files(tmp_path: Path) -> tuple[str, str]:
    (tmp_path / "image.nii.gz").write_bytes(b"image")
    (tmp_path / "mask.nii.gz").write_bytes(b"mask")
    return str(tmp_path / "image.nii.gz"), str(tmp_path / "mask.nii.gz")


REFUSED = {
    "both inputs": (["extract", "{image}", "{mask}", "--dataset", "d", "--preset", "ct"], "not both"),
    "no inputs": (["extract", "--preset", "ct"], "give IMAGE and MASK"),
    "image without mask": (["extract", "{image}", "--preset", "ct"], "give IMAGE and MASK"),
    "no settings": (["extract", "--dataset", "d"], "give --preset or --settings"),
    "job id for one region": (
        ["extract", "{image}", "{mask}", "--preset", "ct", "--job-id", "j"],
        "only with --dataset",
    ),
    "no-wait for one region": (["extract", "{image}", "{mask}", "--preset", "ct", "--no-wait"], "only with --dataset"),
    "two labels for one region": (
        ["extract", "{image}", "{mask}", "--preset", "ct", "--label", "1", "--label", "2"],
        "one region has one label",
    ),
    "unknown regions": (["extract", "--dataset", "d", "--preset", "ct", "--regions", "voxel"], "voxel"),
    "table format": (["extract", "--dataset", "d", "--preset", "ct", "--out", "t.xlsx"], ".parquet or .csv"),
    "no table without the end": (
        ["extract", "--dataset", "d", "--preset", "ct", "--no-wait", "--out", "t.csv"],
        "leave out --no-wait",
    ),
    "mask variants for one region": (["extract", "{image}", "{mask}", "--preset", "ct", "--erode", "1"], "only with"),
    "stability table format": (["features", "j", "--stability-out", "icc.parquet"], "name a .csv file"),
    "watch nothing": (["status", "--watch"], "name the job to watch"),
    "features format": (["features", "j", "--out", "t.txt"], ".parquet or .csv"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_wrong_usage_is_refused_before_any_call(case: str, files: tuple[str, str]) -> None:
    args, message = REFUSED[case]
    image, mask = files
    argv = ["radiomics", *(a.format(image=image, mask=mask) for a in args), "--url", "http://127.0.0.1:9"]
    result = runner.invoke(app, argv)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.replace("│", " ").split()), result.output  # unwrapped from its box
