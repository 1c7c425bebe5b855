"""Users, password sign-in, tokens, API keys and project membership, on SQLite and on PostgreSQL."""

from __future__ import annotations

import re
import statistics
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from argon2 import PasswordHasher, profiles
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from radscholar_core.db import create_engine_for, session_factory, upgrade_to_head
from radscholar_core.errors import (
    AlreadyExists,
    DomainError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
)
from radscholar_gateway.accounts import (
    Accounts,
    ApiKeys,
    LoginPolicy,
    Memberships,
    ProjectRole,
    Role,
    Tokens,
    User,
)
from radscholar_gateway.accounts.tables import ApiKeyRow, RefreshTokenRow, UserRow
from radscholar_gateway.migrations import MIGRATIONS, Base

SECRET = "s" * 32
PASSWORD = "correct horse battery"
CHEAP = profiles.CHEAPEST  # real argon2id, tiny cost: the tests are about behaviour, not strength


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class CountingHasher(PasswordHasher):
    """Counts verify calls: every sign-in attempt must do the same argon2 work."""

    verifications = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        CountingHasher.verifications += 1
        return super().verify(hash, password)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def accounts(sessions: sessionmaker[Session], clock: FakeClock) -> Accounts:
    return Accounts(sessions, clock, hasher=PasswordHasher.from_parameters(CHEAP))


@pytest.fixture
def tokens(sessions: sessionmaker[Session], clock: FakeClock) -> Tokens:
    return Tokens(sessions, SECRET, clock)


@pytest.fixture
def alice(accounts: Accounts) -> User:
    return accounts.create_user("Alice", PASSWORD, [Role.RESEARCHER], display_name="Alice A.")


def raises(error: type[DomainError], reason: str, call: Callable[[], Any]) -> DomainError:
    with pytest.raises(error) as caught:
        call()
    assert caught.value.reason == reason, caught.value.message
    return caught.value


# --- schema


def test_migrations_create_exactly_the_declared_schema(migrated_url: str) -> None:
    upgrade_to_head(migrated_url, MIGRATIONS)  # a second start-up changes nothing
    engine = create_engine_for(migrated_url)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    engine.dispose()


# --- users


def test_usernames_are_case_insensitive_and_unique(accounts: Accounts, alice: User) -> None:
    assert alice.username == "alice"
    assert alice.roles == {Role.RESEARCHER} and alice.active and alice.display_name == "Alice A."
    assert accounts.get_user(alice.id) == alice
    assert accounts.find_by_username("ALICE") == alice
    assert accounts.find_by_username("bob") is None
    raises(AlreadyExists, "USER_EXISTS", lambda: accounts.create_user("aLiCe", "another long secret", []))
    raises(NotFound, "USER_NOT_FOUND", lambda: accounts.get_user("no-such-id"))


@pytest.mark.parametrize("username", ["ab", "a" * 65, "bad name", "émile", "semi;colon"])
def test_bad_usernames_are_refused(accounts: Accounts, username: str) -> None:
    raises(InvalidArgument, "INVALID_USERNAME", lambda: accounts.create_user(username, PASSWORD, []))


def test_unknown_roles_are_refused(accounts: Accounts) -> None:
    error = raises(InvalidArgument, "INVALID_ROLE", lambda: accounts.create_user("bob", PASSWORD, ["wizard"]))
    assert "site-operator" in error.message


@pytest.mark.parametrize(
    ("password", "named"),
    [
        ("short pw", "shorter than 12 characters"),
        ("xx-carol-2026-xx", "contains the username"),
        ("Password1234", "most common passwords"),
        ("", "shorter than 12 characters"),
    ],
)
def test_weak_passwords_are_refused_naming_the_rule(accounts: Accounts, password: str, named: str) -> None:
    error = raises(InvalidArgument, "WEAK_PASSWORD", lambda: accounts.create_user("carol", password, []))
    assert named in error.message
    assert password not in error.message or not password


