"""The in-memory result of a phantom builder: pixels, geometry, label map and ground truth."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from radscholar_phantoms.geometry import Geometry
from radscholar_phantoms.lesions import Lesion

# Anatomy label maps (``PhantomImage.tissue_map``); lesions always carry LESION_TISSUE.
CT_TISSUES: dict[str, int] = {
    "air": 0,
    "fat": 1,
    "soft_tissue": 2,
    "lung": 3,
    "bone": 4,
    "airway": 5,
    "csf": 6,
    "lesion": 7,
}
MR_TISSUES: dict[str, int] = {
    "background": 0,
    "scalp": 1,
    "skull": 2,
    "csf": 3,
    "grey_matter": 4,
    "white_matter": 5,
    "ventricle": 6,
    "lesion": 7,
    "neck": 8,
    "eye": 9,
}
LESION_TISSUE = 7


@dataclass(frozen=True)
class PhantomImage:
    """One synthetic image (a 3D series or a 2D projection) with its ground truth.

    ``pixels`` and ``label_map`` are numpy arrays in array order (``[k, j, i]`` or ``[j, i]``).
    CT pixels are Hounsfield units (int16); DX, MG and MR pixels are the stored 12-bit values
    (uint16). In ``label_map`` lesion ``k`` has value ``k`` (1-based) and background is 0.
    """

    modality: str  # "CT", "MR", "DX" or "MG"
    pixels: NDArray[Any]
    geometry: Geometry
    label_map: NDArray[np.uint8]
    lesions: tuple[Lesion, ...]
    tissue_map: NDArray[np.uint8] | None = None  # anatomy labels (CT_TISSUES / MR_TISSUES)
    acquisition: dict[str, Any] = field(default_factory=dict)  # facts the DICOM tags report

    @property
    def label(self) -> str:
        """Image-level label: "malignant" if any lesion is, "benign" if it has lesions, else "normal"."""
        classes = {lesion.lesion_class for lesion in self.lesions}
        if "malignant" in classes:
            return "malignant"
        return "benign" if classes else "normal"
