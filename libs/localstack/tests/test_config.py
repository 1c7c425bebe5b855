"""Ports and paths of the local stack."""

from pathlib import Path

import pytest

from radscholar_localstack.config import Ports, StackConfig, connect_host


def test_default_ports_match_the_documented_layout() -> None:
    ports = Ports()
    assert (ports.gateway, ports.orthanc_http, ports.orthanc_dicom, ports.mlflow) == (8000, 8042, 4242, 5000)
    assert (ports.ray_gcs, ports.ray_dashboard) == (6380, 8265)
    assert [ports.service_port(s) for s in ("dicomstore", "labeling", "training", "radiomics", "stats")] == [
        50051,
        50052,
        50053,
        50054,
        50055,
    ]
    ports.check()


def test_ray_never_takes_redis_port() -> None:
    assert Ports().ray_gcs != 6379


def test_port_base_lays_ports_out_consecutively() -> None:
    ports = Ports.from_base(30000)
    assert ports.gateway == 30000
    assert ports.orthanc_http == 30001
    assert ports.ray_agent == 30012
    ports.check()


def test_port_base_must_leave_room() -> None:
    with pytest.raises(ValueError, match="no room"):
        Ports.from_base(65530)


def test_overrides_replace_only_given_ports() -> None:
    ports = Ports().with_overrides({"gateway": 9000, "mlflow": None})
    assert ports.gateway == 9000
    assert ports.mlflow == 5000


def test_overrides_reject_a_shared_port() -> None:
    with pytest.raises(ValueError, match="both 8042"):
        Ports().with_overrides({"gateway": 8042})


def test_overrides_reject_unknown_names() -> None:
    with pytest.raises(ValueError, match="unknown port"):
        Ports().with_overrides({"redis": 1})


def test_data_dir_must_be_absolute() -> None:
    with pytest.raises(ValueError, match="absolute"):
        StackConfig(data_dir=Path("var"))


def test_paths_live_under_the_data_dir(tmp_path: Path) -> None:
    config = StackConfig(data_dir=tmp_path)
    for path in (
        config.orthanc_config_file,
        config.orthanc_password_file,
        config.ray_token_file,
        config.logs_dir,
        config.objects_dir,
        config.mlflow_dir,
        config.service_data_dir("labeling"),
    ):
        assert path.is_relative_to(tmp_path)


@pytest.mark.parametrize(
    ("bind", "dial"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("0.0.0.0", "127.0.0.1"),
        ("::", "[::1]"),
        ("::1", "[::1]"),
        ("10.1.2.3", "10.1.2.3"),
    ],
)
def test_connect_host(bind: str, dial: str) -> None:
    assert connect_host(bind) == dial


def test_gateway_url_for_a_wildcard_bind(tmp_path: Path) -> None:
    config = StackConfig(data_dir=tmp_path, gateway_host="0.0.0.0")
    assert config.gateway_url == "http://127.0.0.1:8000"
