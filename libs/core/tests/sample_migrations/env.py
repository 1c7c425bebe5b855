"""Alembic environment of the sample schema the database and job tests migrate."""

from radscholar_core.db import run_migrations

run_migrations()
