"""Single-image prediction on the CPU: a 2D radiograph classification model, through the gateway, in one run.

    .venv/bin/python -m bench.predict [--cases 12] [--shape 512 512] [--size 224] [--repeat 30] [--dicom]

Starts what the prediction path needs, each service in its own process as deployed (the DICOM store, labeling and
training services; the gateway in this one) on a scratch Orthanc, with a local MLflow and a Ray head, all on
127.0.0.1. Then makes the model the way a researcher does: phantom radiographs (DX) uploaded, a 2D CLASSIFICATION
project with case-level classes (normal, or abnormal for a phantom with lesions), the labels imported and accepted,
frozen half train, half validation, and a one-epoch ResNet-18 run at --size^2 on Ray, registered in MLflow.

Measured: ``Client.predict(name, version, series_uid)`` (POST /api/v1/models/{name}/versions/{version}/predict)
once as warm-up (the model's first load, reported apart), then --repeat times over the series in turn: wall latency
at the client (p50, p95, max) and the service's own ``seconds``. Goal (issue 9): p50 at most 2 s. --dicom does the
same again asking for the DICOM object too. Results go to stdout and, as JSON, to --out.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform as host
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

import radscholar_phantoms
from bench._platform import ADMIN_PASSWORD, ADMIN_USERNAME, REPO_ROOT, PlatformEndpoint, served, service_process
from radscholar import Client
from radscholar_core.identity import generate_key_pair, key_id_of
from radscholar_core.objectstore import ObjectStoreSettings
from radscholar_core.testing import free_port
from radscholar_gateway.app import create_app
from radscholar_gateway.config import Settings as GatewaySettings
from radscholar_localstack.mlflow_server import running_mlflow
from radscholar_localstack.ray_head import running_ray_head
from radscholar_localstack.scratch_orthanc import Orthanc, running_orthanc

P50_GOAL_SECONDS = 2.0
CLASSES = (("normal", "#2ca02c"), ("abnormal", "#d62728"))


@contextlib.contextmanager
def prediction_platform(orthanc: Orthanc, data_dir: Path, ray_address: str, mlflow_url: str) -> Iterator[str]:
    """The DICOM store, labeling and training services in their own processes and the gateway in this one; yields
    the gateway's URL. The radiomics and stats services are not started (the gateway's addresses for them are
    closed ports): prediction does not call them."""
    data_dir.mkdir(parents=True, exist_ok=True)
    objects = ObjectStoreSettings(root=data_dir / "objects")
    private_pem, public_pem = generate_key_pair()
    shared = {
        "OBJECT_STORE__BACKEND": "filesystem",
        "OBJECT_STORE__ROOT": str(objects.root),
        "IDENTITY__PUBLIC_KEYS": json.dumps({key_id_of(public_pem): public_pem}),
    }
    with contextlib.ExitStack() as processes:
        dicomstore = {
            "ORTHANC_URL": orthanc.url,
            "ORTHANC_USERNAME": orthanc.username,
            "ORTHANC_PASSWORD": orthanc.password,
            "DEIDENTIFICATION_SECRET": secrets.token_urlsafe(32),
            "DATABASE_URL": f"sqlite:///{data_dir}/dicomstore.db",
            "INDEX_POLL_SECONDS": "0.2",
        }
        addresses = {
            "dicomstore_address": processes.enter_context(service_process("dicomstore", dicomstore | shared, data_dir))
        }
        labeling = {
            "DATABASE_URL": f"sqlite:///{data_dir}/labeling.db",
            "DICOMSTORE_ADDRESS": addresses["dicomstore_address"],
        }
        addresses["labeling_address"] = processes.enter_context(
            service_process("labeling", labeling | shared, data_dir)
        )
        training = {
            "DATABASE_URL": f"sqlite:///{data_dir}/training.db",
            "MLFLOW_TRACKING_URI": mlflow_url,
            "RAY_ADDRESS": ray_address,
            "LABELING_ADDRESS": addresses["labeling_address"],
            "DICOMSTORE_ADDRESS": addresses["dicomstore_address"],
            "JOB_POLL_SECONDS": "0.5",
        }
        addresses["training_address"] = processes.enter_context(
            service_process("training", training | shared, data_dir)
        )
        closed = {name: f"127.0.0.1:{free_port()}" for name in ("radiomics_address", "stats_address")}
        settings = GatewaySettings(
            **(addresses | closed),  # type: ignore[arg-type]
            database_url=f"sqlite:///{data_dir}/gateway.db",
            token_secret=secrets.token_urlsafe(32),  # type: ignore[arg-type]
            identity_private_key=private_pem,  # type: ignore[arg-type]
            admin_username=ADMIN_USERNAME,
            admin_password=ADMIN_PASSWORD,  # type: ignore[arg-type]
            access_token_minutes=240,
            object_store=objects,
            orthanc_dicomweb_url=f"{orthanc.url}/dicom-web",
            orthanc_username=orthanc.username,
            orthanc_password=orthanc.password,  # type: ignore[arg-type]
        )
        with served(create_app(settings)) as url:
            yield url


def sign_in(url: str, username: str, password: str) -> PlatformEndpoint:
    with Client(url, timeout=60) as anonymous:
        return PlatformEndpoint(url, anonymous.login(username, password).access_token)


@dataclass(frozen=True)
class Model:
    name: str
    version: int
    series: list[str]  # the radiograph series of the store, one per case
    training_seconds: float  # from the job's start to SUCCEEDED


def make_model(client: Client, url: str, out: Path, cases: int, shape: tuple[int, int], size: int, seed: int) -> Model:
    """Phantom radiographs into a frozen 2D classification dataset, and a one-epoch ResNet-18 trained on it."""
    manifest = radscholar_phantoms.generate("dx", cases, 1, seed, out, shape=shape)
    assert manifest.root is not None
    phantoms = json.loads((manifest.root / "manifest.json").read_text())["cases"]
    files = sorted(manifest.root.rglob("*.dcm"))
    client.upload(files)
    print(f"  uploaded {len(files)} radiographs ({shape[0]}x{shape[1]})", flush=True)
    project = client.create_project(
        f"Radiographs {uuid.uuid4().hex[:8]}", "DX", "CLASSIFICATION", "2D", classes=CLASSES
    )
    client.add_cases(project["id"], study_instance_uids=[case["study_instance_uid"] for case in phantoms])
    people = {}
    for role in ("annotator", "reviewer"):
        username, password = f"bench-{role}-{uuid.uuid4().hex[:6]}", secrets.token_urlsafe(16)
        people[role] = client.create_user(username, password, [role])
        client.set_member(project["id"], people[role]["id"], role)
        people[role]["token"] = sign_in(url, username, password).token
    rows = "".join(
        f"{case['study_instance_uid']},{'normal' if case['label'] == 'normal' else 'abnormal'}\n" for case in phantoms
    )
    client.import_labels(
        project["id"],
        f"study_instance_uid,class\n{rows}".encode(),
        "csv",
        annotator_id=people["annotator"]["id"],
        submit=True,
    )
    with Client(url, token=people["reviewer"]["token"], timeout=60) as reviewer:
        for task in reviewer.tasks(project["id"], status="tagged"):
            reviewer.review_task(task["id"], "accept")
    dataset, _ = client.freeze_dataset(project["id"], train=0.5, validation=0.5, test=0.0, stratify="class", seed=1)
    print(f"  dataset {dataset['id']}: {dataset['split_counts']}", flush=True)
    settings = {"architecture": "resnet18", "epochs": 1, "batch_size": 4, "preprocessing": {"size": [size, size]}}
    started = time.perf_counter()
    job = client.start_training(
        dataset["id"], "classification", 2, settings, model_name=f"bench-dx-{uuid.uuid4().hex[:6]}"
    )
    job = client.wait_for_training_job(job["job"]["id"], timeout=1800)
    training_seconds = time.perf_counter() - started
    if job["state"] != "SUCCEEDED":
        raise RuntimeError(
            f"the training job ended {job['state']}: {job.get('error')}\n{client.training_logs(job['id'])[-3000:]}"
        )
    result = job["result"]
    print(f"  trained {result['model_name']} version {result['model_version']} in {training_seconds:.0f} s", flush=True)
    series = [case["series"][0]["series_instance_uid"] for case in phantoms]
    return Model(result["model_name"], int(result["model_version"]), series, training_seconds)


@dataclass
class Latency:
    """Prediction latencies over repeated calls: wall at the client and the service's own seconds."""

    dicom: bool
    first_wall_seconds: float  # the warm-up call: the model's first load included
    first_service_seconds: float
    wall_seconds: list[float]
    service_seconds: list[float]

    @staticmethod
    def quantile(values: Sequence[float], q: float) -> float:
        return float(np.quantile(np.asarray(values), q))

    def summary(self) -> dict[str, Any]:
        return {
            "dicom": self.dicom,
            "calls": len(self.wall_seconds),
            "first_wall_seconds": self.first_wall_seconds,
            "first_service_seconds": self.first_service_seconds,
            "wall_p50_seconds": statistics.median(self.wall_seconds),
            "wall_p95_seconds": self.quantile(self.wall_seconds, 0.95),
            "wall_max_seconds": max(self.wall_seconds),
            "service_p50_seconds": statistics.median(self.service_seconds),
            "service_p95_seconds": self.quantile(self.service_seconds, 0.95),
            "service_max_seconds": max(self.service_seconds),
            "goal_met": statistics.median(self.wall_seconds) <= P50_GOAL_SECONDS,
        }


