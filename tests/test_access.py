"""Sign-in, sessions, keys, service trust, audit trail and hardening, end to end over HTTP and gRPC."""

from __future__ import annotations

import subprocess
import sys
import uuid
from typing import Any

import grpc
import pytest
from fastapi.testclient import TestClient
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import text

from radscholar_core.db import create_engine_for
from radscholar_core.status import error_info
from radscholar_gateway.app import create_app
from radscholar_proto.dicomstore.v1 import dicomstore_pb2, dicomstore_pb2_grpc
from radscholar_proto.labeling.v1 import labeling_pb2, labeling_pb2_grpc
from radscholar_proto.radiomics.v1 import radiomics_pb2, radiomics_pb2_grpc
from radscholar_proto.stats.v1 import stats_pb2, stats_pb2_grpc
from radscholar_proto.training.v1 import training_pb2, training_pb2_grpc

DIRECT_CALLS = {
    "dicomstore": lambda ch: dicomstore_pb2_grpc.DicomStoreServiceStub(ch).GetStoreStatistics(
        dicomstore_pb2.GetStoreStatisticsRequest()
    ),
    "labeling": lambda ch: labeling_pb2_grpc.LabelingServiceStub(ch).ListProjects(labeling_pb2.ListProjectsRequest()),
    "training": lambda ch: training_pb2_grpc.TrainingServiceStub(ch).ListArchitectures(
        training_pb2.ListArchitecturesRequest()
    ),
    "radiomics": lambda ch: radiomics_pb2_grpc.RadiomicsServiceStub(ch).ListPresets(radiomics_pb2.ListPresetsRequest()),
    "stats": lambda ch: stats_pb2_grpc.StatsServiceStub(ch).CompareTwoGroups(
        stats_pb2.CompareTwoGroupsRequest(group_a=[1, 2], group_b=[3, 4], test=stats_pb2.TWO_GROUP_TEST_WELCH_T)
    ),
}


@pytest.mark.parametrize("service", sorted(DIRECT_CALLS))
def test_a_direct_call_without_the_gateways_identity_is_refused(platform: Any, service: str) -> None:
    with grpc.insecure_channel(platform.addresses[service]) as channel:
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert health.status == health_pb2.HealthCheckResponse.SERVING  # probes need no identity
        with pytest.raises(grpc.RpcError) as refused:
            DIRECT_CALLS[service](channel)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert error_info(refused.value).reason == "IDENTITY_MISSING"  # type: ignore[union-attr]
        forged = (("x-radscholar-identity", "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"),)
        with pytest.raises(grpc.RpcError) as refused:
            _call_with_metadata(DIRECT_CALLS[service], channel, forged)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert error_info(refused.value).reason == "IDENTITY_MALFORMED"  # type: ignore[union-attr]


def _call_with_metadata(stub_call: Any, channel: grpc.Channel, metadata: tuple[tuple[str, str], ...]) -> Any:
    class WithMetadata(grpc.UnaryUnaryClientInterceptor):  # type: ignore[misc]
        def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
            return continuation(details._replace(metadata=list(details.metadata or ()) + list(metadata)), request)

    return stub_call(grpc.intercept_channel(channel, WithMetadata()))


