"""Alembic environment of the labeling service; the URL comes from the caller's Config."""

from alembic import context
from sqlalchemy import engine_from_config, pool

from radscholar_labeling.adapters.tables import Base

config = context.config
connectable = engine_from_config(
    config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
)
with connectable.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
