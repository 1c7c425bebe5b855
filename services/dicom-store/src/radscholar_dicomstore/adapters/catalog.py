"""The catalog in SQL: what the store holds, by site and project, queried and counted without Orthanc.

Every method is one blocking unit of work; the service calls them through ``asyncio.to_thread``.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TypeVarTuple

from sqlalchemy import ColumnElement, Select, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from radscholar_core.db import transaction
from radscholar_core.errors import AlreadyExists, NotFound
from radscholar_dicomstore.adapters.tables import (
    ChangeCursorRow,
    ModalityRow,
    ProjectIngestProfileRow,
    SeriesRow,
    SiteRow,
    StudyProjectRow,
    StudyRow,
    StudySiteRow,
)
from radscholar_dicomstore.domain.deidentify import IngestProfile
from radscholar_dicomstore.domain.sites import Modality, Site, SiteCounts
from radscholar_dicomstore.domain.studies import (
    PatientSummary,
    SeriesRecord,
    SeriesSummary,
    Sort,
    StatisticsGroup,
    StoreStatistics,
    StudyQuery,
    StudySummary,
)

Ts = TypeVarTuple("Ts")


def _iso(value: Any) -> str:
    return value.isoformat() if value else ""


class SqlCatalog:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    # -- indexing -------------------------------------------------------------------------------------

    def cursor(self) -> int:
        with self._sessions() as session:
            row = session.get(ChangeCursorRow, 1)
            return row.last_seq if row else 0

    def save_cursor(self, last_seq: int) -> None:
        with transaction(self._sessions) as session:
            row = session.get(ChangeCursorRow, 1)
            if row is None:
                session.add(ChangeCursorRow(id=1, last_seq=last_seq))
            else:
                row.last_seq = last_seq

    def upsert_series(self, record: SeriesRecord, site: str | None, site_source: str) -> None:
        """Inserts or refreshes a series and its study; attributes the study to `site` unless it has one."""
        try:
            self._upsert_series(record, site, site_source)
        except IntegrityError:  # another series of the same new study was inserted at the same moment
            self._upsert_series(record, site, site_source)

    def _upsert_series(self, record: SeriesRecord, site: str | None, site_source: str) -> None:
        study, series = record.study, record.summary
        with transaction(self._sessions) as session:
            row = session.get(StudyRow, study.study_instance_uid)
            if row is None:
                row = StudyRow(study_instance_uid=study.study_instance_uid, received_at=datetime.now(UTC))
                session.add(row)
            row.orthanc_id = study.orthanc_id
            row.patient_id = study.patient_id
            row.patient_name = study.patient_name
            row.study_date = study.study_date
            row.description = study.description
            row.accession_number = study.accession_number
            row.institution = study.institution
            session.merge(
                SeriesRow(
                    series_instance_uid=series.series_instance_uid,
                    orthanc_id=record.orthanc_id,
                    study_instance_uid=study.study_instance_uid,
                    modality=series.modality,
                    description=series.description,
                    series_number=series.series_number,
                    body_part=series.body_part.upper(),
                    instance_count=series.instance_count,
                    size_bytes=series.size_bytes,
                    rows=series.rows,
                    columns=series.columns,
                    slices=series.slices,
                    spacing=series.spacing,
                    orientation=series.orientation,
                    plane=series.plane,
                )
            )
            session.flush()
            _total(session, row)
            if site and session.get(StudySiteRow, study.study_instance_uid) is None:
                session.add(StudySiteRow(study_instance_uid=study.study_instance_uid, site=site, source=site_source))

    def update_counts(self, orthanc_id: str, instances: int, size_bytes: int) -> None:
        """New instance count and bytes of a known series (its geometry is read again when it is stable)."""
        with transaction(self._sessions) as session:
            row = session.scalar(select(SeriesRow).where(SeriesRow.orthanc_id == orthanc_id))
            if row is None:
                return
            if row.slices == row.instance_count:  # single-frame instances: a slice each
                row.slices = instances
            row.instance_count, row.size_bytes = instances, size_bytes
            session.flush()
            study = session.get(StudyRow, row.study_instance_uid)
            if study is not None:
                _total(session, study)

    def get_series(self, series_instance_uid: str) -> SeriesSummary:
        with self._sessions() as session:
            row = session.get(SeriesRow, series_instance_uid)
            if row is None:
                raise NotFound(f"series '{series_instance_uid}' is not in the store", reason="SERIES_NOT_FOUND")
            return _series(row)

    def series_geometry(self, orthanc_id: str) -> SeriesSummary | None:
        """The series as last indexed (its pixel geometry need not be read again)."""
        with self._sessions() as session:
            row = session.scalar(select(SeriesRow).where(SeriesRow.orthanc_id == orthanc_id))
            return _series(row) if row else None

    def study_has_site(self, study_instance_uid: str) -> bool:
        with self._sessions() as session:
            return session.get(StudySiteRow, study_instance_uid) is not None

    def attribute(self, study_instance_uids: Iterable[str], site: str, source: str) -> None:
        """First attribution wins: studies that already belong to a site keep it (also under a race)."""
        for uid in set(study_instance_uids):
            with contextlib.suppress(IntegrityError), transaction(self._sessions) as session:
                if session.get(StudySiteRow, uid) is None:
                    session.add(StudySiteRow(study_instance_uid=uid, site=site, source=source))

    def attribute_like(self, original_study_uid: str, study_instance_uids: Iterable[str], source: str) -> None:
        """Gives studies made from another (de-identified copies) the original's site."""
        with self._sessions() as session:
            original = session.get(StudySiteRow, original_study_uid)
        if original is not None:
            self.attribute(study_instance_uids, original.site, source)

    def add_to_project(self, study_instance_uids: Iterable[str], project_id: str) -> None:
        with transaction(self._sessions) as session:
            for uid in set(study_instance_uids):
                if session.get(StudyProjectRow, (uid, project_id)) is None:
                    session.add(StudyProjectRow(study_instance_uid=uid, project_id=project_id))

    def forget(self, resource_type: str, orthanc_id: str) -> None:
        """Orthanc deleted a series or a study: drop it (a study's series go with it)."""
        with transaction(self._sessions) as session:
            if resource_type == "Series":
                series = session.scalar(select(SeriesRow).where(SeriesRow.orthanc_id == orthanc_id))
                if series is not None:
                    study = session.get(StudyRow, series.study_instance_uid)
                    session.delete(series)
                    session.flush()
                    if study is not None:
                        _total(session, study)
            elif resource_type == "Study":
                uid = session.scalar(select(StudyRow.study_instance_uid).where(StudyRow.orthanc_id == orthanc_id))
                if uid:
                    session.execute(delete(SeriesRow).where(SeriesRow.study_instance_uid == uid))
                    session.execute(delete(StudyRow).where(StudyRow.study_instance_uid == uid))

    # -- sites ----------------------------------------------------------------------------------------

    def create_site(self, site: Site) -> None:
        try:
            with transaction(self._sessions) as session:
                session.add(
                    SiteRow(
                        id=site.id,
                        name=site.name,
                        institution_names=site.institution_names,
                        created_at=datetime.now(UTC),
                    )
                )
        except IntegrityError:
            raise AlreadyExists(f"site '{site.id}' already exists", reason="SITE_EXISTS") from None

    def delete_site(self, site_id: str) -> list[str]:
        """Removes a registered site and its modalities; returns their AE titles. Studies keep their site label."""
        with transaction(self._sessions) as session:
            row = session.get(SiteRow, site_id)
            if row is None:
                raise NotFound(f"site '{site_id}' is not registered", reason="SITE_NOT_FOUND")
            titles = list(session.scalars(select(ModalityRow.ae_title).where(ModalityRow.site_id == site_id)))
            session.execute(delete(ModalityRow).where(ModalityRow.site_id == site_id))
            session.delete(row)
            return titles

    def site_exists(self, site_id: str) -> bool:
        with self._sessions() as session:
            return session.get(SiteRow, site_id) is not None

    def site_for_institution(self, institution: str) -> str | None:
        """The registered site whose institution names include `institution` (case-insensitive)."""
        wanted = " ".join(institution.split()).casefold()
        if not wanted:
            return None
        with self._sessions() as session:
            for row in session.scalars(select(SiteRow)):
                if any(name.casefold() == wanted for name in row.institution_names):
                    return row.id
        return None

    def add_modality(self, modality: Modality) -> None:
        with transaction(self._sessions) as session:
            if session.get(SiteRow, modality.site_id) is None:
                raise NotFound(f"site '{modality.site_id}' is not registered", reason="SITE_NOT_FOUND")
            existing = session.get(ModalityRow, modality.ae_title)
            if existing is not None and existing.site_id != modality.site_id:
                raise AlreadyExists(
                    f"AE title '{modality.ae_title}' is registered to site '{existing.site_id}'",
                    reason="AE_TITLE_TAKEN",
                )
            session.merge(
                ModalityRow(
                    ae_title=modality.ae_title,
                    site_id=modality.site_id,
                    host=modality.host,
                    port=modality.port,
                    description=modality.description,
                    created_at=existing.created_at if existing else datetime.now(UTC),
                )
            )

    def delete_modality(self, site_id: str, ae_title: str) -> None:
        with transaction(self._sessions) as session:
            row = session.get(ModalityRow, ae_title)
            if row is None or row.site_id != site_id:
                raise NotFound(f"AE title '{ae_title}' is not registered to site '{site_id}'", reason="AE_NOT_FOUND")
            session.delete(row)

    def site_of_ae(self, ae_title: str) -> str | None:
        with self._sessions() as session:
            return session.scalar(select(ModalityRow.site_id).where(ModalityRow.ae_title == ae_title.strip()))

    def sites(self) -> list[SiteCounts]:
        """Registered sites, then the institutions studies were attributed to without a registered site."""
        with self._sessions() as session:
            counts = {
                site: (patients, studies, series or 0, instances or 0, size or 0)
                for site, patients, studies, series, instances, size in session.execute(
                    select(
                        StudySiteRow.site,
                        func.count(func.distinct(StudyRow.patient_id)),
                        func.count(func.distinct(StudyRow.study_instance_uid)),
                        func.count(SeriesRow.series_instance_uid),
                        func.sum(SeriesRow.instance_count),
                        func.sum(SeriesRow.size_bytes),
                    )
                    .join(StudyRow, StudyRow.study_instance_uid == StudySiteRow.study_instance_uid)
                    .outerjoin(SeriesRow, SeriesRow.study_instance_uid == StudyRow.study_instance_uid)
                    .group_by(StudySiteRow.site)
                )
            }
            modalities: dict[str, list[Modality]] = defaultdict(list)
            for m in session.scalars(select(ModalityRow).order_by(ModalityRow.ae_title)):
                modalities[m.site_id].append(Modality(m.ae_title, m.site_id, m.host, m.port, m.description))
            registered = list(session.scalars(select(SiteRow).order_by(SiteRow.id)))
        known = {row.id for row in registered}
        result = [
            SiteCounts(
                Site(row.id, row.name, list(row.institution_names)),
                True,
                modalities[row.id],
                *counts.get(row.id, (0, 0, 0, 0, 0)),
            )
            for row in registered
        ]
        result += [
            SiteCounts(Site(label, label, [label]), False, [], *numbers)
            for label, numbers in sorted(counts.items())
            if label not in known
        ]
        return result

    # -- ingest profiles ------------------------------------------------------------------------------

    def ingest_profile(self, project_id: str) -> IngestProfile:
        with self._sessions() as session:
            row = session.get(ProjectIngestProfileRow, project_id)
        if row is None:
            return IngestProfile()
        return IngestProfile(
            row.deidentify, row.retain_longitudinal_dates, row.retain_patient_characteristics, row.clean_descriptors
        )

    def set_ingest_profile(self, project_id: str, profile: IngestProfile) -> None:
        with transaction(self._sessions) as session:
            session.merge(
                ProjectIngestProfileRow(
                    project_id=project_id,
                    deidentify=profile.deidentify,
                    retain_longitudinal_dates=profile.retain_longitudinal_dates,
                    retain_patient_characteristics=profile.retain_patient_characteristics,
                    clean_descriptors=profile.clean_descriptors,
                    updated_at=datetime.now(UTC),
                )
            )

    # -- queries --------------------------------------------------------------------------------------

    def find_studies(self, query: StudyQuery, sort: Sort, offset: int, limit: int) -> tuple[list[StudySummary], int]:
        order = {
            "study_date": StudyRow.study_date,
            "received": StudyRow.received_at,
            "patient_id": StudyRow.patient_id,
            "description": StudyRow.description,
            "instances": StudyRow.instance_count,
            "size": StudyRow.size_bytes,
        }[sort.key]
        filters = _study_filters(query)
        with self._sessions() as session:
            total = session.scalar(_with_site(select(func.count(StudyRow.study_instance_uid))).where(*filters)) or 0
            rows = session.execute(
                _with_site(select(StudyRow, StudySiteRow.site))
                .where(*filters)
                .order_by(_ordered(order, sort), StudyRow.study_instance_uid)
                .offset(offset)
                .limit(limit)
            ).all()
            uids = [row[0].study_instance_uid for row in rows]
            projects: dict[str, list[str]] = defaultdict(list)
            for uid, project in session.execute(
                select(StudyProjectRow.study_instance_uid, StudyProjectRow.project_id)
                .where(StudyProjectRow.study_instance_uid.in_(uids))
                .order_by(StudyProjectRow.project_id)
            ):
                projects[uid].append(project)
        return [
            StudySummary(
                study_instance_uid=study.study_instance_uid,
                patient_id=study.patient_id,
                patient_name=study.patient_name,
                study_date=_iso(study.study_date),
                description=study.description,
                accession_number=study.accession_number,
                institution=study.institution,
                modalities=list(study.modalities),
                series_count=study.series_count,
                instance_count=study.instance_count,
                site=site or "",
                project_ids=projects[study.study_instance_uid],
                size_bytes=study.size_bytes,
                body_parts=list(study.body_parts),
                received_at=_iso(study.received_at),
            )
            for study, site in rows
        ], total

    def find_series(self, query: StudyQuery, sort: Sort, offset: int, limit: int) -> tuple[list[SeriesSummary], int]:
        order = {
            "series_number": SeriesRow.series_number,
            "modality": SeriesRow.modality,
            "body_part": SeriesRow.body_part,
            "instances": SeriesRow.instance_count,
            "size": SeriesRow.size_bytes,
            "study_date": StudyRow.study_date,
        }[sort.key]
        filters = _study_filters(query, series_level=True)

        def joined(statement: Select[Any]) -> Select[Any]:
            return _with_site(statement.join(StudyRow, StudyRow.study_instance_uid == SeriesRow.study_instance_uid))

        with self._sessions() as session:
            total = session.scalar(joined(select(func.count(SeriesRow.series_instance_uid))).where(*filters)) or 0
            rows = session.scalars(
                joined(select(SeriesRow))
                .where(*filters)
                .order_by(_ordered(order, sort), SeriesRow.series_instance_uid)
                .offset(offset)
                .limit(limit)
            ).all()
            return [_series(row) for row in rows], total

    def find_patients(self, query: StudyQuery, sort: Sort, offset: int, limit: int) -> tuple[list[PatientSummary], int]:
        latest = func.max(StudyRow.study_date)
        studies = func.count(StudyRow.study_instance_uid)
        order = {"latest_study_date": latest, "patient_id": StudyRow.patient_id, "studies": studies}[sort.key]
        filters = _study_filters(query)
        with self._sessions() as session:
            total = (
                session.scalar(_with_site(select(func.count(func.distinct(StudyRow.patient_id)))).where(*filters)) or 0
            )
            rows = session.execute(
                _with_site(
                    select(
                        StudyRow.patient_id,
                        func.max(StudyRow.patient_name),
                        studies,
                        func.sum(StudyRow.series_count),
                        func.sum(StudyRow.instance_count),
                        latest,
                    )
                )
                .where(*filters)
                .group_by(StudyRow.patient_id)
                .order_by(_ordered(order, sort), StudyRow.patient_id)
                .offset(offset)
                .limit(limit)
            ).all()
            sites: dict[str, set[str]] = defaultdict(set)
            for patient, site in session.execute(
                select(StudyRow.patient_id, StudySiteRow.site)
                .join(StudySiteRow, StudySiteRow.study_instance_uid == StudyRow.study_instance_uid)
                .where(StudyRow.patient_id.in_([row[0] for row in rows]))
            ):
                sites[patient].add(site)
        return [
            PatientSummary(patient, name or "", count, series or 0, instances or 0, _iso(last), sorted(sites[patient]))
            for patient, name, count, series, instances, last in rows
        ], total

    def statistics(self) -> StoreStatistics:
        with self._sessions() as session:
            patients, studies = session.execute(
                select(func.count(func.distinct(StudyRow.patient_id)), func.count(StudyRow.study_instance_uid))
            ).one()
            series, instances, size = session.execute(
                select(
                    func.count(SeriesRow.series_instance_uid),
                    func.sum(SeriesRow.instance_count),
                    func.sum(SeriesRow.size_bytes),
                )
            ).one()
            by_modality = _groups(session, SeriesRow.modality)
            by_site = _groups(session, func.coalesce(StudySiteRow.site, ""))
            by_date = _groups(session, StudyRow.study_date)
        months: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        for group in by_date:  # months are summed here: date functions differ between SQLite and PostgreSQL
            bucket = months[group.key[:7] if group.key else ""]
            for i, value in enumerate((group.studies, group.series, group.instances, group.size_bytes)):
                bucket[i] += value
        return StoreStatistics(
            patients=patients,
            studies=studies,
            series=series,
            instances=instances or 0,
            disk_size_bytes=size or 0,
            by_modality=by_modality,
            by_site=by_site,
            by_month=[StatisticsGroup(key, *values) for key, values in sorted(months.items())],
        )


