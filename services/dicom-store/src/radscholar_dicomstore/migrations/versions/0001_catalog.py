"""catalog

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "change_cursor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_cursor")),
    )
    op.create_table(
        "project_ingest_profiles",
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("deidentify", sa.Boolean(), nullable=False),
        sa.Column("retain_longitudinal_dates", sa.Boolean(), nullable=False),
        sa.Column("retain_patient_characteristics", sa.Boolean(), nullable=False),
        sa.Column("clean_descriptors", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_project_ingest_profiles")),
    )
    op.create_table(
        "sites",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("institution_names", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
    )
    op.create_table(
        "studies",
        sa.Column("study_instance_uid", sa.String(length=64), nullable=False),
        sa.Column("orthanc_id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("patient_name", sa.String(length=324), nullable=False),
        sa.Column("study_date", sa.Date(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("accession_number", sa.String(length=16), nullable=False),
        sa.Column("institution", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("series_count", sa.Integer(), nullable=False),
        sa.Column("instance_count", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("modalities", sa.JSON(), nullable=False),
        sa.Column("body_parts", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("study_instance_uid", name=op.f("pk_studies")),
        sa.UniqueConstraint("orthanc_id", name=op.f("uq_studies_orthanc_id")),
    )
    with op.batch_alter_table("studies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_studies_instance_count"), ["instance_count"], unique=False)
        batch_op.create_index(batch_op.f("ix_studies_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_studies_received_at"), ["received_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_studies_size_bytes"), ["size_bytes"], unique=False)
        batch_op.create_index(batch_op.f("ix_studies_study_date"), ["study_date"], unique=False)

    op.create_table(
        "study_projects",
        sa.Column("study_instance_uid", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("study_instance_uid", "project_id", name=op.f("pk_study_projects")),
    )
    with op.batch_alter_table("study_projects", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_study_projects_project_id"), ["project_id"], unique=False)

    op.create_table(
        "study_sites",
        sa.Column("study_instance_uid", sa.String(length=64), nullable=False),
        sa.Column("site", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("study_instance_uid", name=op.f("pk_study_sites")),
    )
    with op.batch_alter_table("study_sites", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_study_sites_site"), ["site"], unique=False)

    op.create_table(
        "modalities",
        sa.Column("ae_title", sa.String(length=16), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_modalities_site_id_sites"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("ae_title", name=op.f("pk_modalities")),
    )
    with op.batch_alter_table("modalities", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_modalities_site_id"), ["site_id"], unique=False)

    op.create_table(
        "series",
        sa.Column("series_instance_uid", sa.String(length=64), nullable=False),
        sa.Column("orthanc_id", sa.String(length=64), nullable=False),
        sa.Column("study_instance_uid", sa.String(length=64), nullable=False),
        sa.Column("modality", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("series_number", sa.Integer(), nullable=False),
        sa.Column("body_part", sa.String(length=64), nullable=False),
        sa.Column("instance_count", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("columns", sa.Integer(), nullable=False),
        sa.Column("slices", sa.Integer(), nullable=False),
        sa.Column("spacing", sa.JSON(), nullable=False),
        sa.Column("orientation", sa.JSON(), nullable=False),
        sa.Column("plane", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["study_instance_uid"],
            ["studies.study_instance_uid"],
            name=op.f("fk_series_study_instance_uid_studies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("series_instance_uid", name=op.f("pk_series")),
        sa.UniqueConstraint("orthanc_id", name=op.f("uq_series_orthanc_id")),
    )
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_series_body_part"), ["body_part"], unique=False)
        batch_op.create_index(batch_op.f("ix_series_modality"), ["modality"], unique=False)
        batch_op.create_index(batch_op.f("ix_series_study_instance_uid"), ["study_instance_uid"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_series_study_instance_uid"))
        batch_op.drop_index(batch_op.f("ix_series_modality"))
        batch_op.drop_index(batch_op.f("ix_series_body_part"))

    op.drop_table("series")
    with op.batch_alter_table("modalities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_modalities_site_id"))

    op.drop_table("modalities")
    with op.batch_alter_table("study_sites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_study_sites_site"))

    op.drop_table("study_sites")
    with op.batch_alter_table("study_projects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_study_projects_project_id"))

    op.drop_table("study_projects")
    with op.batch_alter_table("studies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_studies_study_date"))
        batch_op.drop_index(batch_op.f("ix_studies_size_bytes"))
        batch_op.drop_index(batch_op.f("ix_studies_received_at"))
        batch_op.drop_index(batch_op.f("ix_studies_patient_id"))
        batch_op.drop_index(batch_op.f("ix_studies_instance_count"))

    op.drop_table("studies")
    op.drop_table("sites")
    op.drop_table("project_ingest_profiles")
    op.drop_table("change_cursor")
