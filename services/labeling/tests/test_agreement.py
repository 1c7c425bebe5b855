"""Agreement statistics against hand computations and the reference implementations, in the same run."""

import itertools

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score, f1_score, jaccard_score
from statsmodels.stats import inter_rater

from radscholar_core.errors import InvalidArgument
from radscholar_labeling.domain.agreement import (
    Box,
    CaseAgreement,
    box_iou,
    case_box_agreement,
    case_class_agreement,
    case_mask_agreement,
    cohen_kappa,
    dice,
    fleiss_kappa,
    largest_disagreements,
    mask_iou,
    match_boxes,
)

FINDINGS = ["normal", "nodule", "mass", "consolidation", "effusion"]


def double_reading(seed: int, cases: int, readers: int, classes: int) -> list[list[str]]:
    """Readers who each agree with a case's true finding with probability 0.6, else pick at random."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, classes, size=cases)
    guesses = rng.integers(0, classes, size=(cases, readers))
    agrees = rng.random((cases, readers)) < 0.6
    labels = np.where(agrees, truth[:, None], guesses)
    return [[FINDINGS[label] for label in row] for row in labels]


@pytest.mark.parametrize(("seed", "cases", "classes"), [(0, 2, 2), (1, 10, 2), (2, 50, 3), (3, 200, 5), (4, 37, 4)])
def test_cohen_kappa_matches_sklearn(seed: int, cases: int, classes: int) -> None:
    first, second = zip(*double_reading(seed, cases, 2, classes), strict=True)
    assert cohen_kappa(first, second) == pytest.approx(cohen_kappa_score(first, second), abs=1e-12)


def test_cohen_kappa_textbook_example() -> None:
    # 50 cases: both "yes" 20, A yes/B no 5, A no/B yes 10, both "no" 15.
    # p_o = (20 + 15) / 50 = 0.7; A says yes 25/50 = 0.5, B says yes 30/50 = 0.6
    # p_e = 0.5 * 0.6 + 0.5 * 0.4 = 0.5; kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4
    first = ["yes"] * 20 + ["yes"] * 5 + ["no"] * 10 + ["no"] * 15
    second = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(first, second) == pytest.approx(0.4, abs=1e-12)
    assert cohen_kappa(first, second) == pytest.approx(cohen_kappa_score(first, second), abs=1e-12)


def test_cohen_kappa_perfect_and_degenerate() -> None:
    assert cohen_kappa(["a", "b", "a"], ["a", "b", "a"]) == 1.0
    # One class throughout: expected agreement is 1 and kappa 0/0 (sklearn gives NaN); we report 1.0.
    assert cohen_kappa(["normal"] * 4, ["normal"] * 4) == 1.0
    # Two classes that never co-occur: no agreement beyond (zero) chance.
    assert cohen_kappa(["a", "a"], ["b", "b"]) == pytest.approx(cohen_kappa_score(["a", "a"], ["b", "b"]))


def test_cohen_kappa_rejects_bad_ratings() -> None:
    with pytest.raises(InvalidArgument) as error:
        cohen_kappa(["a"], ["a"])
    assert error.value.reason == "TOO_FEW_CASES"
    with pytest.raises(InvalidArgument) as error:
        cohen_kappa(["a", "b", "a"], ["a", "b"])
    assert error.value.reason == "MISMATCHED_RATINGS"


@pytest.mark.parametrize(
    ("seed", "cases", "readers", "classes"), [(0, 2, 2, 2), (1, 20, 3, 3), (2, 60, 6, 5), (3, 150, 4, 4), (4, 9, 14, 5)]
)
def test_fleiss_kappa_matches_statsmodels(seed: int, cases: int, readers: int, classes: int) -> None:
    ratings = double_reading(seed, cases, readers, classes)
    table, _ = inter_rater.aggregate_raters(np.array(ratings))
    assert fleiss_kappa(ratings) == pytest.approx(inter_rater.fleiss_kappa(table, method="fleiss"), abs=1e-12)


# Fleiss (1971), Table 1: 30 patients, 6 psychiatrists each, 5 diagnoses; the paper reports kappa = .430.
# Fleiss published counts per patient only; the rows below (R irr's `diagnoses`) spread them over readers.
FLEISS_1971 = [
    "444444", "222555", "233335", "555555", "222444", "113333", "333355", "113334", "114444", "555555",
    "144444", "124444", "222333", "144444", "224445", "333335", "111455", "111112", "224444", "133555",
    "555555", "244444", "224555", "114444", "144445", "222224", "111155", "224444", "133333", "555555",
]  # fmt: skip
DIAGNOSES = {"1": "depression", "2": "personality disorder", "3": "schizophrenia", "4": "neurosis", "5": "other"}


def test_fleiss_kappa_fleiss_1971() -> None:
    ratings = [[DIAGNOSES[code] for code in row] for row in FLEISS_1971]
    table, _ = inter_rater.aggregate_raters(np.array(ratings))
    assert round(fleiss_kappa(ratings), 3) == 0.430
    assert fleiss_kappa(ratings) == pytest.approx(inter_rater.fleiss_kappa(table, method="fleiss"), abs=1e-12)
    assert fleiss_kappa(ratings) == pytest.approx(0.4302445, abs=1e-7)  # R irr::kappam.fleiss(diagnoses)


def test_fleiss_kappa_small_hand_example() -> None:
    # 3 cases, 3 readers: (a,a,a), (a,a,b), (b,b,b).
    # P_i = (sum n_ij^2 - 3) / 6: (9-3)/6 = 1, (4+1-3)/6 = 1/3, 1 -> P_bar = 7/9
    # p_a = 5/9, p_b = 4/9 -> P_e = 25/81 + 16/81 = 41/81
    # kappa = (7/9 - 41/81) / (1 - 41/81) = (22/81) / (40/81) = 0.55
    assert fleiss_kappa([["a", "a", "a"], ["a", "a", "b"], ["b", "b", "b"]]) == pytest.approx(0.55, abs=1e-12)


def test_fleiss_kappa_degenerate_and_errors() -> None:
    assert fleiss_kappa([["normal"] * 3] * 4) == 1.0
    for ratings in ([["a", "b"], ["a"]], [["a"], ["b"]]):
        with pytest.raises(InvalidArgument) as error:
            fleiss_kappa(ratings)
        assert error.value.reason == "UNEQUAL_RATERS"
    with pytest.raises(InvalidArgument) as error:
        fleiss_kappa([["a", "b"]])
    assert error.value.reason == "TOO_FEW_CASES"


def voxels(box: Box, size: int) -> np.ndarray:
    """The box painted on an integer grid: an independent way to count its overlap with another."""
    mask = np.zeros((size,) * len(box[0]), dtype=bool)
    mask[tuple(slice(int(lo), int(hi)) for lo, hi in zip(*box, strict=True))] = True
    return mask


@pytest.mark.parametrize(
    ("a", "b", "iou"),
    [
        (((0, 0), (2, 2)), ((3, 3), (5, 5)), 0.0),  # disjoint
        (((0, 0), (2, 2)), ((2, 0), (4, 2)), 0.0),  # touching edges
        (((0, 0), (4, 4)), ((1, 1), (3, 3)), 4 / 16),  # nested
        (((0, 0), (2, 2)), ((1, 1), (3, 3)), 1 / 7),  # partial: 1 / (4 + 4 - 1)
        (((0.5, 1.5), (2.5, 4.0)), ((0.5, 1.5), (2.5, 4.0)), 1.0),  # identical
        (((0, 0, 0), (2, 2, 2)), ((5, 5, 5), (6, 6, 6)), 0.0),  # disjoint
        (((0, 0, 0), (4, 4, 4)), ((1, 1, 1), (3, 3, 3)), 8 / 64),  # nested
        (((0, 0, 0), (2, 2, 2)), ((1, 1, 1), (3, 3, 3)), 1 / 15),  # partial: 1 / (8 + 8 - 1)
        (((0, 0, 0), (2, 3, 1)), ((0, 0, 0), (2, 3, 1)), 1.0),  # identical
    ],
)
def test_box_iou_hand_cases(a: Box, b: Box, iou: float) -> None:
    assert box_iou(a, b) == pytest.approx(iou, abs=1e-12)
    assert box_iou(b, a) == pytest.approx(iou, abs=1e-12)


@pytest.mark.parametrize(("seed", "dimensions"), [(0, 2), (1, 2), (2, 3), (3, 3)])
def test_box_iou_matches_voxel_counts(seed: int, dimensions: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(50):
        a, b = (np.sort(rng.choice(12, size=(2, dimensions), replace=False), axis=0).tolist() for _ in range(2))
        a_box, b_box = (tuple(a[0]), tuple(a[1])), (tuple(b[0]), tuple(b[1]))
        assert box_iou(a_box, b_box) == pytest.approx(mask_iou(voxels(a_box, 12), voxels(b_box, 12)), abs=1e-12)


def test_box_iou_rejects_bad_boxes() -> None:
    with pytest.raises(InvalidArgument) as error:
        box_iou(((0, 0), (1, 1)), ((0, 0, 0), (1, 1, 1)))
    assert error.value.reason == "BOX_DIMENSION_MISMATCH"
    for box in (((0, 0), (0, 1)), ((0,), (1,)), ((0, 0), (1, 1, 1)), ((0, 0, 0, 0), (1, 1, 1, 1))):
        with pytest.raises(InvalidArgument) as error:
            box_iou(box, ((0, 0), (1, 1)))
        assert error.value.reason == "INVALID_BOX"


def test_match_boxes_finds_optimum_where_greedy_does_not() -> None:
    # All boxes span y in [0, 10], so IoU is that of the x intervals.
    # A0 = [3, 15] vs B0 = [0, 10]: 7/15 (the best single pair); A0 vs B1 = [10, 20]: 5/17;
    # A1 = [-6, 4] vs B0: 4/16; A1 vs B1: 0.
    # Greedy takes A0-B0 first and leaves A1 and B1 apart: total 7/15 = 0.467.
    # The optimum pairs A0-B1 and A1-B0: 5/17 + 1/4 = 0.544.
    first = [((3, 0), (15, 10)), ((-6, 0), (4, 10))]
    second = [((0, 0), (10, 10)), ((10, 0), (20, 10))]
    assert match_boxes(first, second) == [(0, 1, pytest.approx(5 / 17)), (1, 0, pytest.approx(1 / 4))]


def test_match_boxes_leaves_non_overlapping_boxes_unmatched() -> None:
    first = [((0, 0), (2, 2)), ((50, 50), (60, 60))]
    second = [((1, 0), (3, 2)), ((20, 20), (30, 30)), ((0, 1), (2, 3))]
    # A0 overlaps B0 (2/6) and B2 (2/6) equally; whichever it takes, the rest overlap nothing.
    pairs = match_boxes(first, second)
    assert pairs[0][:2] in {(0, 0), (0, 2)} and pairs[0][2] == pytest.approx(1 / 3)
    assert pairs[1:3] == [(1, None, 0.0), (None, 1, 0.0)]
    assert pairs[3][::2] == (None, 0.0) and {pairs[0][1], pairs[3][1]} == {0, 2}
    assert match_boxes([], second) == [(None, 0, 0.0), (None, 1, 0.0), (None, 2, 0.0)]
    assert match_boxes(first, []) == [(0, None, 0.0), (1, None, 0.0)]
    assert match_boxes([], []) == []


def best_total_iou(first: list[Box], second: list[Box]) -> float:
    """Brute force over every one-to-one pairing: the reference for the assignment."""
    padded = list(range(len(second))) + [None] * len(first)
    return max(
        sum(box_iou(a, second[j]) for a, j in zip(first, chosen, strict=False) if j is not None)
        for chosen in itertools.permutations(padded, len(first))
    )


@pytest.mark.parametrize("seed", range(5))
def test_match_boxes_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)

    def boxes(count: int) -> list[Box]:
        corners = rng.uniform(0, 20, size=(count, 2))
        return [(tuple(c.tolist()), tuple((c + rng.uniform(2, 8, size=2)).tolist())) for c in corners]

    first, second = boxes(int(rng.integers(1, 5))), boxes(int(rng.integers(1, 5)))
    pairs = match_boxes(first, second)
    assert sum(iou for _, _, iou in pairs) == pytest.approx(best_total_iou(first, second), abs=1e-12)
    assert sorted(i for i, _, _ in pairs if i is not None) == list(range(len(first)))
    assert sorted(j for _, j, _ in pairs if j is not None) == list(range(len(second)))
    assert all(iou > 0 for i, j, iou in pairs if i is not None and j is not None)


def test_dice_and_iou_hand_counts() -> None:
    a = np.zeros((4, 4), dtype=bool)
    b = np.zeros((4, 4), dtype=bool)
    a[0:2, 0:3] = True  # 6 voxels
    b[1:3, 0:2] = True  # 4 voxels, 2 shared with a
    assert dice(a, b) == pytest.approx(2 * 2 / (6 + 4))
    assert mask_iou(a, b) == pytest.approx(2 / (6 + 4 - 2))
    assert dice(a, a) == mask_iou(a, a) == 1.0
    assert dice(a, ~a) == mask_iou(a, ~a) == 0.0
    empty = np.zeros((2, 3, 4), dtype=np.uint8)
    assert dice(empty, empty) == mask_iou(empty, empty) == 1.0


@pytest.mark.parametrize(("seed", "shape"), [(0, (16, 16)), (1, (8, 9, 10)), (2, (64,)), (3, (5, 5, 5))])
def test_dice_and_iou_match_sklearn(seed: int, shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(seed)
    a, b = rng.random(shape) < 0.4, rng.random(shape) < 0.3
    assert dice(a, b) == pytest.approx(f1_score(a.ravel(), b.ravel()), abs=1e-12)
    assert mask_iou(a, b) == pytest.approx(jaccard_score(a.ravel(), b.ravel()), abs=1e-12)
    iou = mask_iou(a, b)
    assert dice(a, b) == pytest.approx(2 * iou / (1 + iou), abs=1e-12)


def test_masks_of_different_shapes_are_rejected() -> None:
    for measure in (dice, mask_iou):
        with pytest.raises(InvalidArgument) as error:
            measure(np.zeros((2, 2)), np.zeros((2, 3)))
        assert error.value.reason == "MASK_SHAPE_MISMATCH"
    with pytest.raises(InvalidArgument) as error:
        case_mask_agreement("c1", {"A": np.zeros((2, 2), dtype=int), "B": np.zeros((3, 2), dtype=int)})
    assert error.value.reason == "MASK_SHAPE_MISMATCH"


def test_case_class_agreement() -> None:
    assert case_class_agreement("c1", {"B": "normal", "A": "nodule"}) == CaseAgreement(
        "c1", "class", 0.0, "A: nodule, B: normal"
    )
    assert case_class_agreement("c2", {"A": "mass", "B": "mass", "C": "mass"}).score == 1.0
    with pytest.raises(InvalidArgument) as error:
        case_class_agreement("c3", {"A": "mass"})
    assert error.value.reason == "NEEDS_TWO_READERS"


def test_case_box_agreement() -> None:
    # A0 matches B0 with IoU 1/7; A1 overlaps nothing: (1/7 + 0) / 2.
    case = case_box_agreement("c1", {"A": [((0, 0), (2, 2)), ((9, 9), (10, 10))], "B": [((1, 1), (3, 3))]})
    assert case.kind == "boxes" and case.score == pytest.approx(1 / 14)
    assert case.detail == "2 boxes vs 1, mean IoU 0.07"
    assert case_box_agreement("c2", {"A": [], "B": []}).score == 1.0
    assert case_box_agreement("c3", {"A": [((0, 0), (1, 1))], "B": []}).score == 0.0
    with pytest.raises(InvalidArgument) as error:
        case_box_agreement("c4", {"A": [], "B": [], "C": []})
    assert error.value.reason == "NEEDS_TWO_READERS"


def test_case_mask_agreement() -> None:
    first = np.array([[1, 1, 0], [2, 2, 0], [0, 0, 0]])
    second = np.array([[1, 1, 0], [2, 0, 0], [0, 0, 3]])
    # label 1: Dice 1; label 2: 2*1/(2+1) = 2/3; label 3: only in B, Dice 0 -> mean 5/9
    case = case_mask_agreement("c1", {"A": first, "B": second})
    assert case.kind == "mask" and case.score == pytest.approx(5 / 9)
    assert case.detail == "Dice label 1: 1.00, label 2: 0.67, label 3: 0.00"
    empty = np.zeros((3, 3), dtype=np.uint8)
    assert case_mask_agreement("c2", {"A": empty, "B": empty}).score == 1.0
    with pytest.raises(InvalidArgument) as error:
        case_mask_agreement("c3", {"A": first.astype(float), "B": second})
    assert error.value.reason == "MASK_NOT_LABEL_MAP"
    with pytest.raises(InvalidArgument) as error:
        case_mask_agreement("c4", {"A": first})
    assert error.value.reason == "NEEDS_TWO_READERS"


def test_largest_disagreements_lowest_score_first_ties_by_case_id() -> None:
    cases = [
        CaseAgreement("c3", "class", 1.0, ""),
        CaseAgreement("c2", "mask", 0.4, ""),
        CaseAgreement("c4", "boxes", 0.0, ""),
        CaseAgreement("c1", "mask", 0.4, ""),
        CaseAgreement("c0", "class", 0.0, ""),
    ]
    assert [case.case_id for case in largest_disagreements(cases)] == ["c0", "c4", "c1", "c2", "c3"]
    assert [case.case_id for case in largest_disagreements(iter(cases), limit=2)] == ["c0", "c4"]
    assert largest_disagreements(cases, limit=0) == []
    with pytest.raises(InvalidArgument) as error:
        largest_disagreements(cases, limit=-1)
    assert error.value.reason == "INVALID_LIMIT"
