"""Service-to-service trust: the gateway's signed user identity, verified by every service on every call.

The gateway authenticates the user, then signs a short-lived Ed25519 JWT (``EdDSA``; issuer
``radscholar-gateway``, audience ``radscholar-services``, a ``kid`` header naming its key) and sends
it as the ``x-radscholar-identity`` metadata of each gRPC call (`signed_identity_interceptors`,
fed by `acting_as`). Services hold only PUBLIC keys: `IdentityInterceptor` verifies the token and exposes
the caller as `current_identity()`; anything else is refused with UNAUTHENTICATED and a reason
(``IDENTITY_MISSING``, ``IDENTITY_MALFORMED``, ``IDENTITY_UNKNOWN_KEY``, ``IDENTITY_BAD_SIGNATURE``,
``IDENTITY_EXPIRED``, ``IDENTITY_WRONG_AUDIENCE``). Health and reflection stay open.

A service declares the keys it trusts as ``identity: IdentityKeys`` in its Settings and builds
``IdentityInterceptor(settings.identity.verifier())``; the environment form is a JSON object of key
id -> PEM::

    RADSCHOLAR_<SVC>_IDENTITY__PUBLIC_KEYS='{"<kid>": "-----BEGIN PUBLIC KEY-----\\nMCow...\\n-----END..."}'

Key rotation (no call is refused at any step, because a verifier accepts every configured key):
1. generate a new pair; ADD the new public key to every service (old and new both trusted), redeploy;
2. switch the gateway to the new private key and its key id;
3. once tokens of the old key have expired (ttl + leeway, about a minute), REMOVE the old public key
   from the services.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, Literal, get_args

import grpc
import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, field_validator

from radscholar_core.errors import Unauthenticated
from radscholar_core.logs import bound
from radscholar_core.status import REQUEST_ID_HEADER, to_status

log = logging.getLogger(__name__)

IDENTITY_HEADER = "x-radscholar-identity"
ISSUER = "radscholar-gateway"
AUDIENCE = "radscholar-services"
ALGORITHM = "EdDSA"
ROLES = frozenset({"admin", "researcher", "annotator", "reviewer", "site-operator"})
Via = Literal["password", "api_key", "service"]
Clock = Callable[[], datetime]

OPEN_METHODS = frozenset(
    {
        "/grpc.health.v1.Health/Check",
        "/grpc.health.v1.Health/Watch",
        "/grpc.health.v1.Health/List",
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    }
)


def utc_now() -> datetime:
    """The default clock."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Identity:
    """The end user a call is made for, as the gateway authenticated them."""

    subject: str
    username: str
    roles: frozenset[str]
    projects: Mapping[str, str] = field(hash=False)  # project id -> project role
    via: Via
    client_address: str  # the end user's address as the gateway saw it (audit)
    expires_at: datetime  # UTC

    def __post_init__(self) -> None:
        object.__setattr__(self, "roles", frozenset(self.roles))
        object.__setattr__(self, "projects", MappingProxyType(dict(self.projects)))

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    def has_role(self, role: str) -> bool:
        return role in self.roles

    def project_role(self, project_id: str) -> str | None:
        return self.projects.get(project_id)


# --- keys ------------------------------------------------------------------------------------------


def generate_key_pair() -> tuple[str, str]:
    """A fresh Ed25519 pair as ``(private_pem, public_pem)`` (local stack and tests)."""
    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem.decode(), public_pem.decode()


