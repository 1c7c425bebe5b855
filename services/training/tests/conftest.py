"""Real servers for the training service's tests: an MLflow tracking server on a free port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from radscholar_localstack.mlflow_server import running_mlflow


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The tracking URI of an MLflow server shared by the session's tests (each uses its own names)."""
    with running_mlflow(tmp_path_factory.mktemp("mlflow")) as url:
        yield url
