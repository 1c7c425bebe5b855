"""Command lines and environments of the children (pure: nothing is started)."""

import dataclasses
import sys
from pathlib import Path

import pytest

from radscholar_core.identity import IdentityKeys, IdentitySigner, key_id_of
from radscholar_localstack.components import (
    TIER_GATEWAY,
    TIER_INFRASTRUCTURE,
    TIER_SERVICES,
    Component,
    build_components,
    gateway_env,
    service_env,
)
from radscholar_localstack.config import Ports, StackConfig
from radscholar_localstack.credentials import StackSecrets
from radscholar_localstack.probes import GrpcHealthProbe, HttpProbe

SERVICES = ("dicomstore", "labeling", "training", "radiomics", "stats")


@pytest.fixture
def config(tmp_path: Path) -> StackConfig:
    return StackConfig(data_dir=tmp_path)


def by_name(components: list[Component]) -> dict[str, Component]:
    return {component.name: component for component in components}


def test_start_order_and_tiers(config: StackConfig, tmp_path: Path, secrets: StackSecrets) -> None:
    components = build_components(config, secrets, tmp_path / "ray")
    assert [c.name for c in components] == ["orthanc", "mlflow", "ray", *SERVICES, "gateway"]
    tiers = {c.name: c.tier for c in components}
    assert tiers["orthanc"] == tiers["mlflow"] == tiers["ray"] == TIER_INFRASTRUCTURE
    assert all(tiers[name] == TIER_SERVICES for name in SERVICES)
    assert tiers["gateway"] == TIER_GATEWAY


def test_no_ray(tmp_path: Path, secrets: StackSecrets) -> None:
    config = StackConfig(data_dir=tmp_path, ray_enabled=False)
    components = by_name(build_components(config, secrets, tmp_path / "ray"))
    assert "ray" not in components
    assert "RAY_AUTH_MODE" not in components["training"].env


def test_every_port_is_claimed_once(config: StackConfig, tmp_path: Path, secrets: StackSecrets) -> None:
    components = build_components(config, secrets, tmp_path / "ray")
    claimed = sorted(claim.port for c in components for claim in c.ports)
    assert claimed == sorted(dataclasses.asdict(config.ports).values())


def test_common_service_settings(config: StackConfig, secrets: StackSecrets) -> None:
    for port, service in enumerate(SERVICES, start=50051):
        prefix = f"RADSCHOLAR_{service.upper()}_"
        env = service_env(config, service, secrets)
        assert env[prefix + "HOST"] == "127.0.0.1"
        assert env[prefix + "PORT"] == str(port)
        assert env[prefix + "DATA_DIR"] == str(config.data_dir / service)
        assert all(key.startswith(prefix) or key.startswith("RAY_") for key in env)


def test_dicomstore_gets_orthanc_and_its_password(config: StackConfig, secrets: StackSecrets) -> None:
    env = service_env(config, "dicomstore", secrets)
    assert env["RADSCHOLAR_DICOMSTORE_ORTHANC_URL"] == "http://127.0.0.1:8042"
    assert env["RADSCHOLAR_DICOMSTORE_ORTHANC_USERNAME"] == "radscholar"
    assert env["RADSCHOLAR_DICOMSTORE_ORTHANC_PASSWORD"] == "pw"
    for service in ("labeling", "training", "radiomics", "stats"):
        assert "pw" not in service_env(config, service, secrets).values()


def test_databases_and_object_store(config: StackConfig, secrets: StackSecrets) -> None:
    for service in ("labeling", "training", "radiomics", "stats"):
        url = service_env(config, service, secrets)[f"RADSCHOLAR_{service.upper()}_DATABASE_URL"]
        assert url == f"sqlite:///{config.data_dir}/{service}/{service}.db"
    for service in ("dicomstore", "training", "radiomics", "stats"):
        env = service_env(config, service, secrets)
        prefix = f"RADSCHOLAR_{service.upper()}_OBJECT_STORE__"
        assert env[prefix + "BACKEND"] == "filesystem"
        assert env[prefix + "ROOT"] == str(config.data_dir / "objects")


