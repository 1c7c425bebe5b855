"""Alembic environment of the radiomics service (the URL comes from the caller's Config)."""

from radscholar_core.db import run_migrations
from radscholar_core.jobs import jobs_metadata
from radscholar_radiomics.adapters.tables import Base

run_migrations([Base.metadata, jobs_metadata])
