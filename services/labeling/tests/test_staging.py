"""Mask uploads no save named are swept out once old; recent ones and other objects stay."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from radscholar_core.objectstore import ObjectStoreSettings, open_object_store
from radscholar_labeling.adapters.staging import sweep_staged_masks


def test_old_mask_uploads_are_swept_and_nothing_else(tmp_path: Path) -> None:
    objects = open_object_store(ObjectStoreSettings(root=tmp_path / "objects"))
    for key in ("staging/masks/t1/old.nii.gz", "staging/masks/t2/new.seg", "labels/p/t1/kept.nii.gz"):
        objects.put(key, b"mask")
    two_days_ago = (datetime.now(UTC) - timedelta(days=2)).timestamp()
    for key in ("staging/masks/t1/old.nii.gz", "labels/p/t1/kept.nii.gz"):
        path = objects.local_path(key)
        assert path is not None
        os.utime(path, (two_days_ago, two_days_ago))
    assert sweep_staged_masks(objects, timedelta(hours=24)) == 1
    assert not objects.exists("staging/masks/t1/old.nii.gz")
    assert objects.exists("staging/masks/t2/new.seg") and objects.exists("labels/p/t1/kept.nii.gz")
    assert sweep_staged_masks(objects, timedelta(hours=24)) == 0
