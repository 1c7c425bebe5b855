"""The DICOM store's catalog schema (SQLAlchemy 2); Alembic migrations in ../migrations own it.

Orthanc keeps the instances; the catalog is an index over them that Orthanc cannot give: sites, projects,
series geometry and storage, sortable and countable in SQL. It is rebuilt from Orthanc's change log.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Boolean, Date, ForeignKey, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from radscholar_core.db import NAMING_CONVENTION, UTCDateTime


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class SiteRow(Base):
    __tablename__ = "sites"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    institution_names: Mapped[list[str]] = mapped_column(JSON)  # InstitutionName values that mean this site
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ModalityRow(Base):
    """A DICOM application entity allowed to C-STORE into Orthanc, on behalf of a site."""

    __tablename__ = "modalities"

    ae_title: Mapped[str] = mapped_column(String(16), primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StudyRow(Base):
    __tablename__ = "studies"

    study_instance_uid: Mapped[str] = mapped_column(String(64), primary_key=True)
    orthanc_id: Mapped[str] = mapped_column(String(64), unique=True)
    patient_id: Mapped[str] = mapped_column(String(64), index=True)
    patient_name: Mapped[str] = mapped_column(String(324))
    study_date: Mapped[date | None] = mapped_column(Date, index=True)
    description: Mapped[str] = mapped_column(Text)
    accession_number: Mapped[str] = mapped_column(String(16))
    institution: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    # Totals over its series, kept with each series change, so listing and sorting never aggregate.
    series_count: Mapped[int] = mapped_column(Integer, default=0)
    instance_count: Mapped[int] = mapped_column(Integer, default=0, index=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0, index=True)
    modalities: Mapped[list[str]] = mapped_column(JSON, default=list)
    body_parts: Mapped[list[str]] = mapped_column(JSON, default=list)


class StudySiteRow(Base):
    """Which site a study belongs to; the first attribution wins (upload route, C-STORE caller, institution)."""

    __tablename__ = "study_sites"

    study_instance_uid: Mapped[str] = mapped_column(String(64), primary_key=True)
    site: Mapped[str] = mapped_column(String(200), index=True)
    source: Mapped[str] = mapped_column(String(16))  # upload, c-store, institution


class StudyProjectRow(Base):
    __tablename__ = "study_projects"

    study_instance_uid: Mapped[str] = mapped_column(String(64), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class SeriesRow(Base):
    __tablename__ = "series"

    series_instance_uid: Mapped[str] = mapped_column(String(64), primary_key=True)
    orthanc_id: Mapped[str] = mapped_column(String(64), unique=True)
    study_instance_uid: Mapped[str] = mapped_column(
        ForeignKey("studies.study_instance_uid", ondelete="CASCADE"), index=True
    )
    modality: Mapped[str] = mapped_column(String(16), index=True)
    description: Mapped[str] = mapped_column(Text)
    series_number: Mapped[int] = mapped_column(Integer)
    body_part: Mapped[str] = mapped_column(String(64), index=True)
    instance_count: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    rows: Mapped[int] = mapped_column(Integer)
    columns: Mapped[int] = mapped_column(Integer)
    slices: Mapped[int] = mapped_column(Integer)
    spacing: Mapped[list[float]] = mapped_column(JSON)  # column, row, slice spacing in mm ([] when unknown)
    orientation: Mapped[list[float]] = mapped_column(JSON)  # ImageOrientationPatient, 6 values
    plane: Mapped[str] = mapped_column(String(16))  # axial, coronal, sagittal, oblique, ""


class ProjectIngestProfileRow(Base):
    """What a project asks of instances uploaded into it: de-identify them (and how) before they are stored."""

    __tablename__ = "project_ingest_profiles"

    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    deidentify: Mapped[bool] = mapped_column(Boolean)
    retain_longitudinal_dates: Mapped[bool] = mapped_column(Boolean)
    retain_patient_characteristics: Mapped[bool] = mapped_column(Boolean)
    clean_descriptors: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ChangeCursorRow(Base):
    """How far the catalog has read Orthanc's change log (one row)."""

    __tablename__ = "change_cursor"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger)
