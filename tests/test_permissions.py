"""The permission matrix: every route of the OpenAPI document, with every role and every bad credential.

A route missing from the permission table fails here (and the gateway refuses to start with it).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from radscholar_core.db import create_engine_for, session_factory
from radscholar_gateway.accounts import Accounts, Tokens
from radscholar_gateway.app import create_app, undeclared_routes
from radscholar_gateway.security.permissions import ROUTES, Permission, allowed

ROLES = ["admin", "researcher", "annotator", "reviewer", "site-operator"]


def routes(platform: Any) -> list[tuple[str, str]]:
    document = platform.gateway.get("/api/v1/openapi.json").json()
    return sorted((method.upper(), path) for path, item in document["paths"].items() for method in item)


@pytest.fixture(scope="module")
def world(platform: Any) -> dict[str, Any]:
    """A project, one API key per role (each user a lead of that project), and bad credentials."""
    project = platform.gateway.post(
        "/api/v1/projects",
        json={"name": "Permission matrix", "modality": "CT", "task_type": "DETECTION", "dimensionality": "3D"},
    ).json()
    keys = {}
    for role in ROLES:
        user, token = platform.user([role])
        platform.gateway.put(f"/api/v1/projects/{project['id']}/members/{user['id']}", json={"role": "lead"})
        with platform.client(token) as client:
            keys[role] = client.post("/api/v1/me/keys", json={"name": f"matrix {role}"}).json()["secret"]
    user, token = platform.user(["researcher"])
    with platform.client(token) as client:
        created = client.post("/api/v1/me/keys", json={"name": "soon revoked"}).json()
        assert client.delete(f"/api/v1/me/keys/{created['key']['id']}").status_code == 204
    sessions = session_factory(create_engine_for(platform.settings.database_url))
    past = datetime.now(UTC) - timedelta(hours=2)
    expired = Tokens(sessions, platform.settings.token_secret.get_secret_value(), clock=lambda: past).issue(
        Accounts(sessions).get_user(user["id"])
    )
    signature_flipped = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    return {
        "project": project,
        "keys": keys,
        "bad": {
            "expired token": (expired.access_token, "TOKEN_EXPIRED"),
            "tampered token": (signature_flipped, "TOKEN_INVALID"),
            "revoked API key": (created["secret"], "API_KEY_REVOKED"),
            "garbage": ("not-a-token", "TOKEN_INVALID"),
        },
    }


def url_of(path: str, project_id: str) -> str:
    values = {"project_id": project_id, "study_instance_uid": "1.2.3.4"}
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "no-such-id"), path)


def call(client: httpx.Client, method: str, path: str, project_id: str) -> httpx.Response:
    body = {} if method in ("POST", "PUT", "PATCH") else None
    return client.request(method, url_of(path, project_id), json=body)


def test_every_route_declares_a_permission(platform: Any) -> None:
    missing = [f"{m} {p}" for m, p in routes(platform) if (m, p) not in ROUTES]
    assert not missing, f"routes without a declared permission: {missing}"


def test_no_credentials(platform: Any, world: dict[str, Any]) -> None:
    with platform.client() as anonymous:
        for method, path in routes(platform):
            answer = call(anonymous, method, path, world["project"]["id"])
            if ROUTES[(method, path)].permission is Permission.PUBLIC:
                assert answer.status_code not in (401, 403), (method, path, answer.text)
            else:
                assert answer.status_code == 401, (method, path, answer.text)
                assert answer.json()["error"]["reason"] == "CREDENTIALS_MISSING"
                assert answer.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("case", ["expired token", "tampered token", "revoked API key", "garbage"])
def test_bad_credentials(platform: Any, world: dict[str, Any], case: str) -> None:
    credential, reason = world["bad"][case]
    with platform.client(credential) as client:
        for method, path in routes(platform):
            if ROUTES[(method, path)].permission is Permission.PUBLIC:
                continue
            answer = call(client, method, path, world["project"]["id"])
            assert answer.status_code == 401, (case, method, path, answer.text)
            assert answer.json()["error"]["reason"] == reason, (case, method, path)


@pytest.mark.parametrize("role", ROLES)
def test_each_role(platform: Any, world: dict[str, Any], role: str) -> None:
    with platform.client(world["keys"][role]) as client:
        for method, path in routes(platform):
            rule = ROUTES[(method, path)]
            answer = call(client, method, path, world["project"]["id"])
            if allowed(frozenset({role}), rule.permission):
                assert answer.status_code not in (401, 403), (role, method, path, answer.text)
            else:
                assert answer.status_code == 403, (role, method, path, answer.text)
                assert answer.json()["error"]["reason"] == "MISSING_PERMISSION"


def test_project_scope(platform: Any, world: dict[str, Any]) -> None:
    project_id = world["project"]["id"]
    _, outsider = platform.user(["researcher"])
    _, annotator = platform.user(["annotator"], projects={project_id: "annotator"})
    with platform.client(outsider) as client:
        refused = client.get(f"/api/v1/projects/{project_id}")
        assert (refused.status_code, refused.json()["error"]["reason"]) == (403, "NOT_A_PROJECT_MEMBER")
        assert project_id not in {p["id"] for p in client.get("/api/v1/projects").json()["projects"]}
    with platform.client(annotator) as client:
        assert client.get(f"/api/v1/projects/{project_id}").status_code == 200
        assert [p["id"] for p in client.get("/api/v1/projects").json()["projects"]] == [project_id]
        manage = client.put(f"/api/v1/projects/{project_id}/members/someone", json={"role": "viewer"})
        assert manage.status_code == 403  # annotators lack projects.manage altogether


def test_a_route_without_a_permission_is_caught_and_refused(platform: Any) -> None:
    app = create_app(platform.settings)

    @app.get("/api/v1/forgotten")
    async def forgotten() -> dict[str, str]:
        return {"patient": "data"}

    assert undeclared_routes(app) == ["GET /api/v1/forgotten"]
    with TestClient(app) as client:
        answer = client.get("/api/v1/forgotten")
        assert (answer.status_code, answer.json()["error"]["reason"]) == (403, "ROUTE_WITHOUT_PERMISSION")
