"""What runs in the local stack: one Component per child process, built from the StackConfig.

Everything here is pure (no processes, no files) so the command lines and environments can be
unit-tested; the Supervisor runs the result.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from radscholar_localstack.config import (
    ADMIN_USERNAME,
    LOOPBACK,
    ORTHANC_AET,
    ORTHANC_USERNAME,
    SERVICES,
    StackConfig,
)
from radscholar_localstack.credentials import StackSecrets
from radscholar_localstack.orthanc_config import DICOMWEB_ROOT
from radscholar_localstack.ports import PortClaim
from radscholar_localstack.probes import GrpcHealthProbe, HttpProbe, Probe

#: Start tiers: infrastructure in parallel, then the services in parallel, then the gateway.
TIER_INFRASTRUCTURE = 0
TIER_SERVICES = 1
TIER_GATEWAY = 2

StopHook = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Component:
    """One supervised child process.

    ``env`` is laid over the stack's own environment; ``endpoint`` is what the ready table shows;
    ``stop_hook`` runs after the process group is gone (Ray uses it to reap its daemons).
    """

    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(repr=False)
    probe: Probe
    tier: int
    endpoint: str
    ports: tuple[PortClaim, ...] = ()
    cwd: Path | None = None
    stop_hook: StopHook | None = field(default=None, compare=False, repr=False)


def orthanc_component(config: StackConfig, password: str) -> Component:
    # Orthanc's HTTP and DICOM listeners bind every interface; RemoteAccessAllowed=false and the
    # strict DICOM options are what keep them local, so check the wildcard address for conflicts.
    return Component(
        name="orthanc",
        argv=(str(config.orthanc_binary), str(config.orthanc_config_file)),
        env={"TCP_NODELAY": "1"},
        probe=HttpProbe(f"{config.orthanc_url}/system", basic_auth=(ORTHANC_USERNAME, password)),
        tier=TIER_INFRASTRUCTURE,
        endpoint=f"{config.orthanc_url}, DICOM :{config.ports.orthanc_dicom} ({ORTHANC_AET})",
        ports=(
            PortClaim("orthanc", "HTTP", "0.0.0.0", config.ports.orthanc_http),
            PortClaim("orthanc", "DICOM", "0.0.0.0", config.ports.orthanc_dicom),
        ),
        cwd=config.orthanc_dir,
    )


def mlflow_artifacts_dir(config: StackConfig) -> Path:
    return config.objects_dir / "mlflow"


def mlflow_component(config: StackConfig) -> Component:
    executable = Path(sys.executable).with_name("mlflow")
    # Run the CLI module with our interpreter when the console script is not beside it.
    launcher = (str(executable),) if executable.exists() else (sys.executable, "-m", "mlflow")
    return Component(
        name="mlflow",
        argv=(
            *launcher,
            "server",
            "--host",
            LOOPBACK,
            "--port",
            str(config.ports.mlflow),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{config.mlflow_dir / 'mlflow.db'}",
            "--artifacts-destination",
            str(mlflow_artifacts_dir(config)),
        ),
        # Without this, MLflow 3 starts a job runner that costs ~1.3 GiB of memory.
        env={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        probe=HttpProbe(f"{config.mlflow_url}/health"),
        tier=TIER_INFRASTRUCTURE,
        endpoint=config.mlflow_url,
        ports=(PortClaim("mlflow", "HTTP", LOOPBACK, config.ports.mlflow),),
        cwd=config.mlflow_dir,
    )


def ray_client_env(token_file: Path) -> dict[str, str]:
    """What a Ray client (the Jobs SDK in training and radiomics) needs to reach the token-protected head."""
    return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token_file)}


def ray_component(config: StackConfig, temp_dir: Path, token: str, stop_hook: StopHook | None = None) -> Component:
    bin_dir = Path(sys.executable).parent
    executable = bin_dir / "ray"
    launcher = (str(executable),) if executable.exists() else (sys.executable, "-m", "ray.scripts.scripts")
    ports = config.ports
    env = {
        **ray_client_env(config.ray_token_file),
        # Ray turns --node-ip-address 127.0.0.1 into the machine's LAN address and binds GCS and the
        # raylet on every interface; this keeps the node (and every listener) on loopback.
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        # On SIGTERM, `ray start --block` would wait up to 30 s draining Serve traffic we do not have.
        "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0",
        # Fixed metrics ports by default (44227, 44217): ephemeral ones let two stacks coexist.
        "DASHBOARD_METRIC_PORT": "0",
        "AUTOSCALER_METRIC_PORT": "0",
        "RAY_USAGE_STATS_ENABLED": "0",
        # Job entrypoints ("python -m radscholar_training.jobs.train") must find this environment's python.
        "PATH": os.pathsep.join([str(bin_dir), os.environ.get("PATH", os.defpath)]),
    }
    return Component(
        name="ray",
        argv=(
            *launcher,
            "start",
            "--head",
            "--node-ip-address",
            LOOPBACK,
            "--port",
            str(ports.ray_gcs),
            "--dashboard-host",
            LOOPBACK,
            "--dashboard-port",
            str(ports.ray_dashboard),
            "--include-dashboard",
            "true",
            "--ray-client-server-port",
            str(ports.ray_client),
            "--dashboard-agent-listen-port",
            str(ports.ray_agent),
            "--temp-dir",
            str(temp_dir),
            "--num-cpus",
            str(config.ray_num_cpus),
            "--disable-usage-stats",
            "--log-style",
            "record",
            "--block",
        ),
        env=env,
        probe=HttpProbe(f"{config.ray_dashboard_url}/api/version", bearer_token=token),
        tier=TIER_INFRASTRUCTURE,
        endpoint=f"{config.ray_dashboard_url}, GCS :{ports.ray_gcs}",
        ports=(
            PortClaim("ray", "GCS", LOOPBACK, ports.ray_gcs),
            PortClaim("ray", "dashboard / Jobs API", LOOPBACK, ports.ray_dashboard),
            PortClaim("ray", "client server", LOOPBACK, ports.ray_client),
            PortClaim("ray", "dashboard agent", LOOPBACK, ports.ray_agent),
        ),
        cwd=config.data_dir,
        stop_hook=stop_hook,
    )


def identity_public_keys(secrets: StackSecrets) -> str:
    """The services' ``IDENTITY__PUBLIC_KEYS``: a JSON object of key id -> the gateway's public key (PEM)."""
    return json.dumps({secrets.identity_key_id: secrets.identity_public_key})


def service_env(config: StackConfig, service: str, secrets: StackSecrets) -> dict[str, str]:
    """The environment (pydantic-settings variables) of one of the five services."""
    prefix = {name: env_prefix for name, _, env_prefix in SERVICES}[service]
    env = {
        f"{prefix}HOST": LOOPBACK,
        f"{prefix}PORT": str(config.ports.service_port(service)),
        f"{prefix}DATA_DIR": str(config.service_data_dir(service)),
        # Every call but health and reflection must carry an identity the gateway signed.
        f"{prefix}IDENTITY__PUBLIC_KEYS": identity_public_keys(secrets),
    }
    if service == "dicomstore":
        env[f"{prefix}ORTHANC_URL"] = config.orthanc_url
        env[f"{prefix}ORTHANC_USERNAME"] = ORTHANC_USERNAME
        env[f"{prefix}ORTHANC_PASSWORD"] = secrets.orthanc_password
        env[f"{prefix}DEIDENTIFICATION_SECRET"] = secrets.deidentification_secret
    if service in ("dicomstore", "labeling", "training", "radiomics", "stats"):
        database = config.service_data_dir(service) / f"{service}.db"
        env[f"{prefix}DATABASE_URL"] = f"sqlite:///{database}"
    if service == "labeling":  # masks go to the DICOM store as SEG, started before it
        env[f"{prefix}DICOMSTORE_ADDRESS"] = f"{LOOPBACK}:{config.ports.dicomstore}"
    if service in ("dicomstore", "labeling", "training", "radiomics", "stats"):
        env[f"{prefix}OBJECT_STORE__BACKEND"] = "filesystem"
        env[f"{prefix}OBJECT_STORE__ROOT"] = str(config.objects_dir)
    if service == "training":
        env[f"{prefix}MLFLOW_TRACKING_URI"] = config.mlflow_url
    if service in ("training", "radiomics", "stats") and config.ray_enabled:
        env[f"{prefix}RAY_ADDRESS"] = config.ray_dashboard_url
    if service in ("radiomics", "training"):  # jobs read dataset versions and export their series
        env[f"{prefix}LABELING_ADDRESS"] = f"{LOOPBACK}:{config.ports.labeling}"
        env[f"{prefix}DICOMSTORE_ADDRESS"] = f"{LOOPBACK}:{config.ports.dicomstore}"
    if service in ("training", "radiomics", "stats") and config.ray_enabled:
        env.update(ray_client_env(config.ray_token_file))
    return env


def service_component(config: StackConfig, service: str, secrets: StackSecrets) -> Component:
    module = {name: module for name, module, _ in SERVICES}[service]
    address = config.service_address(service)
    return Component(
        name=service,
        argv=(sys.executable, "-m", module),
        env=service_env(config, service, secrets),
        probe=GrpcHealthProbe(address),
        tier=TIER_SERVICES,
        endpoint=f"grpc://{address}",
        ports=(PortClaim(service, "gRPC", LOOPBACK, config.ports.service_port(service)),),
        cwd=config.service_data_dir(service),
    )


def gateway_env(config: StackConfig, secrets: StackSecrets) -> dict[str, str]:
    prefix = "RADSCHOLAR_GATEWAY_"
    data_dir = config.service_data_dir("gateway")
    env = {
        f"{prefix}HOST": config.gateway_host,
        f"{prefix}PORT": str(config.ports.gateway),
        f"{prefix}DATA_DIR": str(data_dir),
        f"{prefix}DATABASE_URL": f"sqlite:///{data_dir / 'gateway.db'}",
        # Uploads are staged here for the DICOM store (bulk bytes never travel inside messages).
        f"{prefix}OBJECT_STORE__BACKEND": "filesystem",
        f"{prefix}OBJECT_STORE__ROOT": str(config.objects_dir),
        # Signs the identity sent to the services (the gateway derives the key id from it).
        f"{prefix}IDENTITY_PRIVATE_KEY": secrets.identity_private_key,
        # Signs the users' access tokens.
        f"{prefix}TOKEN_SECRET": secrets.token_secret,
        # The first admin; used only while the gateway has no admin.
        f"{prefix}ADMIN_USERNAME": ADMIN_USERNAME,
        f"{prefix}ADMIN_PASSWORD": secrets.admin_password,
        # QIDO-RS and WADO-RS at /dicom-web/ are proxied to Orthanc's DICOMweb plugin.
        f"{prefix}ORTHANC_DICOMWEB_URL": config.orthanc_url + DICOMWEB_ROOT.rstrip("/"),
        f"{prefix}ORTHANC_USERNAME": ORTHANC_USERNAME,
        f"{prefix}ORTHANC_PASSWORD": secrets.orthanc_password,
    }
    for service, _, _ in SERVICES:
        env[f"{prefix}{service.upper()}_ADDRESS"] = config.service_address(service)
    return env


def gateway_component(config: StackConfig, secrets: StackSecrets) -> Component:
    return Component(
        name="gateway",
        argv=(sys.executable, "-m", "radscholar_gateway"),
        env=gateway_env(config, secrets),
        probe=HttpProbe(f"{config.gateway_url}/readyz"),
        tier=TIER_GATEWAY,
        endpoint=config.gateway_url,
        ports=(PortClaim("gateway", "HTTP", config.gateway_host, config.ports.gateway),),
        cwd=config.service_data_dir("gateway"),
    )


def build_components(
    config: StackConfig,
    secrets: StackSecrets,
    ray_temp_dir: Path,
    ray_stop_hook: StopHook | None = None,
) -> list[Component]:
    """Every child of the stack in start order.

    Each child inherits the stack's environment (so RADSCHOLAR_LOG_LEVEL and any other setting a
    developer exports pass through) with the component's own variables laid over it.
    """
    components = [orthanc_component(config, secrets.orthanc_password), mlflow_component(config)]
    if config.ray_enabled:
        components.append(ray_component(config, ray_temp_dir, secrets.ray_token, ray_stop_hook))
    components += [service_component(config, name, secrets) for name, _, _ in SERVICES]
    components.append(gateway_component(config, secrets))
    return components


def data_directories(config: StackConfig) -> list[Path]:
    """Directories that must exist before the children start."""
    return [
        config.orthanc_dir,
        config.mlflow_dir,
        mlflow_artifacts_dir(config),
        config.objects_dir,
        config.logs_dir,
        *(config.service_data_dir(name) for name, _, _ in SERVICES),
        config.service_data_dir("gateway"),
    ]
