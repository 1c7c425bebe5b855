"""python -m radscholar_labeling"""

from radscholar_core.grpc_server import run_service
from radscholar_labeling.config import Settings
from radscholar_labeling.server import build_server

if __name__ == "__main__":
    run_service("labeling", Settings, build_server)
