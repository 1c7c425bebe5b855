"""Alembic environment of the gateway (the URL comes from the caller's Config)."""

import radscholar_gateway.accounts.tables
import radscholar_gateway.audit.tables  # noqa: F401  (both register their tables on Base)
from radscholar_core.db import run_migrations
from radscholar_gateway.migrations import Base

run_migrations(Base.metadata)
