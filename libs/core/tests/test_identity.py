"""The gateway's signed identity, verified by a real server on every call (and refused otherwise)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import jwt
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict

from radscholar_core.errors import Unauthenticated
from radscholar_core.grpc_server import Registration, Server, serving
from radscholar_core.identity import (
    AUDIENCE,
    IDENTITY_HEADER,
    ISSUER,
    Identity,
    IdentityKeys,
    IdentitySigner,
    IdentityVerifier,
    acting_as,
    current_identity,
    generate_key_pair,
    key_id_of,
    signed_identity_interceptors,
)
from radscholar_core.settings import Port, ServiceSettings
from radscholar_core.status import error_info

SERVICE = "radscholar.test.v1.WhoService"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    """A settable clock."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Who:
    """Answers with the caller the interceptor verified (bytes in, JSON bytes out)."""

    async def Who(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        me = current_identity()
        return json.dumps(
            {
                "subject": me.subject,
                "username": me.username,
                "roles": sorted(me.roles),
                "projects": dict(me.projects),
                "via": me.via,
                "client_address": me.client_address,
                "admin": me.is_admin,
                "p1": me.project_role("p1"),
                "p9": me.project_role("p9"),
            }
        ).encode()

    async def Roles(self, request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
        for role in sorted(current_identity().roles):
            yield role.encode()

    async def Count(self, requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> bytes:
        count = len([r async for r in requests])
        return f"{current_identity().username}:{count}".encode()


def _add(servicer: Who, server: grpc.aio.Server) -> None:
    handlers = {
        "Who": grpc.unary_unary_rpc_method_handler(servicer.Who),
        "Roles": grpc.unary_stream_rpc_method_handler(servicer.Roles),
        "Count": grpc.stream_unary_rpc_method_handler(servicer.Count),
    }
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICE, handlers)])


def _server(verifier: IdentityVerifier) -> Server:
    return Server([Registration(SERVICE, Who(), _add)], verifier=verifier)


class Keys:
    """One key pair with its id."""

    def __init__(self) -> None:
        self.private, self.public = generate_key_pair()
        self.kid = key_id_of(self.public)

    def signer(self, clock: Clock | None = None) -> IdentitySigner:
        return IdentitySigner(self.private, self.kid, clock=clock or Clock())


ALICE: dict[str, Any] = {
    "subject": "u-1",
    "username": "alice",
    "roles": {"researcher", "reviewer"},
    "projects": {"p1": "owner", "p2": "annotator"},
    "via": "password",
    "client_address": "203.0.113.7",
}


def _identity(**overrides: Any) -> Identity:
    return Identity(**{**ALICE, "expires_at": T0 + timedelta(hours=1), **overrides})


@pytest.fixture
def keys() -> Keys:
    return Keys()


@pytest.fixture
async def channel(keys: Keys) -> AsyncIterator[grpc.aio.Channel]:
    async with serving(_server(IdentityVerifier({keys.kid: keys.public}, clock=Clock()))) as channel:
        yield channel


async def _who(channel: grpc.aio.Channel, token: str | None) -> dict[str, Any]:
    metadata = ((IDENTITY_HEADER, token),) if token is not None else None
    return dict(json.loads(await channel.unary_unary(f"/{SERVICE}/Who")(b"", metadata=metadata)))


async def _refused(channel: grpc.aio.Channel, token: str | None) -> str:
    """The ErrorInfo reason of a call refused with UNAUTHENTICATED."""
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await _who(channel, token)
    assert failure.value.code() == grpc.StatusCode.UNAUTHENTICATED
    info = error_info(failure.value)
    assert info is not None and info.domain == "radscholar"
    return str(info.reason)


async def test_valid_token_reaches_the_servicer(channel: grpc.aio.Channel, keys: Keys) -> None:
    answer = await _who(channel, keys.signer().sign(**ALICE))
    assert answer == {
        "subject": "u-1",
        "username": "alice",
        "roles": ["researcher", "reviewer"],
        "projects": {"p1": "owner", "p2": "annotator"},
        "via": "password",
        "client_address": "203.0.113.7",
        "admin": False,
        "p1": "owner",
        "p9": None,
    }


