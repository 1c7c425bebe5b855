"""Study query latency through the gateway with 10,000 instances stored.

    .venv/bin/python -m bench.query [--cases 625] [--slices 16] [--requests 200]

Generates small CT phantoms (cases x slices of 32x32; 625 x 16 = 10,000 instances), posts them straight
to a fresh strict-config Orthanc (concurrently, to fill it fast), starts the platform on it, and times
GET /api/v1/dicom/studies with typical filters, one request at a time, --requests times each (after a
few warm-up requests). Goal (the ingest issue): p95 under 100 ms. Results go to stdout and, as JSON,
to --out; a missed goal is reported as missed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform as host
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import pydicom

import radscholar_phantoms
from bench._platform import REPO_ROOT, platform_process
from radscholar_localstack.scratch_orthanc import Orthanc, running_orthanc

P95_GOAL_MS = 100.0
WARM_UP = 5


@dataclass
class Scenario:
    name: str
    params: dict[str, str]
    matched: int = 0  # total_size the gateway reported
    returned: int = 0  # studies on the page
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    mean_ms: float = 0.0
    max_ms: float = 0.0
    goal_met: bool = False


def percentile(sorted_ms: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted samples."""
    rank = max(1, min(len(sorted_ms), round(q / 100 * len(sorted_ms) + 0.5)))
    return sorted_ms[rank - 1]


def fill(orthanc: Orthanc, files: Sequence[Path], workers: int) -> float:
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    with orthanc.client(limits=limits) as client:

        def post(path: Path) -> None:
            answer = client.post("/instances", content=path.read_bytes(), headers={"Content-Type": "application/dicom"})
            answer.raise_for_status()

        start = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(post, files))
        return time.perf_counter() - start


def scenarios(client: httpx.Client, sample: pydicom.Dataset) -> list[Scenario]:
    """Typical filters; the patient and text come from a stored study, page 5 from the server's own tokens."""
    token = ""
    for _ in range(4):  # follow next_page_token from page 1 to page 5
        answer = client.get("/api/v1/dicom/studies", params={"page_token": token} if token else {})
        answer.raise_for_status()
        token = answer.json()["next_page_token"]
        if not token:
            raise RuntimeError("fewer than five pages of studies")
    word = str(sample.StudyDescription).split()[1].lower()  # e.g. "chest": a contained, lower-case word
    return [
        Scenario("no filter, page 1", {}),
        Scenario("modality=CT", {"modality": "CT"}),
        Scenario("patient_id", {"patient_id": str(sample.PatientID)}),
        Scenario(f"description '{word}'", {"description": word}),
        Scenario("date range (1 year)", {"study_date_from": "2022-01-01", "study_date_to": "2022-12-31"}),
        Scenario("no filter, page 5", {"page_token": token}),
        Scenario("site + body part", {"site": str(sample.InstitutionName), "body_part": "CHEST"}),
        Scenario("sorted by size", {"sort": "-size"}),
    ]


def run(client: httpx.Client, scenario: Scenario, requests: int) -> list[float]:
    for _ in range(WARM_UP):
        client.get("/api/v1/dicom/studies", params=scenario.params).raise_for_status()
    samples = []
    for _ in range(requests):
        start = time.perf_counter()
        answer = client.get("/api/v1/dicom/studies", params=scenario.params)
        samples.append((time.perf_counter() - start) * 1000)
        answer.raise_for_status()
    body: dict[str, Any] = answer.json()
    scenario.matched, scenario.returned = body["total_size"], len(body["studies"])
    ordered = sorted(samples)
    scenario.p50_ms = percentile(ordered, 50)
    scenario.p95_ms = percentile(ordered, 95)
    scenario.p99_ms = percentile(ordered, 99)
    scenario.mean_ms = statistics.fmean(ordered)
    scenario.max_ms = ordered[-1]
    scenario.goal_met = scenario.p95_ms < P95_GOAL_MS
    return samples


