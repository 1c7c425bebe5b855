"""IBSI compliance: pyradiomics' features by their IBSI names, and the IBSI-1 digital phantom re-computed.

The phantom, its mask and the IBSI-1 reference values ship in the package's ``reference/`` folder
(CC BY 4.0, see its README.md). A value matches when both round to the same 3 significant figures,
``float(f"{x:.3g}")``: the phantom's reference values are exact to 3 significant figures.
"""

from __future__ import annotations

import copy
import csv
import io
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from types import MappingProxyType
from typing import Any

import SimpleITK as sitk
import yaml
from radiomics.featureextractor import RadiomicsFeatureExtractor

from radscholar_core.errors import InvalidArgument
from radscholar_radiomics.domain.settings import presets, validate_settings

PHANTOM_PRESET = "ibsi-phantom"
MATCH = "match"
DOCUMENTED_DEVIATION = "documented deviation"
MISMATCH = "mismatch"


@dataclass(frozen=True)
class IbsiFeature:
    """A feature as IBSI-1 defines it: its name, 4-letter code, tag and feature family."""

    name: str
    code: str
    tag: str
    family: str


_FAMILIES = {
    "morph": "Morphological features",
    "stat": "Intensity-based statistical features",
    "ih": "Intensity histogram features",
    "cm": "Grey level co-occurrence based features",
    "rlm": "Grey level run length based features",
    "szm": "Grey level size zone based features",
    "ngt": "Neighbourhood grey tone difference based features",
    "ngl": "Neighbouring grey level dependence based features",
}