def _with_site(statement: Select[*Ts]) -> Select[*Ts]:
    return statement.outerjoin(StudySiteRow, StudySiteRow.study_instance_uid == StudyRow.study_instance_uid)


def _ordered(column: Any, sort: Sort) -> Any:
    return (column.desc() if sort.descending else column.asc()).nulls_last()


def _total(session: Session, study: StudyRow) -> None:
    """Recounts a study's totals from its series (a handful of rows)."""
    series = session.scalars(select(SeriesRow).where(SeriesRow.study_instance_uid == study.study_instance_uid)).all()
    study.series_count = len(series)
    study.instance_count = sum(s.instance_count for s in series)
    study.size_bytes = sum(s.size_bytes for s in series)
    study.modalities = sorted({s.modality for s in series if s.modality})
    study.body_parts = sorted({s.body_part for s in series if s.body_part})


def _study_filters(query: StudyQuery, *, series_level: bool = False) -> list[ColumnElement[bool]]:
    """WHERE clauses on a statement that joins studies and their site (and, at series level, the series)."""
    clauses: list[ColumnElement[bool]] = []
    if query.patient_id:
        clauses.append(StudyRow.patient_id == query.patient_id)
    if query.study_instance_uid:
        clauses.append(StudyRow.study_instance_uid == query.study_instance_uid)
    if query.date_from:
        clauses.append(StudyRow.study_date >= query.date_from)
    if query.date_to:
        clauses.append(StudyRow.study_date <= query.date_to)
    if query.description_contains:
        clauses.append(StudyRow.description.ilike(f"%{query.description_contains}%"))
    if query.institution:
        clauses.append(func.lower(StudyRow.institution) == query.institution.lower())
    if query.site:
        clauses.append(StudySiteRow.site == query.site)
    if query.project_id:
        clauses.append(
            StudyRow.study_instance_uid.in_(
                select(StudyProjectRow.study_instance_uid).where(StudyProjectRow.project_id == query.project_id)
            )
        )
    series_clauses = []
    if query.modality:
        series_clauses.append(SeriesRow.modality == query.modality)
    if query.body_part:
        series_clauses.append(SeriesRow.body_part == query.body_part)
    if series_level:
        clauses += series_clauses
    elif series_clauses:  # uncorrelated, so the database evaluates it once
        clauses.append(StudyRow.study_instance_uid.in_(select(SeriesRow.study_instance_uid).where(*series_clauses)))
    return clauses


