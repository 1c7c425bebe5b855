"""Alembic environment of the DICOM store's catalog (the URL comes from the caller's Config)."""

from radscholar_core.db import run_migrations
from radscholar_dicomstore.adapters.tables import Base

run_migrations(Base.metadata)
