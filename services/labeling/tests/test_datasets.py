"""Dataset versions: patient-level splits, stratification, and the content-hashed manifest."""

import json
import random
from collections import Counter, defaultdict
from dataclasses import replace

import pytest
from sklearn.model_selection import StratifiedGroupKFold

from radscholar_core.errors import InvalidArgument
from radscholar_labeling.domain.datasets import (
    SPLITS,
    DatasetItem,
    Manifest,
    SplitSpec,
    Stratify,
    build_manifest,
    manifest_from_json,
    split,
)

CLASSES = ("benign", "malignant", "normal")
SITES = ("berlin", "lyon", "zürich")
LINEAGE = {"project_id": "p-1", "deidentification_profile": "basic-v1", "labeling_service": "0.1.0"}
CREATED_AT = "2025-01-02T03:04:05Z"


def case(
    case_id: str, patient_id: str, label_class: str = "benign", site: str = "berlin", **columns: str
) -> DatasetItem:
    return DatasetItem(
        case_id=case_id,
        patient_id=patient_id,
        study_instance_uid=f"1.2.826.0.1.{case_id}",
        series_instance_uids=(f"1.2.826.0.2.{case_id}.1", f"1.2.826.0.2.{case_id}.2"),
        site=site,
        label_class=label_class,
        annotation_id=f"a-{case_id}",
        annotation_version=1,
        columns=columns,
    )


def cohort(seed: int, patients: int = 120, mixed: bool = False) -> list[DatasetItem]:
    """Patients with 1-4 cases each; one class, site and scanner per patient unless ``mixed``."""
    rng = random.Random(seed)
    items = []
    for p in range(patients):
        label_class = rng.choices(CLASSES, weights=(5, 2, 1))[0]
        site = rng.choice(SITES)
        scanner = rng.choice(("ge", "siemens"))
        for c in range(rng.randint(1, 4)):
            if mixed and rng.random() < 0.3:
                label_class, site = rng.choice(CLASSES), rng.choice(SITES)
            items.append(case(f"c{p:04d}-{c}", f"pt{p:04d}", label_class, site, scanner=scanner))
    rng.shuffle(items)
    return items


def cases_per_split(items: list[DatasetItem], splits: dict[str, str]) -> Counter[str]:
    return Counter(splits[item.case_id] for item in items)


def assert_close_to_fractions(items: list[DatasetItem], splits: dict[str, str], spec: SplitSpec) -> None:
    """Each split holds its requested share of cases, give or take one patient's cases plus rounding."""
    largest_patient = max(Counter(item.patient_id for item in items).values())
    counts = cases_per_split(items, splits)
    for name, fraction in zip(SPLITS, spec.fractions, strict=True):
        assert abs(counts[name] - fraction * len(items)) <= largest_patient + 1, (name, counts, len(items))


@pytest.mark.parametrize("stratify", list(Stratify))
@pytest.mark.parametrize("seed", range(25))
def test_no_patient_crosses_splits(seed: int, stratify: Stratify) -> None:
    items = cohort(seed, patients=random.Random(seed).randint(1, 150), mixed=True)
    spec = SplitSpec(stratify=stratify, column="scanner" if stratify is Stratify.COLUMN else "", seed=seed)
    splits = split(items, spec)
    assert set(splits) == {item.case_id for item in items}
    assert set(splits.values()) <= set(SPLITS)
    splits_of_patient = defaultdict(set)
    for item in items:
        splits_of_patient[item.patient_id].add(splits[item.case_id])
    assert all(len(names) == 1 for names in splits_of_patient.values())


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize(
    "fractions", [(0.7, 0.15, 0.15), (0.8, 0.2, 0.0), (0.5, 0.25, 0.25), (0.6, 0.2, 0.2), (1.0, 0.0, 0.0)]
)
def test_fractions_are_within_one_patient(seed: int, fractions: tuple[float, float, float]) -> None:
    items = cohort(seed)
    spec = SplitSpec(*fractions, seed=seed)
    splits = split(items, spec)
    assert_close_to_fractions(items, splits, spec)
    for name, fraction in zip(SPLITS, fractions, strict=True):
        if fraction == 0:
            assert cases_per_split(items, splits)[name] == 0


@pytest.mark.parametrize("seed", range(20))
def test_stratify_by_class_keeps_each_class_in_proportion(seed: int) -> None:
    items = cohort(seed, patients=300)
    spec = SplitSpec(stratify=Stratify.CLASS, seed=seed)
    splits = split(items, spec)
    for label_class in CLASSES:
        assert_close_to_fractions([item for item in items if item.label_class == label_class], splits, spec)
    assert_close_to_fractions(items, splits, spec)


