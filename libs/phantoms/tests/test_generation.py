"""Cohort generation: layout, manifest, UID hierarchy, sites, determinism, balance, CLI, bad input."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pydicom
import pytest
from pydicom.uid import UID

from radscholar_phantoms import Manifest, build_case, generate
from radscholar_phantoms.__main__ import main
from radscholar_phantoms.cohort import lesion_plan

if TYPE_CHECKING:
    from conftest import Cohort

SMALL_CT = (16, 48, 48)


def _digest_tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_layout_and_manifest(ct_cohort: Cohort) -> None:
    manifest, out = ct_cohort.manifest, ct_cohort.out
    data = json.loads((out / "manifest.json").read_text())
    assert data["parameters"] == {
        "kind": "ct",
        "cases": 4,
        "sites": 2,
        "seed": 11,
        "shape": None,
        "spacing": None,
    }
    assert data["generator"]["version"] == manifest.version
    assert [s["site_id"] for s in data["sites"]] == ["site-a", "site-b"]
    assert Manifest.load(out).to_dict() == manifest.to_dict()
    for entry in manifest.case_entries:
        assert entry.site_id == ("site-a", "site-b")[entry.case_index % 2]
        series = entry.series[0]
        parts = Path(series.path).parts
        assert parts[0] == entry.site_id and parts[1] == entry.patient_id and len(parts) == 4
        assert series.ground_truth == f"ground_truth/{series.series_instance_uid}.json"
        assert series.mask == f"ground_truth/{series.series_instance_uid}_mask.nii.gz"
        truth = json.loads((out / series.ground_truth).read_text())
        assert truth["series_instance_uid"] == series.series_instance_uid
        assert truth["series_path"] == series.path
        assert [le["lesion_id"] for le in truth["lesions"]] == [le["lesion_id"] for le in series.lesions]
    summary = data["summary"]
    assert summary["cases"] == 4 and summary["instances"] == 4 * 64
    assert summary["benign"] + summary["malignant"] == summary["lesions"]


def test_uid_hierarchy_and_sites(ct_cohort: Cohort) -> None:
    manifest, out = ct_cohort.manifest, ct_cohort.out
    sop_uids: list[str] = []
    studies, series_uids, frames, patients, institutions = set(), set(), set(), set(), {}
    for entry in manifest.case_entries:
        headers = [
            pydicom.dcmread(p, stop_before_pixels=True) for p in sorted((out / entry.series[0].path).glob("*.dcm"))
        ]
        assert {h.StudyInstanceUID for h in headers} == {entry.study_instance_uid}
        assert {h.SeriesInstanceUID for h in headers} == {entry.series[0].series_instance_uid}
        assert len({h.FrameOfReferenceUID for h in headers}) == 1
        assert {(h.PatientID, str(h.PatientName), h.AccessionNumber) for h in headers} == {
            (entry.patient_id, entry.patient_name, entry.accession_number)
        }
        assert [int(h.InstanceNumber) for h in headers] == list(range(1, 65))
        sop_uids += [h.SOPInstanceUID for h in headers]
        studies.add(entry.study_instance_uid)
        series_uids.add(entry.series[0].series_instance_uid)
        frames.add(headers[0].FrameOfReferenceUID)
        patients.add(entry.patient_id)
        institutions[entry.site_id] = (headers[0].InstitutionName, headers[0].StationName)
    all_uids = [*sop_uids, *studies, *series_uids, *frames]
    assert len(set(all_uids)) == len(all_uids) == 4 * 64 + 3 * 4
    assert all(UID(u).is_valid for u in all_uids)
    assert len(patients) == 4
    names = [name for name, _ in institutions.values()]
    stations = [station for _, station in institutions.values()]
    assert len(set(names)) == len(set(stations)) == 2


def test_same_arguments_give_identical_files(tmp_path: Path) -> None:
    first = generate("ct", 2, 2, 3, tmp_path / "a", shape=SMALL_CT)
    second = generate("ct", 2, 2, 3, tmp_path / "b", shape=SMALL_CT)
    assert first.to_dict() == second.to_dict()
    tree_a, tree_b = _digest_tree(tmp_path / "a"), _digest_tree(tmp_path / "b")
    assert len(tree_a) == 2 * 16 + 2 * 2 + 1
    assert tree_a == tree_b


def test_different_seeds_and_cases_differ() -> None:
    a = build_case("ct", seed=3, case_index=0, shape=SMALL_CT)
    again = build_case("ct", seed=3, case_index=0, shape=SMALL_CT)
    b = build_case("ct", seed=4, case_index=0, shape=SMALL_CT)
    c = build_case("ct", seed=3, case_index=1, shape=SMALL_CT)
    np.testing.assert_array_equal(a.series[0].image.pixels, again.series[0].image.pixels)
    assert a.series[0].instance_uids == again.series[0].instance_uids
    for other in (b, c):
        assert other.study_instance_uid != a.study_instance_uid
        assert not set(other.series[0].instance_uids) & set(a.series[0].instance_uids)
        assert not np.array_equal(other.series[0].image.pixels, a.series[0].image.pixels)
    # Seeds and case numbers that concatenate alike ("1" + "12" == "11" + "2") still differ.
    assert (
        build_case("dx", seed=1, case_index=12).study_instance_uid
        != build_case("dx", seed=11, case_index=2).study_instance_uid
    )


def test_lesion_counts_and_class_balance() -> None:
    counts, classes = Counter(), Counter()
    for index in range(60):
        lesions = build_case("ct", seed=9, case_index=index, shape=SMALL_CT).series[0].image.lesions
        counts[len(lesions)] += 1
        classes.update(lesion.lesion_class for lesion in lesions)
    assert set(counts) == {0, 1, 2, 3}
    assert classes["benign"] + classes["malignant"] > 60
    # Block-randomised classes: balanced up to the last block (and a rare lesion that did not fit).
    assert abs(classes["benign"] - classes["malignant"]) <= 3


@pytest.mark.parametrize("kind", ["dx", "mg", "mr"])
def test_every_kind_is_balanced(kind: str) -> None:
    classes = Counter(c for index in range(20) for c in lesion_plan(kind, 7, index))  # type: ignore[arg-type]
    assert abs(classes["benign"] - classes["malignant"]) <= 2


def test_progress_callback_reports_every_case(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    generate("mg", 3, 1, 0, tmp_path / "mg", lambda done, total: calls.append((done, total)))
    assert calls == [(0, 3), (1, 3), (2, 3), (3, 3)]


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "dx"
    args = ["generate", "--kind", "dx", "--cases", "2", "--sites", "2", "--seed", "3", "--out", str(out)]
    assert main([*args, "--shape", "128x128", "--quiet"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["cases"] == 2 and (out / "manifest.json").exists()
    assert Manifest.load(out).shape == (128, 128)
    assert main([*args, "--quiet"]) == 2  # not empty
    assert "not empty" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"kind": "pet"}, "unknown kind"),
        ({"cases": 0}, "cases must be"),
        ({"sites": 0}, "sites must be"),
        ({"seed": -1}, "seed must be"),
    ],
)
def test_bad_arguments_are_rejected(tmp_path: Path, arguments: dict, message: str) -> None:
    call = {"kind": "ct", "cases": 1, "sites": 1, "seed": 0, "out": tmp_path / "x", **arguments}
    with pytest.raises(ValueError, match=message):
        generate(**call)
    assert not (tmp_path / "x" / "manifest.json").exists()


def test_bad_case_options_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown lesion classes"):
        build_case("ct", seed=0, case_index=0, shape=SMALL_CT, lesion_classes=["cancer"])
    with pytest.raises(ValueError, match="3D"):
        build_case("ct", seed=0, case_index=0, shape=(64, 64))
