"""Builds the training gRPC server: the composition root of the service."""

import os
from pathlib import Path

import grpc

from radscholar_core.db import create_engine_for, upgrade_to_head
from radscholar_core.grpc_server import Registration, Server
from radscholar_core.identity import relayed_identity_interceptors
from radscholar_core.job_driver import job_environment
from radscholar_core.jobs import JobEvents, JobStore
from radscholar_core.objectstore import open_object_store
from radscholar_core.ray_jobs import RayJobRunner, RayJobs
from radscholar_proto.dicomstore.v1.dicomstore_pb2_grpc import DicomStoreServiceStub
from radscholar_proto.labeling.v1.labeling_pb2_grpc import LabelingServiceStub
from radscholar_proto.training.v1 import training_pb2, training_pb2_grpc
from radscholar_training.adapters.custom import CustomModels, UploadedWeights
from radscholar_training.adapters.datasets import DatasetSource
from radscholar_training.adapters.exports import ModelExports
from radscholar_training.adapters.inference import Predictor
from radscholar_training.adapters.tracking import Tracking, client_environment
from radscholar_training.api import TrainingServicer
from radscholar_training.config import Settings
from radscholar_training.domain.plan import EVALUATION_KIND, INFERENCE_KIND, KIND
from radscholar_training.jobs import EvaluationJobs, InferenceJobs, TrainingJobs, finish
from radscholar_training.run import MAX_FAILURES_ENV, MLFLOW_ENV

MIGRATIONS = Path(__file__).parent / "migrations"


def build_server(settings: Settings) -> Server:
    os.environ.update(client_environment())  # MLflow's client reads its retries and timeouts from the environment
    upgrade_to_head(settings.database_url, MIGRATIONS)
    objects = open_object_store(settings.object_store)
    events = JobEvents()
    store = JobStore(create_engine_for(settings.database_url), events=events)
    ray = RayJobs(settings.ray_address)
    environment = {
        **job_environment(settings.object_store),
        MLFLOW_ENV: settings.mlflow_tracking_uri,
        MAX_FAILURES_ENV: str(settings.max_failures),
        **client_environment(),
    }
    runner = RayJobRunner(store, ray, KIND, environment, finish(objects), settings.job_poll_seconds)
    tests = RayJobRunner(store, ray, EVALUATION_KIND, environment, finish(objects), settings.job_poll_seconds)
    batches = RayJobRunner(store, ray, INFERENCE_KIND, environment, finish(objects), settings.job_poll_seconds)
    relay = relayed_identity_interceptors()
    datasets = DatasetSource(
        LabelingServiceStub(grpc.aio.insecure_channel(settings.labeling_address, interceptors=relay)),
        DicomStoreServiceStub(grpc.aio.insecure_channel(settings.dicomstore_address, interceptors=relay)),
    )
    tracking = Tracking(settings.mlflow_tracking_uri)
    runs = TrainingJobs(runner, store, objects)
    servicer = TrainingServicer(
        runs,
        store,
        events,
        ray,
        datasets,
        tracking,
        CustomModels(objects),
        ModelExports(objects, tracking),
        UploadedWeights(objects),
        EvaluationJobs(tests, store, objects),
        Predictor(objects, tracking),
        InferenceJobs(batches, objects),
    )
    return Server(
        [
            Registration(
                training_pb2.DESCRIPTOR.services_by_name["TrainingService"].full_name,
                servicer,
                training_pb2_grpc.add_TrainingServiceServicer_to_server,
            )
        ],
        verifier=settings.identity.verifier(),
        background=[runner.keep_following, tests.keep_following, batches.keep_following],
    )
