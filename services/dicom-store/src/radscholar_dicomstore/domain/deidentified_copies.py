"""De-identified copies of stored studies, per project."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import pydicom

from radscholar_core.errors import InvalidArgument
from radscholar_dicomstore.domain.deidentify import (
    DeidentificationAction,
    DeidentificationPolicy,
    DeidentificationReport,
    deidentify,
)
from radscholar_dicomstore.domain.ingest import CheckedInstance, IngestStatus, Rejection, check_instance


class StudySource(Protocol):
    async def study_instance_ids(self, study_instance_uid: str) -> list[str]: ...
    async def instance_file(self, instance_id: str) -> bytes: ...
    async def store(self, instances: Sequence[CheckedInstance]) -> list[IngestStatus | Rejection]: ...


@dataclass(frozen=True)
class DeidentifiedCopy:
    study_instance_uid: str
    pseudonym: str
    instances: int
    actions: dict[str, int]
    removed: list[str]
    burned_in_annotation: int
    series_instance_uids: list[str]


def project_secret(master: bytes, project_id: str) -> bytes:
    """Each project's own key: pseudonyms and UIDs agree within a project and differ across projects."""
    if not project_id:
        raise InvalidArgument("project_id is required: pseudonyms are per project", reason="MISSING_PROJECT_ID")
    return hmac.new(master, f"project:{project_id}".encode(), hashlib.sha256).digest()


async def create_deidentified_copy(
    source: StudySource, study_instance_uid: str, policy: DeidentificationPolicy
) -> DeidentifiedCopy:
    """De-identifies every instance of the study and stores the copies; pixel data is untouched."""
    actions: Counter[str] = Counter()
    removed: set[str] = set()
    new_study, pseudonym, burned = "", "", 0
    series: set[str] = set()
    ids = await source.study_instance_ids(study_instance_uid)
    for instance_id in ids:
        data = await source.instance_file(instance_id)
        checked, report = await asyncio.to_thread(deidentify_instance, data, policy)
        actions.update(report.summary())
        removed.update(c.keyword or c.tag for c in report.with_action(DeidentificationAction.REMOVED))
        burned += report.burned_in_annotation
        if isinstance(checked, Rejection):  # the copy must be as storable as the original
            raise InvalidArgument(f"a de-identified instance is not storable: {checked.message}", reason=checked.reason)
        (outcome,) = await source.store([checked])
        if isinstance(outcome, Rejection):
            raise InvalidArgument(outcome.message, reason=outcome.reason)
        new_study, pseudonym = checked.study_instance_uid, report.pseudonym
        series.add(checked.series_instance_uid)
    return DeidentifiedCopy(new_study, pseudonym, len(ids), dict(actions), sorted(removed), burned, sorted(series))


def deidentify_instance(
    data: bytes, policy: DeidentificationPolicy, name: str = ""
) -> tuple[CheckedInstance | Rejection, DeidentificationReport]:
    """One stored or received instance de-identified and checked again, with what was changed."""
    dataset = pydicom.dcmread(io.BytesIO(data))
    report = deidentify(dataset, policy)
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return check_instance(buffer.getvalue(), name=name or f"{dataset.SOPInstanceUID}.dcm"), report


class DeidentifiedCopies:
    """Makes copies for projects, each with its own key derived from the service's master secret."""

    def __init__(self, source: StudySource, master_secret: bytes) -> None:
        self._source = source
        self._master = master_secret

    async def create(
        self,
        study_instance_uid: str,
        project_id: str,
        *,
        retain_longitudinal_dates: bool = False,
        retain_patient_characteristics: bool = False,
        clean_descriptors: bool = False,
    ) -> DeidentifiedCopy:
        if not study_instance_uid:
            raise InvalidArgument("study_instance_uid is required", reason="MISSING_STUDY_UID")
        policy = DeidentificationPolicy(
            secret=project_secret(self._master, project_id),
            retain_longitudinal_dates=retain_longitudinal_dates,
            retain_patient_characteristics=retain_patient_characteristics,
            clean_descriptors=clean_descriptors,
        )
        return await create_deidentified_copy(self._source, study_instance_uid, policy)