def test_training_reaches_mlflow_and_the_ray_jobs_api(config: StackConfig, secrets: StackSecrets) -> None:
    env = service_env(config, "training", secrets)
    assert env["RADSCHOLAR_TRAINING_MLFLOW_TRACKING_URI"] == "http://127.0.0.1:5000"
    assert env["RADSCHOLAR_TRAINING_RAY_ADDRESS"] == "http://127.0.0.1:8265"
    assert env["RAY_AUTH_MODE"] == "token"
    assert env["RAY_AUTH_TOKEN_PATH"] == str(config.ray_token_file)


def test_radiomics_reaches_ray_and_the_services_its_batch_jobs_read(config: StackConfig, secrets: StackSecrets) -> None:
    env = service_env(config, "radiomics", secrets)
    assert env["RADSCHOLAR_RADIOMICS_RAY_ADDRESS"] == "http://127.0.0.1:8265"
    assert env["RADSCHOLAR_RADIOMICS_LABELING_ADDRESS"] == "127.0.0.1:50052"
    assert env["RADSCHOLAR_RADIOMICS_DICOMSTORE_ADDRESS"] == "127.0.0.1:50051"
    assert env["RAY_AUTH_MODE"] == "token"


def test_gateway_knows_every_upstream(tmp_path: Path, secrets: StackSecrets) -> None:
    config = StackConfig(data_dir=tmp_path, ports=Ports.from_base(40000), gateway_host="0.0.0.0")
    env = gateway_env(config, secrets)
    assert env["RADSCHOLAR_GATEWAY_HOST"] == "0.0.0.0"
    assert env["RADSCHOLAR_GATEWAY_PORT"] == "40000"
    assert env["RADSCHOLAR_GATEWAY_DATA_DIR"] == str(tmp_path / "gateway")
    for offset, service in enumerate(SERVICES, start=6):
        assert env[f"RADSCHOLAR_GATEWAY_{service.upper()}_ADDRESS"] == f"127.0.0.1:{40000 + offset}"


def test_python_children_use_this_interpreter(config: StackConfig, tmp_path: Path, secrets: StackSecrets) -> None:
    components = by_name(build_components(config, secrets, tmp_path / "ray"))
    for name, module in [(s, f"radscholar_{s}") for s in SERVICES] + [("gateway", "radscholar_gateway")]:
        assert components[name].argv == (sys.executable, "-m", module)


def test_orthanc_command_and_environment(config: StackConfig, tmp_path: Path, secrets: StackSecrets) -> None:
    orthanc = by_name(build_components(config, secrets, tmp_path / "ray"))["orthanc"]
    assert orthanc.argv == (str(config.orthanc_binary), str(config.orthanc_config_file))
    assert orthanc.env == {"TCP_NODELAY": "1"}
    assert orthanc.probe == HttpProbe("http://127.0.0.1:8042/system", basic_auth=("radscholar", "pw"))
    assert {claim.host for claim in orthanc.ports} == {"0.0.0.0"}


def test_mlflow_command(config: StackConfig, tmp_path: Path, secrets: StackSecrets) -> None:
    mlflow = by_name(build_components(config, secrets, tmp_path / "ray"))["mlflow"]
    argv = list(mlflow.argv)
    assert argv[argv.index("server") + 1 :][:4] == ["--host", "127.0.0.1", "--port", "5000"]
    assert argv[argv.index("--workers") + 1] == "1"
    assert argv[argv.index("--backend-store-uri") + 1] == f"sqlite:///{config.data_dir}/mlflow/mlflow.db"
    assert argv[argv.index("--artifacts-destination") + 1] == str(config.data_dir / "objects" / "mlflow")
    assert mlflow.env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
    assert mlflow.probe == HttpProbe("http://127.0.0.1:5000/health")


