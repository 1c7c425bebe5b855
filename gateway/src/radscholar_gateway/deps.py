"""FastAPI dependencies: one Annotated alias per upstream stub (tests override the channels)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from radscholar_gateway.accounts import Accounts, ApiKeys, Memberships, Tokens
from radscholar_gateway.audit import AuditLog
from radscholar_gateway.security.principal import Authenticator
from radscholar_gateway.upstreams import Channels
from radscholar_proto.dicomstore.v1.dicomstore_pb2_grpc import DicomStoreServiceStub
from radscholar_proto.labeling.v1.labeling_pb2_grpc import LabelingServiceStub
from radscholar_proto.radiomics.v1.radiomics_pb2_grpc import RadiomicsServiceStub
from radscholar_proto.stats.v1.stats_pb2_grpc import StatsServiceStub
from radscholar_proto.training.v1.training_pb2_grpc import TrainingServiceStub


@dataclass(frozen=True)
class AccessControl:
    """The gateway's own domain objects: who people are, what they may do, what they did."""

    accounts: Accounts
    tokens: Tokens
    api_keys: ApiKeys
    memberships: Memberships
    audit: AuditLog
    authenticator: Authenticator


def access_control(request: Request) -> AccessControl:
    return request.app.state.access  # type: ignore[no-any-return]


def channels(request: Request) -> Channels:
    return request.app.state.channels  # type: ignore[no-any-return]


def dicom_store(request: Request) -> DicomStoreServiceStub:
    return DicomStoreServiceStub(channels(request).dicomstore)


def labeling(request: Request) -> LabelingServiceStub:
    return LabelingServiceStub(channels(request).labeling)


def training(request: Request) -> TrainingServiceStub:
    return TrainingServiceStub(channels(request).training)


def radiomics(request: Request) -> RadiomicsServiceStub:
    return RadiomicsServiceStub(channels(request).radiomics)


def stats(request: Request) -> StatsServiceStub:
    return StatsServiceStub(channels(request).stats)


DicomStore = Annotated[DicomStoreServiceStub, Depends(dicom_store)]
Labeling = Annotated[LabelingServiceStub, Depends(labeling)]
Training = Annotated[TrainingServiceStub, Depends(training)]
Radiomics = Annotated[RadiomicsServiceStub, Depends(radiomics)]
Stats = Annotated[StatsServiceStub, Depends(stats)]
UpstreamChannels = Annotated[Channels, Depends(channels)]
Access = Annotated[AccessControl, Depends(access_control)]
