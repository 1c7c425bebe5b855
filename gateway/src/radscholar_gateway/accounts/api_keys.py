"""API keys: long-lived credentials for programs, acting as the user who created them."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from radscholar_core.db import transaction
from radscholar_core.errors import InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from radscholar_core.jobs import Clock, utc_now
from radscholar_gateway.accounts.tables import ApiKeyRow
from radscholar_gateway.accounts.users import User, require_user_row, user_from_row

PREFIX = "rsk_"
SECRET = re.compile(r"rsk_([0-9a-f]{16})_[A-Za-z0-9_-]{43}")
DEFAULT_TTL = timedelta(days=90)
MAX_TTL = timedelta(days=365)
MAX_NAME = 100
LAST_USED_PRECISION = timedelta(minutes=1)  # fewer writes: last_used_at moves at most once a minute


@dataclass(frozen=True)
class ApiKey:
    """An API key as shown to people: never its secret."""

    id: str
    user_id: str
    name: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def prefix(self) -> str:
        """The start of the secret ("rsk_<id>"), enough to recognise a key in a list."""
        return f"{PREFIX}{self.id}"


def _api_key(row: ApiKeyRow) -> ApiKey:
    return ApiKey(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def _digest(secret: str) -> str:
    # The secret carries 256 random bits, so nobody can guess it back from a fast hash: unlike a
    # password it needs no slow, salted KDF, and SHA-256 keeps every authenticated request cheap.
    return hashlib.sha256(secret.encode()).hexdigest()


def _unauthenticated(reason: str, message: str) -> Unauthenticated:
    return Unauthenticated(message, reason=reason)


class ApiKeys:
    """Creates, checks, lists and revokes API keys; the secret exists only in ``create``'s answer."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock = utc_now) -> None:
        self._sessions = sessions
        self._clock = clock

    def create(self, user_id: str, name: str, expires_at: datetime | None = None) -> tuple[ApiKey, str]:
        """A new key and its secret ``rsk_<id>_<random>``; expiry 90 days by default, a year at most."""
        now = self._clock()
        expires_at = expires_at or now + DEFAULT_TTL
        if not 0 < len(name.strip()) <= MAX_NAME:
            raise InvalidArgument(f"name must be 1 to {MAX_NAME} characters", reason="INVALID_NAME")
        if expires_at.tzinfo is None or not now < expires_at <= now + MAX_TTL:
            raise InvalidArgument(
                "expires_at must be an aware time in the future, at most a year away", reason="INVALID_EXPIRY"
            )
        key_id = secrets.token_hex(8)
        secret = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        row = ApiKeyRow(
            id=key_id,
            user_id=user_id,
            name=name.strip(),
            digest=_digest(secret),
            created_at=now,
            expires_at=expires_at,
        )
        with transaction(self._sessions) as session:
            require_user_row(session, user_id)
            session.add(row)
        return _api_key(row), secret

    def authenticate(self, secret: str) -> tuple[ApiKey, User]:
        """The key and its owner; API_KEY_INVALID, API_KEY_EXPIRED or API_KEY_REVOKED otherwise."""
        match = SECRET.fullmatch(secret)
        if match is None:
            raise _unauthenticated("API_KEY_INVALID", "the API key is not valid")
        now = self._clock()
        with transaction(self._sessions) as session:
            row = session.get(ApiKeyRow, match[1])
            if row is None or not hmac.compare_digest(row.digest, _digest(secret)):
                raise _unauthenticated("API_KEY_INVALID", "the API key is not valid")
            if row.revoked_at is not None:
                raise _unauthenticated("API_KEY_REVOKED", "the API key was revoked")
            if row.expires_at <= now:
                raise _unauthenticated("API_KEY_EXPIRED", "the API key has expired")
            owner = require_user_row(session, row.user_id)
            if not owner.active:
                raise _unauthenticated("API_KEY_REVOKED", "the API key's owner is deactivated")
            if row.last_used_at is None or now - row.last_used_at >= LAST_USED_PRECISION:
                row.last_used_at = now
            return _api_key(row), user_from_row(owner)

    def list(self, user_id: str) -> Sequence[ApiKey]:
        """The user's keys, newest first, revoked and expired ones included."""
        with self._sessions() as session:
            rows = session.scalars(
                select(ApiKeyRow).where(ApiKeyRow.user_id == user_id).order_by(ApiKeyRow.created_at.desc())
            )
            return [_api_key(row) for row in rows]

    def revoke(self, key_id: str, by_user: User) -> ApiKey:
        """Revokes a key for good; only its owner or an admin may (PermissionDenied otherwise)."""
        with transaction(self._sessions) as session:
            row = session.get(ApiKeyRow, key_id)
            if row is None:
                raise NotFound(f"API key '{key_id}' does not exist", reason="API_KEY_NOT_FOUND")
            if row.user_id != by_user.id and not by_user.is_admin:
                raise PermissionDenied("only the key's owner or an admin may revoke it", reason="NOT_API_KEY_OWNER")
            row.revoked_at = row.revoked_at or self._clock()
            return _api_key(row)
