"""Radiomics extraction: pyradiomics called directly vs the platform's service (through the gateway), per region.

    .venv/bin/python -m bench.radiomics [--regions 20] [--preset ct] [--repeat 3]

Generates CT phantoms with ground-truth lesion masks, writes each series as NIfTI, and extracts every
lesion (a region of interest) both ways with the same settings, the paths taking turns; the median of
--repeat runs per region is kept. Direct: `RadiomicsFeatureExtractor(settings).execute(image, mask,
label)` in this process. Service: `Client.extract_features` (upload of image and mask, staging, gRPC,
the same pyradiomics call, the answer). Both must give the same feature values. Goal (the radiomics
issue): service overhead at most 10 % per region. Results go to stdout and, as JSON, to --out.
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
from dataclasses import asdict, dataclass
from pathlib import Path

import SimpleITK as sitk
import yaml
from radiomics import __version__ as pyradiomics_version
from radiomics.featureextractor import RadiomicsFeatureExtractor

import radscholar_phantoms
from bench._platform import REPO_ROOT, platform_process
from radscholar import Client
from radscholar_localstack.scratch_orthanc import running_orthanc
from radscholar_radiomics.domain.settings import presets

OVERHEAD_GOAL = 0.10


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
    direct_features_per_s: float
    service_features_per_s: float
    goal_met: bool
    identical_values: bool


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
    return regions[:count]


def timed_median(run: object, repeat: int) -> tuple[float, dict[str, float]]:
    seconds, values = [], {}
    for _ in range(repeat):
        started = time.perf_counter()
        values = run()  # type: ignore[operator]
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), values


def measure(regions: Sequence[Region], settings_yaml: str, preset: str, client: Client, repeat: int) -> Result:
    params = yaml.safe_load(settings_yaml)
    direct_total = service_total = 0.0
    identical, features = True, 0
    for index, region in enumerate(regions, start=1):

        def direct(region: Region = region) -> dict[str, float]:
            answer = RadiomicsFeatureExtractor(params).execute(str(region.image), str(region.mask), label=region.label)
            return {k: float(v) for k, v in answer.items() if not k.startswith("diagnostics_")}

        def service(region: Region = region) -> dict[str, float]:
            answer = client.extract_features(region.image, region.mask, preset=preset, label=region.label)
            return {f["name"]: f["value"] for f in answer["features"]}

        direct_seconds, direct_values = timed_median(direct, repeat)
        service_seconds, service_values = timed_median(service, repeat)
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
    return Result(
        regions=len(regions),
        features_per_region=features,
        direct_seconds=direct_total,
        service_seconds=service_total,
        overhead=overhead,
        direct_features_per_s=features * len(regions) / direct_total,
        service_features_per_s=features * len(regions) / service_total,
        goal_met=overhead <= OVERHEAD_GOAL,
        identical_values=identical,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--regions", type=int, default=20)
    parser.add_argument("--preset", default="ct", help="a built-in preset (default ct)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per region and path; the median is kept")
    parser.add_argument("--seed", type=int, default=20240607)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "var/bench/radiomics.json")
    args = parser.parse_args(argv)
    settings_yaml = next(p.settings_yaml for p in presets() if p.id == args.preset)

    (REPO_ROOT / "var/bench").mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="radiomics-", dir=REPO_ROOT / "var/bench"))
    try:
        regions = make_regions(work / "phantoms", args.regions, args.seed)
        print(f"{len(regions)} regions of interest; preset {args.preset}; {os.cpu_count()} CPUs", flush=True)
        with (
            running_orthanc(work / "orthanc") as orthanc,
            platform_process(orthanc, work / "platform") as gateway,
            Client(gateway.url, token=gateway.token) as client,
        ):
            result = measure(regions, settings_yaml, args.preset, client, args.repeat)
        print()
        print(
            f"{result.regions} regions x {result.features_per_region} features: direct {result.direct_seconds:.2f} s "
            f"({result.direct_features_per_s:.0f} features/s), service {result.service_seconds:.2f} s "
            f"({result.service_features_per_s:.0f} features/s)"
        )
        verdict = "MET" if result.goal_met else "NOT MET"
        print(f"service overhead per region {result.overhead:+.1%} (goal <= {OVERHEAD_GOAL:.0%}): {verdict}")
        print(f"same values both ways: {'yes' if result.identical_values else 'NO'}")
        report = {
            "benchmark": "radiomics",
            "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "platform": host.platform()},
            "pyradiomics": pyradiomics_version,
            "settings": {"preset": args.preset, "regions": args.regions, "repeat": args.repeat, "seed": args.seed},
            "goals": {"service_overhead": OVERHEAD_GOAL},
            "result": asdict(result),
        }
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nwritten to {args.out}")
        return 0 if result.identical_values else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
