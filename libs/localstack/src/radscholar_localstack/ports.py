"""Checks that every port the stack will listen on is free before anything starts."""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class PortClaim:
    """One listener a component opens: ``what`` names it for people ("orthanc DICOM")."""

    component: str
    what: str
    host: str
    port: int


def port_in_use(host: str, port: int) -> bool:
    """True when binding ``host:port`` fails because something already listens there.

    Binds with SO_REUSEADDR like the servers do, so connections lingering in TIME_WAIT from an
    earlier run do not count; a wildcard host ("0.0.0.0") is busy when any address holds the port.
    """
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as error:
            if error.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


def port_conflicts(claims: Iterable[PortClaim]) -> list[PortClaim]:
    """The claims whose port is already taken on this machine."""
    return [claim for claim in claims if port_in_use(claim.host, claim.port)]


def describe_conflicts(conflicts: Iterable[PortClaim]) -> str:
    lines = [
        f"port {claim.port} on {claim.host} ({claim.component}: {claim.what}) is already in use"
        for claim in conflicts
    ]
    return "\n".join(lines)
