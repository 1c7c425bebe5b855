"""The labeling database schema (SQLAlchemy 2). Alembic migrations in ../migrations own it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from radscholar_core.db import NAMING_CONVENTION, UTCDateTime


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ProjectRow(Base):
    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text)
    modality: Mapped[str] = mapped_column(String(16))
    task_type: Mapped[str] = mapped_column(String(32))
    dimensionality: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    label_schema: Mapped[str] = mapped_column(Text)  # JSON: {"classes": [{"name", "color"}], "level", "multi_label"}
    sites: Mapped[str] = mapped_column(Text)  # JSON list


class CaseRow(Base):
    __tablename__ = "cases"
    __table_args__ = (UniqueConstraint("project_id", "study_instance_uid"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    study_instance_uid: Mapped[str] = mapped_column(String(64))
    patient_id: Mapped[str] = mapped_column(String(64))
    site: Mapped[str] = mapped_column(String(64), index=True)
    study_date: Mapped[str] = mapped_column(String(10))
    description: Mapped[str] = mapped_column(Text)
    series: Mapped[str] = mapped_column(Text)  # JSON list of CaseSeries fields
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TaskRow(Base):
    __tablename__ = "tasks"
    __table_args__ = (UniqueConstraint("case_id", "assignee_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    assignee_id: Mapped[str] = mapped_column(String(64), index=True)  # "" unassigned
    status: Mapped[str] = mapped_column(String(16))
    annotation_version: Mapped[int] = mapped_column(Integer)
    review_comment: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AnnotationVersionRow(Base):
    """Every save of a task's annotation; rows are only ever added."""

    __tablename__ = "annotation_versions"
    __table_args__ = (UniqueConstraint("task_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    annotation_id: Mapped[str] = mapped_column(String(36), index=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    case_id: Mapped[str] = mapped_column(String(36), index=True)
    version: Mapped[int] = mapped_column(Integer)
    author_id: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(220))
    content: Mapped[str] = mapped_column(Text)  # JSON of AnnotationContent
    submitted: Mapped[bool] = mapped_column(Boolean)
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ReviewRow(Base):
    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    annotation_version: Mapped[int] = mapped_column(Integer)
    reviewer_id: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str] = mapped_column(Text)
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DatasetRow(Base):
    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("project_id", "content_hash"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    content_hash: Mapped[str] = mapped_column(String(80))
    manifest: Mapped[str] = mapped_column(Text)  # canonical JSON
    split_counts: Mapped[str] = mapped_column(Text)  # JSON split -> cases
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
