"""Alembic environment of the training service (the URL comes from the caller's Config)."""

from radscholar_core.db import run_migrations
from radscholar_core.jobs import jobs_metadata

run_migrations(jobs_metadata)
