"""Deterministic DICOM UIDs: the same (seed, kind, case, role) always gives the same UID.

``pydicom.uid.generate_uid`` hashes its entropy sources (SHA-512) under pydicom's registered root, so
UIDs are valid, unique for different inputs (up to hash collisions) and stable across runs.
"""

from __future__ import annotations

from pydicom.uid import PYDICOM_ROOT_UID, generate_uid

# Bumped whenever a change to the generator changes pixels for the same arguments, so that stores
# never see one SOP Instance UID with two different contents.
UID_NAMESPACE = "radscholar-phantoms/1"


def phantom_uid(seed: int, kind: str, case_index: int, *role: str | int) -> str:
    """UID of one entity of one case, e.g. ``phantom_uid(7, "ct", 3, "series", 1)``."""
    # generate_uid concatenates its sources without a separator ("7"+"12" == "71"+"2"): join them first.
    source = "|".join([UID_NAMESPACE, kind, str(seed), str(case_index), *(str(r) for r in role)])
    return str(generate_uid(prefix=PYDICOM_ROOT_UID, entropy_srcs=[source]))
