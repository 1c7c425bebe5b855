"""--demo signs in as the first admin before creating the project, and never logs what it sends."""

import json
import logging

import httpx
import pytest

from radscholar_localstack.demo import DEMO_PROJECT, create_project

PASSWORD = "generated-password-0123456789"
TOKEN = "access-token-abcdef"


def gateway(login_status: int = 200, project_status: int = 201, echo: bool = False) -> httpx.MockTransport:
    """A stand-in gateway that wants a bearer token on POST /api/v1/projects; records the requests."""
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/api/v1/auth/login":
            if login_status != 200:
                message = f"the password {PASSWORD} is wrong" if echo else "the password is wrong"
                error = {"code": "UNAUTHENTICATED", "reason": "INVALID_CREDENTIALS", "message": message}
                return httpx.Response(login_status, json={"error": error})
            answer = {"access_token": TOKEN, "token_type": "bearer", "expires_in": 900}
            return httpx.Response(200, json=answer)
        if request.url.path == "/api/v1/projects":
            if request.headers.get("Authorization") != f"Bearer {TOKEN}":
                return httpx.Response(401, json={"error": {"reason": "NOT_SIGNED_IN", "message": "sign in"}})
            if project_status != 201:
                message = f"token {TOKEN} cannot" if echo else "no"
                return httpx.Response(project_status, json={"error": {"reason": "X", "message": message}})
            return httpx.Response(201, json={"id": "p-1", **DEMO_PROJECT})
        return httpx.Response(404)

    transport = httpx.MockTransport(handle)
    transport.seen = seen  # type: ignore[attr-defined]
    return transport


async def test_signs_in_then_creates_the_project_with_the_token() -> None:
    transport = gateway()
    assert await create_project("http://gw", PASSWORD, transport=transport) == "p-1"
    login, create = transport.seen  # type: ignore[attr-defined]
    assert (login.method, login.url.path) == ("POST", "/api/v1/auth/login")
    assert json.loads(login.content) == {"username": "admin", "password": PASSWORD}
    assert (create.method, create.url.path) == ("POST", "/api/v1/projects")
    assert create.headers["Authorization"] == f"Bearer {TOKEN}"
    assert json.loads(create.content) == DEMO_PROJECT


@pytest.mark.parametrize("echo", [False, True])
async def test_a_refused_login_creates_nothing_and_logs_no_secret(echo: bool, caplog: pytest.LogCaptureFixture) -> None:
    transport = gateway(login_status=401, echo=echo)
    with caplog.at_level(logging.DEBUG):
        assert await create_project("http://gw", PASSWORD, transport=transport) is None
    assert [r.url.path for r in transport.seen] == ["/api/v1/auth/login"]  # type: ignore[attr-defined]
    assert "HTTP 401 INVALID_CREDENTIALS" in caplog.text
    assert PASSWORD not in caplog.text


async def test_a_failed_project_logs_neither_password_nor_token(caplog: pytest.LogCaptureFixture) -> None:
    transport = gateway(project_status=500, echo=True)
    with caplog.at_level(logging.DEBUG):
        assert await create_project("http://gw", PASSWORD, transport=transport) is None
    assert "creating the project failed (HTTP 500" in caplog.text
    assert PASSWORD not in caplog.text and TOKEN not in caplog.text


async def test_a_gateway_without_login_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(404))
    assert await create_project("http://gw", PASSWORD, transport=transport) is None
    assert "no POST /api/v1/auth/login yet" in caplog.text