# pyradiomics "class_Feature" -> (IBSI code, IBSI tag, IBSI name), checked by hand against the IBSI-1
# documentation and pyradiomics' formulas. Deprecated pyradiomics names are listed too: they still name
# an IBSI feature, though pyradiomics computes them under their equivalent (see _COMPUTED_AS).
# pyradiomics features that IBSI lacks are absent: firstorder TotalEnergy and StandardDeviation, glcm MCC,
# shape Maximum2DDiameter{Slice,Column,Row}, every shape2D feature.
_TABLE: dict[str, tuple[str, str, str]] = {
    # shape: mesh-based except VoxelVolume; IBSI's PCA axis lengths use the N - 1 covariance (see _DEVIATIONS)
    "shape_MeshVolume": ("RNU0", "morph.vol", "Volume (mesh)"),
    "shape_VoxelVolume": ("YEKZ", "morph.approx.vol", "Volume (voxel counting)"),
    "shape_SurfaceArea": ("C0JK", "morph.area", "Surface area (mesh)"),
    "shape_SurfaceVolumeRatio": ("2PR5", "morph.av", "Surface to volume ratio"),
    "shape_Compactness1": ("SKGS", "morph.comp.1", "Compactness 1"),
    "shape_Compactness2": ("BQWJ", "morph.comp.2", "Compactness 2"),
    "shape_SphericalDisproportion": ("KRCK", "morph.sph.dispr", "Spherical disproportion"),
    "shape_Sphericity": ("QCFX", "morph.sphericity", "Sphericity"),
    "shape_Maximum3DDiameter": ("L0JK", "morph.diam", "Maximum 3D diameter"),
    "shape_MajorAxisLength": ("TDIC", "morph.pca.major", "Major axis length"),
    "shape_MinorAxisLength": ("P9VJ", "morph.pca.minor", "Minor axis length"),
    "shape_LeastAxisLength": ("7J51", "morph.pca.least", "Least axis length"),
    "shape_Elongation": ("Q3CK", "morph.pca.elongation", "Elongation"),
    "shape_Flatness": ("N17B", "morph.pca.flatness", "Flatness"),
    # firstorder: on the original intensities (IBSI "stat"), except Entropy and Uniformity, which pyradiomics
    # computes on the discretised intensities (IBSI "ih")
    "firstorder_Mean": ("Q4LE", "stat.mean", "Mean intensity"),
    "firstorder_Variance": ("ECT3", "stat.var", "Intensity variance"),
    "firstorder_Skewness": ("KE2A", "stat.skew", "Intensity skewness"),
    "firstorder_Kurtosis": ("IPH6", "stat.kurt", "(Excess) intensity kurtosis"),  # IBSI = pyradiomics - 3
    "firstorder_Median": ("Y12H", "stat.median", "Median intensity"),
    "firstorder_Minimum": ("1GSF", "stat.min", "Minimum intensity"),
    "firstorder_10Percentile": ("QG58", "stat.p10", "10th intensity percentile"),
    "firstorder_90Percentile": ("8DWT", "stat.p90", "90th intensity percentile"),
    "firstorder_Maximum": ("84IY", "stat.max", "Maximum intensity"),
    "firstorder_InterquartileRange": ("SALO", "stat.iqr", "Intensity interquartile range"),
    "firstorder_Range": ("2OJQ", "stat.range", "Intensity range"),
    "firstorder_MeanAbsoluteDeviation": ("4FUA", "stat.mad", "Intensity-based mean absolute deviation"),
    "firstorder_RobustMeanAbsoluteDeviation": (
        "1128",
        "stat.rmad",
        "Intensity-based robust mean absolute deviation",
    ),
    "firstorder_Energy": ("N8CA", "stat.energy", "Intensity-based energy"),  # only with voxelArrayShift 0
    "firstorder_RootMeanSquared": ("5ZWQ", "stat.rms", "Root mean square intensity"),  # only with voxelArrayShift 0
    "firstorder_Entropy": ("TLU2", "ih.entropy", "Discretised intensity entropy"),
    "firstorder_Uniformity": ("BJ5W", "ih.uniformity", "Discretised intensity uniformity"),
    # glcm
    "glcm_MaximumProbability": ("GYBY", "cm.joint.max", "Joint maximum"),
    "glcm_JointAverage": ("60VM", "cm.joint.avg", "Joint average"),
    "glcm_SumSquares": ("UR99", "cm.joint.var", "Joint variance"),
    "glcm_JointEntropy": ("TU9B", "cm.joint.entr", "Joint entropy"),
    "glcm_DifferenceAverage": ("TF7R", "cm.diff.avg", "Difference average"),
    "glcm_DifferenceVariance": ("D3YU", "cm.diff.var", "Difference variance"),
    "glcm_DifferenceEntropy": ("NTRS", "cm.diff.entr", "Difference entropy"),
    "glcm_SumAverage": ("ZGXS", "cm.sum.avg", "Sum average"),
    "glcm_SumVariance": ("OEEB", "cm.sum.var", "Sum variance"),  # deprecated: = ClusterTendency
    "glcm_SumEntropy": ("P6QZ", "cm.sum.entr", "Sum entropy"),
    "glcm_JointEnergy": ("8ZQL", "cm.energy", "Angular second moment"),
    "glcm_Contrast": ("ACUI", "cm.contrast", "Contrast"),
    "glcm_Dissimilarity": ("8S9J", "cm.dissimilarity", "Dissimilarity"),  # deprecated: = DifferenceAverage
    "glcm_Id": ("IB1Z", "cm.inv.diff", "Inverse difference"),
    "glcm_Homogeneity1": ("IB1Z", "cm.inv.diff", "Inverse difference"),  # deprecated: = Id
    "glcm_Idn": ("NDRX", "cm.inv.diff.norm", "Normalised inverse difference"),
    "glcm_Idm": ("WF0Z", "cm.inv.diff.mom", "Inverse difference moment"),
    "glcm_Homogeneity2": ("WF0Z", "cm.inv.diff.mom", "Inverse difference moment"),  # deprecated: = Idm
    "glcm_Idmn": ("1QCO", "cm.inv.diff.mom.norm", "Normalised inverse difference moment"),
    "glcm_InverseVariance": ("E8JP", "cm.inv.var", "Inverse variance"),
    "glcm_Correlation": ("NI2N", "cm.corr", "Correlation"),
    "glcm_Autocorrelation": ("QWB0", "cm.auto.corr", "Autocorrelation"),
    "glcm_ClusterTendency": ("DG8W", "cm.clust.tend", "Cluster tendency"),  # also = IBSI sum variance
    "glcm_ClusterShade": ("7NFM", "cm.clust.shade", "Cluster shade"),
    "glcm_ClusterProminence": ("AE86", "cm.clust.prom", "Cluster prominence"),
    "glcm_Imc1": ("R8DG", "cm.info.corr.1", "Information correlation 1"),
    "glcm_Imc2": ("JN9H", "cm.info.corr.2", "Information correlation 2"),
    # glrlm
    "glrlm_ShortRunEmphasis": ("22OV", "rlm.sre", "Short runs emphasis"),
    "glrlm_LongRunEmphasis": ("W4KF", "rlm.lre", "Long runs emphasis"),
    "glrlm_LowGrayLevelRunEmphasis": ("V3SW", "rlm.lgre", "Low grey level run emphasis"),
    "glrlm_HighGrayLevelRunEmphasis": ("G3QZ", "rlm.hgre", "High grey level run emphasis"),
    "glrlm_ShortRunLowGrayLevelEmphasis": ("HTZT", "rlm.srlge", "Short run low grey level emphasis"),
    "glrlm_ShortRunHighGrayLevelEmphasis": ("GD3A", "rlm.srhge", "Short run high grey level emphasis"),
    "glrlm_LongRunLowGrayLevelEmphasis": ("IVPO", "rlm.lrlge", "Long run low grey level emphasis"),
    "glrlm_LongRunHighGrayLevelEmphasis": ("3KUM", "rlm.lrhge", "Long run high grey level emphasis"),
    "glrlm_GrayLevelNonUniformity": ("R5YN", "rlm.glnu", "Grey level non-uniformity"),
    "glrlm_GrayLevelNonUniformityNormalized": ("OVBL", "rlm.glnu.norm", "Normalised grey level non-uniformity"),
    "glrlm_RunLengthNonUniformity": ("W92Y", "rlm.rlnu", "Run length non-uniformity"),
    "glrlm_RunLengthNonUniformityNormalized": ("IC23", "rlm.rlnu.norm", "Normalised run length non-uniformity"),
    "glrlm_RunPercentage": ("9ZK5", "rlm.r.perc", "Run percentage"),
    "glrlm_GrayLevelVariance": ("8CE5", "rlm.gl.var", "Grey level variance"),
    "glrlm_RunVariance": ("SXLW", "rlm.rl.var", "Run length variance"),
    "glrlm_RunEntropy": ("HJ9O", "rlm.rl.entr", "Run entropy"),
    # glszm
    "glszm_SmallAreaEmphasis": ("5QRC", "szm.sze", "Small zone emphasis"),
    "glszm_LargeAreaEmphasis": ("48P8", "szm.lze", "Large zone emphasis"),
    "glszm_LowGrayLevelZoneEmphasis": ("XMSY", "szm.lgze", "Low grey level zone emphasis"),
    "glszm_HighGrayLevelZoneEmphasis": ("5GN9", "szm.hgze", "High grey level zone emphasis"),
    "glszm_SmallAreaLowGrayLevelEmphasis": ("5RAI", "szm.szlge", "Small zone low grey level emphasis"),
    "glszm_SmallAreaHighGrayLevelEmphasis": ("HW1V", "szm.szhge", "Small zone high grey level emphasis"),
    "glszm_LargeAreaLowGrayLevelEmphasis": ("YH51", "szm.lzlge", "Large zone low grey level emphasis"),
    "glszm_LargeAreaHighGrayLevelEmphasis": ("J17V", "szm.lzhge", "Large zone high grey level emphasis"),
    "glszm_GrayLevelNonUniformity": ("JNSA", "szm.glnu", "Grey level non-uniformity"),
    "glszm_GrayLevelNonUniformityNormalized": ("Y1RO", "szm.glnu.norm", "Normalised grey level non-uniformity"),
    "glszm_SizeZoneNonUniformity": ("4JP3", "szm.zsnu", "Zone size non-uniformity"),
    "glszm_SizeZoneNonUniformityNormalized": ("VB3A", "szm.zsnu.norm", "Normalised zone size non-uniformity"),
    "glszm_ZonePercentage": ("P30P", "szm.z.perc", "Zone percentage"),
    "glszm_GrayLevelVariance": ("BYLV", "szm.gl.var", "Grey level variance"),
    "glszm_ZoneVariance": ("3NSA", "szm.zs.var", "Zone size variance"),
    "glszm_ZoneEntropy": ("GU8N", "szm.zs.entr", "Zone size entropy"),
    # gldm = IBSI NGLDM with coarseness alpha gldm_a and distance 1
    "gldm_SmallDependenceEmphasis": ("SODN", "ngl.lde", "Low dependence emphasis"),
    "gldm_LargeDependenceEmphasis": ("IMOQ", "ngl.hde", "High dependence emphasis"),
    "gldm_LowGrayLevelEmphasis": ("TL9H", "ngl.lgce", "Low grey level count emphasis"),
    "gldm_HighGrayLevelEmphasis": ("OAE7", "ngl.hgce", "High grey level count emphasis"),
    "gldm_SmallDependenceLowGrayLevelEmphasis": ("EQ3F", "ngl.ldlge", "Low dependence low grey level emphasis"),
    "gldm_SmallDependenceHighGrayLevelEmphasis": ("JA6D", "ngl.ldhge", "Low dependence high grey level emphasis"),
    "gldm_LargeDependenceLowGrayLevelEmphasis": ("NBZI", "ngl.hdlge", "High dependence low grey level emphasis"),
    "gldm_LargeDependenceHighGrayLevelEmphasis": ("9QMG", "ngl.hdhge", "High dependence high grey level emphasis"),
    "gldm_GrayLevelNonUniformity": ("FP8K", "ngl.glnu", "Grey level non-uniformity"),
    "gldm_GrayLevelNonUniformityNormalized": (  # deprecated: = firstorder Uniformity
        "5SPA",
        "ngl.glnu.norm",
        "Normalised grey level non-uniformity",
    ),
    "gldm_DependenceNonUniformity": ("Z87G", "ngl.dcnu", "Dependence count non-uniformity"),
    "gldm_DependenceNonUniformityNormalized": ("OKJI", "ngl.dcnu.norm", "Normalised dependence count non-uniformity"),
    "gldm_DependencePercentage": ("6XV8", "ngl.dc.perc", "Dependence count percentage"),  # deprecated: always 1
    "gldm_GrayLevelVariance": ("1PFV", "ngl.gl.var", "Grey level variance"),
    "gldm_DependenceVariance": ("DNX2", "ngl.dc.var", "Dependence count variance"),
    "gldm_DependenceEntropy": ("FCBV", "ngl.dc.entr", "Dependence count entropy"),
    # ngtdm
    "ngtdm_Coarseness": ("QCDE", "ngt.coarseness", "Coarseness"),
    "ngtdm_Contrast": ("65HE", "ngt.contrast", "Contrast"),
    "ngtdm_Busyness": ("NQ30", "ngt.busyness", "Busyness"),
    "ngtdm_Complexity": ("HDEZ", "ngt.complexity", "Complexity"),
    "ngtdm_Strength": ("1X9X", "ngt.strength", "Strength"),
}

