"""Radiomics extraction: pyradiomics called directly vs the platform, per region and as a Ray batch.

    .venv/bin/python -m bench.radiomics [--regions 20] [--preset ct] [--repeat 3] [--batch-preset comprehensive]

Generates CT phantoms with ground-truth lesion masks (whole cases, at least --regions lesions), writes each series
as NIfTI, and measures in one run, on the same regions:

1. Per region, pyradiomics directly vs the service: `extractor.execute(image, mask, label)` in this process, with
   one extractor built from the settings beforehand (both ways without pyradiomics' diagnostics_* entries, which
   the platform neither returns nor computes), against `Client.extract_features` (upload of image and mask,
   staging, gRPC, the same pyradiomics call, the answer), the paths taking turns, the median of --repeat runs per
   region kept. Goal: service overhead at most 10 % per region.
2. The batch: sequential pyradiomics over every region (one after another, in this process) against the platform's
   batch job on a Ray head with --workers CPUs (one task per region), timed from submission to the finished table.
   Goal: at least 1.7x with 2 workers. The driver's own extraction time (first task to last) is reported too, and
   so is the machine's ceiling: pyradiomics alone on --workers warm processes (forked from this one, extractor
   built, one SimpleITK thread each as in the batch's tasks, largest region first), which no batch of that many
   workers can beat here. Last, the floor of any batch run as a Ray job on this head: a job whose driver only runs
   one empty task per worker, from submission to those tasks' end (the worker processes started), best of 3. The
   ceiling plus that floor bounds from below what any Ray batch takes here, so sequential / (ceiling + floor)
   bounds its speed-up.

Both ways must give the same feature values. Results go to stdout and, as JSON, to --out.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform as host
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

import pandas as pd
import SimpleITK as sitk
import yaml
from radiomics import __version__ as pyradiomics_version
from radiomics.featureextractor import RadiomicsFeatureExtractor

import radscholar_phantoms
from bench._platform import REPO_ROOT, platform_process
from radscholar import Client
from radscholar_core.ray_jobs import RAY_ENDED, RayJobs
from radscholar_core.testing import free_port
from radscholar_localstack.ray_head import ray_head_url, running_ray_head
from radscholar_localstack.scratch_orthanc import running_orthanc
from radscholar_radiomics.domain import extraction  # noqa: F401  pyradiomics' logging as the service sets it
from radscholar_radiomics.domain.settings import presets

T = TypeVar("T")
OVERHEAD_GOAL = 0.10
BATCH_SPEEDUP_GOAL = 1.7


@dataclass(frozen=True)
class Region:
    image: Path
    mask: Path
    label: int


@dataclass
class Result:
    regions: int
    features_per_region: int
    direct_seconds: float  # sum over regions of each region's median
    service_seconds: float
    overhead: float  # service / direct - 1
    extractor_seconds: float  # building one pyradiomics extractor from the settings (median of 5)
    overhead_if_built_per_region: float  # against a direct call that builds its extractor each region
    direct_features_per_s: float
    service_features_per_s: float
    goal_met: bool
    identical_values: bool


@dataclass
class BatchResult:
    regions: int
    features_per_region: int
    workers: int
    sequential_seconds: float  # pyradiomics, one region after another
    batch_seconds: float  # the Ray job, from submission to its finished feature table
    extraction_seconds: float  # the driver's: from the first region task submitted to the last one done
    speedup: float  # sequential / batch
    extraction_speedup: float  # sequential / extraction
    ceiling_seconds: float  # pyradiomics alone on `workers` warm processes
    ceiling_speedup: float  # sequential / ceiling: the most any batch of `workers` workers reaches here
    empty_job_seconds: float  # a Ray job's driver running one empty task per worker, from submission (best of 3)
    bound_speedup: float  # sequential / (ceiling + empty job): the most any batch run as a Ray job reaches here
    sequential_features_per_s: float
    batch_features_per_s: float
    goal_met: bool
    identical_values: bool


def busy_fraction(seconds: float = 1.0) -> float:
    """The machine's share of CPU time not idle over the next ``seconds`` (Linux /proc/stat)."""

    def times() -> list[int]:
        return [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]

    before = times()
    time.sleep(seconds)
    spent = [b - a for a, b in zip(before, times(), strict=True)]
    idle = spent[3] + spent[4]  # idle and iowait
    return 1 - idle / max(1, sum(spent))


def settle(busy: float = 0.15, timeout: float = 60) -> None:
    """Waits until the machine is at most ``busy`` busy over a second (or ``timeout`` passed)."""
    deadline = time.monotonic() + timeout
    while busy_fraction() > busy and time.monotonic() < deadline:
        pass


