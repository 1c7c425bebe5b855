"""The class rules are learnable: simple radiomics features separate benign from malignant nodules."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage
from scipy.spatial import ConvexHull
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from radscholar_phantoms import build_case

_IN_PLANE_CROSS = np.zeros((3, 3, 3), dtype=bool)
_IN_PLANE_CROSS[1] = ndimage.generate_binary_structure(2, 1)


def nodule_features(hu: NDArray[np.int16], mask: NDArray[np.bool_], spacing_zyx: NDArray[np.float64]) -> list[float]:
    """Interior heterogeneity (HU std away from the partial-volume rim), sphericity and solidity."""
    interior = ndimage.binary_erosion(mask, structure=_IN_PLANE_CROSS)
    values = hu[interior if interior.sum() >= 5 else mask].astype(float)
    volume = mask.sum() * spacing_zyx.prod()
    padded = np.pad(mask, 1).astype(np.int8)
    area = sum(np.count_nonzero(np.diff(padded, axis=a)) * np.prod(np.delete(spacing_zyx, a)) for a in range(3))
    sphericity = np.pi ** (1 / 3) * (6 * volume) ** (2 / 3) / area
    # Hull of the voxel corners: near 1 for a solid convex body, lower for spiculated or lobulated ones.
    corners = np.array([[a, b, c] for a in (-0.5, 0.5) for b in (-0.5, 0.5) for c in (-0.5, 0.5)])
    points = (np.argwhere(mask)[:, None, :] + corners[None]).reshape(-1, 3) * spacing_zyx
    solidity = volume / ConvexHull(points).volume
    return [float(values.std()), float(sphericity), float(solidity)]


def test_benign_and_malignant_nodules_are_separable() -> None:
    features, labels = [], []
    for case_index in range(20):
        case = build_case("ct", seed=2024, case_index=case_index, sites=2, lesion_classes=["benign", "malignant"])
        image = case.series[0].image
        spacing = np.asarray(image.geometry.spacing[::-1])
        for lesion in image.lesions:
            features.append(nodule_features(image.pixels, image.label_map == lesion.lesion_id, spacing))
            labels.append(int(lesion.lesion_class == "malignant"))
    x, y = np.asarray(features), np.asarray(labels)
    assert len(y) >= 38 and 0.4 < y.mean() < 0.6
    model = make_pipeline(StandardScaler(), LogisticRegression())
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    scores = cross_val_predict(model, x, y, cv=folds, method="predict_proba")[:, 1]
    auc = roc_auc_score(y, scores)
    assert auc > 0.8, f"cross-validated AUC {auc:.2f}"
