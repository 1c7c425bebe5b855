"""python -m radscholar_gateway [serve]            run the gateway
python -m radscholar_gateway create-admin NAME    create an admin (password read from stdin or prompted)
"""

import argparse
import getpass
import sys

import uvicorn
from pydantic import ValidationError

from radscholar_core.errors import DomainError
from radscholar_core.logs import configure_logging
from radscholar_gateway.app import build_access_control, create_app
from radscholar_gateway.config import Settings


def _settings() -> Settings:
    try:
        return Settings()  # type: ignore[call-arg]
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        sys.stderr.write(f"gateway: invalid settings: {problems}\n")
        raise SystemExit(2) from None


def serve(settings: Settings) -> None:
    configure_logging("gateway", settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=10,
    )


def create_admin(settings: Settings, username: str) -> None:
    password = sys.stdin.readline().rstrip("\n") if not sys.stdin.isatty() else getpass.getpass("password: ")
    try:
        user = build_access_control(settings).accounts.create_user(username, password, ["admin"])
    except DomainError as exc:
        sys.stderr.write(f"gateway: {exc.reason}: {exc.message}\n")
        raise SystemExit(1) from None
    sys.stdout.write(f"created admin {user.username} ({user.id})\n")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m radscholar_gateway", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the gateway (the default)")
    admin = commands.add_parser("create-admin", help="create an admin user in the gateway database")
    admin.add_argument("username")
    args = parser.parse_args()
    settings = _settings()
    if args.command == "create-admin":
        create_admin(settings, args.username)
    else:
        serve(settings)


if __name__ == "__main__":
    main()