def make_regions(out: Path, count: int, seed: int) -> list[Region]:
    """At least `count` lesions of CT phantoms: each series as NIfTI, with its ground-truth label map."""
    regions: list[Region] = []
    cases = 0
    while len(regions) < count:
        cases += 4
        manifest = radscholar_phantoms.generate("ct", cases, 2, seed, out / f"ct-{cases}")
        assert manifest.root is not None
        regions = []
        for case in json.loads((manifest.root / "manifest.json").read_text())["cases"]:
            for series in case["series"]:
                reader = sitk.ImageSeriesReader()
                files = sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(manifest.root / series["path"]))
                reader.SetFileNames(files)
                image = manifest.root / f"{series['series_instance_uid']}.nii.gz"
                sitk.WriteImage(reader.Execute(), str(image))
                mask = manifest.root / series["mask"]
                regions += [Region(image, mask, lesion["lesion_id"]) for lesion in series["lesions"]]
    return regions  # whole cases: a batch extracts every lesion of each mask


def pyradiomics(params: dict[str, object]) -> RadiomicsFeatureExtractor:
    """pyradiomics as the service runs it: without the diagnostics_* entries (image hashes and the like), which
    the platform neither returns nor computes, so that both ways do the same work."""
    extractor = RadiomicsFeatureExtractor(params)
    extractor.addProvenance(False)
    return extractor


def timed_medians(runs: Sequence[Callable[[], T]], repeat: int) -> list[tuple[float, T]]:
    """Each run's median seconds and last answer, the runs taking turns (so that drift hits them alike)."""
    seconds: list[list[float]] = [[] for _ in runs]
    answers: list[T] = []
    for _ in range(repeat):
        answers = []
        for index, run in enumerate(runs):
            started = time.perf_counter()
            answers.append(run())
            seconds[index].append(time.perf_counter() - started)
    return [(statistics.median(taken), answer) for taken, answer in zip(seconds, answers, strict=True)]


def measure(regions: Sequence[Region], settings_yaml: str, preset: str, client: Client, repeat: int) -> Result:
    params = yaml.safe_load(settings_yaml)
    extractor = pyradiomics(params)  # built once, as the service checks settings once
    direct_total = service_total = 0.0
    identical, features = True, 0
    for index, region in enumerate(regions, start=1):

        def direct(region: Region = region) -> dict[str, float]:
            answer = extractor.execute(str(region.image), str(region.mask), label=region.label)
            return {k: float(v) for k, v in answer.items()}

        def service(region: Region = region) -> dict[str, float]:
            answer = client.extract_features(region.image, region.mask, preset=preset, label=region.label)
            return {f["name"]: f["value"] for f in answer["features"]}

        (direct_seconds, direct_values), (service_seconds, service_values) = timed_medians([direct, service], repeat)
        identical &= direct_values == service_values
        features = len(direct_values)
        direct_total += direct_seconds
        service_total += service_seconds
        print(
            f"  region {index:2d}/{len(regions)}  direct {direct_seconds:6.3f} s  service {service_seconds:6.3f} s"
            f"  ({service_seconds / direct_seconds - 1:+.1%})",
            flush=True,
        )
    overhead = service_total / direct_total - 1
    [(building, _)] = timed_medians([lambda: pyradiomics(params)], 5)
    return Result(
        regions=len(regions),
        features_per_region=features,
        direct_seconds=direct_total,
        service_seconds=service_total,
        overhead=overhead,
        extractor_seconds=building,
        overhead_if_built_per_region=service_total / (direct_total + building * len(regions)) - 1,
        direct_features_per_s=features * len(regions) / direct_total,
        service_features_per_s=features * len(regions) / service_total,
        goal_met=overhead <= OVERHEAD_GOAL,
        identical_values=identical,
    )


_extractor: RadiomicsFeatureExtractor | None = None  # in a process of `on_warm_processes`


def _extract_in_process(region: Region) -> dict[str, float]:
    assert _extractor is not None
    answer = _extractor.execute(str(region.image), str(region.mask), label=region.label)
    return {k: float(v) for k, v in answer.items()}


def _one_thread() -> None:
    # One CPU a process, as the batch's region tasks run (SimpleITK's default, a thread per CPU in each process,
    # oversubscribes the machine: on 2 CPUs that made this ceiling about 12 % lower).
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)


def on_warm_processes(regions: Sequence[Region], extractor: RadiomicsFeatureExtractor, workers: int) -> float:
    """Seconds for pyradiomics alone over `regions` on `workers` processes forked with `extractor` built (nothing
    to import or start), each on one thread, the largest region first: the ceiling of any batch of `workers`
    workers on this machine."""
    global _extractor
    _extractor = extractor
    largest_first = sorted(
        regions, key=lambda r: -int((sitk.GetArrayViewFromImage(sitk.ReadImage(r.mask)) == r.label).sum())
    )
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_one_thread) as pool:
        list(pool.map(_extract_in_process, largest_first[:workers]))  # every process started
        settle()
        started = time.perf_counter()
        list(pool.map(_extract_in_process, largest_first))
        return time.perf_counter() - started