def load_public_key(pem: str) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM; ValueError naming the problem otherwise."""
    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"not an Ed25519 public key but {type(key).__name__}")
    return key


def load_private_key(pem: str) -> Ed25519PrivateKey:
    """An unencrypted Ed25519 private key from PEM; ValueError naming the problem otherwise."""
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"not an Ed25519 private key but {type(key).__name__}")
    return key


def key_id_of(public_pem: str) -> str:
    """A stable key id: the first 16 hex digits of the SHA-256 of the raw public key."""
    raw = load_public_key(public_pem).public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


# --- signing and verifying -------------------------------------------------------------------------


class IdentitySigner:
    """The gateway's side: signs identities with its private key, each token valid for `ttl`."""

    def __init__(
        self,
        private_key_pem: str,
        key_id: str,
        ttl: timedelta = timedelta(seconds=60),
        clock: Clock = utc_now,
    ) -> None:
        if ttl <= timedelta(0):
            raise ValueError("ttl must be positive")
        self._key = load_private_key(private_key_pem)
        self.key_id = key_id
        self.ttl = ttl
        self._clock = clock

    def sign(
        self,
        *,
        subject: str,
        username: str,
        roles: Iterable[str],
        projects: Mapping[str, str],
        via: Via,
        client_address: str,
        not_after: datetime | None = None,
    ) -> str:
        """A token for this user; it expires after `ttl`, or at `not_after` if that is sooner."""
        now = self._clock()
        expires = now + self.ttl if not_after is None else min(now + self.ttl, not_after)
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": subject,
            "iat": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "jti": uuid.uuid4().hex,
            "username": username,
            "roles": sorted(roles),
            "projects": dict(projects),
            "via": via,
            "client_address": client_address,
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"kid": self.key_id})

    def sign_identity(self, identity: Identity) -> str:
        """A token for `identity`; it never outlives the identity's own `expires_at`."""
        return self.sign(
            subject=identity.subject,
            username=identity.username,
            roles=identity.roles,
            projects=identity.projects,
            via=identity.via,
            client_address=identity.client_address,
            not_after=identity.expires_at,
        )


def _refuse(reason: str, message: str, **details: str) -> Unauthenticated:
    return Unauthenticated(message, reason=reason, details=details)


_STANDARD_CLAIMS = ["iss", "aud", "sub", "iat", "exp", "jti"]
_REQUIRED = [*_STANDARD_CLAIMS, "username", "roles", "projects", "via", "client_address"]


class IdentityVerifier:
    """A service's side: verifies tokens against every configured public key (key id -> PEM)."""

    def __init__(
        self, public_keys: Mapping[str, str], clock: Clock = utc_now, leeway: timedelta = timedelta(seconds=5)
    ) -> None:
        if not public_keys:
            raise ValueError("at least one identity public key is required")
        self._keys = {kid: load_public_key(pem) for kid, pem in public_keys.items()}
        self._clock = clock
        self._leeway = leeway.total_seconds()

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._keys)

    def verify(self, token: str | None) -> Identity:
        """The identity the token carries; `Unauthenticated` with the reason otherwise."""
        if not token:
            raise _refuse("IDENTITY_MISSING", f"the call carries no {IDENTITY_HEADER}")
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.InvalidTokenError:
            raise _refuse("IDENTITY_MALFORMED", "the identity token is not a JWT") from None
        if not isinstance(kid, str):
            raise _refuse("IDENTITY_MALFORMED", "the identity token names no key id")
        key = self._keys.get(kid)
        if key is None:
            raise _refuse("IDENTITY_UNKNOWN_KEY", f"identity signed with unknown key {kid!r}", kid=kid)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                # time is checked below against our own clock
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False, "require": _REQUIRED},
            )
        except (jwt.InvalidSignatureError, jwt.InvalidAlgorithmError):
            raise _refuse("IDENTITY_BAD_SIGNATURE", "the identity signature does not verify") from None
        except (jwt.InvalidAudienceError, jwt.InvalidIssuerError) as exc:
            raise _refuse("IDENTITY_WRONG_AUDIENCE", f"the identity is not meant for us: {exc}") from None
        except jwt.InvalidTokenError as exc:
            raise _refuse("IDENTITY_MALFORMED", f"the identity token is malformed: {exc}") from None
        return self._identity(claims)

    def _identity(self, claims: dict[str, Any]) -> Identity:
        now, exp, iat = self._clock().timestamp(), claims["exp"], claims["iat"]
        if not isinstance(exp, int | float) or not isinstance(iat, int | float):
            raise _refuse("IDENTITY_MALFORMED", "the identity token has non-numeric times")
        if now > exp + self._leeway:
            raise _refuse("IDENTITY_EXPIRED", "the identity token has expired")
        if iat > now + self._leeway:
            raise _refuse("IDENTITY_EXPIRED", "the identity token is not valid yet (are the clocks in sync?)")
        roles, projects, via = claims["roles"], claims["projects"], claims["via"]
        texts = (claims["sub"], claims["username"], claims["client_address"])
        if (
            not all(isinstance(t, str) for t in texts)
            or not isinstance(roles, list)
            or not all(isinstance(r, str) for r in roles)
            or not isinstance(projects, dict)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in projects.items())
            or via not in get_args(Via)
        ):
            raise _refuse("IDENTITY_MALFORMED", "the identity token's claims have the wrong shape")
        return Identity(
            subject=texts[0],
            username=texts[1],
            roles=frozenset(roles),
            projects=projects,
            via=via,
            client_address=texts[2],
            expires_at=datetime.fromtimestamp(exp, UTC),
        )