# Deprecated pyradiomics features raise instead of computing; the compliance report compares their IBSI
# feature with the pyradiomics feature that equals it by definition.
_COMPUTED_AS = {
    "glcm_SumVariance": "glcm_ClusterTendency",
    "glcm_Dissimilarity": "glcm_DifferenceAverage",
    "glcm_Homogeneity1": "glcm_Id",
    "glcm_Homogeneity2": "glcm_Idm",
    "gldm_GrayLevelNonUniformityNormalized": "firstorder_Uniformity",
}
_NOTE_COMPUTED_AS = {
    "glcm_SumVariance": "IBSI sum variance = cluster tendency (pyradiomics' SumVariance is deprecated)",
    "glcm_Dissimilarity": "IBSI dissimilarity = difference average (pyradiomics' Dissimilarity is deprecated)",
    "gldm_GrayLevelNonUniformityNormalized": "IBSI NGLDM normalised grey level non-uniformity = intensity "
    "uniformity (pyradiomics' gldm GrayLevelNonUniformityNormalized is deprecated)",
}

KURTOSIS = "firstorder_Kurtosis"
# Documented deviations of pyradiomics from IBSI (reference/README.md): feature -> what explains it.
AXIS_LENGTHS = ("shape_MajorAxisLength", "shape_MinorAxisLength", "shape_LeastAxisLength")
_DEVIATION_NOTE = "pyradiomics' PCA divides the covariance by N, IBSI by N - 1"

