"""``up --demo``: synthetic chest CT studies in Orthanc and a demo labeling project, loaded once.

DATA_DIR/demo/loaded.json records each finished step, so a restart neither uploads twice nor
creates a second project, and a step that failed (the gateway route missing, say) is retried.
The project is created as the first admin, signed in with the generated password.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import httpx

from radscholar_localstack.config import ADMIN_USERNAME, ORTHANC_USERNAME, StackConfig
from radscholar_localstack.credentials import StackSecrets

log = logging.getLogger(__name__)

DEMO_KIND: Final = "ct"
DEMO_CASES = 4
DEMO_SITES = 2
DEMO_SEED = 20240601
UPLOAD_CONCURRENCY = 4

DEMO_PROJECT: dict[str, str] = {
    "name": "Demo chest CT nodules",
    "modality": "CT",
    "task_type": "SEGMENTATION",
    "dimensionality": "3D",
    "description": "Synthetic chest CT studies with lung nodules (radscholar_phantoms, "
    f"{DEMO_CASES} cases over {DEMO_SITES} sites), loaded by `up --demo`. Not patient data.",
}


@dataclass
class DemoState:
    """What has been loaded so far (the marker file's content)."""

    instances: int = 0
    studies: list[str] = field(default_factory=list)
    patients: list[str] = field(default_factory=list)
    uploaded_at: str | None = None
    project_id: str | None = None
    phantoms: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> DemoState:
        if not path.exists():
            return cls()
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(**{key: data[key] for key in asdict(cls()) if key in data})

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")


def marker_file(config: StackConfig) -> Path:
    return config.demo_dir / "loaded.json"


def _log_progress(done: int, total: int) -> None:
    if done:
        log.info("demo: case %d of %d written", done, total)


def generate_phantoms(out: Path) -> tuple[list[Path], dict[str, Any]]:
    """Write the demo studies under ``out``; their DICOM files and the generator's summary (blocking)."""
    from radscholar_phantoms import generate

    if out.exists():  # the leftovers of an interrupted run
        shutil.rmtree(out)
    manifest = generate(DEMO_KIND, DEMO_CASES, DEMO_SITES, DEMO_SEED, out, progress=_log_progress)
    root = manifest.root or out
    files = sorted(path for series in manifest.series for path in (root / series.path).glob("*.dcm"))
    return files, manifest.summary()


async def upload_instances(config: StackConfig, password: str, files: list[Path]) -> DemoState:
    """POST every file to Orthanc's /instances; fails on the first instance Orthanc refuses."""
    semaphore = asyncio.Semaphore(UPLOAD_CONCURRENCY)
    statuses: Counter[str] = Counter()
    studies: set[str] = set()
    patients: set[str] = set()
    async with httpx.AsyncClient(
        base_url=config.orthanc_url, auth=(ORTHANC_USERNAME, password), timeout=60.0
    ) as client:

        async def upload(path: Path) -> None:
            async with semaphore:
                body = await asyncio.to_thread(path.read_bytes)
                response = await client.post("/instances", content=body, headers={"Content-Type": "application/dicom"})
            if response.status_code != 200:
                raise RuntimeError(f"Orthanc refused {path.name}: HTTP {response.status_code} {response.text}")
            answer: dict[str, Any] = response.json()
            statuses[str(answer.get("Status", "?"))] += 1
            studies.add(str(answer.get("ParentStudy")))
            patients.add(str(answer.get("ParentPatient")))

        await asyncio.gather(*(upload(path) for path in files))
    log.info("demo: Orthanc stored %s", ", ".join(f"{n} {status}" for status, n in sorted(statuses.items())))
    return DemoState(
        instances=len(files),
        studies=sorted(studies),
        patients=sorted(patients),
        uploaded_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def _gateway_error(response: httpx.Response, *secrets: str) -> str:
    """What the gateway said went wrong: its error's reason and message only (never the raw body,
    which for some errors could echo what was sent), with any of ``secrets`` blanked out."""
    try:
        error = response.json().get("error") or {}
        text = f"{error.get('reason', '?')}: {error.get('message', '')}"[:300]
    except (ValueError, AttributeError):
        text = "(no error details)"
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return f"HTTP {response.status_code} {text}"


async def sign_in(client: httpx.AsyncClient, password: str, username: str = ADMIN_USERNAME) -> str | None:
    """An access token for ``username``; None (with a warning) if the gateway does not let us in."""
    response = await client.post("/api/v1/auth/login", json={"username": username, "password": password})
    if response.status_code == 200:
        try:
            token = response.json().get("access_token")
        except (ValueError, AttributeError):
            token = None
        if isinstance(token, str) and token:
            return token
        log.warning("demo: the gateway's login answer carries no access_token; project not created")
    elif response.status_code in (404, 405):
        log.warning(
            "demo: the gateway has no POST /api/v1/auth/login yet (HTTP %d); project not created",
            response.status_code,
        )
    else:
        log.warning(
            "demo: signing in as %r failed (%s); project not created",
            username,
            _gateway_error(response, password),
        )
    return None


async def create_project(
    gateway_url: str, admin_password: str, transport: httpx.AsyncBaseTransport | None = None
) -> str | None:
    """Sign in as the first admin and create the demo project; None (with a warning) if either fails."""
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30.0, transport=transport) as client:
        token = await sign_in(client, admin_password)
        if token is None:
            return None
        response = await client.post(
            "/api/v1/projects", json=DEMO_PROJECT, headers={"Authorization": f"Bearer {token}"}
        )
    if response.status_code in (200, 201):
        project_id = str(response.json().get("id", ""))
        log.info("demo: created project %r (id %s)", DEMO_PROJECT["name"], project_id)
        return project_id or None
    if response.status_code in (404, 405):
        log.warning(
            "demo: the gateway has no POST /api/v1/projects yet (HTTP %d); project not created",
            response.status_code,
        )
    else:
        log.warning("demo: creating the project failed (%s)", _gateway_error(response, admin_password, token))
    return None


async def load_demo(config: StackConfig, secrets: StackSecrets) -> DemoState:
    """Load what is not loaded yet; returns the state recorded in the marker file."""
    marker = marker_file(config)
    state = DemoState.read(marker)
    if state.uploaded_at and state.project_id:
        log.info("demo already loaded on %s (%s); delete that file to load it again", state.uploaded_at, marker)
        return state
    if not state.uploaded_at:
        out = config.demo_dir / "phantoms"
        log.info("demo: generating %d synthetic %s cases over %d sites", DEMO_CASES, DEMO_KIND.upper(), DEMO_SITES)
        files, summary = await asyncio.to_thread(generate_phantoms, out)
        if not files:
            raise RuntimeError(f"the phantom generator wrote no .dcm files under {out}")
        log.info("demo: generated %s", json.dumps(summary))
        log.info("demo: uploading %d DICOM instances to Orthanc", len(files))
        state = await upload_instances(config, secrets.orthanc_password, files)
        state.phantoms = summary
        state.write(marker)
    if not state.project_id:
        state.project_id = await create_project(config.gateway_url, secrets.admin_password)
        state.write(marker)
    log.info(
        "demo loaded: %d instances, %d studies, %d patients in Orthanc; project %s",
        state.instances,
        len(state.studies),
        len(state.patients),
        state.project_id or "not created",
    )
    return state
