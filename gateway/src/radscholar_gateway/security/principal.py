"""Who is calling: credentials from the Authorization header, resolved to a signed-in principal."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

from fastapi import Request

from radscholar_core.errors import Unauthenticated
from radscholar_core.identity import Identity
from radscholar_gateway.accounts import ApiKeys, Memberships, Tokens, User

API_KEY_PREFIX = "rsk_"


@dataclass(frozen=True)
class Principal:
    """A signed-in user, how they proved it, and the projects they belong to."""

    user: User
    via: str  # "password" (access token) or "api_key"
    expires_at: datetime
    projects: dict[str, str] = field(default_factory=dict)  # project id -> project role
    access_token: str = ""  # the bearer itself, for logout

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(str(role) for role in self.user.roles)

    def identity(self, client_address: str) -> Identity:
        """The identity the gateway signs for the services on this principal's behalf."""
        return Identity(
            subject=self.user.id,
            username=self.user.username,
            roles=self.roles,
            projects=self.projects,
            via="api_key" if self.via == "api_key" else "password",
            client_address=client_address,
            expires_at=self.expires_at,
        )


def bearer(request: Request) -> str | None:
    """The credential of `Authorization: Bearer ...` (or `X-API-Key`), or None when absent."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if header and (scheme.lower() != "bearer" or not value.strip()):
        raise Unauthenticated("the Authorization header must be 'Bearer <token or API key>'", reason="BAD_CREDENTIALS")
    return value.strip() or request.headers.get("x-api-key") or None


@dataclass(frozen=True)
class Authenticator:
    """Turns a bearer credential into a principal; every failure is Unauthenticated with its reason."""

    tokens: Tokens
    api_keys: ApiKeys
    memberships: Memberships

    async def principal(self, credential: str) -> Principal:
        return await asyncio.to_thread(self._principal, credential)  # every request: its lookups in one thread hop

    def _principal(self, credential: str) -> Principal:
        if credential.startswith(API_KEY_PREFIX):
            key, user = self.api_keys.authenticate(credential)
            expires, via = key.expires_at, "api_key"
        else:
            claims = self.tokens.verify_access(credential)
            user, expires, via = claims.user, claims.expires_at, "password"
        projects = self.memberships.of_user(user.id)
        return Principal(user, via, expires, {k: str(v) for k, v in projects.items()}, credential)