# The IBSI aggregations pyradiomics can produce -> (weightingNorm, force2D), and the IBSI families each
# aggregation names. IBSI's per-slice "2D" aggregations have no pyradiomics equivalent.
_AGGREGATIONS: dict[str, tuple[str | None, bool, frozenset[str]]] = {
    "3D, averaged": (None, False, frozenset({"cm", "rlm"})),
    "3D, merged": ("no_weighting", False, frozenset({"cm", "rlm"})),
    "2.5D, direction-merged": (None, True, frozenset({"cm", "rlm"})),
    "2.5D, merged": ("no_weighting", True, frozenset({"cm", "rlm"})),
    "3D": (None, False, frozenset({"szm", "ngl", "ngt"})),
    "2.5D": (None, True, frozenset({"szm", "ngl", "ngt"})),
}
AGGREGATIONS: tuple[str, ...] = tuple(_AGGREGATIONS)


def _feature_key(pyradiomics_feature: str) -> str:
    """'original_glcm_Contrast' or 'glcm_Contrast' -> 'glcm_Contrast' (the image type does not matter)."""
    return "_".join(pyradiomics_feature.split("_")[-2:])


def _ibsi(code: str, tag: str, name: str) -> IbsiFeature:
    return IbsiFeature(name=name, code=code, tag=tag, family=_FAMILIES[tag.split(".")[0]])


