"""IBSI compliance: the digital phantom computed by pyradiomics against the IBSI-1 reference values."""

import csv
import io
from collections import Counter
from importlib import resources

import pytest
from radiomics import getFeatureClasses

from radscholar_core.errors import InvalidArgument
from radscholar_radiomics.domain.ibsi import (
    AGGREGATIONS,
    DOCUMENTED_DEVIATION,
    MATCH,
    ComplianceRow,
    compliance,
    compliance_table,
    ibsi_features,
    ibsi_name,
    same_to_three_significant,
)

# IBSI families whose features pyradiomics computes (shape, firstorder, glcm, glrlm, glszm, gldm, ngtdm)
FAMILIES = {
    "Morphological features",
    "Intensity-based statistical features",
    "Intensity histogram features",
    "Grey level co-occurrence based features",
    "Grey level run length based features",
    "Grey level size zone based features",
    "Neighbouring grey level dependence based features",
    "Neighbourhood grey tone difference based features",
}

# Reference features of those families that pyradiomics does not compute, by IBSI code.
IBSI_ONLY = {
    # morphology: asphericity, centre of mass shift, volume / area densities, integrated intensity, Moran, Geary
    *("25C7", "KLMA", "PBX1", "R59B", "6BDE", "RDD2", "R3ER", "7T7F", "99N0", "N365", "NPT7"),
    # intensity statistics: median absolute deviation, coefficient of variation, quartile coefficient of dispersion
    *("N72L", "7TET", "9S40"),
    # intensity histogram: pyradiomics' firstorder uses the original intensities except Entropy and Uniformity
    *("X6K6", "CH89", "88K1", "C3I7", "WIFQ", "1PR8", "GPMT", "3NCY", "AMMC", "WR0O", "5Z3W"),
    *("D2ZX", "WRZB", "4RNL", "CWYJ", "SLWD", "12CE", "8E6O", "VQB3", "RHQZ"),
    # NGLDM: dependence count percentage (deprecated in pyradiomics: always 1) and energy
    *("6XV8", "CAS9"),
}

DEVIATIONS = {"shape_MajorAxisLength", "shape_MinorAxisLength", "shape_LeastAxisLength"}


@pytest.fixture(scope="module")
def rows() -> list[ComplianceRow]:
    return compliance()


def _phantom_reference() -> list[dict[str, str]]:
    text = (resources.files("radscholar_radiomics") / "reference" / "ibsi1_reference_values.csv").read_text()
    return [row for row in csv.DictReader(io.StringIO(text)) if row["data"] == "dig. phantom"]


def test_compares_every_aggregation_pyradiomics_produces(rows: list[ComplianceRow]) -> None:
    per_aggregation = Counter(row.aggregation for row in rows)
    assert len(rows) > 100
    assert per_aggregation == {
        "": 31,  # 14 morphology + 15 intensity statistics + 2 histogram (entropy, uniformity)
        "3D, averaged": 41,  # 25 GLCM + 16 GLRLM
        "3D, merged": 41,
        "2.5D, direction-merged": 41,
        "2.5D, merged": 41,
        "3D": 36,  # 16 GLSZM + 15 NGLDM + 5 NGTDM
        "2.5D": 36,
    }
    assert len({(row.ibsi.code, row.aggregation) for row in rows}) == len(rows)


def test_every_row_matches_except_the_documented_deviations(rows: list[ComplianceRow]) -> None:
    off = {row.feature: row for row in rows if row.status != MATCH}
    assert set(off) == DEVIATIONS
    assert all(row.status == DOCUMENTED_DEVIATION for row in off.values())
    assert all("N - 1" in row.note for row in off.values())
    assert [row.reference for row in off.values()] == [11.4, 9.31, 8.54]
    assert Counter(row.status for row in rows) == {MATCH: 264, DOCUMENTED_DEVIATION: 3}
    for row in rows:
        if row.status == MATCH:
            assert same_to_three_significant(row.reported, row.reference), row


def test_kurtosis_matches_as_excess_kurtosis(rows: list[ComplianceRow]) -> None:
    (kurtosis,) = [row for row in rows if row.ibsi.tag == "stat.kurt"]
    assert kurtosis.feature == "firstorder_Kurtosis"
    assert kurtosis.reported == pytest.approx(kurtosis.computed - 3)
    assert not same_to_three_significant(kurtosis.computed, kurtosis.reference)
    assert kurtosis.status == MATCH
    assert kurtosis.reference == -0.355


