"""The radiomics servicer: proto -> domain -> proto, nothing else."""

from __future__ import annotations

import asyncio

import grpc

from radscholar_proto.radiomics.v1 import radiomics_pb2 as pb
from radscholar_proto.radiomics.v1 import radiomics_pb2_grpc
from radscholar_radiomics.domain.settings import presets, validate_settings


class RadiomicsServicer(radiomics_pb2_grpc.RadiomicsServiceServicer):
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
