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


def port_problem(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on, or None when it is free.

    Binds with SO_REUSEADDR like the servers do, so connections lingering in TIME_WAIT from an
    earlier run do not count; a wildcard host ("0.0.0.0") is busy when any address holds the port.
    """
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return "is already in use"
            return f"cannot be listened on ({error.strerror or error})"
    return None


def port_in_use(host: str, port: int) -> bool:
    return port_problem(host, port) == "is already in use"


@dataclass(frozen=True)
class PortConflict:
    claim: PortClaim
    problem: str

    def describe(self) -> str:
        claim = self.claim
        return f"port {claim.port} on {claim.host} ({claim.component}: {claim.what}) {self.problem}"


def port_conflicts(claims: Iterable[PortClaim]) -> list[PortConflict]:
    """The claims whose port this process cannot listen on, with the reason."""
    conflicts = []
    for claim in claims:
        problem = port_problem(claim.host, claim.port)
        if problem is not None:
            conflicts.append(PortConflict(claim, problem))
    return conflicts
