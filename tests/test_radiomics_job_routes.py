"""Batch extraction jobs through the gateway, the checks that need no compute: unpaired files, bad options, no
inputs, unknown jobs, listing. Jobs that run are in test_radiomics_jobs (a real Ray head)."""

from __future__ import annotations

import json

import httpx

from tests.conftest import Platform

JOBS = "/api/v1/radiomics/jobs"


def error_of(answer: httpx.Response) -> tuple[int, str]:
    return answer.status_code, answer.json()["error"]["reason"]


def pair_files(images: int, masks: int) -> list[tuple[str, tuple[str, bytes, str]]]:
    files = [("image", (f"case-{i}.nii.gz", b"not read", "application/octet-stream")) for i in range(images)]
    files += [("mask", (f"case-{i}-mask.nii.gz", b"not read", "application/octet-stream")) for i in range(masks)]
    return files


# --- the real platform (no Ray needed) ---------------------------------------------------------------


def test_unpaired_files_are_refused(platform: Platform) -> None:
    answer = platform.gateway.post(f"{JOBS}/pairs", files=pair_files(2, 1), data={"spec": '{"preset_id": "ct"}'})
    assert error_of(answer) == (422, "UNPAIRED_FILES"), answer.text
    assert "2 images but 1 masks" in answer.json()["error"]["message"]


def test_per_pair_values_must_match_the_pairs(platform: Platform) -> None:
    spec = {"preset_id": "ct", "case_ids": ["a", "b"]}
    answer = platform.gateway.post(f"{JOBS}/pairs", files=pair_files(1, 1), data={"spec": json.dumps(spec)})
    assert error_of(answer) == (422, "INVALID_JOB_SPEC"), answer.text
    assert "case_id" in answer.json()["error"]["message"]


def test_bad_options_are_refused(platform: Platform) -> None:
    answer = platform.gateway.post(JOBS, json={"dataset_id": "d", "preset_id": "ct", "regions": "voxel"})
    assert error_of(answer) == (422, "INVALID_REQUEST"), answer.text
    assert any("regions" in p["location"] for p in answer.json()["error"]["details"]["problems"])
    for body in ({"labels": [0]}, {"job_id": "no spaces allowed"}):
        answer = platform.gateway.post(JOBS, json={"dataset_id": "d", "preset_id": "ct", **body})
        assert error_of(answer) == (422, "INVALID_REQUEST"), (body, answer.text)
    spec = {"preset_id": "ct", "regions": "voxel"}
    answer = platform.gateway.post(f"{JOBS}/pairs", files=pair_files(1, 1), data={"spec": json.dumps(spec)})
    assert error_of(answer) == (422, "INVALID_JOB_SPEC"), answer.text
    answer = platform.gateway.post(f"{JOBS}/pairs", files=pair_files(1, 1), data={"spec": "not json"})
    assert error_of(answer) == (422, "INVALID_JOB_SPEC"), answer.text


def test_a_job_needs_inputs(platform: Platform) -> None:
    answer = platform.gateway.post(JOBS, json={"preset_id": "ct"})
    assert error_of(answer) == (422, "NO_INPUTS"), answer.text


def test_pairs_reach_the_service(platform: Platform) -> None:
    """The staged pairs arrive with their names: the service refuses a file that is not NIfTI or NRRD."""
    files = [
        ("image", ("scan.png", b"not read", "image/png")),
        ("mask", ("scan-mask.nii.gz", b"not read", "application/octet-stream")),
    ]
    answer = platform.gateway.post(f"{JOBS}/pairs", files=files, data={"spec": '{"preset_id": "ct"}'})
    assert error_of(answer) == (422, "INVALID_IMAGE"), answer.text
    assert answer.json()["error"]["details"] == {"file": "scan.png"}


def test_unknown_jobs_are_not_found(platform: Platform) -> None:
    for suffix in ("", "/events", "/features", "/features.csv", "/features.parquet"):
        answer = platform.gateway.get(f"{JOBS}/no-such-job{suffix}")
        assert error_of(answer) == (404, "JOB_NOT_FOUND"), (suffix, answer.text)
        assert answer.headers["content-type"] == "application/json"
    answer = platform.gateway.post(f"{JOBS}/no-such-job/cancel")
    assert error_of(answer) == (404, "JOB_NOT_FOUND"), answer.text


def test_jobs_are_listed(platform: Platform) -> None:
    answer = platform.gateway.get(JOBS, params={"page_size": 5})
    assert answer.status_code == 200, answer.text
    assert set(answer.json()) == {"jobs", "next_page_token"}
    assert platform.gateway.get(JOBS, params={"page_size": 5000}).status_code == 422


def test_bad_settings_and_unknown_datasets_are_refused_before_a_job_starts(platform: Platform) -> None:
    before = platform.gateway.get(JOBS, params={"page_size": 1000}).json()["jobs"]
    bad = "setting:\n  binWidth: -3\nimageType:\n  Original: {}\n"
    answer = platform.gateway.post(JOBS, json={"dataset_id": "any", "settings_yaml": bad})
    assert error_of(answer) == (422, "INVALID_SETTINGS") and "binWidth" in answer.text, answer.text
    answer = platform.gateway.post(JOBS, json={"dataset_id": "no-such-dataset", "preset_id": "ct"})
    assert answer.status_code == 404, answer.text
    answer = platform.gateway.post(JOBS, json={"dataset_id": "any", "preset_id": "ultrasound"})
    assert error_of(answer) == (404, "PRESET_NOT_FOUND"), answer.text
    answer = platform.gateway.post(JOBS, json={"dataset_id": "any", "preset_id": "ct", "regions": "voxel"})
    assert answer.status_code == 422, answer.text
    assert platform.gateway.get(JOBS, params={"page_size": 1000}).json()["jobs"] == before  # nothing half-started
