"""``python -m radscholar_gateway.audit verify``: checks the audit trail's hash chain, for operators.

Exits 0 when the chain is intact, 1 when it is broken, 2 on a usage error. The database URL may come
from RADSCHOLAR_GATEWAY_DATABASE_URL instead of the command line (which other users can see).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from radscholar_core.db import create_engine_for, session_factory
from radscholar_gateway.audit.log import AuditLog


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m radscholar_gateway.audit", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    verify = commands.add_parser("verify", help="recompute every hash and link; exit 1 if the chain is broken")
    default_url = os.environ.get("RADSCHOLAR_GATEWAY_DATABASE_URL")
    verify.add_argument(
        "--database-url",
        default=default_url,
        required=default_url is None,
        help="the gateway's database, e.g. postgresql://radscholar@db/gateway or sqlite:///var/gateway/gateway.db",
    )
    args = parser.parse_args(argv)
    engine = create_engine_for(args.database_url)
    try:
        report = AuditLog(session_factory(engine)).verify()
    finally:
        engine.dispose()
    sys.stdout.write(f"{report}\n")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
