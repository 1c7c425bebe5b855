"""python -m radscholar_radiomics"""

from radscholar_core.grpc_server import run_service
from radscholar_radiomics.config import Settings
from radscholar_radiomics.server import build_server

if __name__ == "__main__":
    run_service("radiomics", Settings, build_server)