def test_passwords_are_stored_as_argon2id_with_rfc_9106_defaults(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    user = Accounts(sessions, clock).create_user("dave", PASSWORD, [])
    with sessions() as session:
        stored = session.get_one(UserRow, user.id).password_hash
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert PASSWORD not in stored


def test_sign_in_upgrades_an_outdated_hash(sessions: sessionmaker[Session], accounts: Accounts, alice: User) -> None:
    strong = Accounts(sessions, hasher=PasswordHasher())
    assert strong.authenticate("alice", PASSWORD, "10.0.0.1") == alice
    with sessions() as session:
        assert session.get_one(UserRow, alice.id).password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert strong.authenticate("alice", PASSWORD, "10.0.0.1") == alice


def test_users_are_listed_by_username_a_page_at_a_time(accounts: Accounts) -> None:
    for name in ["erin", "bob", "dave", "carol", "alice"]:
        accounts.create_user(name, PASSWORD, [])
    first = accounts.list_users(page_size=2)
    assert [u.username for u in first.users] == ["alice", "bob"] and first.total_size == 5
    second = accounts.list_users(2, first.next_page_token)
    third = accounts.list_users(2, second.next_page_token)
    assert [u.username for u in second.users + third.users] == ["carol", "dave", "erin"]
    assert third.next_page_token == ""


def test_roles_change_but_the_last_active_admin_stays(accounts: Accounts, alice: User) -> None:
    admin = accounts.ensure_first_admin("root", "staple gun lighthouse")
    assert admin is not None and admin.roles == {Role.ADMIN}
    assert accounts.set_roles(alice.id, ["admin", Role.REVIEWER]).roles == {Role.ADMIN, Role.REVIEWER}
    assert accounts.set_roles(admin.id, [Role.RESEARCHER]).roles == {Role.RESEARCHER}
    assert accounts.set_roles(admin.id, [Role.RESEARCHER, "site-operator"]).roles == {
        Role.RESEARCHER,
        Role.SITE_OPERATOR,
    }
    raises(FailedPrecondition, "LAST_ADMIN", lambda: accounts.set_roles(alice.id, []))
    raises(FailedPrecondition, "LAST_ADMIN", lambda: accounts.set_active(alice.id, False))
    assert accounts.get_user(alice.id).roles == {Role.ADMIN, Role.REVIEWER}
    assert accounts.get_user(admin.id).roles == {Role.RESEARCHER, Role.SITE_OPERATOR}


def test_first_admin_is_created_only_once_and_needs_a_real_password(accounts: Accounts) -> None:
    raises(InvalidArgument, "WEAK_PASSWORD", lambda: accounts.ensure_first_admin("admin", ""))
    admin = accounts.ensure_first_admin("admin", "staple gun lighthouse")
    assert admin is not None and admin.is_admin
    assert accounts.ensure_first_admin("admin", "staple gun lighthouse") is None
    assert accounts.ensure_first_admin("other", "staple gun lighthouse") is None
    assert accounts.authenticate("admin", "staple gun lighthouse", "127.0.0.1") == admin


def test_change_password_needs_the_old_one(accounts: Accounts, alice: User) -> None:
    error = raises(
        Unauthenticated,
        "INVALID_CREDENTIALS",
        lambda: accounts.change_password(alice.id, "wrong", "new long secret"),
    )
    assert error.message == "the username or password is not correct"
    raises(
        InvalidArgument,
        "WEAK_PASSWORD",
        lambda: accounts.change_password(alice.id, PASSWORD, "alice-is-me-2026"),
    )
    accounts.change_password(alice.id, PASSWORD, "new long secret")
    raises(Unauthenticated, "INVALID_CREDENTIALS", lambda: accounts.authenticate("alice", PASSWORD, "h"))
    assert accounts.authenticate("alice", "new long secret", "h").id == alice.id


# --- sign-in


def test_unknown_user_wrong_password_and_deactivated_user_fail_alike(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    accounts = Accounts(sessions, clock, hasher=CountingHasher.from_parameters(CHEAP))
    accounts.create_user("alice", PASSWORD, [])
    bob = accounts.create_user("bob", PASSWORD, [])
    accounts.set_active(bob.id, False)
    messages = set()
    for username, password in [("alice", "wrong password!"), ("nobody", PASSWORD), ("bob", PASSWORD)]:
        before = CountingHasher.verifications
        with pytest.raises(Unauthenticated) as caught:
            accounts.authenticate(username, password, "")
        error = caught.value
        assert error.reason == "INVALID_CREDENTIALS"
        assert CountingHasher.verifications == before + 1, username  # the same argon2 work each time
        messages.add(error.message)
    assert len(messages) == 1


def test_unknown_user_takes_as_long_as_a_wrong_password(sessions: sessionmaker[Session]) -> None:
    accounts = Accounts(sessions, policy=LoginPolicy(max_failures=100, max_client_failures=100))  # real cost
    accounts.create_user("alice", PASSWORD, [])

    def duration(username: str) -> float:
        start = time.perf_counter()
        with pytest.raises(Unauthenticated):
            accounts.authenticate(username, "wrong password!", "")
        return time.perf_counter() - start

    unknown = statistics.median(duration("nobody") for _ in range(5))
    wrong = statistics.median(duration("alice") for _ in range(5))
    assert 0.5 < unknown / wrong < 2


def test_repeated_failures_lock_the_username_even_with_the_right_password(
    accounts: Accounts, alice: User, clock: FakeClock
) -> None:
    for _ in range(5):
        raises(
            Unauthenticated,
            "INVALID_CREDENTIALS",
            lambda: accounts.authenticate("alice", "guess guess!", "a"),
        )
    locked = raises(Unauthenticated, "ACCOUNT_LOCKED", lambda: accounts.authenticate("ALICE", PASSWORD, "b"))
    assert locked.details["retry_after_seconds"] == str(15 * 60)
    clock.advance(minutes=14, seconds=59)
    raises(Unauthenticated, "ACCOUNT_LOCKED", lambda: accounts.authenticate("alice", PASSWORD, "b"))
    clock.advance(seconds=1)
    assert accounts.authenticate("alice", PASSWORD, "b") == alice


def test_unknown_usernames_lock_the_same_way(accounts: Accounts, alice: User) -> None:
    """A lockout must not tell an attacker which usernames exist."""
    errors = {}
    for username in ["alice", "nobody"]:
        for _ in range(5):
            raises(
                Unauthenticated,
                "INVALID_CREDENTIALS",
                lambda u=username: accounts.authenticate(u, "guess!", ""),
            )
        errors[username] = raises(
            Unauthenticated, "ACCOUNT_LOCKED", lambda u=username: accounts.authenticate(u, "x", "")
        )
    assert errors["alice"].message == errors["nobody"].message
    assert errors["alice"].details == errors["nobody"].details


def test_failures_outside_the_window_do_not_add_up(accounts: Accounts, alice: User, clock: FakeClock) -> None:
    for _ in range(4):
        raises(Unauthenticated, "INVALID_CREDENTIALS", lambda: accounts.authenticate("alice", "guess guess!", ""))
        clock.advance(minutes=5)
    raises(Unauthenticated, "INVALID_CREDENTIALS", lambda: accounts.authenticate("alice", "guess guess!", ""))
    assert accounts.authenticate("alice", PASSWORD, "") == alice  # 5 failures, but over 20 minutes


def test_success_clears_the_usernames_failures(accounts: Accounts, alice: User) -> None:
    for _ in range(4):
        raises(Unauthenticated, "INVALID_CREDENTIALS", lambda: accounts.authenticate("alice", "guess guess!", ""))
    accounts.authenticate("alice", PASSWORD, "")
    for _ in range(4):
        raises(Unauthenticated, "INVALID_CREDENTIALS", lambda: accounts.authenticate("alice", "guess guess!", ""))
    assert accounts.authenticate("alice", PASSWORD, "") == alice


def test_lockout_survives_a_restart_and_is_shared_by_replicas(
    accounts: Accounts, alice: User, migrated_url: str, clock: FakeClock
) -> None:
    for _ in range(5):
        raises(Unauthenticated, "INVALID_CREDENTIALS", lambda: accounts.authenticate("alice", "guess guess!", ""))
    engine = create_engine_for(migrated_url)
    replica = Accounts(session_factory(engine), clock, hasher=PasswordHasher.from_parameters(CHEAP))
    raises(Unauthenticated, "ACCOUNT_LOCKED", lambda: replica.authenticate("alice", PASSWORD, ""))
    engine.dispose()


def test_one_client_address_is_rate_limited_across_usernames(accounts: Accounts, alice: User, clock: FakeClock) -> None:
    for n in range(20):
        raises(
            Unauthenticated,
            "INVALID_CREDENTIALS",
            lambda n=n: accounts.authenticate(f"user{n}", "guess!", "10.0.0.9"),
        )
    error = raises(ResourceExhausted, "TOO_MANY_ATTEMPTS", lambda: accounts.authenticate("alice", PASSWORD, "10.0.0.9"))
    assert error.details["retry_after_seconds"] == str(5 * 60)
    assert accounts.authenticate("alice", PASSWORD, "10.0.0.10") == alice  # another address
    clock.advance(minutes=5)
    assert accounts.authenticate("alice", PASSWORD, "10.0.0.9") == alice


# --- tokens


def test_access_tokens_carry_who_and_what(tokens: Tokens, alice: User, clock: FakeClock) -> None:
    pair = tokens.issue(alice, "password")
    assert pair.access_expires_at == clock.now + timedelta(minutes=15)
    assert pair.refresh_expires_at == clock.now + timedelta(days=7)
    payload = jwt.decode(pair.access_token, options={"verify_signature": False})
    assert payload["sub"] == alice.id and payload["username"] == "alice" and payload["roles"] == ["researcher"]
    assert payload["iss"] == "radscholar" and payload["typ"] == "access" and payload["jti"]
    assert payload["iat"] == int(clock.now.timestamp())
    assert jwt.get_unverified_header(pair.access_token)["alg"] == "HS256"
    claims = tokens.verify_access(pair.access_token)
    assert (claims.user.id, claims.user.username, claims.user.roles, claims.via) == (
        alice.id,
        "alice",
        {Role.RESEARCHER},
        "password",
    )


def test_refresh_tokens_are_stored_only_as_digests(
    tokens: Tokens, alice: User, sessions: sessionmaker[Session]
) -> None:
    pair = tokens.issue(alice, "password")
    with sessions() as session:
        stored = session.scalars(select(RefreshTokenRow)).one()
    assert pair.refresh_token not in {stored.digest, stored.family_id} and len(stored.digest) == 64


def test_access_tokens_expire(tokens: Tokens, alice: User, clock: FakeClock) -> None:
    pair = tokens.issue(alice, "password")
    clock.advance(minutes=14, seconds=59)
    tokens.verify_access(pair.access_token)
    clock.advance(seconds=1)
    raises(Unauthenticated, "TOKEN_EXPIRED", lambda: tokens.verify_access(pair.access_token))


def test_forged_and_foreign_tokens_are_invalid(
    tokens: Tokens, alice: User, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    pair = tokens.issue(alice, "password")
    payload = jwt.decode(pair.access_token, options={"verify_signature": False})
    header, body, signature = pair.access_token.split(".")
    forged = [
        "not a token",
        pair.refresh_token,
        f"{header}.{body}.{signature[:-4]}AAAA",
        Tokens(sessions, "t" * 32, clock).issue(alice, "password").access_token,
        jwt.encode({**payload, "typ": "refresh"}, SECRET, algorithm="HS256"),
        jwt.encode({**payload, "iss": "elsewhere"}, SECRET, algorithm="HS256"),
        jwt.encode({**payload, "roles": ["admin"]}, "t" * 32, algorithm="HS256"),
        jwt.encode(payload, None, algorithm="none"),
    ]
    for token in forged:
        raises(Unauthenticated, "TOKEN_INVALID", lambda t=token: tokens.verify_access(t))


def test_signing_secret_must_be_long(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Tokens(sessions, "too short")


def test_refresh_rotates_and_reuse_ends_the_family(tokens: Tokens, alice: User, clock: FakeClock) -> None:
    first = tokens.issue(alice, "password")
    other_session = tokens.issue(alice, "password")
    clock.advance(minutes=1)
    second = tokens.refresh(first.refresh_token)
    assert second.refresh_token != first.refresh_token
    assert tokens.verify_access(second.access_token).via == "password"
    third = tokens.refresh(second.refresh_token)
    raises(Unauthenticated, "REFRESH_TOKEN_REUSED", lambda: tokens.refresh(first.refresh_token))
    raises(Unauthenticated, "TOKEN_REVOKED", lambda: tokens.refresh(third.refresh_token))
    tokens.refresh(other_session.refresh_token)  # another sign-in is not touched


def test_concurrent_refreshes_of_one_token_do_not_fork(tokens: Tokens, alice: User) -> None:
    pair = tokens.issue(alice, "password")
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def refresh() -> None:
        barrier.wait()
        try:
            tokens.refresh(pair.refresh_token)
            outcomes.append("ok")
        except Unauthenticated as error:
            outcomes.append(error.reason)

    threads = [threading.Thread(target=refresh) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("ok") == 1, outcomes


def test_unknown_and_expired_refresh_tokens(tokens: Tokens, alice: User, clock: FakeClock) -> None:
    raises(Unauthenticated, "TOKEN_INVALID", lambda: tokens.refresh("made-up"))
    pair = tokens.issue(alice, "password")
    clock.advance(days=7)
    raises(Unauthenticated, "TOKEN_EXPIRED", lambda: tokens.refresh(pair.refresh_token))


def test_logout_revokes_both_tokens(tokens: Tokens, alice: User, clock: FakeClock) -> None:
    pair = tokens.issue(alice, "password")
    kept = tokens.issue(alice, "password")
    tokens.logout(pair.access_token, pair.refresh_token)
    tokens.logout(pair.access_token, pair.refresh_token)  # twice is fine
    raises(Unauthenticated, "TOKEN_REVOKED", lambda: tokens.verify_access(pair.access_token))
    raises(Unauthenticated, "TOKEN_REVOKED", lambda: tokens.refresh(pair.refresh_token))
    tokens.verify_access(kept.access_token)
    clock.advance(minutes=16)
    tokens.logout(kept.access_token)  # an expired access token: nothing left to keep
    raises(Unauthenticated, "TOKEN_INVALID", lambda: tokens.logout("garbage"))


def test_revoke_all_deactivation_and_reset_end_every_session(tokens: Tokens, accounts: Accounts, alice: User) -> None:
    for end in [
        lambda: tokens.revoke_all(alice.id),
        lambda: accounts.reset_password(alice.id, "a brand new secret"),
        lambda: accounts.set_active(alice.id, False),
    ]:
        accounts.set_active(alice.id, True)
        pair = tokens.issue(alice, "password")
        end()
        accounts.set_active(alice.id, True)  # reactivating does not revive old tokens
        raises(Unauthenticated, "TOKEN_REVOKED", lambda p=pair: tokens.verify_access(p.access_token))
        raises(Unauthenticated, "TOKEN_REVOKED", lambda p=pair: tokens.refresh(p.refresh_token))
    tokens.verify_access(tokens.issue(alice, "password").access_token)  # a fresh sign-in works


def test_deactivated_users_tokens_stop_working_at_once(tokens: Tokens, accounts: Accounts, alice: User) -> None:
    pair = tokens.issue(alice, "password")
    accounts.set_active(alice.id, False)
    raises(Unauthenticated, "TOKEN_REVOKED", lambda: tokens.verify_access(pair.access_token))
    raises(Unauthenticated, "INVALID_CREDENTIALS", lambda: tokens.issue(alice, "password"))


def test_verified_claims_carry_the_current_roles(tokens: Tokens, accounts: Accounts, alice: User) -> None:
    pair = tokens.issue(alice, "password")
    accounts.set_roles(alice.id, [Role.ANNOTATOR])
    assert tokens.verify_access(pair.access_token).user.roles == {Role.ANNOTATOR}


# --- API keys


@pytest.fixture
def api_keys(sessions: sessionmaker[Session], clock: FakeClock) -> ApiKeys:
    return ApiKeys(sessions, clock)


def test_api_key_secret_is_shown_once_and_stored_as_a_digest(
    api_keys: ApiKeys, alice: User, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    key, secret = api_keys.create(alice.id, "nightly export")
    assert re.fullmatch(rf"rsk_{key.id}_[A-Za-z0-9_-]{{43}}", secret)
    assert secret.startswith(key.prefix) and key.expires_at == clock.now + timedelta(days=90)
    with sessions() as session:
        row = session.get_one(ApiKeyRow, key.id)
    assert secret not in (row.digest, row.id, row.name)
    assert not any(hasattr(k, "secret") for k in api_keys.list(alice.id))
    clock.advance(hours=1)
    used, owner = api_keys.authenticate(secret)
    assert owner == alice and used.last_used_at == clock.now
    assert [k.last_used_at for k in api_keys.list(alice.id)] == [clock.now]


def test_bad_api_keys_are_refused_with_a_reason(
    api_keys: ApiKeys, accounts: Accounts, alice: User, clock: FakeClock
) -> None:
    key, secret = api_keys.create(alice.id, "ci", expires_at=clock.now + timedelta(days=1))
    public_id = key.id
    for bad in [
        "",
        "rsk_nope",
        secret[:-1] + ("A" if secret[-1] != "A" else "B"),
        f"rsk_{'0' * 16}_{'a' * 43}",
    ]:
        raises(Unauthenticated, "API_KEY_INVALID", lambda b=bad: api_keys.authenticate(b))
    clock.advance(days=1)
    raises(Unauthenticated, "API_KEY_EXPIRED", lambda: api_keys.authenticate(secret))
    _, secret = api_keys.create(alice.id, "ci 2")
    accounts.set_active(alice.id, False)
    raises(Unauthenticated, "API_KEY_REVOKED", lambda: api_keys.authenticate(secret))
    accounts.set_active(alice.id, True)
    api_keys.authenticate(secret)
    assert public_id in {k.id for k in api_keys.list(alice.id)}


def test_api_key_expiry_is_bounded(api_keys: ApiKeys, alice: User, clock: FakeClock) -> None:
    for expires_at in [clock.now, clock.now + timedelta(days=366), datetime(2027, 1, 1)]:
        raises(InvalidArgument, "INVALID_EXPIRY", lambda e=expires_at: api_keys.create(alice.id, "k", e))
    raises(InvalidArgument, "INVALID_NAME", lambda: api_keys.create(alice.id, " "))
    raises(NotFound, "USER_NOT_FOUND", lambda: api_keys.create("no-such-user", "k"))
    assert api_keys.create(alice.id, "k", clock.now + timedelta(days=365))[0].expires_at.year == 2027


def test_only_the_owner_or_an_admin_revokes_a_key(
    api_keys: ApiKeys, accounts: Accounts, alice: User, clock: FakeClock
) -> None:
    bob = accounts.create_user("bob", PASSWORD, [Role.RESEARCHER])
    admin = accounts.create_user("root", PASSWORD, [Role.ADMIN])
    key, secret = api_keys.create(alice.id, "mine")
    raises(PermissionDenied, "NOT_API_KEY_OWNER", lambda: api_keys.revoke(key.id, bob))
    assert api_keys.revoke(key.id, alice).revoked_at == clock.now
    raises(Unauthenticated, "API_KEY_REVOKED", lambda: api_keys.authenticate(secret))
    other, _ = api_keys.create(alice.id, "second")
    assert api_keys.revoke(other.id, admin).revoked_at is not None
    raises(NotFound, "API_KEY_NOT_FOUND", lambda: api_keys.revoke("0" * 16, admin))


# --- project membership


def test_project_membership(sessions: sessionmaker[Session], accounts: Accounts, alice: User) -> None:
    memberships = Memberships(sessions)
    bob = accounts.create_user("bob", PASSWORD, [Role.ANNOTATOR])
    memberships.set("p1", alice.id, ProjectRole.LEAD)
    memberships.set("p1", bob.id, "annotator")
    memberships.set("p2", bob.id, ProjectRole.VIEWER)
    memberships.set("p2", bob.id, ProjectRole.REVIEWER)  # a new role replaces the old one
    assert memberships.of_user(bob.id) == {"p1": ProjectRole.ANNOTATOR, "p2": ProjectRole.REVIEWER}
    assert memberships.of_project("p1") == [(alice, ProjectRole.LEAD), (bob, ProjectRole.ANNOTATOR)]
    memberships.remove("p1", bob.id)
    assert memberships.of_user(bob.id) == {"p2": ProjectRole.REVIEWER}
    assert memberships.of_project("nothing") == []
    raises(NotFound, "MEMBERSHIP_NOT_FOUND", lambda: memberships.remove("p1", bob.id))
    raises(NotFound, "USER_NOT_FOUND", lambda: memberships.set("p1", "no-such-user", "lead"))
    raises(InvalidArgument, "INVALID_ROLE", lambda: memberships.set("p1", bob.id, "owner"))
    raises(InvalidArgument, "INVALID_PROJECT_ID", lambda: memberships.set("", bob.id, "lead"))
