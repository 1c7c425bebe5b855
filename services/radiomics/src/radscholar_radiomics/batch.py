"""The Ray driver of a batch extraction: ``python -m radscholar_radiomics.batch <plan object key>``.

Submitted by the service through Ray's Jobs API. It reads the plan, finds the regions of every mask, reuses the
regions an earlier run already extracted with the same inputs and settings, runs one Ray task per remaining region,
and writes the feature table (Parquet and CSV) and an outcome for the service. A region that fails is reported with
its reason; the others go on. Progress and log lines go to stdout (``radscholar_core.ray_jobs.report`` and ``say``),
which the service follows; the object store comes from the environment the service gave the job.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from typing import Any

import ray
import SimpleITK as sitk

from radscholar_core.errors import DomainError
from radscholar_core.job_driver import done, objects_from_environment, report, say
from radscholar_radiomics.domain.batch import (
    ID_COLUMNS,
    Failure,
    Outcome,
    Plan,
    Region,
    outcome_key,
    region_mask,
    regions_of,
    table_keys,
)
from radscholar_radiomics.domain.extraction import extract, provenance, read_image
from radscholar_radiomics.domain.settings import validate_settings
from radscholar_radiomics.domain.stability import perturbation_stability
from radscholar_radiomics.domain.tables import feature_table, parquet_bytes, stability_table

REGION_CPUS_ENV = "RADSCHOLAR_BATCH_REGION_CPUS"


def extract_region(plan: Plan, region: Region) -> dict[str, Any]:
    """One region's features, stored under its result key; or its failure. Runs in a Ray worker."""
    threads = max(1, int(float(os.environ.get(REGION_CPUS_ENV, "1"))))
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)  # as many threads as the CPUs Ray gave the task
    objects = objects_from_environment()
    item = region.item
    started = time.perf_counter()
    variants = plan.perturbations
    try:
        image = read_image(objects.get(item.image_key), item.image_name)
        mask, label = region_mask(read_image(objects.get(item.mask_key), item.mask_name), region)
        settings = validate_settings(plan.settings_yaml)
        if variants.wanted:
            shifts: list[tuple[int, ...]] | None = None if variants.shift else []
            features = perturbation_stability(
                image, mask, settings, label=label, shifts_voxels=shifts, erode=variants.erode, dilate=variants.dilate
            )
        else:
            features = {"original": extract(image, mask, settings, label=label)}
    except DomainError as error:
        return {"failure": {"reason": error.reason, "message": str(error)}}
    key = region.result_key(plan.settings_hash, variants)
    objects.put(key, json.dumps(features).encode(), "application/json")
    return {"features": features, "seconds": time.perf_counter() - started}


def warm_up() -> None:
    """A new worker imports what the regions need (pyradiomics, SimpleITK, pandas: seconds) while the driver reads
    the masks."""
    for module in ("radscholar_radiomics.domain.stability", "radscholar_radiomics.domain.batch"):
        importlib.import_module(module)


def run(plan_key: str) -> Outcome:
    objects = objects_from_environment()
    plan = Plan.from_json(objects.get(plan_key))
    settings = validate_settings(plan.settings_yaml)
    region_cpus = float(os.environ.get(REGION_CPUS_ENV, "1"))
    task = ray.remote(num_cpus=region_cpus, max_retries=1)(extract_region)
    workers = max(1, int(ray.cluster_resources().get("CPU", 1) // region_cpus))
    for _ in range(workers):  # the region tasks queue behind these
        ray.remote(num_cpus=region_cpus)(warm_up).remote()
    regions: list[Region] = []
    failures: list[Failure] = []
    report(0, 0, f"reading {len(plan.items)} masks")
    for item in plan.items:
        try:
            mask = read_image(objects.get(item.mask_key), item.mask_name)
            regions += regions_of(item, mask, plan.regions, plan.labels)
        except DomainError as error:
            failures.append(Failure(f"{item.case_id}/{item.name}", item.case_id, error.reason, str(error)))
            say("WARNING", f"{item.case_id}/{item.name}: {error.reason}: {error}")
    done: list[tuple[Region, dict[str, dict[str, float]]]] = []
    remaining: list[Region] = []
    for region in regions:
        key = region.result_key(plan.settings_hash, plan.perturbations)
        if objects.exists(key):
            done.append((region, json.loads(objects.get(key))))
        else:
            remaining.append(region)
    reused, total = len(done), len(regions)
    say("INFO", f"{total} regions in {len(plan.items)} images; {reused} reused from earlier runs")
    report(reused, total, f"region {reused}/{total}")
    remaining.sort(key=lambda region: -region.voxels)  # the largest first, so that no large one is left for last
    extraction_started = time.perf_counter()
    shared = ray.put(plan)
    pending = {task.remote(shared, region): region for region in remaining}
    failed = 0
    while pending:
        [ready], _ = ray.wait(list(pending), num_returns=1)
        region = pending.pop(ready)
        answer = ray.get(ready)
        if "failure" in answer:
            failed += 1
            problem = answer["failure"]
            failures.append(Failure(region.id, region.item.case_id, problem["reason"], problem["message"]))
            say("WARNING", f"{region.id}: {problem['reason']}: {problem['message']}")
        else:
            done.append((region, answer["features"]))
            extracted = answer["features"]
            count = len(extracted["original"])
            variants = f" on {len(extracted)} mask variants" if plan.perturbations.wanted else ""
            say("INFO", f"{region.id}: {count} features{variants} in {answer['seconds']:.1f} s")
        finished = len(done) + failed
        report(
            finished, total, f"region {finished}/{total} ({failed} failed)" if failed else f"region {finished}/{total}"
        )
    extraction_seconds = time.perf_counter() - extraction_started
    table = feature_table(done)
    origin = {**plan.provenance, **provenance(settings), "regions": plan.regions, "job_id": plan.job_id}
    parquet_key, csv_key, stability_key = table_keys(plan.job_id)
    objects.put(parquet_key, parquet_bytes(table, origin), "application/vnd.apache.parquet")
    objects.put(csv_key, table.to_csv(index=False).encode(), "text/csv")
    features = len(table.columns) - len(ID_COLUMNS) if done else 0
    stable = 0
    if plan.perturbations.wanted and done:
        stability = stability_table(table, plan.perturbations)
        objects.put(stability_key, stability.to_csv(index=False).encode(), "text/csv")
        stable = int(stability["stable"].sum())
        say(
            "INFO",
            f"{stable} of {len(stability)} features have {plan.perturbations.icc_kind} >= "
            f"{plan.perturbations.threshold} across the mask variants",
        )
    outcome = Outcome(
        len(table),
        features,
        reused,
        tuple(failures),
        parquet_key,
        csv_key,
        origin,
        extraction_seconds,
        stability_key if plan.perturbations.wanted and done else "",
        stable,
    )
    objects.put(outcome_key(plan.job_id), outcome.to_json(), "application/json")
    say(
        "INFO",
        f"feature table: {len(done)} regions x {features} features; {len(failures)} failed; "
        f"{len(remaining)} regions extracted in {extraction_seconds:.1f} s",
    )
    return outcome


def main() -> int:
    if len(sys.argv) != 2:
        sys.stderr.write("usage: python -m radscholar_radiomics.batch PLAN_OBJECT_KEY\n")
        return 2
    ray.init(log_to_driver=False)  # the job's cluster (RAY_ADDRESS, set by Ray's job supervisor)
    outcome = run(sys.argv[1])
    if not outcome.rows:
        return 1
    done()
    return 0


if __name__ == "__main__":
    sys.exit(main())
