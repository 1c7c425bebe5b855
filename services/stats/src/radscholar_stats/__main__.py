"""python -m radscholar_stats"""

from radscholar_core.grpc_server import run_service
from radscholar_stats.config import Settings
from radscholar_stats.server import build_server

if __name__ == "__main__":
    run_service("stats", Settings, build_server)
