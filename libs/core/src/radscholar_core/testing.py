"""Helpers for tests that start real servers: free ports, an S3 endpoint, throw-away PostgreSQL databases.

Test-only: importing this module needs nothing beyond radscholar_core, but ``moto_server`` needs
``moto[server]`` and the PostgreSQL helpers need ``psycopg``.
"""

from __future__ import annotations

import io
import secrets
import socket
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import grpc
from sqlalchemy import create_engine, make_url
from sqlalchemy.pool import NullPool

from radscholar_core.identity import (
    Identity,
    IdentityKeys,
    IdentitySigner,
    generate_key_pair,
    key_id_of,
    signed_identity_interceptors,
)

DEFAULT_POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def zipped(entries: dict[str, bytes]) -> bytes:
    """A zip archive holding ``entries`` (name -> bytes), in order."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now (prefer binding port 0 where a server allows it)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@contextmanager
def moto_server() -> Iterator[str]:
    """Runs moto's S3-compatible server on 127.0.0.1 in a thread; yields its ``host:port``."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"{host}:{port}"
    finally:
        server.stop()


def postgres_available(admin_url: str = DEFAULT_POSTGRES_ADMIN_URL) -> bool:
    """Whether a PostgreSQL server answers at ``admin_url`` (tests skip their PostgreSQL case if not)."""
    engine = create_engine(admin_url, poolclass=NullPool, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return True
    except Exception:
        return False
    finally:
        engine.dispose()


@contextmanager
def temporary_postgres_database(admin_url: str = DEFAULT_POSTGRES_ADMIN_URL) -> Iterator[str]:
    """Creates an empty database ``rs_test_<random>``, yields its URL, and drops it afterwards."""
    name = f"rs_test_{secrets.token_hex(6)}"
    admin = create_engine(admin_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


@dataclass(frozen=True)
class GatewayKeys:
    """A throw-away gateway signing key: services trust `keys`; `interceptors` sign as someone."""

    keys: IdentityKeys
    signer: IdentitySigner

    def interceptors(self, identity: Identity | None = None) -> list[grpc.aio.ClientInterceptor]:
        """Client interceptors signing every call as `identity` (a researcher by default)."""
        chosen = identity or person()
        return signed_identity_interceptors(self.signer, lambda: chosen)


def gateway_keys() -> GatewayKeys:
    private_pem, public_pem = generate_key_pair()
    key_id = key_id_of(public_pem)
    return GatewayKeys(IdentityKeys(public_keys={key_id: public_pem}), IdentitySigner(private_pem, key_id))


def person(
    username: str = "rita.researcher",
    roles: frozenset[str] = frozenset({"researcher"}),
    projects: dict[str, str] | None = None,
) -> Identity:
    """An identity as the gateway would sign it for a signed-in user."""
    return Identity(
        subject=f"user-{username}",
        username=username,
        roles=roles,
        projects=projects or {},
        via="password",
        client_address="127.0.0.1",
        expires_at=datetime.now(UTC) + timedelta(hours=1),
    )
