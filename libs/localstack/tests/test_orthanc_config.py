"""The generated Orthanc configuration is strict, and uses option names Orthanc knows."""

import json
import re
import stat
import subprocess
from pathlib import Path

import pytest

from radscholar_localstack.config import DEFAULT_ORTHANC_BINARY, Ports, StackConfig
from radscholar_localstack.orthanc_config import build_orthanc_config, write_orthanc_config


@pytest.fixture
def config(tmp_path: Path) -> StackConfig:
    return StackConfig(data_dir=tmp_path, ports=Ports().with_overrides({"orthanc_http": 18042}))


def test_strictness_flags(config: StackConfig) -> None:
    document = build_orthanc_config(config, "pw")
    assert document["RemoteAccessAllowed"] is False
    assert document["AuthenticationEnabled"] is True
    assert document["RegisteredUsers"] == {"radscholar": "pw"}
    assert document["DicomCheckCalledAet"] is True
    assert document["DicomCheckModalityHost"] is True
    for option in ("Echo", "Store", "Find", "FindWorklist", "Get", "Move"):
        assert document[f"DicomAlwaysAllow{option}"] is False
    assert document["DicomModalities"] == {}
    assert document["DicomAet"] == "RADSCHOLAR"
    assert document["ExecuteLuaEnabled"] is False


def test_ports_paths_and_plugin(config: StackConfig) -> None:
    document = build_orthanc_config(config, "pw")
    assert document["HttpPort"] == 18042
    assert document["DicomPort"] == 4242
    assert document["HttpServerEnabled"] is True
    assert Path(document["StorageDirectory"]).is_relative_to(config.orthanc_dir)
    assert Path(document["IndexDirectory"]).is_relative_to(config.orthanc_dir)
    assert document["Plugins"] == [str(config.dicomweb_plugin)]
    assert document["DicomWeb"] == {"Enable": True, "Root": "/dicom-web/"}
    assert 0 < document["StableAge"] <= 10


def test_written_file_is_private_and_complete(config: StackConfig) -> None:
    path = write_orthanc_config(config, "s3cret-value")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = json.loads(path.read_text())
    assert document == build_orthanc_config(config, "s3cret-value")
    assert Path(document["StorageDirectory"]).is_dir()
    assert Path(document["IndexDirectory"]).is_dir()


@pytest.mark.skipif(not DEFAULT_ORTHANC_BINARY.exists(), reason="Orthanc is not installed")
def test_every_option_is_known_to_the_installed_orthanc(config: StackConfig, tmp_path: Path) -> None:
    default = tmp_path / "default.json"
    subprocess.run([str(DEFAULT_ORTHANC_BINARY), f"--config={default}"], check=True, timeout=30)
    known = set(re.findall(r'"(\w+)"\s*:', default.read_text()))  # commented-out options count too
    plugin_sections = {"DicomWeb"}
    unknown = set(build_orthanc_config(config, "pw")) - known - plugin_sections
    assert not unknown, f"options Orthanc does not know: {sorted(unknown)}"
