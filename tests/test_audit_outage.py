"""When the audit trail cannot be written, an audited call is answered 503 instead of unaudited."""

from __future__ import annotations

import sqlalchemy as sa

from tests.conftest import Platform


def test_an_unwritable_trail_refuses_audited_calls_and_keeps_unaudited_ones(isolated_platform: Platform) -> None:
    gateway = isolated_platform.gateway
    assert gateway.get("/api/v1/dicom/studies").status_code == 200
    engine = sa.create_engine(isolated_platform.settings.database_url)
    with engine.begin() as connection:
        connection.execute(sa.text("ALTER TABLE audit_records RENAME TO audit_records_away"))
    try:
        refused = gateway.get("/api/v1/dicom/studies")
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["reason"] == "AUDIT_UNAVAILABLE" and "studies" not in refused.json()
        assert refused.headers["X-Request-ID"]  # the answer still carries its request id
        assert gateway.get("/api/v1/dicom/statistics").status_code == 200  # not audited: answered
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text("ALTER TABLE audit_records_away RENAME TO audit_records"))
        engine.dispose()
    assert gateway.get("/api/v1/dicom/studies").status_code == 200