# --- settings --------------------------------------------------------------------------------------


class IdentityKeys(BaseModel):
    """The gateway public keys a service trusts; declare ``identity: IdentityKeys`` in its Settings.

    Env: ``RADSCHOLAR_<SVC>_IDENTITY__PUBLIC_KEYS='{"<kid>": "<PEM>"}'`` (a JSON object; literal ``\\n``
    in a PEM is read as a newline). An empty set or a PEM that does not load fails at start.
    """

    model_config = ConfigDict(frozen=True)

    public_keys: dict[str, str] = Field(description="key id -> Ed25519 public key (PEM)")

    @field_validator("public_keys", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        if isinstance(value, str | bytes):
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise ValueError(f"must be a JSON object of key id -> PEM: {exc}") from None
        if isinstance(value, Mapping):
            value = {k: v.replace("\\n", "\n") if isinstance(v, str) else v for k, v in value.items()}
        return value

    @field_validator("public_keys")
    @classmethod
    def _load(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("no identity public key configured: the service would refuse every call")
        for kid, pem in value.items():
            if not kid.strip():
                raise ValueError("an identity public key has an empty key id")
            try:
                load_public_key(pem)
            except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
                raise ValueError(f"identity public key {kid!r} does not load: {exc}") from None
        return value

    def verifier(self, clock: Clock = utc_now, leeway: timedelta = timedelta(seconds=5)) -> IdentityVerifier:
        """The verifier these keys configure."""
        return IdentityVerifier(self.public_keys, clock=clock, leeway=leeway)


# --- the service side: server interceptor ----------------------------------------------------------

_current: contextvars.ContextVar[Identity | None] = contextvars.ContextVar("identity", default=None)


def current_identity() -> Identity:
    """The verified caller of the call being served; `Unauthenticated` outside a verified call."""
    identity = _current.get()
    if identity is None:
        raise _refuse("IDENTITY_MISSING", "no verified identity in this call")
    return identity


_current_token: contextvars.ContextVar[str | None] = contextvars.ContextVar("identity_token", default=None)


@contextlib.contextmanager
def _serving_as(identity: Identity, signed: str) -> Iterator[None]:
    token, relayed = _current.set(identity), _current_token.set(signed)
    try:
        yield
    finally:
        _current.reset(token)
        _current_token.reset(relayed)


class IdentityInterceptor(grpc.aio.ServerInterceptor):
    """Verifies the gateway's identity on every call except `open_methods` (health, reflection)."""

    def __init__(self, verifier: IdentityVerifier, open_methods: frozenset[str] = OPEN_METHODS) -> None:
        self.verifier = verifier
        self.open_methods = open_methods

    async def _verify(self, context: grpc.aio.ServicerContext, method: str) -> tuple[Identity, str]:
        metadata = context.invocation_metadata() or ()
        tokens = [str(v) for k, v in metadata if k == IDENTITY_HEADER]
        request = next((str(v) for k, v in metadata if k == REQUEST_ID_HEADER), None)
        try:
            if len(tokens) > 1:
                raise _refuse("IDENTITY_MALFORMED", f"the call carries {len(tokens)} {IDENTITY_HEADER}")
            return self.verifier.verify(tokens[0] if tokens else None), tokens[0]
        except Unauthenticated as exc:
            with bound(request=request):
                log.info("rpc refused", extra={"method": method, "code": exc.code, "reason": exc.reason})
            status = to_status(exc)
            await context.abort(status.code, status.details, status.trailing_metadata)
            raise  # abort raises; this keeps the type checker and a stub context honest

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method in self.open_methods:
            return handler

        def unary(behaviour: Any) -> Any:
            async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
                with _serving_as(*await self._verify(context, method)):
                    return await behaviour(request, context)

            return call

        def streaming(behaviour: Any) -> Any:
            async def call(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                with _serving_as(*await self._verify(context, method)):
                    async for message in behaviour(request, context):
                        yield message

            return call

        serialize = (handler.request_deserializer, handler.response_serializer)
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(unary(handler.unary_unary), *serialize)
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(streaming(handler.unary_stream), *serialize)
        if handler.stream_unary:  # fail closed: client-streaming calls are verified too
            return grpc.stream_unary_rpc_method_handler(unary(handler.stream_unary), *serialize)
        return grpc.stream_stream_rpc_method_handler(streaming(handler.stream_stream), *serialize)


# --- the gateway side: client interceptor ----------------------------------------------------------

_acting: contextvars.ContextVar[Identity | None] = contextvars.ContextVar("acting_as", default=None)


@contextlib.contextmanager
def acting_as(identity: Identity | None) -> Iterator[None]:
    """Within the block (one HTTP request in the gateway), outgoing calls carry `identity`."""
    token = _acting.set(identity)
    try:
        yield
    finally:
        _acting.reset(token)


def acting_identity() -> Identity | None:
    """The identity set by the innermost `acting_as`, if any."""
    return _acting.get()


class _Signing:
    def __init__(self, signer: IdentitySigner, identity_provider: Callable[[], Identity | None]) -> None:
        self.signer = signer
        self.identity_provider = identity_provider

    async def _call(self, continuation: Any, details: grpc.aio.ClientCallDetails, request: Any) -> Any:
        identity = self.identity_provider()
        if identity is not None:
            kept = ((k, v) for k, v in (details.metadata or ()) if k != IDENTITY_HEADER)
            metadata = grpc.aio.Metadata(*kept)
            metadata.add(IDENTITY_HEADER, self.signer.sign_identity(identity))
            details = details._replace(metadata=metadata)
        return await continuation(details, request)


class _SignUnaryUnary(_Signing, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return await self._call(continuation, client_call_details, request)


class _SignUnaryStream(_Signing, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return await self._call(continuation, client_call_details, request)


class _SignStreamUnary(_Signing, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(self, continuation: Any, client_call_details: Any, requests: Any) -> Any:
        return await self._call(continuation, client_call_details, requests)


class _SignStreamStream(_Signing, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(self, continuation: Any, client_call_details: Any, requests: Any) -> Any:
        return await self._call(continuation, client_call_details, requests)


def signed_identity_interceptors(
    signer: IdentitySigner, identity_provider: Callable[[], Identity | None] = acting_identity
) -> list[grpc.aio.ClientInterceptor]:
    """Client interceptors (one per call kind) that attach a freshly signed token for the current
    identity to every call, and nothing when there is none: ``insecure_channel(addr, interceptors=...)``.

    grpc.aio files an interceptor under its FIRST matching kind only, hence one object per kind.
    """
    kinds = (_SignUnaryUnary, _SignUnaryStream, _SignStreamUnary, _SignStreamStream)
    return [kind(signer, identity_provider) for kind in kinds]


# --- a service calling another for its caller: the gateway's token, relayed ----------------------------


class _RelayUnaryUnary(grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        signed = _current_token.get()
        if signed is None:
            raise _refuse("IDENTITY_MISSING", "a call to another service is made outside a verified call")
        kept = ((k, v) for k, v in (client_call_details.metadata or ()) if k != IDENTITY_HEADER)
        metadata = grpc.aio.Metadata(*kept)
        metadata.add(IDENTITY_HEADER, signed)
        return await continuation(client_call_details._replace(metadata=metadata), request)


def relayed_identity_interceptors() -> list[grpc.aio.ClientInterceptor]:
    """Client interceptors for a service calling another on behalf of the call it is serving: the gateway's
    signed token for that caller is passed on, so the other service checks the same person (unary calls)."""
    return [_RelayUnaryUnary()]
