"""The client's credential handling against a fake gateway (httpx.MockTransport): which bearer it
sends, when it refreshes, what it saves; and paging."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from radscholar import ApiError, Client, CredentialStore, Login

URL = "http://gateway.test"


def iso(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat()


def error(status: int, reason: str) -> httpx.Response:
    body = {"error": {"code": "UNAUTHENTICATED", "reason": reason, "message": reason.lower(), "details": {}}}
    return httpx.Response(status, json=body)


class FakeGateway:
    """Issues pairs access-N / refresh-N; only the newest pair is valid; records every call."""

    def __init__(self) -> None:
        self.generation = 0
        self.calls: list[tuple[str, str, str | None, Any]] = []
        self.expired_access: set[str] = set()
        self.users = [{"id": f"u{i}", "username": f"user{i}"} for i in range(450)]

    def pair(self) -> dict[str, str]:
        self.generation += 1
        return {
            "access_token": f"access-{self.generation}",
            "refresh_token": f"refresh-{self.generation}",
            "token_type": "bearer",
            "access_expires_at": iso(timedelta(minutes=15)),
            "refresh_expires_at": iso(timedelta(days=14)),
        }

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ") or None
        path = request.url.path
        self.calls.append((request.method, path, bearer, body))
        if path == "/api/v1/auth/login":
            if body["password"] != "right-password":
                return error(401, "INVALID_CREDENTIALS")
            return httpx.Response(200, json=self.pair())
        if path == "/api/v1/auth/refresh":
            if body["refresh_token"] != f"refresh-{self.generation}":
                return error(401, "REFRESH_TOKEN_REUSED")
            return httpx.Response(200, json=self.pair())
        if bearer == "rsk_good":
            who = "robot"
        elif bearer in self.expired_access:
            return error(401, "TOKEN_EXPIRED")
        elif bearer == f"access-{self.generation}":
            who = "ada"
        else:
            return error(401, "TOKEN_INVALID" if bearer else "UNAUTHENTICATED")
        if path == "/api/v1/me":
            return httpx.Response(200, json={"id": "u-1", "username": who})
        if path == "/api/v1/auth/logout":
            return httpx.Response(204)
        if path == "/api/v1/users":
            return self.page(request, self.users, "users")
        if path == "/api/v1/audit":
            records = [{"seq": 1000 - i} for i in range(1000)]
            return self.page(request, records, "records")
        return httpx.Response(404)

    @staticmethod
    def page(request: httpx.Request, items: list[Any], field: str) -> httpx.Response:
        size = min(int(request.url.params["page_size"]), 100)  # the server caps page sizes
        offset = int(request.url.params.get("page_token") or 0)
        chunk = items[offset : offset + size]
        token = str(offset + size) if offset + size < len(items) else ""
        return httpx.Response(200, json={field: chunk, "next_page_token": token, "total_size": len(items)})

    def bearers(self, path: str) -> list[str | None]:
        return [bearer for _, p, bearer, _ in self.calls if p == path]


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
def store(tmp_path: Path) -> CredentialStore:
    return CredentialStore(tmp_path / "radscholar" / "credentials.json")


@pytest.fixture(autouse=True)
def no_ambient_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RADSCHOLAR_API_KEY", raising=False)
    monkeypatch.delenv("RADSCHOLAR_URL", raising=False)


def client(gateway: FakeGateway, **kwargs: Any) -> Client:
    return Client(URL, transport=httpx.MockTransport(gateway), **kwargs)


def test_login_sends_the_access_token_and_saves_the_pair(gateway: FakeGateway, store: CredentialStore) -> None:
    with client(gateway, credentials=store) as api:
        session = api.login("ada", "right-password")
        assert api.me()["username"] == "ada"
    assert session.username == "ada"
    assert gateway.calls[0][2] is None  # no bearer on the login itself
    assert gateway.bearers("/api/v1/me") == ["access-1"]
    assert store.get(URL) == session
    with client(gateway, credentials=store) as again:  # a later run signs in from the store
        assert again.auth == "login"
        assert again.me()["username"] == "ada"


def test_a_wrong_password_raises_with_the_reason(gateway: FakeGateway, store: CredentialStore) -> None:
    with client(gateway, credentials=store) as api, pytest.raises(ApiError) as raised:
        api.login("ada", "wrong")
    assert (raised.value.status, raised.value.reason) == (401, "INVALID_CREDENTIALS")
    assert store.get(URL) is None


def test_an_expired_access_token_is_refreshed_once_and_the_call_retried(
    gateway: FakeGateway, store: CredentialStore
) -> None:
    with client(gateway, credentials=store) as api:
        api.login("ada", "right-password")
        gateway.expired_access.add("access-1")
        assert api.me()["username"] == "ada"
    assert gateway.bearers("/api/v1/me") == ["access-1", "access-2"]
    stored = store.get(URL)
    assert stored is not None
    assert (stored.access_token, stored.refresh_token, stored.username) == ("access-2", "refresh-2", "ada")


def test_a_token_due_to_expire_is_refreshed_before_the_call(gateway: FakeGateway, store: CredentialStore) -> None:
    gateway.pair()  # generation 1 exists at the gateway
    past = datetime.now(UTC) - timedelta(minutes=1)
    store.save(URL, Login("ada", "garbage", "refresh-1", past, past + timedelta(days=14)))
    with client(gateway, credentials=store) as api:
        assert api.me()["username"] == "ada"
    assert gateway.bearers("/api/v1/me") == ["access-2"]
    assert [p for _, p, _, _ in gateway.calls] == ["/api/v1/auth/refresh", "/api/v1/me"]


def test_a_failed_refresh_ends_the_stored_session(gateway: FakeGateway, store: CredentialStore) -> None:
    gateway.pair()
    gateway.pair()  # refresh-1 was already rotated away
    future = datetime.now(UTC) + timedelta(minutes=10)
    store.save(URL, Login("ada", "garbage", "refresh-1", future, future))
    with client(gateway, credentials=store) as api, pytest.raises(ApiError) as raised:
        api.me()
    assert raised.value.reason == "REFRESH_TOKEN_REUSED"
    assert store.get(URL) is None
    assert len(gateway.bearers("/api/v1/auth/refresh")) == 1  # refreshed once, not in a loop


def test_a_session_refreshed_by_another_process_is_adopted_not_refreshed_again(
    gateway: FakeGateway, store: CredentialStore
) -> None:
    """Two runs on one stored session: spending the one-use refresh token twice would end it."""
    with client(gateway, credentials=store) as first:
        first.login("ada", "right-password")
        with client(gateway, credentials=store) as second:  # started now: it holds pair 1
            gateway.expired_access.add("access-1")
            assert first.me()["username"] == "ada"  # refreshes to pair 2 and saves it
            assert second.me()["username"] == "ada"  # finds pair 2 in the store instead of refreshing
    assert len(gateway.bearers("/api/v1/auth/refresh")) == 1
    assert gateway.bearers("/api/v1/me") == ["access-1", "access-2", "access-1", "access-2"]


def test_explicit_credentials_win_then_the_store_then_the_environment(
    gateway: FakeGateway, store: CredentialStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RADSCHOLAR_API_KEY", "rsk_good")
    with client(gateway, credentials=store) as api:
        assert api.auth == "api_key"  # nothing stored: the environment's key
        assert api.me()["username"] == "robot"
        api.login("ada", "right-password")
    with client(gateway, credentials=store) as api:
        assert api.auth == "login"
        assert api.me()["username"] == "ada"
    with client(gateway, credentials=store, api_key="rsk_good") as api:
        assert api.auth == "api_key"
        assert api.me()["username"] == "robot"
    with client(gateway, credentials=store, token="access-1") as api:
        assert api.auth == "token"
        assert api.me()["username"] == "ada"


def test_an_api_key_is_not_refreshed(gateway: FakeGateway) -> None:
    with client(gateway, api_key="rsk_revoked") as api, pytest.raises(ApiError) as raised:
        api.me()
    assert raised.value.status == 401
    assert gateway.bearers("/api/v1/auth/refresh") == []


def test_logout_ends_the_session_at_the_gateway_and_here(gateway: FakeGateway, store: CredentialStore) -> None:
    with client(gateway, credentials=store) as api:
        assert api.logout() is False
        api.login("ada", "right-password")
        gateway.expired_access.add("access-1")
        assert api.logout() is True
        assert api.auth == "none"
    logout = [(bearer, body) for _, path, bearer, body in gateway.calls if path == "/api/v1/auth/logout"]
    # the access token expired during the call: it was refreshed and the new refresh token ended
    assert logout == [
        ("access-1", {"refresh_token": "refresh-1"}),
        ("access-2", {"refresh_token": "refresh-2"}),
    ]
    assert store.get(URL) is None


def test_users_follow_every_page(gateway: FakeGateway) -> None:
    with client(gateway, api_key="rsk_good") as api:
        assert [u["id"] for u in api.users()] == [f"u{i}" for i in range(450)]


def test_audit_stops_at_the_limit(gateway: FakeGateway) -> None:
    with client(gateway, api_key="rsk_good") as api:
        records = api.audit(limit=250, actor="ada", since=datetime(2030, 1, 1, tzinfo=UTC))
    assert [r["seq"] for r in records] == list(range(1000, 750, -1))
    audit_calls = [c for c in gateway.calls if c[1] == "/api/v1/audit"]
    assert len(audit_calls) == 3


def test_an_error_without_the_json_body_still_raises_api_error() -> None:
    transport = httpx.MockTransport(lambda _: httpx.Response(502, text="bad gateway"))
    with Client(URL, transport=transport) as api, pytest.raises(ApiError) as raised:
        api.me()
    assert (raised.value.status, raised.value.reason, raised.value.message) == (
        502,
        "HTTP_ERROR",
        "bad gateway",
    )