@pytest.mark.parametrize("seed", range(10))
def test_stratify_by_class_is_no_worse_than_sklearn(seed: int) -> None:
    """StratifiedGroupKFold with 20 folds taken 14/3/3 is the reference for a 70/15/15 grouped stratified split."""
    items = sorted(cohort(seed, patients=300), key=lambda item: item.case_id)
    ours = split(items, SplitSpec(stratify=Stratify.CLASS, seed=seed))

    folds = StratifiedGroupKFold(n_splits=20, shuffle=True, random_state=seed).split(
        items, [item.label_class for item in items], [item.patient_id for item in items]
    )
    reference: dict[str, str] = {}
    for fold, (_, held_out) in enumerate(folds):
        for index in held_out:
            reference[items[index].case_id] = "train" if fold < 14 else "validation" if fold < 17 else "test"

    def worst_class_deviation(splits: dict[str, str]) -> float:
        deviations = []
        for label_class in CLASSES:
            of_class = [item for item in items if item.label_class == label_class]
            counts = cases_per_split(of_class, splits)
            deviations += [abs(counts[n] / len(of_class) - f) for n, f in zip(SPLITS, (0.7, 0.15, 0.15), strict=True)]
        return max(deviations)

    assert worst_class_deviation(ours) <= worst_class_deviation(reference) + 0.005


@pytest.mark.parametrize("seed", range(10))
def test_stratify_by_site(seed: int) -> None:
    items = cohort(seed, patients=200)
    spec = SplitSpec(0.6, 0.2, 0.2, stratify=Stratify.SITE, seed=seed)
    splits = split(items, spec)
    for site in SITES:
        assert_close_to_fractions([item for item in items if item.site == site], splits, spec)


@pytest.mark.parametrize("seed", range(10))
def test_stratify_by_column(seed: int) -> None:
    items = cohort(seed, patients=200)
    spec = SplitSpec(stratify=Stratify.COLUMN, column="scanner", seed=seed)
    splits = split(items, spec)
    for scanner in ("ge", "siemens"):
        assert_close_to_fractions([item for item in items if item.columns["scanner"] == scanner], splits, spec)


def test_patient_stratum_is_the_most_frequent_value() -> None:
    """At 50/50, two patients of equal size in one stratum always part; a patient alone goes to train."""
    items = [
        *(case(f"a{i}", "all-a", "a") for i in range(3)),
        case("m0", "mostly-b", "a"),
        *(case(f"m{i}", "mostly-b", "b") for i in (1, 2)),
        *(case(f"b{i}", "all-b", "b") for i in range(3)),
    ]
    for seed in range(20):
        splits = split(items, SplitSpec(0.5, 0.5, 0.0, stratify=Stratify.CLASS, seed=seed))
        assert splits["m0"] != splits["b0"]
        assert splits["a0"] == "train"


def test_patient_stratum_tie_goes_to_the_first_value_in_sorted_order() -> None:
    items = [
        *(case(f"a{i}", "all-a", "a") for i in range(2)),
        case("t0", "tied", "b"),
        case("t1", "tied", "a"),
        *(case(f"b{i}", "all-b", "b") for i in range(2)),
    ]
    for seed in range(20):
        splits = split(items, SplitSpec(0.5, 0.5, 0.0, stratify=Stratify.CLASS, seed=seed))
        assert splits["t0"] != splits["a0"]
        assert splits["b0"] == "train"


def test_same_seed_gives_the_same_split_whatever_the_input_order() -> None:
    items = cohort(7, mixed=True)
    for stratify in (Stratify.NONE, Stratify.CLASS):
        spec = SplitSpec(stratify=stratify, seed=42)
        reordered = list(items)
        random.Random(1).shuffle(reordered)
        assert split(items, spec) == split(reordered, spec) == split(list(reversed(items)), spec)


def test_different_seeds_give_different_splits() -> None:
    items = cohort(7)
    splits = {seed: split(items, SplitSpec(seed=seed)) for seed in range(5)}
    assert len({tuple(sorted(s.items())) for s in splits.values()}) == 5


def freeze(items: list[DatasetItem], created_at: str = CREATED_AT) -> Manifest:
    return build_manifest("p-1", items, SplitSpec(stratify=Stratify.CLASS, seed=3), LINEAGE, created_at)


def test_content_hash_is_stable_across_input_order_and_creation_time() -> None:
    items = cohort(11)
    manifest = freeze(items)
    again = freeze(list(reversed(items)), created_at="2030-12-31T23:59:59Z")
    assert manifest.content_hash == again.content_hash
    assert manifest.to_json() == again.to_json()
    assert manifest.content_hash.startswith("sha256:") and len(manifest.content_hash) == len("sha256:") + 64
    assert [item.case_id for item in manifest.items] == sorted(item.case_id for item in items)


def test_content_hash_changes_with_a_label_version_the_spec_or_the_lineage() -> None:
    items = cohort(11)
    manifest = freeze(items)
    relabeled = [replace(items[0], annotation_version=2), *items[1:]]
    assert freeze(relabeled).content_hash != manifest.content_hash
    other_seed = build_manifest("p-1", items, SplitSpec(stratify=Stratify.CLASS, seed=4), LINEAGE, CREATED_AT)
    assert other_seed.content_hash != manifest.content_hash
    other_lineage = build_manifest("p-1", items, manifest.spec, {**LINEAGE, "labeling_service": "0.2.0"}, CREATED_AT)
    assert other_lineage.content_hash != manifest.content_hash


