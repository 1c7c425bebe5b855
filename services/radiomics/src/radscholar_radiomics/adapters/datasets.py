"""A dataset version as batch inputs: its series (exported by the DICOM store) with their masks (from labeling).

Calls go out with the caller's identity relayed, so the other services check the caller's own permissions.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from radscholar_core.status import relayed
from radscholar_proto.dicomstore.v1 import dicomstore_pb2
from radscholar_proto.dicomstore.v1.dicomstore_pb2_grpc import DicomStoreServiceStub
from radscholar_proto.labeling.v1 import labeling_pb2
from radscholar_proto.labeling.v1.labeling_pb2_grpc import LabelingServiceStub
from radscholar_radiomics.domain.batch import PlanItem

EXPORT_CONCURRENCY = 4


@dataclass(frozen=True)
class DatasetInputs:
    items: list[PlanItem]
    provenance: dict[str, str]  # dataset id, content hash, project


class DatasetSource:
    def __init__(self, labeling: LabelingServiceStub, dicomstore: DicomStoreServiceStub) -> None:
        self._labeling = labeling
        self._dicomstore = dicomstore

    async def inputs(self, dataset_id: str) -> DatasetInputs:
        """Every series of the dataset version that has a mask, its volume exported (HU for CT)."""
        request = labeling_pb2.GetDatasetRequest(dataset_id=dataset_id)
        dataset = (await relayed(self._labeling.GetDataset(request))).dataset
        project = (
            await relayed(self._labeling.GetProject(labeling_pb2.GetProjectRequest(project_id=dataset.project_id)))
        ).project
        names = {str(n): c.name for n, c in enumerate(project.label_schema.classes, start=1)}
        manifest = json.loads(dataset.manifest_json)
        pairs = [(item, series, mask) for item in manifest["items"] for series, mask in sorted(item["masks"].items())]
        limit = asyncio.Semaphore(EXPORT_CONCURRENCY)

        async def export(series: str) -> dicomstore_pb2.ExportSeriesVolumeResponse:
            async with limit:
                request = dicomstore_pb2.ExportSeriesVolumeRequest(series_instance_uid=series)
                return await relayed(self._dicomstore.ExportSeriesVolume(request))

        volumes = await asyncio.gather(*(export(series) for _, series, _ in pairs))
        items = [
            PlanItem(
                case_id=item["case_id"],
                image_key=volume.object_key,
                image_name="image.nii.gz",
                mask_key=mask,
                mask_name="mask.nii.gz",
                series_instance_uid=series,
                patient_id=item["patient_id"],
                site=item["site"],
                split=manifest["splits"][item["case_id"]],
                label_class=item["label_class"],
                label_names=names,
            )
            for (item, series, mask), volume in zip(pairs, volumes, strict=True)
        ]
        origin = {"dataset_id": dataset.id, "dataset_hash": dataset.content_hash, "project_id": dataset.project_id}
        return DatasetInputs(items, origin)
