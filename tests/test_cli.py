"""The `radscholar` command line against the real platform."""

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from radscholar.cli import app
from radscholar_core.testing import free_port

runner = CliRunner()


def test_status_lists_every_component(platform: Any) -> None:
    result = runner.invoke(app, ["status", "--url", str(platform.gateway.base_url)])
    assert result.exit_code == 0, result.output
    for component in ("gateway", "dicomstore", "labeling", "training", "radiomics", "stats"):
        assert component in result.output
    assert result.output.count("SERVING") == 6


def test_status_fails_clearly_without_a_gateway() -> None:
    result = runner.invoke(app, ["status", "--url", f"http://127.0.0.1:{free_port()}"])
    assert result.exit_code == 1
    assert "not reachable" in result.output


def test_phantoms_generate(tmp_path: Path) -> None:
    out = tmp_path / "mg"
    result = runner.invoke(
        app,
        [
            "phantoms",
            "generate",
            "--kind",
            "mg",
            "--cases",
            "2",
            "--sites",
            "2",
            "--seed",
            "3",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "wrote 2 cases" in result.output
    manifest = json.loads((out / "manifest.json").read_text())["parameters"]
    assert (manifest["kind"], manifest["cases"], manifest["seed"]) == ("mg", 2, 3)
    assert len(list(out.rglob("*.dcm"))) >= 2
    again = runner.invoke(app, ["phantoms", "generate", "--kind", "mg", "--cases", "2", "--out", str(out)])
    assert again.exit_code == 2  # refuses to write into a non-empty folder


def test_phantoms_generate_refuses_bad_kind(tmp_path: Path) -> None:
    result = runner.invoke(app, ["phantoms", "generate", "--kind", "pet", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2