def test_manifest_json_is_canonical_and_round_trips() -> None:
    manifest = freeze(cohort(5, mixed=True))
    data = manifest.to_json()
    assert "created_at" not in json.loads(data)
    assert "zürich".encode() in data  # UTF-8, not \u escapes
    assert data == json.dumps(json.loads(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    restored = manifest_from_json(data, CREATED_AT)
    assert restored == manifest
    assert restored.content_hash == manifest.content_hash
    assert restored.counts() == manifest.counts()


def test_counts_per_split() -> None:
    items = [case("c1", "p1", "benign"), case("c2", "p1", "benign"), case("c3", "p2", "malignant")]
    manifest = build_manifest("p-1", items, SplitSpec(1.0, 0.0, 0.0), LINEAGE, CREATED_AT)
    assert manifest.counts() == {
        "train": {"cases": 3, "patients": 2, "class:benign": 2, "class:malignant": 1},
        "validation": {"cases": 0, "patients": 0, "class:benign": 0, "class:malignant": 0},
        "test": {"cases": 0, "patients": 0, "class:benign": 0, "class:malignant": 0},
    }
    unlabeled = build_manifest("p-1", [case("c1", "p1", "")], SplitSpec(), LINEAGE, CREATED_AT)
    assert unlabeled.counts()["train"] == {"cases": 1, "patients": 1}


def test_empty_dataset_is_refused() -> None:
    with pytest.raises(InvalidArgument) as error:
        split([], SplitSpec())
    assert error.value.reason == "EMPTY_DATASET"


def test_duplicate_case_is_refused() -> None:
    with pytest.raises(InvalidArgument) as error:
        split([case("c1", "p1"), case("c2", "p1"), case("c1", "p2")], SplitSpec())
    assert error.value.reason == "DUPLICATE_CASE"
    assert "c1" in error.value.message


def test_missing_column_names_the_case() -> None:
    items = [case("c1", "p1", scanner="ge"), case("c2", "p2")]
    with pytest.raises(InvalidArgument) as error:
        split(items, SplitSpec(stratify=Stratify.COLUMN, column="scanner"))
    assert error.value.reason == "MISSING_COLUMN"
    assert "c2" in error.value.message and error.value.details == {"case_id": "c2", "column": "scanner"}


@pytest.mark.parametrize(
    "arguments",
    [
        {"train": 0.7, "validation": 0.2, "test": 0.2},
        {"train": 1.2, "validation": -0.1, "test": -0.1},
        {"train": float("nan"), "validation": 0.5, "test": 0.5},
        {"stratify": Stratify.COLUMN},
        {"stratify": Stratify.CLASS, "column": "scanner"},
        {"stratify": "age"},
        {"seed": -1},
    ],
)
def test_invalid_split_spec_is_refused(arguments: dict) -> None:
    with pytest.raises(InvalidArgument) as error:
        SplitSpec(**arguments)
    assert error.value.reason == "INVALID_SPLIT"


def test_split_fractions_may_be_off_by_rounding() -> None:
    assert SplitSpec(0.1 + 0.2, 0.7, 0.0).fractions == (0.1 + 0.2, 0.7, 0.0)
    assert SplitSpec(stratify="site").stratify is Stratify.SITE  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "data",
    [
        b"\xff",
        b"[]",
        b'{"format": 2}',
        json.dumps({**json.loads(freeze([case("c1", "p1")]).to_json()), "splits": {"c9": "train"}}).encode(),
        json.dumps({**json.loads(freeze([case("c1", "p1")]).to_json()), "splits": {"c1": "holdout"}}).encode(),
    ],
)
def test_invalid_manifest_json_is_refused(data: bytes) -> None:
    with pytest.raises(InvalidArgument) as error:
        manifest_from_json(data, CREATED_AT)
    assert error.value.reason == "INVALID_MANIFEST"


def test_boxes_go_with_the_manifest_and_leave_earlier_hashes_alone() -> None:
    plain = freeze(cohort(5))
    assert all("boxes" not in entry for entry in json.loads(plain.to_json())["items"])
    box = {
        "class_name": "malignant",
        "series_instance_uid": "1.2.3",
        "sop_instance_uid": "",
        "min": [1, 2, 3],
        "max": [4, 5, 6],
    }
    boxed = [replace(item, boxes=(box,)) if n == 0 else item for n, item in enumerate(cohort(5))]
    manifest = freeze(boxed)
    restored = manifest_from_json(manifest.to_json(), CREATED_AT)
    assert (restored == manifest and restored.items[0].boxes == (box,)) or any(
        i.boxes == (box,) for i in restored.items
    )
    assert manifest.content_hash != plain.content_hash
