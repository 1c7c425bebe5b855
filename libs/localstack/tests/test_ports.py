"""Port-in-use detection names the component and port."""

import socket
from collections.abc import Iterator

import pytest

from radscholar_localstack.ports import PortClaim, PortConflict, port_conflicts, port_in_use


@pytest.fixture
def listener() -> Iterator[int]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_listening_port_is_in_use(listener: int) -> None:
    assert port_in_use("127.0.0.1", listener)


def test_a_wildcard_check_sees_a_loopback_listener(listener: int) -> None:
    assert port_in_use("0.0.0.0", listener)


def test_a_free_port_is_not_in_use() -> None:
    assert not port_in_use("127.0.0.1", free_port())


def test_a_closed_connection_in_time_wait_does_not_count() -> None:
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the server side closes first and keeps TIME_WAIT
    client.close()
    server.close()
    assert not port_in_use("127.0.0.1", port)


def test_conflicts_name_component_and_port(listener: int) -> None:
    claims = [
        PortClaim("orthanc", "HTTP", "0.0.0.0", listener),
        PortClaim("mlflow", "HTTP", "127.0.0.1", free_port()),
    ]
    conflicts = port_conflicts(claims)
    assert conflicts == [PortConflict(claims[0], "is already in use")]
    assert conflicts[0].describe() == f"port {listener} on 0.0.0.0 (orthanc: HTTP) is already in use"


def test_an_address_not_on_this_machine_is_reported() -> None:
    (conflict,) = port_conflicts([PortClaim("gateway", "HTTP", "192.0.2.123", free_port())])
    assert conflict.problem.startswith("cannot be listened on")
