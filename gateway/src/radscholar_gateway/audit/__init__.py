"""The gateway's audit trail: append-only and hash-chained.

Operators check it with ``python -m radscholar_gateway.audit verify --database-url URL``.
"""

from radscholar_gateway.audit.log import (
    GENESIS_HASH,
    AuditLog,
    AuditPage,
    AuditRecord,
    Outcome,
    Problem,
    ProblemKind,
    VerificationReport,
)

__all__ = [
    "GENESIS_HASH",
    "AuditLog",
    "AuditPage",
    "AuditRecord",
    "Outcome",
    "Problem",
    "ProblemKind",
    "VerificationReport",
]