def test_wrong_password_and_unknown_user_look_the_same(platform: Any) -> None:
    user, _ = platform.user(["researcher"])
    with platform.client() as anonymous:
        wrong = anonymous.post("/api/v1/auth/login", json={"username": user["username"], "password": "nope-nope"})
        unknown = anonymous.post("/api/v1/auth/login", json={"username": "nobody-" + uuid.uuid4().hex, "password": "x"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"]["reason"] == "INVALID_CREDENTIALS"


def test_repeated_failures_lock_the_account_even_with_the_right_password(platform: Any) -> None:
    password = f"pw-{uuid.uuid4().hex}"
    username = f"locky-{uuid.uuid4().hex[:8]}"
    platform.gateway.post("/api/v1/users", json={"username": username, "password": password, "roles": ["reviewer"]})
    with platform.client() as anonymous:
        for _ in range(5):
            assert (
                anonymous.post("/api/v1/auth/login", json={"username": username, "password": "bad"}).status_code == 401
            )
        locked = anonymous.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert (locked.status_code, locked.json()["error"]["reason"]) == (401, "ACCOUNT_LOCKED")


def test_refresh_rotates_and_logout_ends_the_session(platform: Any) -> None:
    user, _ = platform.user(["annotator"])
    password = "new-password-" + uuid.uuid4().hex
    assert (
        platform.gateway.put(f"/api/v1/users/{user['id']}/password", json={"new_password": password}).status_code == 204
    )
    pair = platform.login(user["username"], password)
    with platform.client() as anonymous:
        rotated = anonymous.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert rotated.status_code == 200
        reused = anonymous.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert (reused.status_code, reused.json()["error"]["reason"]) == (401, "REFRESH_TOKEN_REUSED")
    fresh = platform.login(user["username"], password)
    with platform.client(fresh["access_token"]) as client:
        assert client.get("/api/v1/me").json()["username"] == user["username"]
        assert client.post("/api/v1/auth/logout", json={"refresh_token": fresh["refresh_token"]}).status_code == 204
        after = client.get("/api/v1/me")
        assert (after.status_code, after.json()["error"]["reason"]) == (401, "TOKEN_REVOKED")


def test_api_keys_work_until_revoked_and_the_secret_is_shown_once(platform: Any) -> None:
    _, token = platform.user(["researcher"])
    with platform.client(token) as client:
        created = client.post("/api/v1/me/keys", json={"name": "pipeline"}).json()
        secret = created["secret"]
        assert secret.startswith("rsk_")
        assert secret not in client.get("/api/v1/me/keys").text
    with platform.client(secret) as program:
        assert program.get("/api/v1/training/architectures").status_code == 200
        with platform.client(token) as client:
            assert client.delete(f"/api/v1/me/keys/{created['key']['id']}").status_code == 204
        revoked = program.get("/api/v1/training/architectures")
        assert (revoked.status_code, revoked.json()["error"]["reason"]) == (401, "API_KEY_REVOKED")


def test_patient_data_access_is_audited_and_the_chain_verifies(platform: Any) -> None:
    user, token = platform.user(["researcher"])
    with platform.client(token) as client:
        assert client.get("/api/v1/dicom/studies", params={"modality": "CT"}).status_code == 200
        assert client.get("/api/v1/users").status_code == 403
    with platform.client() as anonymous:
        anonymous.post("/api/v1/auth/login", json={"username": user["username"], "password": "wrong-password"})
    records = platform.gateway.get("/api/v1/audit", params={"actor": user["username"]}).json()["records"]
    seen = {(r["action"], r["outcome"], r["status_code"]) for r in records}
    assert ("dicom.query", "success", 200) in seen
    assert ("users.list", "denied", 403) in seen
    assert ("auth.login", "denied", 401) in seen
    assert all(r["client_address"] == "127.0.0.1" and r["request_id"] for r in records)
    verification = platform.gateway.get("/api/v1/audit/verification").json()
    assert verification["ok"] and verification["checked"] >= len(records)


def test_an_edited_audit_record_is_found_by_the_verify_command(platform: Any, tmp_path: Any) -> None:
    """On a copy of the gateway database, edit one record as a database administrator would."""
    import sqlite3

    for _ in range(3):
        assert platform.gateway.get("/api/v1/dicom/studies").status_code == 200  # audited reads
    source = platform.settings.database_url.removeprefix("sqlite:///")
    copy = tmp_path / "gateway-copy.db"
    with sqlite3.connect(source) as live, sqlite3.connect(copy) as target:
        live.backup(target)  # consistent, WAL included
    url = f"sqlite:///{copy}"
    verify = [sys.executable, "-m", "radscholar_gateway.audit", "verify", "--database-url", url]
    assert subprocess.run(verify, capture_output=True, text=True).returncode == 0
    engine = create_engine_for(url)
    with engine.begin() as connection:
        names = [r[0] for r in connection.execute(text("SELECT name FROM sqlite_master WHERE type='trigger'"))]
        for name in names:
            connection.execute(text(f'DROP TRIGGER "{name}"'))
        connection.execute(text("UPDATE audit_records SET actor_username = 'someone-else' WHERE seq = 2"))
    engine.dispose()
    broken = subprocess.run(verify, capture_output=True, text=True)
    assert broken.returncode == 1
    assert "2" in broken.stdout and "edited" in broken.stdout


def test_hardening(platform: Any) -> None:
    with platform.client() as anonymous:
        big = anonymous.post(
            "/api/v1/auth/login",
            content=b"x" * (platform.settings.max_request_bytes + 1),
            headers={"content-type": "application/json"},
        )
        assert (big.status_code, big.json()["error"]["reason"]) == (413, "REQUEST_TOO_LARGE")

        def chunks() -> Any:
            for _ in range(11):
                yield b"x" * (1024 * 1024)

        streamed = anonymous.post("/api/v1/auth/login", content=chunks(), headers={"content-type": "application/json"})
        assert streamed.status_code == 413
        answer = anonymous.get("/healthz")
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
        api = anonymous.get("/api/v1/me")
        assert api.headers["cache-control"] == "no-store"
        assert "default-src 'none'" in api.headers["content-security-policy"]
        cross = anonymous.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in cross.headers


def test_cors_allows_only_configured_origins(platform: Any) -> None:
    settings = platform.settings.model_copy(update={"cors_origins": ["https://viewer.hospital.example"]})
    with TestClient(create_app(settings)) as client:
        ok = client.options(
            "/api/v1/me", headers={"Origin": "https://viewer.hospital.example", "Access-Control-Request-Method": "GET"}
        )
        assert ok.headers["access-control-allow-origin"] == "https://viewer.hospital.example"
        other = client.options(
            "/api/v1/me", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
        )
        assert "access-control-allow-origin" not in other.headers