def measure(client: Client, model: Model, repeat: int, dicom: bool) -> Latency:
    """One warm-up call (the model's first load), then ``repeat`` calls over the series in turn."""

    def call(uid: str) -> tuple[float, float]:
        started = time.perf_counter()
        found = client.predict(model.name, model.version, uid, dicom=dicom)
        return time.perf_counter() - started, float(found["seconds"])

    first_wall, first_service = call(model.series[0])
    walls, services = [], []
    for n in range(repeat):
        wall, service = call(model.series[n % len(model.series)])
        walls.append(wall)
        services.append(service)
    return Latency(dicom, first_wall, first_service, walls, services)


def describe(latency: Latency) -> str:
    s = latency.summary()
    return (
        f"  {'with DICOM' if latency.dicom else 'plain':<10}  first {s['first_wall_seconds']:.3f} s "
        f"(service {s['first_service_seconds']:.3f} s); {s['calls']} calls: wall p50 {s['wall_p50_seconds']:.3f} s, "
        f"p95 {s['wall_p95_seconds']:.3f} s, max {s['wall_max_seconds']:.3f} s; service p50 "
        f"{s['service_p50_seconds']:.3f} s, p95 {s['service_p95_seconds']:.3f} s"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=12, help="phantom radiographs (half train, half validation)")
    parser.add_argument("--shape", type=int, nargs=2, default=(512, 512), help="radiograph rows and columns")
    parser.add_argument("--size", type=int, default=224, help="the network's input side (the run's preprocessing)")
    parser.add_argument("--repeat", type=int, default=30, help="timed predictions after the warm-up")
    parser.add_argument("--dicom", action="store_true", help="also measure with the DICOM object asked for")
    parser.add_argument("--seed", type=int, default=20240607)
    parser.add_argument("--ray-cpus", type=int, default=2, help="CPUs of the Ray head (training only)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "var/bench/predict.json")
    args = parser.parse_args(argv)

    (REPO_ROOT / "var/bench").mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="predict-", dir=REPO_ROOT / "var/bench"))
    print(f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}", flush=True)
    try:
        (work / "mlflow").mkdir()
        with (
            running_ray_head(free_port(), num_cpus=args.ray_cpus) as ray_address,
            running_mlflow(work / "mlflow") as mlflow_url,
            running_orthanc(work / "orthanc") as orthanc,
            prediction_platform(orthanc, work / "platform", ray_address, mlflow_url) as url,
            Client(url, token=sign_in(url, ADMIN_USERNAME, ADMIN_PASSWORD).token, timeout=300) as client,
        ):
            print("platform up; making the model", flush=True)
            model = make_model(client, url, work / "phantoms", args.cases, tuple(args.shape), args.size, args.seed)
            load = os.getloadavg()[0]
            print(f"predicting ({args.repeat} calls a pass; load {load:.1f})", flush=True)
            passes = [measure(client, model, args.repeat, dicom=False)]
            print(describe(passes[-1]), flush=True)
            if args.dicom:
                passes.append(measure(client, model, args.repeat, dicom=True))
                print(describe(passes[-1]), flush=True)
    except Exception:
        for log in sorted((work / "platform").glob("*.log")):
            print(f"--- {log.name}\n{log.read_text()[-2000:]}", file=sys.stderr)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)

    plain = passes[0].summary()
    verdict = "MET" if plain["goal_met"] else "NOT MET"
    print()
    print(
        f"single-image prediction ({args.shape[0]}x{args.shape[1]} radiograph, ResNet-18 2D at {args.size}^2, CPU): "
        f"p50 {plain['wall_p50_seconds']:.3f} s at the client (goal <= {P50_GOAL_SECONDS:g} s): {verdict}"
    )
    report = {
        "benchmark": "predict",
        "machine": {
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
            "python": sys.version.split()[0],
            "platform": host.platform(),
        },
        "settings": {
            "cases": args.cases,
            "shape": list(args.shape),
            "size": args.size,
            "repeat": args.repeat,
            "seed": args.seed,
            "architecture": "resnet18",
            "epochs": 1,
        },
        "goals": {"p50_seconds": P50_GOAL_SECONDS},
        "model": {**asdict(model), "series": len(model.series)},
        "result": [latency.summary() for latency in passes],
        "calls": [asdict(latency) for latency in passes],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten to {args.out}")
    return 0 if plain["goal_met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