def test_every_phantom_feature_pyradiomics_computes_is_compared(rows: list[ComplianceRow]) -> None:
    compared = {(row.ibsi.code, row.aggregation) for row in rows}
    expected = {
        (ref["ibsi_code"], ref["aggregation"])
        for ref in _phantom_reference()
        if ref["family"] in FAMILIES and ref["aggregation"] in {"", *AGGREGATIONS}
    }
    assert {code for code, _ in expected - compared} == IBSI_ONLY
    assert compared <= expected


def test_the_mapping_agrees_with_the_reference_names_and_tags() -> None:
    by_code = {ref["ibsi_code"]: ref for ref in _phantom_reference()}
    for feature, ibsi in ibsi_features().items():
        ref = by_code[ibsi.code]
        assert ibsi.name == ref["feature"], feature
        assert ibsi.family == ref["family"], feature
        assert ref["ibsi_tag"] in {ibsi.tag, "", "ntg.complexity"}, feature


def test_every_pyradiomics_feature_of_the_seven_families_is_mapped_or_known_missing() -> None:
    classes = getFeatureClasses()
    families = ("shape", "firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm")
    names = [f"{family}_{feature}" for family in families for feature in classes[family].getFeatureNames()]
    unmapped = {name for name in names if ibsi_name(name) is None}
    assert unmapped == {
        "firstorder_TotalEnergy",
        "firstorder_StandardDeviation",
        "glcm_MCC",
        "shape_Maximum2DDiameterSlice",
        "shape_Maximum2DDiameterColumn",
        "shape_Maximum2DDiameterRow",
    }


@pytest.mark.parametrize(
    ("feature", "code", "tag"),
    [
        ("original_glcm_ClusterTendency", "DG8W", "cm.clust.tend"),
        ("glcm_SumVariance", "OEEB", "cm.sum.var"),
        ("original_glcm_SumSquares", "UR99", "cm.joint.var"),
        ("glcm_JointEnergy", "8ZQL", "cm.energy"),
        ("glcm_MaximumProbability", "GYBY", "cm.joint.max"),
        ("glcm_DifferenceAverage", "TF7R", "cm.diff.avg"),
        ("glcm_Dissimilarity", "8S9J", "cm.dissimilarity"),
        ("original_gldm_LargeDependenceEmphasis", "IMOQ", "ngl.hde"),
        ("gldm_SmallDependenceEmphasis", "SODN", "ngl.lde"),
        ("glszm_LargeAreaEmphasis", "48P8", "szm.lze"),
        ("firstorder_Kurtosis", "IPH6", "stat.kurt"),
        ("firstorder_Entropy", "TLU2", "ih.entropy"),
        ("wavelet-LLH_glrlm_RunPercentage", "9ZK5", "rlm.r.perc"),
        ("shape_VoxelVolume", "YEKZ", "morph.approx.vol"),
    ],
)
def test_ibsi_name_of_tricky_features(feature: str, code: str, tag: str) -> None:
    ibsi = ibsi_name(feature)
    assert ibsi is not None
    assert (ibsi.code, ibsi.tag) == (code, tag)


@pytest.mark.parametrize(
    "feature", ["original_glcm_MCC", "firstorder_TotalEnergy", "diagnostics_Versions_PyRadiomics", "nonsense"]
)
def test_features_ibsi_lacks_have_no_name(feature: str) -> None:
    assert ibsi_name(feature) is None


def test_the_table_lists_every_row(rows: list[ComplianceRow]) -> None:
    lines = compliance_table(rows).splitlines()
    assert lines[0].split()[:3] == ["feature", "IBSI", "code"]
    assert len(lines) == len(rows) + 1
    for row, line in zip(rows, lines[1:], strict=True):
        assert line.startswith(row.feature)
        assert row.ibsi.code in line
        assert row.status in line


def test_aggregations_can_be_chosen_and_2d_is_refused() -> None:
    rows = compliance(["2.5D"])
    assert {row.aggregation for row in rows} == {"", "2.5D"}
    with pytest.raises(InvalidArgument, match="2D, averaged"):
        compliance(["2D, averaged"])
