"""Users: platform roles, argon2id passwords, and password sign-in guarded against guessing."""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from radscholar_core.db import transaction
from radscholar_core.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unauthenticated,
)
from radscholar_core.jobs import Clock, utc_now
from radscholar_core.paging import Page
from radscholar_gateway.accounts.passwords import check_password
from radscholar_gateway.accounts.tables import LoginFailureRow, RefreshTokenRow, UserRoleRow, UserRow

USERNAME = re.compile(r"[a-z0-9._-]{3,64}")
MAX_DISPLAY_NAME = 200


class Role(StrEnum):
    """A platform role; what a user may do inside a project is its ProjectRole."""

    ADMIN = "admin"
    RESEARCHER = "researcher"
    ANNOTATOR = "annotator"
    REVIEWER = "reviewer"
    SITE_OPERATOR = "site-operator"


class Via(StrEnum):
    """How a caller proved who they are."""

    PASSWORD = "password"
    API_KEY = "api_key"
    NONE = "none"


@dataclass(frozen=True)
class User:
    id: str
    username: str
    display_name: str
    roles: frozenset[Role]
    active: bool
    created_at: datetime
    password_changed_at: datetime

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles


class UserListing(NamedTuple):
    users: list[User]
    next_page_token: str
    total_size: int


@dataclass(frozen=True)
class LoginPolicy:
    """How many failed sign-ins are tolerated per username and per client address, and for how long."""

    max_failures: int = 5
    failure_window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)
    max_client_failures: int = 20
    client_window: timedelta = timedelta(minutes=5)

    @property
    def retention(self) -> timedelta:
        """How long a failure can still matter."""
        return max(self.failure_window + self.lockout, self.client_window)


INVALID_CREDENTIALS = "the username or password is not correct"


def invalid_credentials() -> Unauthenticated:
    return Unauthenticated(INVALID_CREDENTIALS, reason="INVALID_CREDENTIALS")


def user_from_row(row: UserRow) -> User:
    return User(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        roles=frozenset(Role(r.role) for r in row.roles),
        active=row.active,
        created_at=row.created_at,
        password_changed_at=row.password_changed_at,
    )


def require_user_row(session: Session, user_id: str) -> UserRow:
    row = session.get(UserRow, user_id)
    if row is None:
        raise NotFound(f"user '{user_id}' does not exist", reason="USER_NOT_FOUND")
    return row


