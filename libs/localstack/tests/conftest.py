"""Shared fixtures: a set of stack secrets with a real identity key pair and recognisable values."""

import pytest

from radscholar_core.identity import generate_key_pair
from radscholar_localstack.credentials import StackSecrets


@pytest.fixture
def secrets() -> StackSecrets:
    private_pem, public_pem = generate_key_pair()
    return StackSecrets(
        orthanc_password="pw",
        ray_token="tok",
        identity_private_key=private_pem,
        identity_public_key=public_pem,
        token_secret="t" * 43,
        admin_password="admin-password-value",
        deidentification_secret="d" * 43,
        admin_password_created=False,
    )
