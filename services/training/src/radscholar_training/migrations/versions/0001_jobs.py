"""training jobs: the shared job tables

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from alembic import op

from radscholar_core.jobs import create_job_tables, drop_job_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_job_tables(op)


def downgrade() -> None:
    drop_job_tables(op)
