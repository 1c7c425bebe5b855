"""python -m radscholar_training"""

from radscholar_core.grpc_server import run_service
from radscholar_training.config import Settings
from radscholar_training.server import build_server

if __name__ == "__main__":
    run_service("training", Settings, build_server)