_EMPTY_DRIVER = (
    "import ray, time; ray.init(); task = ray.remote(num_cpus=1)(lambda: None); "
    'ray.get([task.remote() for _ in range({workers})]); print("tasks done at", time.time())'
)


def empty_ray_job(ray_url: str, workers: int) -> float:
    """Seconds from submitting a Ray job to its driver having run one empty task per worker, through the platform's
    own Jobs API client and environment: Ray's job supervisor, the driver's start and `ray.init`, and `workers` worker
    processes, which every batch job pays before its extraction. (The driver's exit is left out: the service
    finishes a batch on its driver's last line.)"""
    jobs = RayJobs(ray_url)
    entrypoint = f"{sys.executable} -c '{_EMPTY_DRIVER.format(workers=workers)}'"
    job_id = f"bench-empty-{uuid.uuid4().hex[:12]}"
    submitted = time.time()  # the driver's clock is this machine's
    jobs.submit(job_id, entrypoint, {})
    deadline = time.monotonic() + 120
    while (state := jobs.state(job_id).status) not in RAY_ENDED:
        if time.monotonic() > deadline:
            jobs.stop(job_id)
            raise RuntimeError(f"the empty Ray job has not ended in 120 s: {jobs.logs(job_id)}")
        time.sleep(0.1)
    logs = jobs.logs(job_id)
    if state != "SUCCEEDED":
        raise RuntimeError(f"the empty Ray job ended {state}: {logs}")
    return float(logs.rpartition("tasks done at ")[2].split()[0]) - submitted


