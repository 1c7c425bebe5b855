"""Every REST route's permission and audit action, declared in this one table.

The gateway refuses to start when a route has no entry here, and the permission-matrix test walks
every route of the OpenAPI document with every role against this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Permission(StrEnum):
    PUBLIC = "public"  # no credentials needed (health, sign-in, API description)
    SIGNED_IN = "signed-in"  # any authenticated user: their own account, keys, session
    DICOM_READ = "dicom.read"
    DICOM_INGEST = "dicom.ingest"
    DICOM_DEIDENTIFY = "dicom.deidentify"  # make de-identified copies for a project the caller belongs to
    SITES_MANAGE = "sites.manage"  # register sites and the modalities allowed to C-STORE for them
    PROJECTS_CREATE = "projects.create"
    PROJECTS_READ = "projects.read"  # a member of the project (admins see all)
    PROJECTS_MANAGE = "projects.manage"  # the project's lead (or an admin): membership
    TRAINING_READ = "training.read"  # the model zoo, training jobs (the caller's own), registered models
    TRAINING_RUN = "training.run"  # start, stop and resume training runs; import networks; promote and archive models
    RADIOMICS_USE = "radiomics.use"
    STATS_RUN = "stats.run"
    USERS_MANAGE = "users.manage"
    AUDIT_READ = "audit.read"


EVERYONE = frozenset({Permission.PUBLIC, Permission.SIGNED_IN})
ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "admin": frozenset(Permission),
    "researcher": EVERYONE
    | {
        Permission.DICOM_READ,
        Permission.DICOM_INGEST,
        Permission.DICOM_DEIDENTIFY,
        Permission.PROJECTS_CREATE,
        Permission.PROJECTS_READ,
        Permission.PROJECTS_MANAGE,
        Permission.TRAINING_READ,
        Permission.TRAINING_RUN,
        Permission.RADIOMICS_USE,
        Permission.STATS_RUN,
    },
    "annotator": EVERYONE | {Permission.DICOM_READ, Permission.PROJECTS_READ},
    "reviewer": EVERYONE | {Permission.DICOM_READ, Permission.PROJECTS_READ},
    "site-operator": EVERYONE | {Permission.DICOM_READ, Permission.DICOM_INGEST},
}
# Project roles that may manage a project's membership (with PROJECTS_MANAGE).
PROJECT_MANAGERS = frozenset({"lead"})


@dataclass(frozen=True)
class Rule:
    permission: Permission
    audit: str | None = None  # the audit action; None for calls that touch no patient data or account
    resource: str = ""  # the audited resource, formatted with the path parameters
    project: str | None = None  # the path parameter naming a project the caller must belong to


P = Permission
ROUTES: dict[tuple[str, str], Rule] = {
    ("GET", "/healthz"): Rule(P.PUBLIC),
    ("GET", "/readyz"): Rule(P.PUBLIC),
    ("GET", "/api/v1/openapi.json"): Rule(P.PUBLIC),
    ("GET", "/api/v1/docs"): Rule(P.PUBLIC),
    ("GET", "/api/v1/docs/oauth2-redirect"): Rule(P.PUBLIC),
    # sign-in and own account
    ("POST", "/api/v1/auth/login"): Rule(P.PUBLIC, "auth.login"),
    ("POST", "/api/v1/auth/refresh"): Rule(P.PUBLIC, "auth.refresh"),
    ("POST", "/api/v1/auth/logout"): Rule(P.SIGNED_IN, "auth.logout"),
    ("GET", "/api/v1/me"): Rule(P.SIGNED_IN),
    ("PUT", "/api/v1/me/password"): Rule(P.SIGNED_IN, "auth.change_password"),
    ("GET", "/api/v1/me/keys"): Rule(P.SIGNED_IN),
    ("POST", "/api/v1/me/keys"): Rule(P.SIGNED_IN, "keys.create"),
    ("DELETE", "/api/v1/me/keys/{key_id}"): Rule(P.SIGNED_IN, "keys.revoke", "api_key:{key_id}"),
    # administration
    ("GET", "/api/v1/users"): Rule(P.USERS_MANAGE, "users.list"),
    ("POST", "/api/v1/users"): Rule(P.USERS_MANAGE, "users.create"),
    ("GET", "/api/v1/users/{user_id}"): Rule(P.USERS_MANAGE, "users.read", "user:{user_id}"),
    ("PATCH", "/api/v1/users/{user_id}"): Rule(P.USERS_MANAGE, "users.update", "user:{user_id}"),
    ("PUT", "/api/v1/users/{user_id}/password"): Rule(P.USERS_MANAGE, "users.reset_password", "user:{user_id}"),
    ("GET", "/api/v1/audit"): Rule(P.AUDIT_READ, "audit.query"),
    ("GET", "/api/v1/audit/verification"): Rule(P.AUDIT_READ, "audit.verify"),
    # DICOM store (patient data)
    ("GET", "/api/v1/dicom/statistics"): Rule(P.DICOM_READ),
    ("POST", "/api/v1/dicom/uploads"): Rule(P.DICOM_INGEST, "dicom.ingest"),
    # DICOMweb: QIDO-RS and WADO-RS proxied to the DICOM server, STOW-RS through the ingest checks
    ("GET", "/dicom-web/{path}"): Rule(P.DICOM_READ, "dicom.web.read", "dicom-web:{path}"),
    ("POST", "/dicom-web/studies"): Rule(P.DICOM_INGEST, "dicom.ingest"),
    ("POST", "/dicom-web/studies/{study_instance_uid}"): Rule(
        P.DICOM_INGEST, "dicom.ingest", "study:{study_instance_uid}"
    ),
    ("POST", "/api/v1/dicom/studies/{study_instance_uid}/deidentified-copies"): Rule(
        P.DICOM_DEIDENTIFY, "dicom.deidentify", "study:{study_instance_uid}"
    ),
    ("GET", "/api/v1/dicom/series/{series_instance_uid}/volume.nii.gz"): Rule(
        P.DICOM_READ, "dicom.download", "series:{series_instance_uid}"
    ),
    ("GET", "/api/v1/dicom/series/{series_instance_uid}/thumbnail.png"): Rule(
        P.DICOM_READ, "dicom.view", "series:{series_instance_uid}"
    ),
    ("GET", "/api/v1/dicom/series/{series_instance_uid}/images/{view}.png"): Rule(
        P.DICOM_READ, "dicom.view", "series:{series_instance_uid}"
    ),
    ("GET", "/api/v1/dicom/studies"): Rule(P.DICOM_READ, "dicom.query"),
    ("GET", "/api/v1/dicom/studies/{study_instance_uid}/series"): Rule(
        P.DICOM_READ, "dicom.read", "study:{study_instance_uid}"
    ),
    ("GET", "/api/v1/dicom/patients"): Rule(P.DICOM_READ, "dicom.query"),
    ("GET", "/api/v1/dicom/series"): Rule(P.DICOM_READ, "dicom.query"),
    ("GET", "/api/v1/dicom/series/{series_instance_uid}"): Rule(
        P.DICOM_READ, "dicom.read", "series:{series_instance_uid}"
    ),
    # sites, the modalities that send for them, projects' ingest profiles
    ("GET", "/api/v1/sites"): Rule(P.DICOM_READ),
    ("POST", "/api/v1/sites"): Rule(P.SITES_MANAGE, "sites.create"),
    ("DELETE", "/api/v1/sites/{site_id}"): Rule(P.SITES_MANAGE, "sites.delete", "site:{site_id}"),
    ("POST", "/api/v1/sites/{site_id}/modalities"): Rule(P.SITES_MANAGE, "sites.modalities.register", "site:{site_id}"),
    ("DELETE", "/api/v1/sites/{site_id}/modalities/{ae_title}"): Rule(
        P.SITES_MANAGE, "sites.modalities.unregister", "site:{site_id}"
    ),
    ("GET", "/api/v1/projects/{project_id}/ingest-profile"): Rule(
        P.PROJECTS_READ, None, "project:{project_id}", project="project_id"
    ),
    ("PUT", "/api/v1/projects/{project_id}/ingest-profile"): Rule(
        P.PROJECTS_MANAGE, "projects.ingest_profile.set", "project:{project_id}", project="project_id"
    ),
    # labeling projects
    ("POST", "/api/v1/projects"): Rule(P.PROJECTS_CREATE, "projects.create"),
    ("GET", "/api/v1/projects"): Rule(P.PROJECTS_READ),
    ("GET", "/api/v1/projects/{project_id}"): Rule(
        P.PROJECTS_READ, "projects.read", "project:{project_id}", project="project_id"
    ),
    ("GET", "/api/v1/projects/{project_id}/members"): Rule(
        P.PROJECTS_READ, "projects.members.read", "project:{project_id}", project="project_id"
    ),
    ("PUT", "/api/v1/projects/{project_id}/members/{user_id}"): Rule(
        P.PROJECTS_MANAGE, "projects.members.set", "project:{project_id}", project="project_id"
    ),
    ("DELETE", "/api/v1/projects/{project_id}/members/{user_id}"): Rule(
        P.PROJECTS_MANAGE, "projects.members.remove", "project:{project_id}", project="project_id"
    ),
    # labeling work (the labeling service checks project roles: leads and researchers manage, annotators label
    # their own tasks, reviewers review)
    ("POST", "/api/v1/projects/{project_id}/cases"): Rule(
        P.PROJECTS_READ, "labeling.cases.add", "project:{project_id}", project="project_id"
    ),
    ("GET", "/api/v1/projects/{project_id}/tasks"): Rule(
        P.PROJECTS_READ, "labeling.tasks.read", "project:{project_id}", project="project_id"
    ),
    ("POST", "/api/v1/projects/{project_id}/tasks/assignments"): Rule(
        P.PROJECTS_READ, "labeling.tasks.assign", "project:{project_id}", project="project_id"
    ),
    ("GET", "/api/v1/projects/{project_id}/tasks/next"): Rule(
        P.PROJECTS_READ, "labeling.tasks.read", "project:{project_id}", project="project_id"
    ),
    ("GET", "/api/v1/projects/{project_id}/progress"): Rule(P.PROJECTS_READ, None, project="project_id"),
    ("GET", "/api/v1/tasks"): Rule(P.PROJECTS_READ, "labeling.tasks.read"),
    ("PUT", "/api/v1/tasks/{task_id}/annotation"): Rule(P.PROJECTS_READ, "labeling.annotations.save", "task:{task_id}"),
    ("POST", "/api/v1/tasks/{task_id}/mask-uploads"): Rule(P.PROJECTS_READ, "labeling.masks.upload", "task:{task_id}"),
    ("GET", "/api/v1/tasks/{task_id}/annotation/versions"): Rule(
        P.PROJECTS_READ, "labeling.annotations.read", "task:{task_id}"
    ),
    ("POST", "/api/v1/tasks/{task_id}/review"): Rule(P.PROJECTS_READ, "labeling.reviews.create", "task:{task_id}"),
    ("GET", "/api/v1/projects/{project_id}/agreement"): Rule(
        P.PROJECTS_READ, "labeling.agreement.read", "project:{project_id}", project="project_id"
    ),
    ("POST", "/api/v1/projects/{project_id}/datasets"): Rule(
        P.PROJECTS_READ, "labeling.datasets.freeze", "project:{project_id}", project="project_id"
    ),
    ("GET", "/api/v1/projects/{project_id}/datasets"): Rule(P.PROJECTS_READ, None, project="project_id"),
    ("GET", "/api/v1/datasets/{dataset_id}"): Rule(P.PROJECTS_READ, "labeling.datasets.read", "dataset:{dataset_id}"),
    ("POST", "/api/v1/projects/{project_id}/labels/imports"): Rule(
        P.PROJECTS_READ, "labeling.labels.import", "project:{project_id}", project="project_id"
    ),
    ("GET", "/api/v1/projects/{project_id}/labels/export"): Rule(
        P.PROJECTS_READ, "labeling.labels.export", "project:{project_id}", project="project_id"
    ),
    # compute and science
    ("GET", "/api/v1/training/architectures"): Rule(P.TRAINING_READ),
    ("GET", "/api/v1/training/defaults"): Rule(P.TRAINING_READ),
    ("POST", "/api/v1/training/jobs"): Rule(P.TRAINING_RUN, "training.jobs.start"),
    ("GET", "/api/v1/training/jobs"): Rule(P.TRAINING_READ),
    ("GET", "/api/v1/training/jobs/{job_id}"): Rule(P.TRAINING_READ),
    ("GET", "/api/v1/training/jobs/{job_id}/events"): Rule(P.TRAINING_READ),
    ("GET", "/api/v1/training/jobs/{job_id}/logs"): Rule(P.TRAINING_READ),
    ("POST", "/api/v1/training/jobs/{job_id}/cancel"): Rule(
        P.TRAINING_RUN, "training.jobs.cancel", "training_job:{job_id}"
    ),
    ("POST", "/api/v1/training/runs/{run_id}/resume"): Rule(
        P.TRAINING_RUN, "training.runs.resume", "training_run:{run_id}"
    ),
    ("GET", "/api/v1/training/runs/{run_id}/metrics"): Rule(P.TRAINING_READ),
    ("GET", "/api/v1/training/runs/{run_id}/predictions.csv"): Rule(
        P.TRAINING_READ, "training.predictions.download", "training_run:{run_id}"
    ),
    ("POST", "/api/v1/training/custom-models"): Rule(P.TRAINING_RUN, "training.custom_models.import"),
    ("POST", "/api/v1/models/{name}/versions/{version}/tests"): Rule(
        P.TRAINING_RUN, "models.test", "model:{name}/{version}"
    ),
    ("GET", "/api/v1/models/evaluations/{evaluation_id}"): Rule(P.TRAINING_READ),
    ("GET", "/api/v1/models/evaluations/{evaluation_id}/predictions.csv"): Rule(
        P.TRAINING_READ, "models.evaluations.download", "evaluation:{evaluation_id}"
    ),
    ("GET", "/api/v1/models/evaluations/{evaluation_id}/{plot}.png"): Rule(P.TRAINING_READ),
    ("POST", "/api/v1/models/{name}/versions/{version}/predict"): Rule(
        P.TRAINING_READ, "models.predict", "model:{name}/{version}"
    ),
    ("GET", "/api/v1/models/predictions/{prediction_id}/{file}"): Rule(
        P.TRAINING_READ, "models.predictions.download", "prediction:{prediction_id}"
    ),
    ("POST", "/api/v1/models/{name}/versions/{version}/batch-predictions"): Rule(
        P.TRAINING_RUN, "models.batch_predict", "model:{name}/{version}"
    ),
    ("GET", "/api/v1/models/batch-predictions/{job_id}/predictions.csv"): Rule(
        P.TRAINING_READ, "models.batch_predictions.download", "training_job:{job_id}"
    ),
    ("POST", "/api/v1/models/batch-predictions/{job_id}/prelabels"): Rule(
        P.TRAINING_RUN, "models.prelabels", "training_job:{job_id}"
    ),
    ("POST", "/api/v1/training/weights"): Rule(P.TRAINING_RUN, "training.weights.import"),
    ("GET", "/api/v1/models"): Rule(P.TRAINING_READ),
    ("POST", "/api/v1/models/compare"): Rule(P.TRAINING_READ),
    ("GET", "/api/v1/models/{name}/versions/{version}"): Rule(P.TRAINING_READ),
    ("POST", "/api/v1/models/{name}/versions/{version}/promote"): Rule(
        P.TRAINING_RUN, "models.promote", "model:{name}/{version}"
    ),
    ("POST", "/api/v1/models/{name}/versions/{version}/archive"): Rule(
        P.TRAINING_RUN, "models.archive", "model:{name}/{version}"
    ),
    ("GET", "/api/v1/models/{name}/versions/{version}/export"): Rule(
        P.TRAINING_READ, "models.export", "model:{name}/{version}"
    ),
    ("GET", "/api/v1/radiomics/presets"): Rule(P.RADIOMICS_USE),
    ("POST", "/api/v1/radiomics/presets"): Rule(P.RADIOMICS_USE, "radiomics.presets.save"),
    ("DELETE", "/api/v1/radiomics/presets/{preset_id}"): Rule(
        P.RADIOMICS_USE, "radiomics.presets.delete", "preset:{preset_id}"
    ),
    ("POST", "/api/v1/radiomics/settings/validate"): Rule(P.RADIOMICS_USE),
    ("POST", "/api/v1/radiomics/extractions"): Rule(P.RADIOMICS_USE, "radiomics.extract"),
    ("GET", "/api/v1/radiomics/ibsi-report"): Rule(P.RADIOMICS_USE),
    ("POST", "/api/v1/radiomics/selections"): Rule(P.RADIOMICS_USE, "radiomics.select"),
    ("POST", "/api/v1/radiomics/stability"): Rule(P.RADIOMICS_USE, "radiomics.stability"),
    ("POST", "/api/v1/radiomics/jobs"): Rule(P.RADIOMICS_USE, "radiomics.jobs.start"),
    ("POST", "/api/v1/radiomics/jobs/pairs"): Rule(P.RADIOMICS_USE, "radiomics.jobs.start"),
    ("GET", "/api/v1/radiomics/jobs"): Rule(P.RADIOMICS_USE),
    ("GET", "/api/v1/radiomics/jobs/{job_id}"): Rule(P.RADIOMICS_USE),
    ("GET", "/api/v1/radiomics/jobs/{job_id}/events"): Rule(P.RADIOMICS_USE),
    ("POST", "/api/v1/radiomics/jobs/{job_id}/cancel"): Rule(
        P.RADIOMICS_USE, "radiomics.jobs.cancel", "radiomics_job:{job_id}"
    ),
    ("GET", "/api/v1/radiomics/jobs/{job_id}/features"): Rule(
        P.RADIOMICS_USE, "radiomics.features.read", "radiomics_job:{job_id}"
    ),
    ("GET", "/api/v1/radiomics/jobs/{job_id}/features.parquet"): Rule(
        P.RADIOMICS_USE, "radiomics.features.download", "radiomics_job:{job_id}"
    ),
    ("GET", "/api/v1/radiomics/jobs/{job_id}/features.csv"): Rule(
        P.RADIOMICS_USE, "radiomics.features.download", "radiomics_job:{job_id}"
    ),
    ("GET", "/api/v1/radiomics/jobs/{job_id}/stability.csv"): Rule(
        P.RADIOMICS_USE, "radiomics.features.download", "radiomics_job:{job_id}"
    ),
    ("POST", "/api/v1/stats/two-group-comparisons"): Rule(P.STATS_RUN),
    ("POST", "/api/v1/stats/tables"): Rule(P.STATS_RUN, "stats.tables.create"),
    ("POST", "/api/v1/stats/tables/from-radiomics"): Rule(P.STATS_RUN, "stats.tables.create"),
    ("POST", "/api/v1/stats/tables/from-training"): Rule(P.STATS_RUN, "stats.tables.create"),
    ("GET", "/api/v1/stats/tables/{table_id}"): Rule(P.STATS_RUN, "stats.tables.read", "stats_table:{table_id}"),
    ("POST", "/api/v1/stats/tables/{table_id}/analyses"): Rule(
        P.STATS_RUN, "stats.analyses.run", "stats_table:{table_id}"
    ),
    ("GET", "/api/v1/stats/results/{result_id}/{file}"): Rule(
        P.STATS_RUN, "stats.results.download", "stats_result:{result_id}"
    ),
    ("POST", "/api/v1/stats/tables/{table_id}/analysis-jobs"): Rule(
        P.STATS_RUN, "stats.jobs.start", "stats_table:{table_id}"
    ),
    ("GET", "/api/v1/stats/jobs"): Rule(P.STATS_RUN),
    ("GET", "/api/v1/stats/jobs/{job_id}"): Rule(P.STATS_RUN),
    ("GET", "/api/v1/stats/jobs/{job_id}/events"): Rule(P.STATS_RUN),
    ("POST", "/api/v1/stats/jobs/{job_id}/cancel"): Rule(P.STATS_RUN, "stats.jobs.cancel", "stats_job:{job_id}"),
}


def allowed(roles: frozenset[str], permission: Permission) -> bool:
    """Whether any of these platform roles grants the permission."""
    return any(permission in ROLE_PERMISSIONS.get(role, frozenset()) for role in roles)
