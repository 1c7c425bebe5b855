"""Ground truth files: one JSON document and one NIfTI label map per series.

The NIfTI affine is the DICOM geometry converted from LPS to RAS, so SimpleITK (which converts back)
reports the same origin, spacing and direction for the mask as for the DICOM series, and nibabel's
``affine`` maps mask voxels to the same physical points (in RAS). Files are byte-for-byte
reproducible (the gzip header carries no time stamp).
"""

from __future__ import annotations

import gzip
from pathlib import PurePosixPath
from typing import Any

import nibabel as nib
import numpy as np

from radscholar_phantoms.cohort import SyntheticCase, SyntheticSeries

GROUND_TRUTH_SCHEMA = "radscholar-phantoms/ground-truth/1"
GROUND_TRUTH_DIR = "ground_truth"


def ground_truth_paths(series: SyntheticSeries) -> tuple[PurePosixPath, PurePosixPath]:
    """``ground_truth/<series_uid>.json`` and ``ground_truth/<series_uid>_mask.nii.gz``."""
    uid = series.series_instance_uid
    return PurePosixPath(GROUND_TRUTH_DIR, f"{uid}.json"), PurePosixPath(GROUND_TRUTH_DIR, f"{uid}_mask.nii.gz")


def ground_truth_document(
    case: SyntheticCase, series: SyntheticSeries, series_path: PurePosixPath, version: str
) -> dict[str, Any]:
    image = series.image
    geometry = image.geometry
    _, mask_path = ground_truth_paths(series)
    three_d = geometry.ndim == 3
    return {
        "schema": GROUND_TRUTH_SCHEMA,
        "generator": {
            "name": "radscholar-phantoms",
            "version": version,
            "kind": case.kind,
            "seed": case.seed,
            "case_index": case.case_index,
        },
        "site_id": case.site.site_id,
        "patient_id": case.patient.patient_id,
        "study_instance_uid": case.study_instance_uid,
        "series_instance_uid": series.series_instance_uid,
        "frame_of_reference_uid": series.frame_of_reference_uid,
        "modality": image.modality,
        "series_path": str(series_path),
        "mask_path": str(mask_path),
        "label": image.label,
        "conventions": {
            "index_order": (
                "(i, j, k) = (column, row, slice) as in ITK and NIfTI; numpy arrays are [k, j, i]; "
                "slice k is the file with InstanceNumber k + 1"
                if three_d
                else "(i, j) = (column, row) as in ITK and NIfTI; numpy arrays are [j, i]"
            ),
            "physical_space": (
                "DICOM patient coordinates (LPS), millimetres"
                if three_d
                else "image plane, millimetres from the centre of pixel (0, 0); no patient coordinates"
            ),
            "bbox_voxel": "min inclusive, max exclusive",
            "bbox_mm": "outer edges of the boxed voxels, axis-aligned in physical space",
            "centre_voxel": "the voxel the lesion was centred on; centre_mm is its physical position",
            "mask": "label map: 0 background, lesion_id for each lesion",
        },
        "geometry": geometry.to_dict(),
        "acquisition": _jsonable(image.acquisition),
        "lesions": [lesion.to_dict(geometry) for lesion in image.lesions],
    }


def mask_nifti_bytes(series: SyntheticSeries) -> bytes:
    """The label map as a gzipped NIfTI-1 file (uint8, mm units, qform and sform set)."""
    image = series.image
    affine = image.geometry.nifti_affine()
    data = np.ascontiguousarray(image.label_map.T)  # numpy [k, j, i] -> NIfTI (i, j, k)
    nifti = nib.Nifti1Image(data, affine)
    nifti.set_qform(affine, code=1)
    nifti.set_sform(affine, code=1)
    nifti.header.set_xyzt_units(xyz="mm")
    nifti.header["descrip"] = b"radscholar-phantoms lesion labels"
    return gzip.compress(nifti.to_bytes(), compresslevel=6, mtime=0)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