def measure_batch(
    regions: Sequence[Region], settings_yaml: str, preset: str, client: Client, workers: int, ray_url: str
) -> BatchResult:
    extractor = pyradiomics(yaml.safe_load(settings_yaml))
    sequential: dict[tuple[str, int], dict[str, float]] = {}
    started = time.perf_counter()
    for region in regions:
        answer = extractor.execute(str(region.image), str(region.mask), label=region.label)
        key = (region.image.name.removesuffix(".nii.gz"), region.label)
        sequential[key] = {k: float(v) for k, v in answer.items()}
    sequential_seconds = time.perf_counter() - started
    print(f"  sequential pyradiomics: {len(regions)} regions in {sequential_seconds:.1f} s", flush=True)
    ceiling_seconds = on_warm_processes(regions, extractor, workers)
    print(
        f"  pyradiomics alone on {workers} warm processes: {ceiling_seconds:.1f} s "
        f"({sequential_seconds / ceiling_seconds:.2f}x, the ceiling)",
        flush=True,
    )
    settle()
    pairs = list(dict.fromkeys((region.image, region.mask) for region in regions))
    started = time.perf_counter()
    job = client.start_extraction_job_on_pairs(pairs, preset=preset, regions="label")["job"]
    job = client.wait_for_radiomics_job(job["id"])
    batch_seconds = time.perf_counter() - started
    if job["state"] != "SUCCEEDED":
        raise RuntimeError(f"the batch job ended {job['state']}: {job.get('error')}")
    extraction_seconds = float(job["result"]["extraction_seconds"])
    print(f"  Ray batch ({workers} workers): {batch_seconds:.1f} s, of which extraction {extraction_seconds:.1f} s")
    empty_job_seconds = min(empty_ray_job(ray_url, workers) for _ in range(3))  # a floor: its best
    bound_speedup = sequential_seconds / (ceiling_seconds + empty_job_seconds)
    print(
        f"  an empty Ray job ({workers} empty tasks): {empty_job_seconds:.2f} s; no Ray batch beats "
        f"{ceiling_seconds + empty_job_seconds:.1f} s here ({bound_speedup:.2f}x)",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as folder:
        table = pd.read_parquet(client.download_feature_table(job["id"], Path(folder) / "features.parquet"))
    batch = {(row["case_id"], int(row["mask_label"])): row for row in table.to_dict("records")}
    identical = set(batch) == set(sequential) and all(
        all(batch[key][name] == value for name, value in values.items()) for key, values in sequential.items()
    )
    features = len(next(iter(sequential.values())))
    return BatchResult(
        regions=len(regions),
        features_per_region=features,
        workers=workers,
        sequential_seconds=sequential_seconds,
        batch_seconds=batch_seconds,
        extraction_seconds=extraction_seconds,
        speedup=sequential_seconds / batch_seconds,
        extraction_speedup=sequential_seconds / extraction_seconds,
        ceiling_seconds=ceiling_seconds,
        ceiling_speedup=sequential_seconds / ceiling_seconds,
        empty_job_seconds=empty_job_seconds,
        bound_speedup=bound_speedup,
        sequential_features_per_s=features * len(regions) / sequential_seconds,
        batch_features_per_s=features * len(regions) / batch_seconds,
        goal_met=sequential_seconds / batch_seconds >= BATCH_SPEEDUP_GOAL,
        identical_values=identical,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--regions", type=int, default=20)
    parser.add_argument("--preset", default="ct", help="a built-in preset (default ct)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per region and path; the median is kept")
    parser.add_argument("--seed", type=int, default=20240607)
    parser.add_argument("--batch-preset", default="comprehensive", help="the batch half's preset")
    parser.add_argument("--workers", type=int, default=2, help="CPUs of the Ray head (one region task each)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "var/bench/radiomics.json")
    args = parser.parse_args(argv)
    settings_yaml = next(p.settings_yaml for p in presets() if p.id == args.preset)
    batch_yaml = next(p.settings_yaml for p in presets() if p.id == args.batch_preset)

    (REPO_ROOT / "var/bench").mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="radiomics-", dir=REPO_ROOT / "var/bench"))
    try:
        regions = make_regions(work / "phantoms", args.regions, args.seed)
        print(f"{len(regions)} regions of interest; preset {args.preset}; {os.cpu_count()} CPUs", flush=True)
        ray_port = free_port()  # the Ray head starts for the batch: per region, its idle load (6 % of a CPU) is noise
        with (
            running_orthanc(work / "orthanc") as orthanc,
            platform_process(orthanc, work / "platform", ray_head_url(ray_port)) as gateway,
            Client(gateway.url, token=gateway.token) as client,
        ):
            result = measure(regions, settings_yaml, args.preset, client, args.repeat)
            print(f"\nbatch: preset {args.batch_preset}", flush=True)
            with running_ray_head(ray_port, num_cpus=args.workers) as ray_url:
                settle()  # as on a head that was already up: its dozen processes start for seconds after it answers
                batch = measure_batch(regions, batch_yaml, args.batch_preset, client, args.workers, ray_url)
        print()
        print(
            f"{result.regions} regions x {result.features_per_region} features: direct {result.direct_seconds:.2f} s "
            f"({result.direct_features_per_s:.0f} features/s), service {result.service_seconds:.2f} s "
            f"({result.service_features_per_s:.0f} features/s)"
        )
        verdict = "MET" if result.goal_met else "NOT MET"
        print(f"service overhead per region {result.overhead:+.1%} (goal <= {OVERHEAD_GOAL:.0%}): {verdict}")
        print(
            f"  (building an extractor takes {result.extractor_seconds * 1e3:.0f} ms: against a direct call that "
            f"builds one per region, the overhead is {result.overhead_if_built_per_region:+.1%})"
        )
        print(f"same values both ways: {'yes' if result.identical_values else 'NO'}")
        print(
            f"batch of {batch.regions} regions x {batch.features_per_region} features: sequential "
            f"{batch.sequential_seconds:.1f} s ({batch.sequential_features_per_s:.0f} features/s), Ray on "
            f"{batch.workers} workers {batch.batch_seconds:.1f} s ({batch.batch_features_per_s:.0f} features/s)"
        )
        verdict = "MET" if batch.goal_met else "NOT MET"
        print(
            f"batch speed-up {batch.speedup:.2f}x (goal >= {BATCH_SPEEDUP_GOAL}x): {verdict}; extraction alone "
            f"{batch.extraction_speedup:.2f}x; same values: {'yes' if batch.identical_values else 'NO'}"
        )
        print(
            f"  the machine's ceiling for {batch.workers} workers (pyradiomics alone on {batch.workers} warm "
            f"processes): {batch.ceiling_speedup:.2f}x; the batch reaches "
            f"{batch.speedup / batch.ceiling_speedup:.0%} of it"
        )
        print(
            f"  an empty Ray job takes {batch.empty_job_seconds:.2f} s here: with it, the most any batch run as a Ray "
            f"job reaches is {batch.bound_speedup:.2f}x; the batch reaches {batch.speedup / batch.bound_speedup:.0%}"
        )
        report = {
            "benchmark": "radiomics",
            "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "platform": host.platform()},
            "pyradiomics": pyradiomics_version,
            "settings": {"preset": args.preset, "regions": args.regions, "repeat": args.repeat, "seed": args.seed},
            "goals": {"service_overhead": OVERHEAD_GOAL, "batch_speedup": BATCH_SPEEDUP_GOAL},
            "result": asdict(result),
            "batch": {"preset": args.batch_preset, **asdict(batch)},
        }
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nwritten to {args.out}")
        return 0 if result.identical_values and batch.identical_values else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