async def test_streams_see_the_identity_too(channel: grpc.aio.Channel, keys: Keys) -> None:
    token = keys.signer().sign(**{**ALICE, "roles": {"admin", "annotator"}})
    call = channel.unary_stream(f"/{SERVICE}/Roles")(b"", metadata=((IDENTITY_HEADER, token),))
    assert [m async for m in call] == [b"admin", b"annotator"]
    call = channel.unary_stream(f"/{SERVICE}/Roles")(b"")
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        _ = [m async for m in call]
    assert failure.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_missing_and_malformed_tokens_are_refused(channel: grpc.aio.Channel) -> None:
    assert await _refused(channel, None) == "IDENTITY_MISSING"
    assert await _refused(channel, "") == "IDENTITY_MISSING"
    assert await _refused(channel, "not-a-jwt") == "IDENTITY_MALFORMED"


async def test_refusals_are_logged_without_the_token(
    channel: grpc.aio.Channel, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    token = Keys().signer().sign(**ALICE)
    with caplog.at_level(logging.INFO, logger="radscholar_core.identity"):
        await _refused(channel, token)
    refusal = next(r for r in caplog.records if r.getMessage() == "rpc refused")
    assert (refusal.method, refusal.reason) == (f"/{SERVICE}/Who", "IDENTITY_UNKNOWN_KEY")  # type: ignore[attr-defined]
    assert token not in caplog.text


async def test_tampered_token_is_refused(channel: grpc.aio.Channel, keys: Keys) -> None:
    header, payload, signature = keys.signer().sign(**ALICE).split(".")
    middle = len(payload) // 2
    flipped = payload[:middle] + ("A" if payload[middle] != "A" else "B") + payload[middle + 1 :]
    assert await _refused(channel, f"{header}.{flipped}.{signature}") == "IDENTITY_BAD_SIGNATURE"


async def test_other_algorithms_are_refused(channel: grpc.aio.Channel, keys: Keys) -> None:
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "u-1", "iat": 0, "exp": 2**40}
    forged = jwt.encode(claims, "a-guessable-secret-of-32-bytes!!", algorithm="HS256", headers={"kid": keys.kid})
    assert await _refused(channel, forged) == "IDENTITY_BAD_SIGNATURE"


async def test_unknown_key_is_refused(channel: grpc.aio.Channel) -> None:
    assert await _refused(channel, Keys().signer().sign(**ALICE)) == "IDENTITY_UNKNOWN_KEY"


async def test_key_id_of_another_key_does_not_verify(channel: grpc.aio.Channel, keys: Keys) -> None:
    impostor = IdentitySigner(Keys().private, keys.kid, clock=Clock())
    assert await _refused(channel, impostor.sign(**ALICE)) == "IDENTITY_BAD_SIGNATURE"


async def test_expired_token_is_refused_after_the_leeway(keys: Keys) -> None:
    clock = Clock()
    token = keys.signer().sign(**ALICE)  # exp = T0 + 60 s
    async with serving(_server(IdentityVerifier({keys.kid: keys.public}, clock=clock))) as channel:
        clock.now = T0 + timedelta(seconds=64)  # within the 5 s leeway
        assert (await _who(channel, token))["username"] == "alice"
        clock.now = T0 + timedelta(seconds=66)
        assert await _refused(channel, token) == "IDENTITY_EXPIRED"
        clock.now = T0 - timedelta(minutes=5)  # issued "in the future": clocks out of step
        assert await _refused(channel, token) == "IDENTITY_EXPIRED"


async def test_token_never_outlives_the_identity(keys: Keys) -> None:
    token = keys.signer().sign_identity(_identity(expires_at=T0 + timedelta(seconds=10)))
    verifier = IdentityVerifier({keys.kid: keys.public}, clock=Clock(T0 + timedelta(seconds=16)))
    with pytest.raises(Unauthenticated) as refused:
        verifier.verify(token)
    assert refused.value.reason == "IDENTITY_EXPIRED"


async def test_wrong_audience_or_issuer_is_refused(channel: grpc.aio.Channel, keys: Keys) -> None:
    now = int(T0.timestamp())
    claims = {
        **{k: v for k, v in ALICE.items() if k not in ("subject", "roles")},
        **{"sub": "u-1", "roles": [], "jti": "j", "iat": now, "exp": now + 60},
    }
    for iss, aud in ((ISSUER, "somebody-else"), ("somebody-else", AUDIENCE)):
        token = jwt.encode(
            {**claims, "iss": iss, "aud": aud}, keys.private, algorithm="EdDSA", headers={"kid": keys.kid}
        )
        assert await _refused(channel, token) == "IDENTITY_WRONG_AUDIENCE"
    good = jwt.encode(
        {**claims, "iss": ISSUER, "aud": AUDIENCE}, keys.private, algorithm="EdDSA", headers={"kid": keys.kid}
    )
    assert (await _who(channel, good))["username"] == "alice"