_BY_FEATURE = {key: _ibsi(*entry) for key, entry in _TABLE.items()}


def ibsi_name(pyradiomics_feature: str) -> IbsiFeature | None:
    """The IBSI feature a pyradiomics feature key computes, or None where IBSI defines none.

    Accepts the full output key ("original_glcm_ClusterTendency", any image type) or "glcm_ClusterTendency".
    """
    return _BY_FEATURE.get(_feature_key(pyradiomics_feature))


def ibsi_features() -> dict[str, IbsiFeature]:
    """The whole mapping table: pyradiomics "class_Feature" -> its IBSI feature."""
    return dict(_BY_FEATURE)


@dataclass(frozen=True)
class ComplianceRow:
    """One phantom feature: pyradiomics' value against IBSI's, after the documented corrections."""

    feature: str  # the pyradiomics feature whose value is compared, "class_Feature"
    ibsi: IbsiFeature
    aggregation: str  # IBSI's aggregation; "" for features without one (morphology, intensity)
    reference: float
    computed: float
    reported: float
    status: str  # MATCH, DOCUMENTED_DEVIATION or MISMATCH
    note: str


def three_significant(value: float) -> float:
    """The value rounded to 3 significant figures: how the phantom's reference values are given."""
    return float(f"{value:.3g}")


def same_to_three_significant(a: float, b: float) -> bool:
    return three_significant(a) == three_significant(b)


@dataclass(frozen=True)
class _ReferenceRow:
    code: str
    aggregation: str
    value: float


def _reference_folder() -> Traversable:
    return resources.files("radscholar_radiomics") / "reference"


@cache
def _phantom_references() -> tuple[_ReferenceRow, ...]:
    text = (_reference_folder() / "ibsi1_reference_values.csv").read_text(encoding="utf-8")
    return tuple(
        _ReferenceRow(row["ibsi_code"], row["aggregation"], float(row["value"]))
        for row in csv.DictReader(io.StringIO(text))
        if row["data"] == "dig. phantom"
    )


def _phantom_settings(weighting_norm: str | None, force_2d: bool) -> dict[str, Any]:
    preset = next(p for p in presets() if p.id == PHANTOM_PRESET)
    params = copy.deepcopy(validate_settings(preset.settings_yaml).params)
    setting = {**(params.get("setting") or {}), "weightingNorm": weighting_norm, "force2D": force_2d}
    if force_2d:
        setting["force2Ddimension"] = 0  # in-plane neighbours within each axial slice, as IBSI's 2.5D
    params["setting"] = setting
    return copy.deepcopy(validate_settings(yaml.safe_dump(params)).params)


@cache
def _phantom_features(weighting_norm: str | None, force_2d: bool) -> Mapping[str, float]:
    """pyradiomics' features of the phantom, keyed "class_Feature", with the preset adjusted."""
    params = _phantom_settings(weighting_norm, force_2d)
    folder = _reference_folder()
    with (
        resources.as_file(folder / "ibsi1_digital_phantom_image.nii.gz") as image_path,
        resources.as_file(folder / "ibsi1_digital_phantom_mask.nii.gz") as mask_path,
    ):
        image = sitk.ReadImage(str(image_path))
        mask = sitk.ReadImage(str(mask_path))
    radiomics_logger = logging.getLogger("radiomics")
    level = radiomics_logger.level
    radiomics_logger.setLevel(logging.ERROR)  # pyradiomics logs each deprecated feature at WARNING
    try:
        values = RadiomicsFeatureExtractor(params).execute(image, mask)
    finally:
        radiomics_logger.setLevel(level)
    return MappingProxyType(
        {_feature_key(key): float(value) for key, value in values.items() if not key.startswith("diagnostics_")}
    )