def end_sessions(session: Session, user: UserRow, now: datetime) -> None:
    """Revokes every refresh token of ``user`` and, through its token generation, every access token."""
    session.execute(
        update(RefreshTokenRow)
        .where(RefreshTokenRow.user_id == user.id, RefreshTokenRow.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    user.token_generation += 1


def parse_roles(roles: Iterable[str]) -> frozenset[Role]:
    try:
        return frozenset(Role(role) for role in roles)
    except ValueError as exc:
        raise InvalidArgument(
            f"{exc}; roles are {', '.join(Role)}", reason="INVALID_ROLE", details={"allowed": ",".join(Role)}
        ) from None


class Accounts:
    """Users and their passwords. Calls block (argon2 and SQL): run them in a thread from ``async def``."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock = utc_now,
        policy: LoginPolicy | None = None,
        hasher: PasswordHasher | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._policy = policy or LoginPolicy()
        self._hasher = hasher or PasswordHasher()  # argon2id with RFC 9106's low-memory parameters
        # Unknown usernames are verified against this hash, made with the same parameters, so that
        # they cost exactly what a wrong password costs and timing does not reveal who exists.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(24))

    def create_user(self, username: str, password: str, roles: Iterable[Role | str], display_name: str = "") -> User:
        """A new active user; USER_EXISTS if the username (case-insensitively) is taken."""
        username = username.lower()
        if not USERNAME.fullmatch(username):
            raise InvalidArgument(
                "username must be 3 to 64 characters among a-z, 0-9, '.', '_' and '-'",
                reason="INVALID_USERNAME",
            )
        if len(display_name) > MAX_DISPLAY_NAME:
            raise InvalidArgument(
                f"display_name is longer than {MAX_DISPLAY_NAME} characters", reason="INVALID_DISPLAY_NAME"
            )
        granted = parse_roles(roles)
        check_password(password, username)
        now = self._clock()
        row = UserRow(
            id=str(uuid.uuid4()),
            username=username,
            display_name=display_name,
            password_hash=self._hasher.hash(password),
            active=True,
            token_generation=0,
            created_at=now,
            password_changed_at=now,
            roles=[UserRoleRow(role=role.value) for role in sorted(granted)],
        )
        try:
            with transaction(self._sessions) as session:
                session.add(row)
        except IntegrityError:
            raise AlreadyExists(f"a user named '{username}' already exists", reason="USER_EXISTS") from None
        return user_from_row(row)

    def ensure_first_admin(self, username: str, password: str) -> User | None:
        """Creates an admin if there is none yet (first start); None when an admin already exists."""
        if self._admin_exists():
            return None
        try:
            return self.create_user(username, password, [Role.ADMIN], display_name="Administrator")
        except AlreadyExists:
            if self._admin_exists():  # another gateway replica won the race
                return None
            raise

    def get_user(self, user_id: str) -> User:
        with self._sessions() as session:
            return user_from_row(require_user_row(session, user_id))

    def find_by_username(self, username: str) -> User | None:
        with self._sessions() as session:
            row = session.scalar(select(UserRow).where(UserRow.username == username.lower()))
            return user_from_row(row) if row else None

    def list_users(self, page_size: int = 0, page_token: str = "") -> UserListing:
        """Users by username, a page at a time."""
        page = Page.of(page_size, page_token)
        with self._sessions() as session:
            total = session.scalar(select(func.count()).select_from(UserRow)) or 0
            rows = session.scalars(
                select(UserRow).order_by(UserRow.username).offset(page.offset).limit(page.limit)
            ).all()
            users = [user_from_row(row) for row in rows]
        return UserListing(users, page.next_token(len(users), total), total)

    def set_roles(self, user_id: str, roles: Iterable[Role | str]) -> User:
        """Replaces the user's platform roles; LAST_ADMIN if that would leave no active admin."""
        granted = parse_roles(roles)
        with transaction(self._sessions) as session:
            row = require_user_row(session, user_id)
            if Role.ADMIN not in granted:
                self._keep_an_admin(session, row)
            row.roles = [UserRoleRow(role=role.value) for role in sorted(granted)]
            return user_from_row(row)

    def set_active(self, user_id: str, active: bool) -> User:
        """Activates or deactivates a user; deactivating also ends all of their sessions."""
        with transaction(self._sessions) as session:
            row = require_user_row(session, user_id)
            if row.active and not active:
                self._keep_an_admin(session, row)
                end_sessions(session, row, self._clock())
            row.active = active
            return user_from_row(row)

    def change_password(self, user_id: str, old_password: str, new_password: str) -> User:
        """The user's own change: needs the old password, and signs them out everywhere."""
        with self._sessions() as session:
            row = require_user_row(session, user_id)
        self._refuse_if_throttled(row.username, "")
        if not self._verify(row.password_hash, old_password):
            self._record_failure(row.username, "")
            raise invalid_credentials()
        return self.reset_password(user_id, new_password)

    def reset_password(self, user_id: str, new_password: str) -> User:
        """An admin's reset: sets the password and revokes every token the user holds."""
        with self._sessions() as session:
            username = require_user_row(session, user_id).username
        check_password(new_password, username)
        password_hash = self._hasher.hash(new_password)
        with transaction(self._sessions) as session:
            row = require_user_row(session, user_id)
            now = self._clock()
            row.password_hash, row.password_changed_at = password_hash, now
            end_sessions(session, row, now)
            return user_from_row(row)

    def authenticate(self, username: str, password: str, client_address: str) -> User:
        """The user whose password this is; INVALID_CREDENTIALS, ACCOUNT_LOCKED or TOO_MANY_ATTEMPTS if not.

        Unknown, deactivated and wrong-password sign-ins fail alike, after the same argon2 work, and
        failures are counted per attempted username whether or not it exists.
        """
        name, client_address = username.lower()[:255], client_address[:64]
        self._refuse_if_throttled(name, client_address)
        with self._sessions() as session:
            row = session.scalar(select(UserRow).where(UserRow.username == name))
        correct = self._verify(row.password_hash if row else self._dummy_hash, password)
        if row is None or not row.active or not correct:
            self._record_failure(name, client_address)
            raise invalid_credentials()
        # A hash made with older parameters is upgraded now, the one time the password is at hand.
        rehashed = self._hasher.hash(password) if self._hasher.check_needs_rehash(row.password_hash) else None
        with transaction(self._sessions) as session:
            session.execute(delete(LoginFailureRow).where(LoginFailureRow.username == name))
            if rehashed:
                session.execute(update(UserRow).where(UserRow.id == row.id).values(password_hash=rehashed))
        return user_from_row(row)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def _refuse_if_throttled(self, username: str, client_address: str) -> None:
        policy, now = self._policy, self._clock()
        failures = LoginFailureRow
        with self._sessions() as session:
            if client_address:
                recent = session.scalars(
                    select(failures.at)
                    .where(failures.client_address == client_address, failures.at > now - policy.client_window)
                    .order_by(failures.at.desc())
                    .limit(policy.max_client_failures)
                ).all()
                if len(recent) >= policy.max_client_failures:
                    raise ResourceExhausted(
                        "too many failed sign-ins from this address; try again later",
                        reason="TOO_MANY_ATTEMPTS",
                        details={"retry_after_seconds": _seconds(recent[-1] + policy.client_window - now)},
                    )
            latest = session.scalars(
                select(failures.at)
                .where(failures.username == username)
                .order_by(failures.at.desc())
                .limit(policy.max_failures)
            ).all()
        if len(latest) < policy.max_failures or latest[0] - latest[-1] > policy.failure_window:
            return
        locked_until = latest[0] + policy.lockout
        if now < locked_until:
            raise Unauthenticated(
                "too many failed sign-ins for this username; try again later",
                reason="ACCOUNT_LOCKED",
                details={"retry_after_seconds": _seconds(locked_until - now)},
            )

    def _record_failure(self, username: str, client_address: str) -> None:
        now = self._clock()
        with transaction(self._sessions) as session:
            session.add(LoginFailureRow(username=username, client_address=client_address, at=now))
            session.execute(delete(LoginFailureRow).where(LoginFailureRow.at < now - self._policy.retention))

    def _admin_exists(self) -> bool:
        with self._sessions() as session:
            return (
                session.scalar(select(UserRoleRow.user_id).where(UserRoleRow.role == Role.ADMIN).limit(1)) is not None
            )

    def _keep_an_admin(self, session: Session, row: UserRow) -> None:
        """Refuses to take away the last active admin (nobody could manage users any more)."""
        if not row.active or Role.ADMIN not in {Role(r.role) for r in row.roles}:
            return
        others = session.scalar(
            select(func.count())
            .select_from(UserRow)
            .join(UserRoleRow)
            .where(UserRoleRow.role == Role.ADMIN, UserRow.active, UserRow.id != row.id)
        )
        if not others:
            raise FailedPrecondition(
                f"'{row.username}' is the last active admin; make another admin first", reason="LAST_ADMIN"
            )


def _seconds(delta: timedelta) -> str:
    return str(max(1, int(delta.total_seconds() + 0.999)))