async def test_health_needs_no_token(channel: grpc.aio.Channel) -> None:
    answer = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=SERVICE))
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


async def test_key_rotation_accepts_both_keys_then_drops_the_old_one() -> None:
    old, new = Keys(), Keys()
    both = IdentityVerifier({old.kid: old.public, new.kid: new.public}, clock=Clock())
    async with serving(_server(both)) as channel:
        assert (await _who(channel, old.signer().sign(**ALICE)))["subject"] == "u-1"
        assert (await _who(channel, new.signer().sign(**ALICE)))["subject"] == "u-1"
    async with serving(_server(IdentityVerifier({new.kid: new.public}, clock=Clock()))) as channel:
        assert (await _who(channel, new.signer().sign(**ALICE)))["subject"] == "u-1"
        assert await _refused(channel, old.signer().sign(**ALICE)) == "IDENTITY_UNKNOWN_KEY"


async def test_client_interceptor_signs_for_acting_as(keys: Keys) -> None:
    server = _server(IdentityVerifier({keys.kid: keys.public}, clock=Clock()))
    port = await server.start("127.0.0.1", 0)
    interceptors = signed_identity_interceptors(keys.signer())
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}", interceptors=interceptors) as channel:
            with acting_as(_identity(username="bob", roles=frozenset({"admin"}))):
                answer = await _who(channel, None)
                assert (answer["username"], answer["admin"]) == ("bob", True)
                roles = channel.unary_stream(f"/{SERVICE}/Roles")(b"")
                assert [m async for m in roles] == [b"admin"]
                assert await channel.stream_unary(f"/{SERVICE}/Count")(iter([b"a", b"b"])) == b"bob:2"
            assert await _refused(channel, None) == "IDENTITY_MISSING"
            with pytest.raises(grpc.aio.AioRpcError) as failure:
                await channel.stream_unary(f"/{SERVICE}/Count")(iter([b"a"]))
            assert failure.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        await server.stop(0)


def test_current_identity_outside_a_call_is_unauthenticated() -> None:
    with pytest.raises(Unauthenticated) as refused:
        current_identity()
    assert refused.value.reason == "IDENTITY_MISSING"


def test_identity_is_immutable_and_hashable() -> None:
    me = _identity(projects={"p1": "owner"})
    assert me.has_role("reviewer") and not me.has_role("admin")
    with pytest.raises(TypeError):
        me.projects["p1"] = "viewer"  # type: ignore[index]
    assert hash(me) == hash(_identity(projects={"p1": "owner"}))


class _Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RADSCHOLAR_TESTSVC_")
    port: Port = 50099
    identity: IdentityKeys


def test_settings_read_keys_from_a_json_env_var(monkeypatch: pytest.MonkeyPatch, keys: Keys) -> None:
    monkeypatch.setenv("RADSCHOLAR_TESTSVC_IDENTITY__PUBLIC_KEYS", json.dumps({keys.kid: keys.public}))
    settings = _Settings()  # type: ignore[call-arg]
    assert settings.identity.verifier(clock=Clock()).key_ids == {keys.kid}
    escaped = keys.public.replace("\n", "\\n")  # one-line PEM with literal \n
    monkeypatch.setenv("RADSCHOLAR_TESTSVC_IDENTITY__PUBLIC_KEYS", json.dumps({keys.kid: escaped}))
    token = keys.signer().sign(**ALICE)
    assert _Settings().identity.verifier(clock=Clock()).verify(token).username == "alice"  # type: ignore[call-arg]


def test_settings_refuse_empty_or_missing_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="identity"):
        _Settings()  # type: ignore[call-arg]
    monkeypatch.setenv("RADSCHOLAR_TESTSVC_IDENTITY__PUBLIC_KEYS", "{}")
    with pytest.raises(ValidationError, match="no identity public key"):
        _Settings()  # type: ignore[call-arg]


def test_settings_name_the_key_whose_pem_is_bad(keys: Keys) -> None:
    with pytest.raises(ValidationError, match="'rotated-2025'"):
        IdentityKeys(public_keys={keys.kid: keys.public, "rotated-2025": "-----BEGIN PUBLIC KEY-----\nxx"})
    with pytest.raises(ValidationError, match="'private-by-mistake' does not load"):
        IdentityKeys(public_keys={"private-by-mistake": keys.private})