def table(results: Sequence[Scenario]) -> str:
    header = (
        f"{'query':<26} {'matched':>7} {'page':>4} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'mean ms':>7}"
        f"  p95 < {P95_GOAL_MS:.0f} ms"
    )
    lines = [header, "-" * len(header)]
    for s in results:
        lines.append(
            f"{s.name:<26} {s.matched:>7} {s.returned:>4} {s.p50_ms:>7.1f} {s.p95_ms:>7.1f} {s.p99_ms:>7.1f}"
            f" {s.mean_ms:>7.1f}  {'yes' if s.goal_met else 'NO'}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=625, help="CT studies (default 625)")
    parser.add_argument("--slices", type=int, default=16, help="instances per study (default 16)")
    parser.add_argument("--seed", type=int, default=20240602)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per query")
    parser.add_argument("--fill-workers", type=int, default=8, help="concurrent POSTs filling Orthanc")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "var/bench/query.json")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (phantoms, Orthanc)")
    args = parser.parse_args(argv)

    (REPO_ROOT / "var/bench").mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="query-", dir=REPO_ROOT / "var/bench"))
    try:
        started = time.perf_counter()
        radscholar_phantoms.generate("ct", args.cases, 2, args.seed, work / "phantoms", shape=(args.slices, 32, 32))
        files = sorted((work / "phantoms").rglob("*.dcm"))
        print(f"{len(files)} CT instances ({args.cases} studies) generated in {time.perf_counter() - started:.1f} s")
        sample = pydicom.dcmread(files[len(files) // 2], stop_before_pixels=True)
        with running_orthanc(work / "orthanc") as orthanc:
            seconds = fill(orthanc, files, args.fill_workers)
            held = orthanc.instance_count()
            print(f"Orthanc filled in {seconds:.1f} s ({len(files) / seconds:.0f} instances/s); it holds {held}")
            if held != len(files):
                raise RuntimeError(f"Orthanc holds {held} instances, {len(files)} were posted")
            with platform_process(orthanc, work / "platform") as gateway, gateway.client() as client:
                started = time.perf_counter()
                stats = client.get("/api/v1/dicom/statistics").json()
                while stats["instances"] < held:  # the catalog indexes Orthanc's change log at start-up
                    time.sleep(0.5)
                    stats = client.get("/api/v1/dicom/statistics").json()
                indexing = time.perf_counter() - started
                print(
                    f"catalog indexed {stats['studies']} studies, {stats['instances']} instances in {indexing:.1f} s "
                    f"({held / indexing:.0f} instances/s)\n"
                )
                results = scenarios(client, sample)
                for scenario in results:
                    run(client, scenario, args.requests)
                    print(f"  {scenario.name:<26} p95 {scenario.p95_ms:.1f} ms", flush=True)
        print()
        print(table(results))
        worst = max(results, key=lambda s: s.p95_ms)
        missed = [s.name for s in results if not s.goal_met]
        print()
        if missed:
            print(
                f"GOAL NOT MET: p95 >= {P95_GOAL_MS:.0f} ms for {len(missed)} of {len(results)} queries "
                f"({', '.join(missed)}); worst p95 {worst.p95_ms:.1f} ms ({worst.name})"
            )
        else:
            print(f"goal met: every p95 < {P95_GOAL_MS:.0f} ms (worst {worst.p95_ms:.1f} ms, {worst.name})")
        report = {
            "benchmark": "query",
            "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "platform": host.platform()},
            "store": {"instances": held, "studies": stats["studies"], "cases": args.cases, "slices": args.slices},
            "catalog_indexing_seconds": indexing,
            "settings": {"requests": args.requests, "warm_up": WARM_UP, "concurrency": 1},
            "goal": {"p95_ms_below": P95_GOAL_MS, "met": not missed},
            "results": [asdict(s) for s in results],
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
