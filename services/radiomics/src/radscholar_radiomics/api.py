"""The radiomics servicer: proto -> domain -> proto, nothing else."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import time
import uuid
from collections.abc import AsyncIterator

import grpc

from radscholar_core.errors import InvalidArgument, NotFound, PermissionDenied
from radscholar_core.identity import current_identity
from radscholar_core.job_proto import job_to_proto, log_line_to_proto, visible_jobs, watch_job
from radscholar_core.jobs import Job, JobEvents, JobStore
from radscholar_core.objectstore import ObjectStore
from radscholar_proto.common.v1 import job_pb2
from radscholar_proto.radiomics.v1 import radiomics_pb2 as pb
from radscholar_proto.radiomics.v1 import radiomics_pb2_grpc
from radscholar_radiomics.adapters.datasets import DatasetSource
from radscholar_radiomics.adapters.presets import SqlPresets
from radscholar_radiomics.domain.batch import ID_COLUMNS, KIND, Perturbations, Plan, PlanItem
from radscholar_radiomics.domain.extraction import IMAGE_FORMATS, extract, provenance, read_image
from radscholar_radiomics.domain.ibsi import compliance, compliance_table, ibsi_name
from radscholar_radiomics.domain.selection import Step, select
from radscholar_radiomics.domain.settings import ExtractionSettings, Preset, new_preset, presets, validate_settings
from radscholar_radiomics.domain.stability import feature_icc, stable_features
from radscholar_radiomics.domain.tables import feature_columns, parse_parameter, rated_features, read_table
from radscholar_radiomics.jobs import BatchJobs


@functools.lru_cache(maxsize=64)  # checking settings builds pyradiomics' extractor (~13 ms); the result is frozen
def _validated(settings_yaml: str) -> ExtractionSettings:
    return validate_settings(settings_yaml)


def _preset_to_proto(preset: Preset) -> pb.Preset:
    return pb.Preset(
        id=preset.id,
        display_name=preset.display_name,
        description=preset.description,
        settings_yaml=preset.settings_yaml,
        built_in=preset.built_in,
        created_by=preset.created_by,
    )


def _visible(job: Job) -> Job:
    """The job, if the caller started it, is an admin, or belongs to the project of its dataset."""
    caller = current_identity()
    project = str(job.parameters.get("project_id", ""))
    if caller.is_admin or job.parameters.get("created_by") == caller.username:
        return job
    if project and caller.project_role(project):
        return job
    raise NotFound(f"job {job.id!r} not found", reason="JOB_NOT_FOUND", details={"job_id": job.id})


class RadiomicsServicer(radiomics_pb2_grpc.RadiomicsServiceServicer):
    def __init__(
        self,
        objects: ObjectStore,
        saved: SqlPresets,
        jobs: BatchJobs,
        store: JobStore,
        events: JobEvents,
        datasets: DatasetSource,
    ) -> None:
        self._objects = objects
        self._saved = saved
        self._jobs = jobs
        self._store = store
        self._events = events
        self._datasets = datasets

    def _settings(self, preset_id: str, settings_yaml: str) -> ExtractionSettings:
        """The settings of a built-in or saved preset, or the given YAML, checked."""
        if not preset_id:
            if not settings_yaml.strip():
                raise InvalidArgument("give a preset_id or settings_yaml", reason="NO_SETTINGS")
            return _validated(settings_yaml)
        preset = next((p for p in presets() if p.id == preset_id), None) or self._saved.get(preset_id)
        if preset is None:
            known = ", ".join([p.id for p in presets()] + [p.id for p in self._saved.list()])
            raise NotFound(f"no preset '{preset_id}'; the presets are {known}", reason="PRESET_NOT_FOUND")
        return _validated(preset.settings_yaml)

    def _extract(self, request: pb.ExtractFeaturesRequest) -> tuple[ExtractionSettings, dict[str, float], float]:
        """The settings, the region's features and the seconds their extraction took."""
        settings = self._settings(request.preset_id, request.settings_yaml)
        image = read_image(self._objects.get(request.image_object_key), request.image_name or "image.nii.gz")
        mask = read_image(self._objects.get(request.mask_object_key), request.mask_name or "mask.nii.gz")
        started = time.perf_counter()
        values = extract(image, mask, settings, label=request.label or 1)
        return settings, values, time.perf_counter() - started

    async def ListPresets(
        self, request: pb.ListPresetsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListPresetsResponse:
        saved = await asyncio.to_thread(self._saved.list)
        return pb.ListPresetsResponse(presets=[_preset_to_proto(p) for p in [*presets(), *saved]])

    async def SavePreset(
        self, request: pb.SavePresetRequest, context: grpc.aio.ServicerContext
    ) -> pb.SavePresetResponse:
        preset = new_preset(
            request.id, request.display_name, request.description, request.settings_yaml, current_identity().username
        )
        settings = await asyncio.to_thread(_validated, request.settings_yaml)
        saved = await asyncio.to_thread(self._saved.add, preset, settings.settings_hash)
        return pb.SavePresetResponse(preset=_preset_to_proto(saved), settings_hash=settings.settings_hash)

    async def DeletePreset(
        self, request: pb.DeletePresetRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeletePresetResponse:
        caller = current_identity()
        preset = await asyncio.to_thread(self._saved.get, request.id)
        if preset is None:
            raise NotFound(f"no saved preset '{request.id}'", reason="PRESET_NOT_FOUND")
        if preset.created_by != caller.username and not caller.is_admin:
            raise PermissionDenied("only who saved a preset (or an admin) deletes it", reason="NOT_YOUR_PRESET")
        await asyncio.to_thread(self._saved.delete, request.id)
        return pb.DeletePresetResponse()

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
        settings, values, seconds = await asyncio.to_thread(self._extract, request)  # one thread hop for the lot
        answer = pb.ExtractFeaturesResponse(
            settings_hash=settings.settings_hash,
            pyradiomics_version=provenance(settings)["pyradiomics_version"],
            seconds=seconds,
        )
        for name, value in values.items():  # added in place: building each message and copying it in costs more
            known = ibsi_name(name)
            answer.features.add(
                name=name, value=value, ibsi_name=known.name if known else "", ibsi_code=known.code if known else ""
            )
        return answer

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

    async def FeatureStability(
        self, request: pb.FeatureStabilityRequest, context: grpc.aio.ServicerContext
    ) -> pb.FeatureStabilityResponse:
        data = await asyncio.to_thread(self._objects.get, request.table_object_key)
        table = await asyncio.to_thread(read_table, data, request.table_name or "table.csv")
        tables = rated_features(table, request.target_column, request.rater_column, list(request.id_columns))
        iccs = await asyncio.to_thread(feature_icc, tables, request.kind or "ICC(3,1)")
        stable = stable_features(iccs, request.threshold if request.HasField("threshold") else 0.75)
        targets = set.intersection(*(set(by_target) for by_target in tables.values()))
        return pb.FeatureStabilityResponse(icc=iccs, stable=stable, targets=len(targets), raters=len(tables))

    async def StartExtractionJob(
        self, request: pb.StartExtractionJobRequest, context: grpc.aio.ServicerContext
    ) -> pb.StartExtractionJobResponse:
        caller = current_identity()
        if bool(request.dataset_id) == bool(request.pairs):
            raise InvalidArgument("give a dataset_id or image/mask pairs, not both", reason="NO_INPUTS")
        settings = await asyncio.to_thread(self._settings, request.preset_id, request.settings_yaml)
        if request.dataset_id:
            inputs = await self._datasets.inputs(request.dataset_id)
            items, origin = inputs.items, inputs.provenance
        else:
            items, origin = await asyncio.to_thread(self._kept_pairs, list(request.pairs)), {}
        variants = request.perturbations
        perturbations = Perturbations(
            erode=variants.erode,
            dilate=variants.dilate,
            shift=variants.shift,
            icc_kind=variants.icc_kind or "ICC(3,1)",
            threshold=variants.threshold if variants.HasField("threshold") else 0.75,
        )
        plan = Plan(
            job_id=request.job_id or uuid.uuid4().hex,
            settings_yaml=settings.canonical_yaml,
            settings_hash=settings.settings_hash,
            regions=request.regions or "lesion",
            labels=tuple(request.labels),
            items=tuple(items),
            provenance={**origin, "preset_id": request.preset_id, "created_by": caller.username},
            perturbations=perturbations,
        )
        parameters = {
            **origin,
            "preset_id": request.preset_id,
            "settings_hash": settings.settings_hash,
            "regions": plan.regions,
            "labels": list(plan.labels),
            "series": len(items),
            **({"perturbations": vars(perturbations)} if perturbations.wanted else {}),
        }
        job = await asyncio.to_thread(self._jobs.start, plan, parameters, caller.username)
        return pb.StartExtractionJobResponse(job=job_to_proto(job), series=len(items))

    def _kept_pairs(self, pairs: list[pb.ImagePair]) -> list[PlanItem]:
        """Staged pairs copied under keys of their content (staging is temporary; equal files reuse results)."""
        items = []
        for pair in pairs:
            for name in (pair.image_name, pair.mask_name):
                if not name.lower().endswith(tuple(IMAGE_FORMATS)):
                    raise InvalidArgument(
                        f"'{name}' is not a NIfTI or NRRD file: expected a name ending in {', '.join(IMAGE_FORMATS)}",
                        reason="INVALID_IMAGE",
                        details={"file": name},
                    )
            image_key, mask_key = (
                self._keep(key, name)
                for key, name in ((pair.image_object_key, pair.image_name), (pair.mask_object_key, pair.mask_name))
            )
            case_id = pair.case_id or next(
                pair.image_name[: -len(s)] for s in IMAGE_FORMATS if pair.image_name.lower().endswith(s)
            )
            items.append(
                PlanItem(
                    case_id=case_id,
                    image_key=image_key,
                    image_name=pair.image_name,
                    mask_key=mask_key,
                    mask_name=pair.mask_name,
                    patient_id=pair.patient_id,
                    label_class=pair.label_class,
                )
            )
        return items

    def _keep(self, staged: str, name: str) -> str:
        data = self._objects.get(staged)
        suffix = next(s for s in IMAGE_FORMATS if name.lower().endswith(s))
        key = f"radiomics/inputs/{hashlib.sha256(data).hexdigest()}{suffix}"
        if not self._objects.exists(key):
            self._objects.put(key, data)
        return key

    async def _job(self, job_id: str) -> Job:
        return _visible(await asyncio.to_thread(self._store.get, job_id))

    async def GetJob(self, request: pb.GetJobRequest, context: grpc.aio.ServicerContext) -> pb.GetJobResponse:
        job = await self._job(request.job_id)
        return pb.GetJobResponse(job=job_to_proto(job), log_lines=[log_line_to_proto(line) for line in job.logs])

    async def ListJobs(self, request: pb.ListJobsRequest, context: grpc.aio.ServicerContext) -> pb.ListJobsResponse:
        page = await asyncio.to_thread(
            self._store.list, kind=KIND, page_size=request.page_size, page_token=request.page_token
        )
        return pb.ListJobsResponse(jobs=visible_jobs(page.jobs, _visible), next_page_token=page.next_page_token)

    async def WatchJob(
        self, request: pb.WatchJobRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[job_pb2.JobEvent]:
        async for event in watch_job(self._store, self._events, request.job_id, _visible):
            yield event

    async def CancelJob(self, request: pb.CancelJobRequest, context: grpc.aio.ServicerContext) -> pb.CancelJobResponse:
        await self._job(request.job_id)
        return pb.CancelJobResponse(job=job_to_proto(await asyncio.to_thread(self._jobs.cancel, request.job_id)))

    async def GetFeatureTable(
        self, request: pb.GetFeatureTableRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetFeatureTableResponse:
        await self._job(request.job_id)
        outcome = await asyncio.to_thread(self._jobs.outcome, request.job_id)
        return pb.GetFeatureTableResponse(
            parquet_object_key=outcome.parquet_key,
            csv_object_key=outcome.csv_key,
            rows=outcome.rows,
            features=outcome.features,
            id_columns=list(ID_COLUMNS),
            provenance=outcome.provenance,
            failures=[pb.RegionFailure(**vars(failure)) for failure in outcome.failures],
            reused=outcome.reused,
            stability_object_key=outcome.stability_key,
            stable_features=outcome.stable_features,
        )
