"""The radiomics servicer: proto -> domain -> proto, nothing else."""

from __future__ import annotations

import asyncio
import functools
import time
import uuid

import grpc

from radscholar_core.errors import InvalidArgument, NotFound
from radscholar_core.objectstore import ObjectStore
from radscholar_proto.radiomics.v1 import radiomics_pb2 as pb
from radscholar_proto.radiomics.v1 import radiomics_pb2_grpc
from radscholar_radiomics.domain.extraction import extract, provenance, read_image
from radscholar_radiomics.domain.ibsi import compliance, compliance_table, ibsi_name
from radscholar_radiomics.domain.selection import Step, select
from radscholar_radiomics.domain.settings import ExtractionSettings, presets, validate_settings
from radscholar_radiomics.domain.tables import feature_columns, parse_parameter, read_table


@functools.lru_cache(maxsize=64)  # checking settings builds pyradiomics' extractor (~13 ms); the result is frozen
def _settings(preset_id: str, settings_yaml: str) -> ExtractionSettings:
    if preset_id:
        for preset in presets():
            if preset.id == preset_id:
                return validate_settings(preset.settings_yaml)
        known = ", ".join(p.id for p in presets())
        raise NotFound(f"no preset '{preset_id}'; the presets are {known}", reason="PRESET_NOT_FOUND")
    if not settings_yaml.strip():
        raise InvalidArgument("give a preset_id or settings_yaml", reason="NO_SETTINGS")
    return validate_settings(settings_yaml)


class RadiomicsServicer(radiomics_pb2_grpc.RadiomicsServiceServicer):
    def __init__(self, objects: ObjectStore) -> None:
        self._objects = objects

    async def ListPresets(
        self, request: pb.ListPresetsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListPresetsResponse:
        return pb.ListPresetsResponse(
            presets=[
                pb.Preset(
                    id=p.id,
                    display_name=p.display_name,
                    description=p.description,
                    settings_yaml=p.settings_yaml,
                )
                for p in presets()
            ]
        )

    async def ValidateSettings(
        self, request: pb.ValidateSettingsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ValidateSettingsResponse:
        settings = await asyncio.to_thread(validate_settings, request.settings_yaml)
        return pb.ValidateSettingsResponse(
            canonical_yaml=settings.canonical_yaml,
            settings_hash=settings.settings_hash,
            image_types=settings.image_types,
            feature_classes=settings.feature_classes,
        )

    async def ExtractFeatures(
        self, request: pb.ExtractFeaturesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ExtractFeaturesResponse:
        settings = await asyncio.to_thread(_settings, request.preset_id, request.settings_yaml)
        image_data, mask_data = await asyncio.gather(
            asyncio.to_thread(self._objects.get, request.image_object_key),
            asyncio.to_thread(self._objects.get, request.mask_object_key),
        )
        image = await asyncio.to_thread(read_image, image_data, request.image_name or "image.nii.gz")
        mask = await asyncio.to_thread(read_image, mask_data, request.mask_name or "mask.nii.gz")
        started = time.perf_counter()
        values = await asyncio.to_thread(extract, image, mask, settings, label=request.label or 1)
        seconds = time.perf_counter() - started
        features = []
        for name, value in values.items():
            known = ibsi_name(name)
            features.append(
                pb.Feature(
                    name=name, value=value, ibsi_name=known.name if known else "", ibsi_code=known.code if known else ""
                )
            )
        origin = provenance(settings)
        return pb.ExtractFeaturesResponse(
            features=features,
            settings_hash=settings.settings_hash,
            pyradiomics_version=origin["pyradiomics_version"],
            seconds=seconds,
        )

    async def GetIbsiReport(
        self, request: pb.GetIbsiReportRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetIbsiReportResponse:
        rows = await asyncio.to_thread(compliance)
        return pb.GetIbsiReportResponse(
            rows=[
                pb.IbsiRow(
                    feature=r.feature,
                    ibsi_name=r.ibsi.name,
                    ibsi_code=r.ibsi.code,
                    aggregation=r.aggregation,
                    reference=r.reference,
                    computed=r.computed,
                    reported=r.reported,
                    status=r.status,
                    note=r.note,
                )
                for r in rows
            ],
            table=compliance_table(rows),
        )

    async def SelectFeatures(
        self, request: pb.SelectFeaturesRequest, context: grpc.aio.ServicerContext
    ) -> pb.SelectFeaturesResponse:
        data = await asyncio.to_thread(self._objects.get, request.table_object_key)
        table = await asyncio.to_thread(read_table, data, request.table_name or "table.csv")
        features, outcome, groups = feature_columns(
            table, request.outcome_column, request.group_column, list(request.id_columns)
        )
        steps = [Step(s.name, {k: parse_parameter(v) for k, v in s.params.items()}) for s in request.steps]
        result = await asyncio.to_thread(
            select,
            features,
            outcome,
            steps,
            model=request.model or "logistic",
            folds=request.folds or 5,
            seed=request.seed,
            groups=groups,
        )
        kept = [c for c in table.columns if c not in features.columns or c in result.selected]
        key = f"radiomics/selections/{uuid.uuid4().hex}.csv"
        await asyncio.to_thread(self._objects.put, key, table[kept].to_csv(index=False).encode(), "text/csv")
        return pb.SelectFeaturesResponse(
            selected=result.selected,
            cv_auc_mean=result.cv_auc_mean,
            cv_auc_std=result.cv_auc_std,
            fold_aucs=result.fold_aucs,
            selection_frequency=result.selection_frequency,
            selected_table_object_key=key,
        )