def _compare(feature: str, ibsi: IbsiFeature, aggregation: str, reference: float, computed: float) -> ComplianceRow:
    reported, note = computed, _NOTE_COMPUTED_AS.get(feature, "")
    shown = _COMPUTED_AS.get(feature, feature)
    if feature == KURTOSIS:
        reported = computed - 3.0
        note = "IBSI reports excess kurtosis: reported = pyradiomics kurtosis - 3"
    if same_to_three_significant(reported, reference):
        return ComplianceRow(shown, ibsi, aggregation, reference, computed, reported, MATCH, note)
    if feature in AXIS_LENGTHS:
        # reference/README.md deviation 2; a deviation counts as documented only when N - 1 explains it
        voxels = _phantom_features(None, False)["shape_VoxelVolume"] / _voxel_volume()
        with_n_minus_1 = computed * math.sqrt(voxels / (voxels - 1))
        if same_to_three_significant(with_n_minus_1, reference):
            note = f"{_DEVIATION_NOTE}; with N - 1 (N = {voxels:.0f}) it would be {three_significant(with_n_minus_1):g}"
            return ComplianceRow(shown, ibsi, aggregation, reference, computed, reported, DOCUMENTED_DEVIATION, note)
    return ComplianceRow(shown, ibsi, aggregation, reference, computed, reported, MISMATCH, note)


@cache
def _voxel_volume() -> float:
    with resources.as_file(_reference_folder() / "ibsi1_digital_phantom_image.nii.gz") as path:
        spacing = sitk.ReadImage(str(path)).GetSpacing()
    return math.prod(spacing)


def compliance(aggregations: Sequence[str] = AGGREGATIONS) -> list[ComplianceRow]:
    """The IBSI-1 digital phantom computed with the ibsi-phantom preset and compared with IBSI's values.

    ``aggregations`` are IBSI's names that pyradiomics can produce (``AGGREGATIONS``): the GLCM / GLRLM
    ones set weightingNorm and force2D, "3D" / "2.5D" those of GLSZM, GLDM and NGTDM. Reference rows
    without an aggregation (morphology, intensity) are compared once, from the default 3D computation.
    Every reference row with a pyradiomics equivalent is compared; IBSI features pyradiomics lacks are not.
    """
    unknown = [a for a in aggregations if a not in _AGGREGATIONS]
    if unknown:
        raise InvalidArgument(
            f"unknown IBSI aggregation {', '.join(map(repr, unknown))}; pyradiomics can produce "
            + ", ".join(map(repr, AGGREGATIONS)),
            reason="UNKNOWN_IBSI_AGGREGATION",
        )
    by_code: dict[str, list[str]] = {}
    for feature, ibsi in _BY_FEATURE.items():
        same_as = _COMPUTED_AS.get(feature)
        if same_as is None or _BY_FEATURE[same_as].code != ibsi.code:  # Homogeneity1 would repeat Id
            by_code.setdefault(ibsi.code, []).append(feature)
    references = _phantom_references()
    rows: list[ComplianceRow] = []
    runs: list[tuple[str, tuple[str | None, bool, frozenset[str]]]] = [
        ("", (None, False, frozenset({"morph", "stat", "ih"})))
    ]
    runs += [(a, _AGGREGATIONS[a]) for a in dict.fromkeys(aggregations)]
    for aggregation, (weighting_norm, force_2d, families) in runs:
        computed = _phantom_features(weighting_norm, force_2d)
        for reference in references:
            if reference.aggregation != aggregation:
                continue
            for feature in by_code.get(reference.code, []):
                ibsi = _BY_FEATURE[feature]
                value = computed.get(_COMPUTED_AS.get(feature, feature))
                if ibsi.tag.split(".")[0] in families and value is not None:
                    rows.append(_compare(feature, ibsi, aggregation, reference.value, value))
    return rows


def compliance_table(rows: Sequence[ComplianceRow]) -> str:
    """The rows as a plain-text table, one line per row, for `radscholar radiomics ibsi-report`."""
    header = ("feature", "IBSI code", "aggregation", "reference", "pyradiomics", "reported", "status", "note")
    lines = [
        (
            row.feature,
            row.ibsi.code,
            row.aggregation or "-",
            f"{row.reference:.4g}",
            f"{row.computed:.6g}",
            f"{row.reported:.6g}",
            row.status,
            row.note,
        )
        for row in rows
    ]
    widths = [max(len(cells[i]) for cells in [header, *lines]) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(width) for cell, width in zip(cells, widths, strict=False)), cells[-1]]).rstrip()
        for cells in [header, *lines]
    )