def _groups(session: Session, key: Any) -> list[StatisticsGroup]:
    statement: Select[Any] = (
        select(
            key,
            func.count(func.distinct(StudyRow.study_instance_uid)),
            func.count(SeriesRow.series_instance_uid),
            func.sum(SeriesRow.instance_count),
            func.sum(SeriesRow.size_bytes),
        )
        .select_from(SeriesRow)
        .join(StudyRow, StudyRow.study_instance_uid == SeriesRow.study_instance_uid)
        .outerjoin(StudySiteRow, StudySiteRow.study_instance_uid == StudyRow.study_instance_uid)
        .group_by(key)
        .order_by(key)
    )
    return [
        StatisticsGroup(_iso(k) if not isinstance(k, str) else k, studies, series, instances or 0, size or 0)
        for k, studies, series, instances, size in session.execute(statement)
    ]


def _series(row: SeriesRow) -> SeriesSummary:
    return SeriesSummary(
        series_instance_uid=row.series_instance_uid,
        study_instance_uid=row.study_instance_uid,
        modality=row.modality,
        description=row.description,
        series_number=row.series_number,
        body_part=row.body_part,
        instance_count=row.instance_count,
        size_bytes=row.size_bytes,
        rows=row.rows,
        columns=row.columns,
        slices=row.slices,
        spacing=list(row.spacing),
        orientation=list(row.orientation),
        plane=row.plane,
    )
