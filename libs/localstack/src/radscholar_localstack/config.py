"""Ports and paths of the local stack, built once from the command line and passed in."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

#: Every internal component binds here; only the gateway's address is configurable.
LOOPBACK = "127.0.0.1"

#: The five services in start order, as (component name, Python module, env prefix).
SERVICES: tuple[tuple[str, str, str], ...] = (
    ("dicomstore", "radscholar_dicomstore", "RADSCHOLAR_DICOMSTORE_"),
    ("labeling", "radscholar_labeling", "RADSCHOLAR_LABELING_"),
    ("training", "radscholar_training", "RADSCHOLAR_TRAINING_"),
    ("radiomics", "radscholar_radiomics", "RADSCHOLAR_RADIOMICS_"),
    ("stats", "radscholar_stats", "RADSCHOLAR_STATS_"),
)

DEFAULT_ORTHANC_BINARY = Path("/usr/sbin/Orthanc")
DEFAULT_DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
ORTHANC_USERNAME = "radscholar"
ORTHANC_AET = "RADSCHOLAR"
#: The first admin the gateway creates (only while it has no admin); the password is generated.
ADMIN_USERNAME = "admin"


@dataclass(frozen=True)
class Ports:
    """TCP ports of every listener the stack opens. Field order is the ``--port-base`` layout."""

    gateway: int = 8000
    orthanc_http: int = 8042
    orthanc_dicom: int = 4242
    mlflow: int = 5000
    ray_gcs: int = 6380  # not Ray's default 6379: Redis listens there on these machines
    ray_dashboard: int = 8265
    dicomstore: int = 50051
    labeling: int = 50052
    training: int = 50053
    radiomics: int = 50054
    stats: int = 50055
    ray_client: int = 10001
    ray_agent: int = 52365

    @classmethod
    def from_base(cls, base: int) -> Ports:
        """Consecutive ports from ``base`` in field order (gateway = base, orthanc_http = base + 1, ...)."""
        names = [field.name for field in dataclasses.fields(cls)]
        if base < 1 or base + len(names) - 1 > 65535:
            raise ValueError(f"--port-base {base} leaves no room for {len(names)} ports below 65536")
        return cls(**{name: base + offset for offset, name in enumerate(names)})

    def with_overrides(self, overrides: dict[str, int | None]) -> Ports:
        """These ports with the given non-None values replaced; rejects unknown names and duplicates."""
        known = {field.name for field in dataclasses.fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise ValueError(f"unknown port name(s): {', '.join(sorted(unknown))}")
        ports = dataclasses.replace(self, **{k: v for k, v in overrides.items() if v is not None})
        ports.check()
        return ports

    def check(self) -> None:
        """Raise ValueError when a port is out of range or two listeners share a port."""
        seen: dict[int, str] = {}
        for name, port in dataclasses.asdict(self).items():
            if not 1 <= port <= 65535:
                raise ValueError(f"port {name}={port} is outside 1..65535")
            if port in seen:
                raise ValueError(f"ports {seen[port]} and {name} are both {port}")
            seen[port] = name

    def service_port(self, service: str) -> int:
        """The gRPC port of one of the five services."""
        port: int = getattr(self, service)
        return port


@dataclass(frozen=True)
class StackConfig:
    """Everything the stack needs to know; all paths absolute."""

    data_dir: Path
    ports: Ports = Ports()
    gateway_host: str = LOOPBACK
    ray_enabled: bool = True
    ray_num_cpus: int = 2
    orthanc_binary: Path = DEFAULT_ORTHANC_BINARY
    dicomweb_plugin: Path = DEFAULT_DICOMWEB_PLUGIN
    ready_timeout_s: float = 180.0
    stop_grace_s: float = 10.0

    def __post_init__(self) -> None:
        if not self.data_dir.is_absolute():
            raise ValueError(f"data_dir must be absolute, got {self.data_dir}")

    @property
    def orthanc_dir(self) -> Path:
        return self.data_dir / "orthanc"

    @property
    def orthanc_config_file(self) -> Path:
        return self.orthanc_dir / "orthanc.json"

    @property
    def secrets_dir(self) -> Path:
        return self.data_dir / "secrets"

    @property
    def orthanc_password_file(self) -> Path:
        return self.secrets_dir / "orthanc_password"

    @property
    def ray_token_file(self) -> Path:
        return self.secrets_dir / "ray_token"

    @property
    def identity_private_key_file(self) -> Path:
        """The gateway's Ed25519 key that signs the user identity it sends to the services."""
        return self.secrets_dir / "identity_private_key.pem"

    @property
    def identity_public_key_file(self) -> Path:
        return self.secrets_dir / "identity_public_key.pem"

    @property
    def token_secret_file(self) -> Path:
        """The gateway's key for the access tokens it gives users."""
        return self.secrets_dir / "token_secret"

    @property
    def deidentification_secret_file(self) -> Path:
        """The DICOM store's master key of per-project pseudonyms: losing it breaks pseudonym consistency."""
        return self.secrets_dir / "deidentification_secret"

    @property
    def admin_password_file(self) -> Path:
        """The password of the first admin (user ADMIN_USERNAME)."""
        return self.secrets_dir / "admin_password"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def objects_dir(self) -> Path:
        return self.data_dir / "objects"

    @property
    def mlflow_dir(self) -> Path:
        return self.data_dir / "mlflow"

    @property
    def ray_dir(self) -> Path:
        return self.data_dir / "ray"

    @property
    def demo_dir(self) -> Path:
        return self.data_dir / "demo"

    def service_data_dir(self, service: str) -> Path:
        return self.data_dir / service

    @property
    def gateway_url(self) -> str:
        """The URL a browser on this machine uses (a wildcard bind is reached through loopback)."""
        return f"http://{connect_host(self.gateway_host)}:{self.ports.gateway}"

    @property
    def orthanc_url(self) -> str:
        return f"http://{LOOPBACK}:{self.ports.orthanc_http}"

    @property
    def mlflow_url(self) -> str:
        return f"http://{LOOPBACK}:{self.ports.mlflow}"

    @property
    def ray_dashboard_url(self) -> str:
        """Also the Ray Jobs API address."""
        return f"http://{LOOPBACK}:{self.ports.ray_dashboard}"

    def service_address(self, service: str) -> str:
        return f"{LOOPBACK}:{self.ports.service_port(service)}"


def connect_host(bind_host: str) -> str:
    """The address a local client dials for a server bound to ``bind_host``."""
    if bind_host in ("", "0.0.0.0"):
        return LOOPBACK
    if bind_host in ("::", "[::]"):
        return "[::1]"
    if ":" in bind_host and not bind_host.startswith("["):
        return f"[{bind_host}]"
    return bind_host
