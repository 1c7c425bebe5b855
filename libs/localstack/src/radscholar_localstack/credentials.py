"""Secrets generated once per data directory and kept in owner-only files (never logged)."""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from radscholar_core.identity import generate_key_pair, key_id_of, load_private_key
from radscholar_localstack.config import ADMIN_USERNAME, StackConfig

SECRET_FILE_MODE = 0o600
SECRET_DIR_MODE = 0o700

#: The gateway refuses a shorter token secret.
MIN_TOKEN_SECRET_LENGTH = 32


def ensure_secret_file(path: Path, generate: Callable[[], str]) -> tuple[str, bool]:
    """The secret stored at ``path`` and whether this call created it (with ``generate()``).

    The file is created with mode 600 in a directory with mode 700, and its mode is tightened again
    if someone loosened it; an empty or unreadable file is an error rather than silently replaced,
    because other stores (Orthanc's users, the gateway's admin) were configured with the old value.
    The value is returned without surrounding whitespace, whether it was read or just written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, SECRET_DIR_MODE)
    value = generate()
    if not value.strip():
        raise ValueError(f"refusing to store an empty secret in {path}")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SECRET_FILE_MODE)
    except FileExistsError:
        if stat.S_IMODE(path.stat().st_mode) != SECRET_FILE_MODE:
            os.chmod(path, SECRET_FILE_MODE)
        existing = path.read_text(encoding="utf-8").strip()
        if not existing:
            raise ValueError(f"secret file {path} is empty; delete it to generate a new one") from None
        return existing, False
    try:
        os.write(fd, value.encode("utf-8"))
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    os.close(fd)
    return value.strip(), True


def ensure_secret(path: Path, nbytes: int = 32) -> str:
    """The secret stored at ``path``, generating it (``secrets.token_urlsafe``) on first use."""
    value, _ = ensure_secret_file(path, lambda: secrets.token_urlsafe(nbytes))
    return value


def write_private_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically with mode 600 (the file holds a secret)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SECRET_FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def public_key_of(private_pem: str) -> str:
    """The PEM public key of an Ed25519 private key (PEM); ValueError when it is not one."""
    public = load_private_key(private_pem).public_key()
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def ensure_identity_key_pair(private_path: Path, public_path: Path) -> tuple[str, str]:
    """The gateway's Ed25519 identity key pair as ``(private_pem, public_pem)``, generated once.

    The private key is the source of truth: the public key file is (re)written from it whenever it
    is missing or does not match, so the services always trust the key the gateway signs with.
    """
    private_pem, _ = ensure_secret_file(private_path, lambda: generate_key_pair()[0])
    try:
        public_pem = public_key_of(private_pem)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"{private_path} is not an Ed25519 private key ({error}); delete it to generate a new pair"
        ) from None
    try:
        stored = public_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        stored = None
    if stored is None or stored.strip() != public_pem.strip():
        write_private_file(public_path, public_pem)
    elif stat.S_IMODE(public_path.stat().st_mode) != SECRET_FILE_MODE:
        os.chmod(public_path, SECRET_FILE_MODE)
    return private_pem, public_pem


def generate_admin_password(username: str = ADMIN_USERNAME) -> str:
    """A random password the gateway's policy accepts (long, and never containing the user name)."""
    while True:
        password = secrets.token_urlsafe(24)  # 32 characters
        if username.lower() not in password.lower():
            return password


@dataclass(frozen=True)
class StackSecrets:
    """Everything secret the stack generates once per data directory (mode 600 files); never logged."""

    orthanc_password: str = field(repr=False)
    ray_token: str = field(repr=False)
    identity_private_key: str = field(repr=False)  # PEM, the gateway's only
    identity_public_key: str  # PEM, given to every service (not secret)
    token_secret: str = field(repr=False)
    admin_password: str = field(repr=False)
    deidentification_secret: str = field(repr=False, default="")  # the DICOM store's pseudonym master key
    admin_password_created: bool = False  # this start generated it: tell the operator where it is

    @property
    def identity_key_id(self) -> str:
        return key_id_of(self.identity_public_key)


def load_secrets(config: StackConfig) -> StackSecrets:
    """Read the data directory's secrets, generating those that do not exist yet.

    ValueError names the file when one is unusable (empty, not a key, too short a token secret).
    """
    private_pem, public_pem = ensure_identity_key_pair(
        config.identity_private_key_file, config.identity_public_key_file
    )
    token_secret = ensure_secret(config.token_secret_file)
    if len(token_secret) < MIN_TOKEN_SECRET_LENGTH:
        raise ValueError(
            f"{config.token_secret_file} holds fewer than {MIN_TOKEN_SECRET_LENGTH} characters; "
            "delete it to generate a new one (every signed-in user will have to sign in again)"
        )
    admin_password, created = ensure_secret_file(config.admin_password_file, generate_admin_password)
    return StackSecrets(
        orthanc_password=ensure_secret(config.orthanc_password_file),
        ray_token=ensure_secret(config.ray_token_file),
        identity_private_key=private_pem,
        identity_public_key=public_pem,
        token_secret=token_secret,
        admin_password=admin_password,
        admin_password_created=created,
        deidentification_secret=ensure_secret(config.deidentification_secret_file),
    )
