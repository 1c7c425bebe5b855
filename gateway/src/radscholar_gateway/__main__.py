"""python -m radscholar_gateway"""

import sys

import uvicorn
from pydantic import ValidationError

from radscholar_core.logs import configure_logging
from radscholar_gateway.app import create_app
from radscholar_gateway.config import Settings


def main() -> None:
    try:
        settings = Settings()  # type: ignore[call-arg]
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        sys.stderr.write(f"gateway: invalid settings: {problems}\n")
        raise SystemExit(2) from None
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


if __name__ == "__main__":
    main()
