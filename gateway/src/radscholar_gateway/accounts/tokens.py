"""Sessions of signed-in users: short-lived JWT access tokens and rotating, opaque refresh tokens."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from sqlalchemy import delete, update
from sqlalchemy.orm import Session, sessionmaker

from radscholar_core.db import transaction
from radscholar_core.errors import Unauthenticated
from radscholar_core.jobs import Clock, utc_now
from radscholar_gateway.accounts.tables import RefreshTokenRow, RevokedAccessTokenRow, UserRow
from radscholar_gateway.accounts.users import (
    User,
    Via,
    end_sessions,
    invalid_credentials,
    require_user_row,
    user_from_row,
)

ISSUER = "radscholar"
ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32
REQUIRED_CLAIMS = ["iss", "sub", "username", "roles", "via", "gen", "jti", "iat", "exp", "typ"]


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    access_expires_at: datetime
    refresh_expires_at: datetime


@dataclass(frozen=True)
class AccessClaims:
    """Who a valid access token speaks for: the user as they are now (their roles now, not when it was issued)."""

    user: User
    via: str
    jti: str
    issued_at: datetime
    expires_at: datetime


def token_digest(token: str) -> str:
    """SHA-256 of a random token: tokens are looked up by it and never stored themselves."""
    return hashlib.sha256(token.encode()).hexdigest()


def _unauthenticated(reason: str) -> Unauthenticated:
    messages = {
        "TOKEN_INVALID": "the token is not one this server issued",
        "TOKEN_EXPIRED": "the token has expired",
        "TOKEN_REVOKED": "the token was revoked; sign in again",
        "REFRESH_TOKEN_REUSED": "the refresh token was already used; every session of this sign-in ended",
    }
    return Unauthenticated(messages[reason], reason=reason)


class Tokens:
    """Issues, rotates, verifies and revokes the tokens of password sign-ins.

    The access token is an HS256 JWT (claims iss, sub, username, roles, via, gen, jti, iat, exp,
    typ="access"); ``gen`` is the user's token generation, bumped to revoke every earlier token. The
    refresh token is random and stored only as its SHA-256; each use rotates it within its family.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        secret: str | bytes,
        clock: Clock = utc_now,
        access_ttl: timedelta = timedelta(minutes=15),
        refresh_ttl: timedelta = timedelta(days=7),
    ) -> None:
        self._key = secret.encode() if isinstance(secret, str) else secret
        if len(self._key) < MIN_SECRET_BYTES:
            raise ValueError(f"the token signing secret must have at least {MIN_SECRET_BYTES} bytes")
        self._sessions = sessions
        self._clock = clock
        self._access_ttl = access_ttl
        self._refresh_ttl = refresh_ttl

    def issue(self, user: User, via: str = Via.PASSWORD) -> TokenPair:
        """A new session (token family) for a user who just proved who they are."""
        with transaction(self._sessions) as session:
            row = require_user_row(session, user.id)
            if not row.active:
                raise invalid_credentials()
            return self._issue(session, row, via, family_id=str(uuid.uuid4()))

    def refresh(self, refresh_token: str) -> TokenPair:
        """A new pair for a refresh token, which is used up; reusing one ends its whole family."""
        now, digest, tokens = self._clock(), token_digest(refresh_token), RefreshTokenRow
        with transaction(self._sessions) as session:
            # One conditional UPDATE claims the token, so of two concurrent refreshes only one wins.
            claimed = session.execute(
                update(tokens)
                .where(tokens.digest == digest, tokens.revoked_at.is_(None), tokens.expires_at > now)
                .values(revoked_at=now, rotated_at=now)
                .returning(tokens.user_id, tokens.family_id, tokens.via)
            ).first()
            if claimed is not None:
                user = require_user_row(session, claimed.user_id)
                if not user.active:
                    raise _unauthenticated("TOKEN_REVOKED")
                return self._issue(session, user, claimed.via, claimed.family_id)
            row = session.get(tokens, digest)
        if row is None:
            raise _unauthenticated("TOKEN_INVALID")
        if row.rotated_at is not None:
            self._revoke_family(row.family_id)  # someone holds a stolen copy, or the chain forked
            raise _unauthenticated("REFRESH_TOKEN_REUSED")
        raise _unauthenticated("TOKEN_REVOKED" if row.revoked_at else "TOKEN_EXPIRED")

    def verify_access(self, access_token: str) -> AccessClaims:
        """The claims of a valid access token; TOKEN_INVALID, TOKEN_EXPIRED or TOKEN_REVOKED otherwise."""
        claims = self._decode(access_token)
        if claims["exp"] <= self._clock().timestamp():
            raise _unauthenticated("TOKEN_EXPIRED")
        with self._sessions() as session:
            user = session.get(UserRow, claims["sub"])
            logged_out = session.get(RevokedAccessTokenRow, claims["jti"]) is not None
        if logged_out or user is None or not user.active or user.token_generation != claims["gen"]:
            raise _unauthenticated("TOKEN_REVOKED")
        return AccessClaims(
            user=user_from_row(user),
            via=claims["via"],
            jti=claims["jti"],
            issued_at=datetime.fromtimestamp(claims["iat"], UTC),
            expires_at=datetime.fromtimestamp(claims["exp"], UTC),
        )

    def logout(self, access_token: str, refresh_token: str = "") -> None:
        """Ends a session: the access token until it expires, and the refresh token's whole family."""
        claims = self._decode(access_token)
        now, expires_at = self._clock(), datetime.fromtimestamp(claims["exp"], UTC)
        with transaction(self._sessions) as session:
            session.execute(delete(RevokedAccessTokenRow).where(RevokedAccessTokenRow.expires_at <= now))
            if expires_at > now and session.get(RevokedAccessTokenRow, claims["jti"]) is None:
                session.add(RevokedAccessTokenRow(jti=claims["jti"], expires_at=expires_at))
            row = session.get(RefreshTokenRow, token_digest(refresh_token)) if refresh_token else None
        if row is not None and row.user_id == claims["sub"]:
            self._revoke_family(row.family_id)

    def revoke_all(self, user_id: str) -> None:
        """Signs the user out everywhere: every refresh token and every access token issued so far."""
        with transaction(self._sessions) as session:
            end_sessions(session, require_user_row(session, user_id), self._clock())

    def _issue(self, session: Session, user: UserRow, via: str, family_id: str) -> TokenPair:
        now = self._clock()
        access_expires_at = datetime.fromtimestamp(int((now + self._access_ttl).timestamp()), UTC)
        claims = {
            "iss": ISSUER,
            "sub": user.id,
            "username": user.username,
            "roles": sorted(r.role for r in user.roles),
            "via": str(via),
            "gen": user.token_generation,
            "jti": uuid.uuid4().hex,
            "iat": int(now.timestamp()),
            "exp": int(access_expires_at.timestamp()),
            "typ": "access",
        }
        refresh_token = secrets.token_urlsafe(32)
        refresh_expires_at = now + self._refresh_ttl
        session.execute(
            delete(RefreshTokenRow).where(RefreshTokenRow.user_id == user.id, RefreshTokenRow.expires_at <= now)
        )
        session.add(
            RefreshTokenRow(
                digest=token_digest(refresh_token),
                family_id=family_id,
                user_id=user.id,
                via=str(via),
                issued_at=now,
                expires_at=refresh_expires_at,
            )
        )
        access_token = jwt.encode(claims, self._key, algorithm=ALGORITHM)
        return TokenPair(access_token, refresh_token, access_expires_at, refresh_expires_at)

    def _decode(self, token: str) -> dict[str, Any]:
        """The claims of a token signed here (expiry is checked against our clock by the caller)."""
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={
                    "require": REQUIRED_CLAIMS,
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.InvalidTokenError:
            raise _unauthenticated("TOKEN_INVALID") from None
        if claims["typ"] != "access":
            raise _unauthenticated("TOKEN_INVALID")
        return claims

    def _revoke_family(self, family_id: str) -> None:
        with transaction(self._sessions) as session:
            session.execute(
                update(RefreshTokenRow)
                .where(RefreshTokenRow.family_id == family_id, RefreshTokenRow.revoked_at.is_(None))
                .values(revoked_at=self._clock())
            )
