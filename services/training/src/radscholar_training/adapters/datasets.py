"""A dataset version as a training run sees it: its cases and labels (labeling), and their volumes (DICOM store).

Calls go out with the caller's identity relayed, so the other services check the caller's own permissions.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, replace

from radscholar_core.status import relayed
from radscholar_proto.dicomstore.v1 import dicomstore_pb2
from radscholar_proto.dicomstore.v1.dicomstore_pb2_grpc import DicomStoreServiceStub
from radscholar_proto.labeling.v1 import labeling_pb2
from radscholar_proto.labeling.v1.labeling_pb2_grpc import LabelingServiceStub
from radscholar_training.domain.plan import Case, LabeledBox, Labels, Prediction

EXPORT_CONCURRENCY = 4
TASK_TYPES = {
    labeling_pb2.TASK_TYPE_CLASSIFICATION: "classification",
    labeling_pb2.TASK_TYPE_DETECTION: "detection",
    labeling_pb2.TASK_TYPE_SEGMENTATION: "segmentation",
}
LEVELS = {
    labeling_pb2.LABEL_LEVEL_UNSPECIFIED: "case",
    labeling_pb2.LABEL_LEVEL_CASE: "case",
    labeling_pb2.LABEL_LEVEL_SERIES: "series",
    labeling_pb2.LABEL_LEVEL_IMAGE: "image",
    labeling_pb2.LABEL_LEVEL_LESION: "lesion",
}


@dataclass(frozen=True)
class DatasetVersion:
    dataset_id: str
    dataset_hash: str
    project_id: str
    project_name: str
    labels: Labels
    cases: tuple[Case, ...]  # one per case and series, without their volumes


class DatasetSource:
    def __init__(self, labeling: LabelingServiceStub, dicomstore: DicomStoreServiceStub) -> None:
        self._labeling = labeling
        self._dicomstore = dicomstore

    async def version(self, dataset_id: str) -> DatasetVersion:
        """The dataset version's labels and cases: one per series (its mask, if any), with the case's class."""
        request = labeling_pb2.GetDatasetRequest(dataset_id=dataset_id)
        dataset = (await relayed(self._labeling.GetDataset(request))).dataset
        project = (
            await relayed(self._labeling.GetProject(labeling_pb2.GetProjectRequest(project_id=dataset.project_id)))
        ).project
        names = tuple(c.name for c in project.label_schema.classes)
        labels = Labels(
            task_type=TASK_TYPES.get(project.task_type, "unspecified"),
            spatial_dims=3 if project.dimensionality == labeling_pb2.DIMENSIONALITY_3D else 2,
            level=LEVELS.get(project.label_schema.level, "case"),
            class_names=names,
        )
        manifest = json.loads(dataset.manifest_json)
        cases: list[Case] = []
        for item in manifest["items"]:
            label = names.index(item["label_class"]) if item["label_class"] in names else None
            boxes = item.get("boxes", [])
            series = (
                sorted(item["masks"])
                or sorted({box["series_instance_uid"] for box in boxes})
                or list(item["series_instance_uids"][:1])
            )
            cases.extend(
                Case(
                    case_id=item["case_id"] if len(series) == 1 else f"{item['case_id']}:{uid}",
                    patient_id=item["patient_id"],
                    site=item["site"],
                    split=manifest["splits"][item["case_id"]],
                    series_instance_uid=uid,
                    mask_key=item["masks"].get(uid, ""),
                    label=label,
                    boxes=tuple(
                        LabeledBox(names.index(box["class_name"]), tuple(box["min"]), tuple(box["max"]))
                        for box in boxes
                        if box["series_instance_uid"] == uid and box["class_name"] in names
                    ),
                )
                for uid in series
            )
        return DatasetVersion(dataset.id, dataset.content_hash, dataset.project_id, project.name, labels, tuple(cases))

    async def with_volumes(self, cases: list[Case]) -> list[Case]:
        """The cases with their series exported as volumes (HU for CT)."""
        limit = asyncio.Semaphore(EXPORT_CONCURRENCY)

        async def export(case: Case) -> Case:
            async with limit:
                request = dicomstore_pb2.ExportSeriesVolumeRequest(series_instance_uid=case.series_instance_uid)
                volume = await relayed(self._dicomstore.ExportSeriesVolume(request))
            return replace(case, image_key=volume.object_key)

        return list(await asyncio.gather(*(export(case) for case in cases)))

    async def series_volume(self, series_instance_uid: str) -> str:
        """The series exported as a volume (its object key)."""
        request = dicomstore_pb2.ExportSeriesVolumeRequest(series_instance_uid=series_instance_uid)
        return (await relayed(self._dicomstore.ExportSeriesVolume(request))).object_key

    async def series_headers(self, series_instance_uid: str) -> str:
        """The series' DICOM headers (a zip of Part-10 files without pixel data; its object key)."""
        request = dicomstore_pb2.ExportSeriesHeadersRequest(series_instance_uid=series_instance_uid)
        return (await relayed(self._dicomstore.ExportSeriesHeaders(request))).object_key

    async def series_to_predict(self, series_instance_uids: list[str]) -> list[Prediction]:
        """Each series with its study, exported as a volume."""
        limit = asyncio.Semaphore(EXPORT_CONCURRENCY)

        async def one(uid: str) -> Prediction:
            async with limit:
                series = await relayed(
                    self._dicomstore.GetSeries(dicomstore_pb2.GetSeriesRequest(series_instance_uid=uid))
                )
                return Prediction(uid, series.study_instance_uid, await self.series_volume(uid))

        return list(await asyncio.gather(*(one(uid) for uid in series_instance_uids)))
