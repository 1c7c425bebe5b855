"""Ingest throughput: the gateway's upload, C-STORE and Orthanc's own REST API, on the same files.

    .venv/bin/python -m bench.ingest [--cases 10] [--workers 4] [--batch 32] [--associations 1 4]

Generates CT phantoms once (cases x 64 slices), then stores them into a fresh strict-config Orthanc per
run and times each run from its first request to its last answer; every path runs --repeat times (the
paths taking turns) and the median run is reported:

- direct:   POST /instances to Orthanc's REST API (httpx, keep-alive, --workers threads);
- gateway:  POST /api/v1/dicom/uploads on the real gateway (multipart batches of --batch files,
            --workers concurrent requests), which stages each file and has the DICOM store post it;
- c-store:  pynetdicom C-STORE to Orthanc's DICOM port with TCP_NODELAY, over 1 or N associations.
- bare proxy (--bare-proxy): the same uploads to a Python app that only parses them and posts each file to
            Orthanc: the ceiling of any Python gateway on this machine, for reading the gateway's figure.

After each run Orthanc must hold exactly the N instances sent. Goals (the ingest issue): gateway at least
0.8x direct; C-STORE at least 150 instances/s. Results go to stdout and, as JSON, to --out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform as host
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import pydicom
from pynetdicom import AE, _config
from pynetdicom.sop_class import CTImageStorage
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import radscholar_phantoms
from bench._platform import REPO_ROOT, platform_process, served
from radscholar_localstack.scratch_orthanc import Orthanc, running_orthanc

GATEWAY_RATIO_GOAL = 0.8
CSTORE_GOAL = 150.0
BENCH_AET = "BENCH"


@dataclass(frozen=True)
class DicomFile:
    path: Path
    data: bytes
    sop_instance_uid: str


@dataclass
class Result:
    path: str
    instances: int
    seconds: float  # the median run
    instances_per_s: float  # of the median run
    runs_seconds: list[float]  # every run, in order
    ratio_to_direct: float | None = None
    goal: str = ""
    goal_met: bool | None = None
    verified: bool = False
    notes: str = ""


class NoDelayAE(AE):
    """An AE whose association sockets set TCP_NODELAY (without it C-STORE crawls at ~11 instances/s)."""

    def __init__(self, *args: Any, nodelay: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.nodelay = nodelay

    def _create_socket(self, assoc: Any, address: Any, tls_args: Any) -> Any:
        wrapped = super()._create_socket(assoc, address, tls_args)
        if self.nodelay:
            wrapped.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return wrapped


def load_files(root: Path) -> list[DicomFile]:
    files = []
    for path in sorted(root.rglob("*.dcm")):
        header = pydicom.dcmread(path, stop_before_pixels=True)
        files.append(DicomFile(path, path.read_bytes(), str(header.SOPInstanceUID)))
    return files


def chunks(items: Sequence[DicomFile], size: int) -> list[Sequence[DicomFile]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def timed(run: Callable[[], None]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def run_direct(orthanc: Orthanc, files: Sequence[DicomFile], workers: int) -> float:
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    with orthanc.client(limits=limits) as client:
        client.get("/system").raise_for_status()  # warm the connection pool's first connection

        def post(item: DicomFile) -> None:
            answer = client.post("/instances", content=item.data, headers={"Content-Type": "application/dicom"})
            answer.raise_for_status()
            if answer.json().get("Status") != "Success":
                raise RuntimeError(f"Orthanc did not store {item.path.name}: {answer.text[:200]}")

        def run() -> None:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(post, files))

        return timed(run)


def run_gateway(orthanc: Orthanc, files: Sequence[DicomFile], workers: int, batch: int, data_dir: Path) -> float:
    with platform_process(orthanc, data_dir) as gateway, gateway.client() as client:
        # Warm up the gateway -> DICOM store channel with a file that is rejected (stores nothing).
        warm = client.post("/api/v1/dicom/uploads", files=[("files", ("warm-up.txt", b"not dicom", "text/plain"))])
        warm.raise_for_status()
        if warm.json()["rejected"] != 1:
            raise RuntimeError(f"warm-up upload: {warm.text[:300]}")

        def post(group: Sequence[DicomFile]) -> None:
            parts = [("files", (item.path.name, item.data, "application/dicom")) for item in group]
            answer = client.post("/api/v1/dicom/uploads", files=parts)
            if answer.is_error:
                raise RuntimeError(f"the gateway answered {answer.status_code}: {answer.text[:500]}")
            report = answer.json()
            if report["stored"] != len(group):
                raise RuntimeError(f"the gateway stored {report['stored']} of {len(group)}: {answer.text[:500]}")

        def run() -> None:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(post, chunks(files, batch)))

        return timed(run)


def bare_proxy(orthanc: Orthanc) -> Starlette:
    """The least a Python gateway can do: parse the multipart upload and post each file to Orthanc (no sign-in,
    no checks, no staging, no catalog). A reference ceiling for the gateway path, not a product path."""
    client = httpx.AsyncClient(
        base_url=orthanc.url, auth=(orthanc.username, orthanc.password), limits=httpx.Limits(max_connections=8)
    )

    async def upload(request: Request) -> JSONResponse:
        form = await request.form()
        parallel = asyncio.Semaphore(4)

        async def post(file: Any) -> None:
            async with parallel:
                answer = await client.post(
                    "/instances", content=await file.read(), headers={"Content-Type": "application/dicom"}
                )
                answer.raise_for_status()

        parts = form.getlist("files")
        await asyncio.gather(*(post(part) for part in parts))
        return JSONResponse({"stored": len(parts)})

    return Starlette(routes=[Route("/api/v1/dicom/uploads", upload, methods=["POST"])])


def run_bare_proxy(orthanc: Orthanc, files: Sequence[DicomFile], workers: int, batch: int) -> float:
    with served(bare_proxy(orthanc)) as url, httpx.Client(base_url=url, timeout=60) as client:

        def post(group: Sequence[DicomFile]) -> None:
            parts = [("files", (item.path.name, item.data, "application/dicom")) for item in group]
            answer = client.post("/api/v1/dicom/uploads", files=parts)
            answer.raise_for_status()

        def run() -> None:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(post, chunks(files, batch)))

        return timed(run)


def register_bench_modality(orthanc: Orthanc) -> None:
    """The strict config refuses unknown AEs: register ours (kept in Orthanc's database)."""
    with orthanc.client() as client:
        answer = client.put("/modalities/BENCH", json={"AET": BENCH_AET, "Host": "127.0.0.1", "Port": 11112})
        answer.raise_for_status()


def run_cstore(orthanc: Orthanc, files: Sequence[DicomFile], associations: int, nodelay: bool) -> float:
    register_bench_modality(orthanc)
    transfer_syntax = pydicom.dcmread(files[0].path, stop_before_pixels=True).file_meta.TransferSyntaxUID
    ae = NoDelayAE(ae_title=BENCH_AET, nodelay=nodelay)
    ae.network_timeout = 60
    ae.acse_timeout = 30
    ae.dimse_timeout = 60
    ae.maximum_pdu_size = 0
    ae.add_requested_context(CTImageStorage, [str(transfer_syntax)])
    shares = [files[i::associations] for i in range(associations)]
    failures: list[str] = []
    lock = threading.Lock()

    def send(share: Sequence[DicomFile]) -> None:
        assoc = ae.associate("127.0.0.1", orthanc.dicom_port, ae_title=orthanc.aet)
        if not assoc.is_established:
            with lock:
                failures.append("association refused or aborted")
            return
        try:
            for item in share:
                status = assoc.send_c_store(item.path)  # raw bytes: STORE_SEND_CHUNKED_DATASET
                if not status or status.Status != 0x0000:
                    with lock:
                        failures.append(f"{item.path.name}: {status.Status if status else 'no answer'}")
        finally:
            assoc.release()

    def run() -> None:
        threads = [threading.Thread(target=send, args=(share,)) for share in shares]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    seconds = timed(run)
    if failures:
        raise RuntimeError(f"C-STORE failed for {len(failures)} instance(s), first: {failures[:3]}")
    return seconds


def verify(orthanc: Orthanc, files: Sequence[DicomFile]) -> None:
    """Orthanc holds exactly these instances: the count, and every SOP Instance UID once."""
    held = orthanc.instance_count()
    if held != len(files):
        raise RuntimeError(f"Orthanc holds {held} instances, {len(files)} were sent")
    with orthanc.client() as client:
        answer = client.post("/tools/find", json={"Level": "Instance", "Query": {}, "Expand": True})
        answer.raise_for_status()
        uids = sorted(i["MainDicomTags"]["SOPInstanceUID"] for i in answer.json())
    if uids != sorted(f.sop_instance_uid for f in files):
        raise RuntimeError("Orthanc holds a different set of SOP Instance UIDs than was sent")


@dataclass(frozen=True)
class PathRun:
    name: str
    run: Callable[[Orthanc, Path], float]
    notes: str


def measure(files: Sequence[DicomFile], work: Path, runs: Sequence[PathRun], repeat: int) -> list[Result]:
    """Each path `repeat` times, the paths taking turns (so drift hits them alike), each run on a fresh Orthanc."""
    seconds: dict[str, list[float]] = {path_run.name: [] for path_run in runs}
    for round_ in range(repeat):
        for index, path_run in enumerate(runs):
            folder = work / f"round-{round_}-{index}"
            with running_orthanc(folder / "orthanc") as orthanc:
                if orthanc.instance_count() != 0:
                    raise RuntimeError("a fresh Orthanc is not empty")
                took = path_run.run(orthanc, folder / "platform")
                verify(orthanc, files)
            shutil.rmtree(folder, ignore_errors=True)
            os.sync()  # the next run starts on a quiet disk, not behind this one's writes and deletes
            seconds[path_run.name].append(took)
            print(
                f"  round {round_ + 1}/{repeat}  {path_run.name:<28} {len(files)} instances in {took:6.2f} s"
                f"  ({len(files) / took:6.1f}/s, verified)",
                flush=True,
            )
    results = []
    for path_run in runs:
        median = statistics.median_low(seconds[path_run.name])
        results.append(
            Result(
                path_run.name,
                len(files),
                median,
                len(files) / median,
                seconds[path_run.name],
                verified=True,
                notes=path_run.notes,
            )
        )
    return results


def judge(results: list[Result]) -> None:
    direct = next(r for r in results if r.path == "direct")
    for result in results:
        result.ratio_to_direct = result.instances_per_s / direct.instances_per_s
        if result.path == "gateway":
            result.goal = f">= {GATEWAY_RATIO_GOAL}x direct"
            result.goal_met = result.ratio_to_direct >= GATEWAY_RATIO_GOAL
        elif result.path.startswith("c-store") and "no TCP_NODELAY" not in result.path:
            result.goal = f">= {CSTORE_GOAL:.0f} instances/s"
            result.goal_met = result.instances_per_s >= CSTORE_GOAL


def table(results: Sequence[Result]) -> str:
    header = (
        f"{'path':<28} {'instances':>9} {'seconds':>8} {'inst/s':>8} {'x direct':>8}  {'goal':<20} {'met':<4}"
        " inst/s of each run"
    )
    lines = [header, "-" * len(header)]
    for r in results:
        met = "-" if r.goal_met is None else ("yes" if r.goal_met else "NO")
        ratio = f"{r.ratio_to_direct:.2f}" if r.ratio_to_direct is not None else "-"
        lines.append(
            f"{r.path:<28} {r.instances:>9} {r.seconds:>8.2f} {r.instances_per_s:>8.1f} {ratio:>8}"
            f"  {r.goal:<20} {met:<4} {' '.join(f'{r.instances / s:.0f}' for s in r.runs_seconds)}"
        )
    return "\n".join(lines)


def orthanc_version() -> str:
    with tempfile.TemporaryDirectory() as scratch, running_orthanc(Path(scratch)) as orthanc, orthanc.client() as c:
        return str(c.get("/system").json().get("Version", "?"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=10, help="CT phantom studies of 64 slices each (default 10)")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--workers", type=int, default=4, help="concurrent HTTP requests (direct and gateway)")
    parser.add_argument("--batch", type=int, default=32, help="files per gateway upload request")
    parser.add_argument(
        "--associations", type=int, nargs="+", default=[1, 4], help="C-STORE runs: parallel associations in each"
    )
    parser.add_argument(
        "--cstore-without-nodelay", action="store_true", help="also time one association without TCP_NODELAY"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each path; the median is reported")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "var/bench/ingest.json")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (phantoms, Orthanc logs)")
    parser.add_argument(
        "--bare-proxy", action="store_true", help="also time a bare Python proxy: the ceiling of any Python gateway"
    )
    args = parser.parse_args(argv)

    logging.getLogger("pynetdicom").setLevel(logging.WARNING)
    _config.STORE_SEND_CHUNKED_DATASET = True  # send each file's bytes as they are, as the HTTP paths do

    (REPO_ROOT / "var/bench").mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="ingest-", dir=REPO_ROOT / "var/bench"))
    try:
        started = time.perf_counter()
        radscholar_phantoms.generate("ct", args.cases, 2, args.seed, work / "phantoms")
        files = load_files(work / "phantoms")
        size = sum(len(f.data) for f in files)
        print(
            f"{len(files)} CT instances ({args.cases} cases, {size / 1e6:.1f} MB) generated in "
            f"{time.perf_counter() - started:.1f} s; {os.cpu_count()} CPUs",
            flush=True,
        )
        runs = [
            PathRun("direct", lambda o, _: run_direct(o, files, args.workers), f"{args.workers} workers, keep-alive"),
            PathRun(
                "gateway",
                lambda o, d: run_gateway(o, files, args.workers, args.batch, d),
                f"{args.workers} concurrent uploads of {args.batch} files",
            ),
        ]
        if args.bare_proxy:
            runs.append(
                PathRun(
                    "bare proxy (reference)",
                    lambda o, _: run_bare_proxy(o, files, args.workers, args.batch),
                    "multipart parsed and each file posted to Orthanc: no sign-in, checks, staging or catalog",
                )
            )
        for count in args.associations:
            runs.append(
                PathRun(
                    f"c-store x{count}",
                    lambda o, _, n=count: run_cstore(o, files, n, nodelay=True),  # type: ignore[misc]
                    f"{count} association(s), TCP_NODELAY",
                )
            )
        if args.cstore_without_nodelay:
            runs.append(
                PathRun(
                    "c-store x1 no TCP_NODELAY",
                    lambda o, _: run_cstore(o, files, 1, nodelay=False),
                    "client socket without TCP_NODELAY",
                )
            )
        results = measure(files, work, runs, args.repeat)
        judge(results)
        print()
        print(table(results))
        gateway = next(r for r in results if r.path == "gateway")
        print()
        print(
            f"gateway / direct = {gateway.ratio_to_direct:.2f} (goal >= {GATEWAY_RATIO_GOAL}): "
            + ("MET" if gateway.goal_met else "NOT MET")
        )
        for r in results:
            if r.goal_met is not None and r.path.startswith("c-store"):
                verdict = "MET" if r.goal_met else "NOT MET"
                print(f"{r.path}: {r.instances_per_s:.1f} instances/s (goal >= {CSTORE_GOAL:.0f}): {verdict}")
        report = {
            "benchmark": "ingest",
            "machine": {
                "cpus": os.cpu_count(),
                "python": sys.version.split()[0],
                "platform": host.platform(),
                "orthanc": orthanc_version(),
            },
            "files": {"instances": len(files), "cases": args.cases, "bytes": size, "seed": args.seed},
            "settings": {
                "workers": args.workers,
                "batch": args.batch,
                "associations": args.associations,
                "repeat": args.repeat,
            },
            "goals": {"gateway_ratio_to_direct": GATEWAY_RATIO_GOAL, "cstore_instances_per_s": CSTORE_GOAL},
            "results": [asdict(r) for r in results],
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nwritten to {args.out}")
        return 0
    finally:
        if args.keep:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
