"""The answer to an ingest: one line per file (stored, already present, or rejected and why) and counts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from radscholar_dicomstore.domain.ingest.instance import CheckedInstance
from radscholar_dicomstore.domain.ingest.rejection import Rejection


class IngestStatus(StrEnum):
    STORED = "stored"
    ALREADY_PRESENT = "already_present"
    REJECTED = "rejected"


@dataclass(frozen=True)
class FileOutcome:
    """What became of one file; ``reason`` and ``message`` are "" unless it was rejected."""

    name: str
    status: IngestStatus
    reason: str = ""
    message: str = ""
    sop_instance_uid: str = ""
    study_instance_uid: str = ""

    def to_dict(self) -> dict[str, str]:
        return {
            "name": self.name,
            "status": self.status.value,
            "reason": self.reason,
            "message": self.message,
            "sop_instance_uid": self.sop_instance_uid,
            "study_instance_uid": self.study_instance_uid,
        }


@dataclass
class IngestReport:
    """Filled in the order files were received: the checks add rejections, the service the rest."""

    files: list[FileOutcome] = field(default_factory=list)
    # De-identification on ingest: elements changed, by action, and keywords of those removed.
    deidentified: Counter[str] = field(default_factory=Counter)
    removed: set[str] = field(default_factory=set)

    def add_stored(self, instance: CheckedInstance) -> None:
        self.files.append(self._outcome(instance, IngestStatus.STORED))

    def add_already_present(self, instance: CheckedInstance) -> None:
        """The store already holds this SOPInstanceUID: nothing new was written."""
        self.files.append(self._outcome(instance, IngestStatus.ALREADY_PRESENT))

    def add_rejected(self, rejection: Rejection) -> None:
        self.files.append(
            FileOutcome(
                name=rejection.name,
                status=IngestStatus.REJECTED,
                reason=rejection.reason,
                message=rejection.message,
                sop_instance_uid=rejection.sop_instance_uid,
                study_instance_uid=rejection.study_instance_uid,
            )
        )

    def add(self, result: CheckedInstance | Rejection, *, already_present: bool = False) -> None:
        """A rejection as rejected; an instance as stored, or as already present when the store said so."""
        if isinstance(result, Rejection):
            self.add_rejected(result)
        elif already_present:
            self.add_already_present(result)
        else:
            self.add_stored(result)

    @property
    def counts(self) -> dict[str, int]:
        counts = {status.value: 0 for status in IngestStatus}
        for outcome in self.files:
            counts[outcome.status.value] += 1
        return {**counts, "total": len(self.files)}

    def to_dict(self) -> dict[str, Any]:
        return {"counts": self.counts, "files": [outcome.to_dict() for outcome in self.files]}

    @staticmethod
    def _outcome(instance: CheckedInstance, status: IngestStatus) -> FileOutcome:
        return FileOutcome(
            name=instance.name,
            status=status,
            sop_instance_uid=instance.sop_instance_uid,
            study_instance_uid=instance.study_instance_uid,
        )
