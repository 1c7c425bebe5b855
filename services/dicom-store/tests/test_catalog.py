"""The SQL catalog on SQLite (one machine) and PostgreSQL (a cluster): the same answers from both."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from radscholar_core.db import create_engine_for, session_factory, upgrade_to_head
from radscholar_core.errors import AlreadyExists, NotFound
from radscholar_core.testing import postgres_available, temporary_postgres_database
from radscholar_dicomstore.adapters.catalog import SqlCatalog
from radscholar_dicomstore.domain.deidentify import IngestProfile
from radscholar_dicomstore.domain.sites import Modality, Site
from radscholar_dicomstore.domain.studies import (
    PATIENT_SORTS,
    SERIES_SORTS,
    STUDY_SORTS,
    SeriesRecord,
    SeriesSummary,
    Sort,
    StudyQuery,
    StudyRecord,
)
from radscholar_dicomstore.server import MIGRATIONS


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/catalog.db"
        return
    if not postgres_available():
        pytest.fail("PostgreSQL at 127.0.0.1:5432 is required (the production database)")
    with temporary_postgres_database() as url:
        yield url


@pytest.fixture
def catalog(database_url: str) -> Iterator[SqlCatalog]:
    upgrade_to_head(database_url, MIGRATIONS)
    engine = create_engine_for(database_url)
    try:
        yield SqlCatalog(session_factory(engine))
    finally:
        engine.dispose()


def record(
    study: int, series: int, *, modality: str = "CT", body_part: str = "CHEST", **study_fields: object
) -> SeriesRecord:
    fields: dict[str, object] = {
        "study_instance_uid": f"1.2.3.{study}",
        "orthanc_id": f"study-{study}",
        "patient_id": f"P{study % 3}",
        "patient_name": f"Doe^{study % 3}",
        "study_date": date(2024, 1 + study % 12, 10),
        "description": f"Chest study {study}",
        "accession_number": f"A{study}",
        "institution": "St. Example Hospital",
    } | study_fields
    return SeriesRecord(
        orthanc_id=f"series-{study}-{series}",
        study=StudyRecord(**fields),  # type: ignore[arg-type]
        summary=SeriesSummary(
            series_instance_uid=f"1.2.3.{study}.{series}",
            study_instance_uid=str(fields["study_instance_uid"]),
            modality=modality,
            description="",
            series_number=series,
            body_part=body_part,
            instance_count=10 * series + study,
            size_bytes=1000 * (10 * series + study),
            rows=64,
            columns=64,
            slices=10 * series + study,
            spacing=[0.7, 0.7, 2.5],
            orientation=[1, 0, 0, 0, 1, 0],
            plane="axial",
        ),
        calling_ae="",
    )


def test_queries_filter_sort_and_count(catalog: SqlCatalog) -> None:
    for study in range(1, 7):
        catalog.upsert_series(record(study, 1), "north" if study % 2 else "south", "upload")
    catalog.upsert_series(record(2, 2, modality="MR", body_part="HEAD"), None, "")
    catalog.add_to_project(["1.2.3.1", "1.2.3.2"], "lung")
    newest = Sort.parse("", STUDY_SORTS)
    studies, total = catalog.find_studies(StudyQuery(), newest, 0, 100)
    assert total == 6 and [s.study_date for s in studies] == sorted((s.study_date for s in studies), reverse=True)
    two = next(s for s in studies if s.study_instance_uid == "1.2.3.2")
    assert two.modalities == ["CT", "MR"] and two.body_parts == ["CHEST", "HEAD"] and two.series_count == 2
    assert two.instance_count == 12 + 22 and two.project_ids == ["lung"] and two.site == "south"
    assert catalog.find_studies(StudyQuery.parse(modality="mr"), newest, 0, 10)[1] == 1
    assert catalog.find_studies(StudyQuery.parse(body_part="head"), newest, 0, 10)[1] == 1
    assert catalog.find_studies(StudyQuery.parse(site="north"), newest, 0, 10)[1] == 3
    assert catalog.find_studies(StudyQuery.parse(project_id="lung"), newest, 0, 10)[1] == 2
    assert catalog.find_studies(StudyQuery.parse(description_contains="CHEST STUDY 4"), newest, 0, 10)[1] == 1
    assert catalog.find_studies(StudyQuery.parse(institution="st. example hospital"), newest, 0, 10)[1] == 6
    ranged = StudyQuery.parse(study_date_from="2024-03-01", study_date_to="2024-04-30")
    assert {s.study_instance_uid for s in catalog.find_studies(ranged, newest, 0, 10)[0]} == {"1.2.3.2", "1.2.3.3"}
    by_size = catalog.find_studies(StudyQuery(), Sort.parse("-size", STUDY_SORTS), 0, 2)[0]
    assert [s.study_instance_uid for s in by_size] == ["1.2.3.2", "1.2.3.6"]
    page_two = catalog.find_studies(StudyQuery(), Sort.parse("patient_id", STUDY_SORTS), 2, 2)[0]
    assert [s.patient_id for s in page_two] == ["P1", "P1"]
    series, count = catalog.find_series(StudyQuery.parse(modality="CT"), Sort.parse("-instances", SERIES_SORTS), 0, 3)
    assert count == 6 and [s.instance_count for s in series] == [16, 15, 14]
    patients, count = catalog.find_patients(StudyQuery(), Sort.parse("patient_id", PATIENT_SORTS), 0, 10)
    assert count == 3 and [(p.patient_id, p.study_count) for p in patients] == [("P0", 2), ("P1", 2), ("P2", 2)]
    assert patients[2].sites == ["north", "south"]
    assert catalog.get_series("1.2.3.2.2").body_part == "HEAD"
    with pytest.raises(NotFound):
        catalog.get_series("9.9")


def test_statistics_group_by_modality_site_and_month(catalog: SqlCatalog) -> None:
    catalog.upsert_series(record(1, 1), "north", "c-store")
    catalog.upsert_series(record(1, 2, modality="MR"), None, "")
    catalog.upsert_series(record(13, 1, study_date=date(2024, 2, 28)), None, "")  # no site
    catalog.upsert_series(record(14, 1, study_date=None), "south", "upload")
    stats = catalog.statistics()
    assert (stats.patients, stats.studies, stats.series) == (2, 3, 4)  # studies 1 and 13 share patient P1
    assert stats.instances == 11 + 21 + 23 + 24
    assert {g.key: g.series for g in stats.by_modality} == {"CT": 3, "MR": 1}
    assert {g.key: g.studies for g in stats.by_site} == {"": 1, "north": 1, "south": 1}
    assert {g.key: (g.studies, g.instances) for g in stats.by_month} == {"": (1, 24), "2024-02": (2, 11 + 21 + 23)}
    for groups in (stats.by_modality, stats.by_site, stats.by_month):
        assert sum(g.size_bytes for g in groups) == stats.disk_size_bytes


def test_the_first_attribution_wins_and_forgetting_removes(catalog: SqlCatalog) -> None:
    catalog.attribute(["1.2.3.1"], "south", "upload")
    catalog.upsert_series(record(1, 1), "north", "c-store")
    assert catalog.find_studies(StudyQuery(), Sort.parse("", STUDY_SORTS), 0, 1)[0][0].site == "south"
    catalog.attribute_like("1.2.3.1", ["9.8.7"], "copy")
    assert catalog.study_has_site("9.8.7")
    refreshed = record(1, 1)
    catalog.upsert_series(refreshed, None, "")  # indexing again changes nothing
    assert catalog.statistics().series == 1
    catalog.forget("Study", "study-1")
    assert catalog.statistics().studies == 0 and catalog.series_geometry("series-1-1") is None


def test_sites_modalities_and_profiles(catalog: SqlCatalog) -> None:
    catalog.create_site(Site.parse(id="north", name="North", institution_names=["Northfield  Hospital"]))
    with pytest.raises(AlreadyExists):
        catalog.create_site(Site.parse(id="north", name="Again", institution_names=[]))
    catalog.add_modality(Modality.parse(ae_title="CT1", site_id="north", host="10.0.0.5", port=104))
    with pytest.raises(NotFound):
        catalog.add_modality(Modality.parse(ae_title="CT2", site_id="nowhere", host="10.0.0.5", port=104))
    assert catalog.site_of_ae("CT1") == "north" and catalog.site_of_ae("CT9") is None
    assert catalog.site_for_institution("northfield hospital") == "north"
    catalog.upsert_series(record(1, 1, institution="Elsewhere"), "Elsewhere", "institution")
    listed = catalog.sites()
    assert [(s.site.id, s.registered, s.studies) for s in listed] == [("north", True, 0), ("Elsewhere", False, 1)]
    assert [m.ae_title for m in listed[0].modalities] == ["CT1"]
    assert catalog.delete_site("north") == ["CT1"] and catalog.site_of_ae("CT1") is None
    assert catalog.ingest_profile("p") == IngestProfile()
    catalog.set_ingest_profile("p", IngestProfile(deidentify=True, clean_descriptors=True))
    assert catalog.ingest_profile("p") == IngestProfile(deidentify=True, clean_descriptors=True)
    catalog.save_cursor(42)
    assert catalog.cursor() == 42