def test_ray_command(config: StackConfig, tmp_path: Path, secrets: StackSecrets) -> None:
    ray = by_name(build_components(config, secrets, tmp_path / "ray"))["ray"]
    argv = list(ray.argv)

    def value(flag: str) -> str:
        return argv[argv.index(flag) + 1]

    assert "--head" in argv and "--block" in argv
    assert value("--port") == "6380"
    assert value("--node-ip-address") == "127.0.0.1"
    assert value("--dashboard-host") == "127.0.0.1"
    assert value("--dashboard-port") == "8265"
    assert value("--temp-dir") == str(tmp_path / "ray")
    assert value("--num-cpus") == "2"
    assert value("--include-dashboard") == "true"
    assert ray.env["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] == "0"  # keeps every Ray listener on loopback
    assert ray.env["RAY_AUTH_MODE"] == "token"
    assert ray.env["PATH"].split(":")[0] == str(Path(sys.executable).parent)
    assert ray.probe == HttpProbe("http://127.0.0.1:8265/api/version", bearer_token="tok")


def test_service_probes_are_grpc_health(config: StackConfig, tmp_path: Path, secrets: StackSecrets) -> None:
    components = by_name(build_components(config, secrets, tmp_path / "ray"))
    assert components["labeling"].probe == GrpcHealthProbe("127.0.0.1:50052")
    assert components["gateway"].probe == HttpProbe("http://127.0.0.1:8000/readyz")


def test_every_service_trusts_the_gateway_public_key(config: StackConfig, secrets: StackSecrets) -> None:
    for service in SERVICES:
        value = service_env(config, service, secrets)[f"RADSCHOLAR_{service.upper()}_IDENTITY__PUBLIC_KEYS"]
        keys = IdentityKeys(public_keys=value)  # what the service's settings do with it
        assert keys.public_keys == {key_id_of(secrets.identity_public_key): secrets.identity_public_key}
        signer = IdentitySigner(secrets.identity_private_key, key_id_of(secrets.identity_public_key))
        token = signer.sign(
            subject="u1", username="admin", roles=["admin"], projects={}, via="password", client_address="::1"
        )
        assert keys.verifier().verify(token).username == "admin"


def test_gateway_gets_its_keys_database_and_first_admin(config: StackConfig, secrets: StackSecrets) -> None:
    env = gateway_env(config, secrets)
    assert env["RADSCHOLAR_GATEWAY_IDENTITY_PRIVATE_KEY"] == secrets.identity_private_key
    assert env["RADSCHOLAR_GATEWAY_TOKEN_SECRET"] == secrets.token_secret
    assert env["RADSCHOLAR_GATEWAY_DATABASE_URL"] == f"sqlite:///{config.data_dir}/gateway/gateway.db"
    assert env["RADSCHOLAR_GATEWAY_ADMIN_USERNAME"] == "admin"
    assert env["RADSCHOLAR_GATEWAY_ADMIN_PASSWORD"] == secrets.admin_password
    assert env["RADSCHOLAR_GATEWAY_ORTHANC_DICOMWEB_URL"] == f"{config.orthanc_url}/dicom-web"
    assert env["RADSCHOLAR_GATEWAY_ORTHANC_PASSWORD"] == secrets.orthanc_password
    assert all(key.startswith("RADSCHOLAR_GATEWAY_") for key in env)


def test_each_secret_goes_only_where_it_is_needed(config: StackConfig, tmp_path: Path, secrets: StackSecrets) -> None:
    components = by_name(build_components(config, secrets, tmp_path / "ray"))
    gateway_only = (secrets.identity_private_key, secrets.token_secret, secrets.admin_password)
    for name, component in components.items():
        values = "\n".join(component.env.values())
        if name != "gateway":
            assert not any(secret in values for secret in gateway_only), name
        if name not in ("dicomstore", "gateway"):  # the gateway proxies DICOMweb reads to Orthanc
            assert secrets.orthanc_password not in component.env.values(), name
        assert secrets.identity_private_key not in repr(component), name
    assert "PRIVATE KEY" not in repr(secrets)
    assert secrets.token_secret not in repr(secrets)
    assert secrets.admin_password not in repr(secrets)
