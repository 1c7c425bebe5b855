"""`radscholar train` and `radscholar models`: wrong usage is refused before any call; default settings, a checked
run (--validate-only), a bad setting and an unknown job against the real platform (runs themselves need Ray and
MLflow and are tested with the service)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from radscholar import cli as radscholar_cli
from radscholar.cli import app
from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, Platform
from tests.test_training_routes import frozen_classification_dataset

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
def files(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "model.pt").write_bytes(b"model")
    (tmp_path / "settings.json").write_text("{not json")
    (tmp_path / "list.json").write_text("[1, 2]")
    return {
        "model": str(tmp_path / "model.pt"),
        "settings": str(tmp_path / "settings.json"),
        "list": str(tmp_path / "list.json"),
    }


START = ["train", "start", "--dataset", "d", "--task", "classification", "--dims", "3"]
IMPORT = ["models", "import", "{model}", "--format", "torchscript", "--task", "classification", "--in-channels", "1"]
REFUSED = {
    "a setting without a value": ([*START, "--set", "epochs"], "give name=value"),
    "a setting without a name": ([*START, "--set", "=3"], "give name=value"),
    "settings not JSON": ([*START, "--settings", "{settings}"], "is not JSON"),
    "settings not an object": ([*START, "--settings", "{list}"], "must hold a JSON object"),
    "watch a validation": ([*START, "--validate-only", "--watch"], "leave out --watch"),
    "four dimensions": (["train", "start", "--dataset", "d", "--task", "classification", "--dims", "4"], "--dims"),
    "an unknown task": (["train", "defaults", "--task", "regression", "--dims", "3"], "regression"),
    "watch nothing": (["train", "status", "--watch"], "name the job to watch"),
    "compare one": (["models", "compare", "m:1"], "two or more"),
    "compare without version": (["models", "compare", "m:1", "m"], "NAME:VERSION"),
    "version zero": (["models", "compare", "m:1", "m:0"], "NAME:VERSION"),
    "export format": (["models", "export", "m", "1", "--format", "pickle"], "pickle"),
    "patch of two sides in 3D": ([*IMPORT, "--dims", "3", "--patch-size", "32,32"], "give 3 positive sizes"),
    "patch not numbers": ([*IMPORT, "--dims", "2", "--patch-size", "a,b"], "sizes separated by commas"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_wrong_usage_is_refused_before_any_call(case: str, files: dict[str, str]) -> None:
    args, message = REFUSED[case]
    argv = [a.format(**files) for a in args] + ["--url", "http://127.0.0.1:9"]
    result = runner.invoke(app, argv)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.replace("│", " ").split()), result.output  # unwrapped from its box


def test_settings_from_a_file_then_set_options() -> None:
    settings = radscholar_cli.run_settings(
        None, "densenet121", ["optimizer.learning_rate=3e-4", "optimizer.name=sgd", "preprocessing.size=[8,8,8]"]
    )
    assert settings == {
        "architecture": "densenet121",
        "optimizer": {"learning_rate": 0.0003, "name": "sgd"},
        "preprocessing": {"size": [8, 8, 8]},
    }


@pytest.fixture(scope="module")
def dataset(platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return frozen_classification_dataset(platform, tmp_path_factory.mktemp("cli-training-ct"))


def rows(output: str, *needles: str) -> list[str]:
    """The lines of a table holding every needle."""
    return [line for line in output.splitlines() if all(needle in line for needle in needles)]


def radscholar(platform: Platform, *args: str) -> Result:
    return runner.invoke(app, [*args, "--url", platform.url])


@pytest.fixture
def signed_in(platform: Platform) -> None:
    login = ["login", "--username", ADMIN_USERNAME, "--password-stdin", "--url", platform.url]
    assert runner.invoke(app, login, input=ADMIN_PASSWORD).exit_code == 0


@pytest.mark.usefixtures("signed_in")
def test_defaults_are_json_to_edit_and_start_from(platform: Platform, dataset: dict[str, Any], tmp_path: Path) -> None:
    shown = radscholar(platform, "train", "defaults", "--task", "classification", "--dims", "3")
    assert shown.exit_code == 0, shown.output
    defaults = json.loads(shown.output)
    assert defaults["architecture"] == "resnet18" and defaults["preprocessing"]["size"] == [64, 64, 64]

    defaults["epochs"] = 3
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps(defaults))
    start = ["train", "start", "--dataset", dataset["id"], "--task", "classification", "--dims", "3"]
    checked = radscholar(
        platform, *start, "--settings", str(settings), "--set", "preprocessing.size=[32,32,32]", "--validate-only"
    )
    assert checked.exit_code == 0, checked.output
    valid = f"settings are valid: resnet18 on dataset version {dataset['id']} (2 train, 2 validation, 0 test cases)"
    assert valid in checked.output
    assert rows(checked.output, "epochs", "3") and rows(checked.output, "preprocessing.size", "[32, 32, 32]")

    refused = radscholar(platform, *start, "--set", "optimizer.learning_rate=-1", "--validate-only")
    assert (
        refused.exit_code == 1 and "INVALID_SETTING" in refused.output and "optimizer.learning_rate" in refused.output
    )
    unknown = radscholar(platform, *start, "--architecture", "no-such-network", "--validate-only")
    assert unknown.exit_code == 1 and "UNKNOWN_ARCHITECTURE" in unknown.output


@pytest.mark.usefixtures("signed_in")
def test_the_zoo_jobs_and_an_unknown_job(platform: Platform) -> None:
    zoo = radscholar(platform, "train", "architectures", "--task", "segmentation", "--dims", "3")
    assert zoo.exit_code == 0 and rows(zoo.output, "unet", "segmentation", "2D/3D"), zoo.output
    assert "resnet18" not in zoo.output
    listed = radscholar(platform, "train", "status")
    assert listed.exit_code == 0 and ("training jobs" in listed.output), listed.output
    for command in (["status", "nope"], ["logs", "nope"], ["cancel", "nope"], ["metrics", "nope"]):
        missing = radscholar(platform, "train", *command)
        assert missing.exit_code == 1 and "JOB_NOT_FOUND" in missing.output, (command, missing.output)
    resumed = radscholar(platform, "train", "resume", "nope")
    assert resumed.exit_code == 1 and "RUN_NOT_FOUND" in resumed.output
