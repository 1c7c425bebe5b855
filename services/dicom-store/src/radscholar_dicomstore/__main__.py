"""python -m radscholar_dicomstore"""

from radscholar_core.grpc_server import run_service
from radscholar_dicomstore.config import Settings
from radscholar_dicomstore.server import build_server

if __name__ == "__main__":
    run_service("dicomstore", Settings, build_server)
