"""One behaviour suite for every object store backend: a local folder and S3 (a real moto server)."""

from __future__ import annotations

import hashlib
import io
import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from radscholar_core.errors import FailedPrecondition, InvalidArgument, NotFound
from radscholar_core.objectstore import (
    FilesystemObjectStore,
    ObjectStore,
    ObjectStoreSettings,
    open_object_store,
)

LARGE_BYTES = 20 * 1024 * 1024 + 123


def s3_settings(endpoint: str) -> ObjectStoreSettings:
    return ObjectStoreSettings(
        backend="s3",
        s3_endpoint=endpoint,
        s3_access_key="test-access",
        s3_secret_key="test-secret",  # type: ignore[arg-type]
        s3_bucket=f"rs-test-{secrets.token_hex(4)}",
        s3_secure=False,
    )


@pytest.fixture(params=["filesystem", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "filesystem":
        return open_object_store(ObjectStoreSettings(root=tmp_path / "objects"))
    return open_object_store(s3_settings(request.getfixturevalue("s3_endpoint")))


@pytest.fixture
def s3_store(s3_endpoint: str) -> ObjectStore:
    return open_object_store(s3_settings(s3_endpoint))


@pytest.fixture
def large_file(tmp_path: Path) -> Path:
    path = tmp_path / "series.zip"
    path.write_bytes(os.urandom(LARGE_BYTES))
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class FailingStream(io.RawIOBase):
    """Yields some bytes, then fails like a dropped upload."""

    def __init__(self, good_bytes: int) -> None:
        self.left = good_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self.left <= 0:
            raise ConnectionResetError("client went away")
        count = min(len(buffer), self.left)
        buffer[:count] = b"x" * count
        self.left -= count
        return count


def test_put_get_roundtrip(store: ObjectStore) -> None:
    info = store.put("studies/1/report.json", b'{"ok": true}', content_type="application/json")

    assert store.get("studies/1/report.json") == b'{"ok": true}'
    assert (info.key, info.size, info.content_type) == ("studies/1/report.json", 12, "application/json")
    assert store.exists("studies/1/report.json")
    assert not store.exists("studies/1/other.json")


def test_stat_describes_the_object(store: ObjectStore) -> None:
    before = datetime.now(UTC) - timedelta(minutes=1)
    put = store.put("a/b.txt", b"hello", content_type="text/plain")

    info = store.stat("a/b.txt")

    assert (info.key, info.size, info.content_type, info.etag) == ("a/b.txt", 5, "text/plain", put.etag)
    assert info.etag
    assert before <= info.modified <= datetime.now(UTC) + timedelta(minutes=1)


def test_overwrite_replaces_content_and_etag(store: ObjectStore) -> None:
    first = store.put("feature_tables/t1.parquet", b"version one")
    second = store.put("feature_tables/t1.parquet", b"version two!")

    assert store.get("feature_tables/t1.parquet") == b"version two!"
    assert first.etag != second.etag
    assert store.stat("feature_tables/t1.parquet").size == 12


def test_an_object_for_one_request_reads_back_like_any_other(store: ObjectStore) -> None:
    store.put("staging/u1", b"durable first")  # its metadata must not describe what replaces it

    put = store.put("staging/u1", io.BytesIO(b"scratch bytes"), durable=False)

    assert store.get("staging/u1") == b"scratch bytes"
    assert store.stat("staging/u1").etag == put.etag
    assert store.stat("staging/u1").size == 13
    store.delete("staging/u1")
    assert not store.exists("staging/u1")


def test_large_file_roundtrip_streams_in_parts(store: ObjectStore, large_file: Path, tmp_path: Path) -> None:
    info = store.put_file("series/ct.zip", large_file)
    downloaded = tmp_path / "down" / "ct.zip"
    store.get_file("series/ct.zip", downloaded)

    assert info.size == LARGE_BYTES
    assert info.content_type == "application/zip"
    assert sha256(downloaded) == sha256(large_file)


def test_large_stream_of_unknown_length(store: ObjectStore, large_file: Path) -> None:
    with large_file.open("rb") as stream:
        info = store.put("checkpoints/epoch-3.pt", stream)

    digest = hashlib.sha256()
    with store.open("checkpoints/epoch-3.pt") as reader:
        while chunk := reader.read(1 << 20):
            digest.update(chunk)

    assert info.size == LARGE_BYTES
    assert digest.hexdigest() == sha256(large_file)
    if not isinstance(store, FilesystemObjectStore):
        assert "-" in info.etag  # S3 marks multipart uploads' ETags with "-<parts>"


def test_list_by_prefix_sorted_by_key(store: ObjectStore) -> None:
    for key in ["p/b", "p/a/2", "p-x", "p/a/1", "q/1", "p/a-1"]:
        store.put(key, key.encode())

    assert [info.key for info in store.list("p/")] == ["p/a-1", "p/a/1", "p/a/2", "p/b"]
    assert [info.key for info in store.list("p")] == ["p-x", "p/a-1", "p/a/1", "p/a/2", "p/b"]
    assert [info.key for info in store.list("p/a")] == ["p/a-1", "p/a/1", "p/a/2"]
    assert [info.key for info in store.list()] == ["p-x", "p/a-1", "p/a/1", "p/a/2", "p/b", "q/1"]
    assert [info.size for info in store.list("q/")] == [3]
    assert list(store.list("nothing/")) == []


def test_delete_removes_and_is_idempotent(store: ObjectStore) -> None:
    store.put("masks/1.nii", b"mask")
    store.put("masks/2.nii", b"mask")

    store.delete("masks/1.nii")
    store.delete("masks/1.nii")

    assert not store.exists("masks/1.nii")
    assert [info.key for info in store.list("masks/")] == ["masks/2.nii"]


@pytest.mark.parametrize("read", ["get", "open", "stat", "get_file"])
def test_missing_key_is_not_found(store: ObjectStore, read: str, tmp_path: Path) -> None:
    args = (tmp_path / "out",) if read == "get_file" else ()

    with pytest.raises(NotFound, match="missing/key") as error:
        getattr(store, read)("missing/key", *args)

    assert error.value.reason == "OBJECT_NOT_FOUND"


@pytest.mark.parametrize(
    "key",
    ["", "/abs", "a/../b", "..", "a//b", "a/", "./a", "a\\b", "a/\x00", "x" * 1025, "s/" + "y" * 256],
)
def test_bad_keys_are_invalid_arguments(store: ObjectStore, key: str) -> None:
    with pytest.raises(InvalidArgument) as error:
        store.put(key, b"data")

    assert error.value.reason == "INVALID_OBJECT_KEY"
    assert error.value.details == {"key": key}
    assert repr(key) in error.value.message
    for call in (store.get, store.stat, store.exists, store.delete):
        with pytest.raises(InvalidArgument):
            call(key)


def test_bad_prefix_is_invalid_argument(store: ObjectStore) -> None:
    with pytest.raises(InvalidArgument):
        list(store.list("../"))


def test_failed_upload_keeps_the_previous_object(store: ObjectStore) -> None:
    store.put("tables/t.parquet", b"good")

    with pytest.raises(ConnectionResetError):
        store.put("tables/t.parquet", io.BufferedReader(FailingStream(3 << 20)))
    with pytest.raises(ConnectionResetError):
        store.put("tables/new.parquet", io.BufferedReader(FailingStream(1000)))

    assert store.get("tables/t.parquet") == b"good"
    assert not store.exists("tables/new.parquet")
    assert [info.key for info in store.list("tables/")] == ["tables/t.parquet"]


def test_filesystem_writes_leave_no_temp_files(tmp_path: Path) -> None:
    store = FilesystemObjectStore(tmp_path)
    store.put("a/b", b"1")
    with pytest.raises(ConnectionResetError):
        store.put("a/b", io.BufferedReader(FailingStream(10)))

    assert list((tmp_path / "tmp").iterdir()) == []
    assert store.get("a/b") == b"1"


def test_filesystem_reader_keeps_the_version_it_opened(tmp_path: Path) -> None:
    store = FilesystemObjectStore(tmp_path)
    store.put("a", b"old" * 1000)

    with store.open("a") as reader:
        store.put("a", b"new")
        assert reader.read() == b"old" * 1000
    assert store.get("a") == b"new"


def test_filesystem_recovers_metadata_of_files_copied_in(tmp_path: Path) -> None:
    store = FilesystemObjectStore(tmp_path)
    (tmp_path / "data" / "import").mkdir()
    (tmp_path / "data" / "import" / "scan.json").write_bytes(b"{}")

    info = store.stat("import/scan.json")

    assert (info.size, info.content_type, info.etag) == (
        2,
        "application/json",
        hashlib.sha256(b"{}").hexdigest(),
    )


def test_filesystem_key_cannot_be_object_and_prefix(tmp_path: Path) -> None:
    store = FilesystemObjectStore(tmp_path)
    store.put("a", b"1")

    with pytest.raises(FailedPrecondition) as error:
        store.put("a/b", b"2")

    assert error.value.reason == "OBJECT_KEY_CONFLICT"
    assert store.get("a") == b"1"


def test_filesystem_delete_prunes_empty_folders(tmp_path: Path) -> None:
    store = FilesystemObjectStore(tmp_path)
    store.put("x/y/z", b"1")
    store.delete("x/y/z")

    assert list((tmp_path / "data").iterdir()) == []
    store.put("x", b"now a plain key")
    assert store.get("x") == b"now a plain key"


def test_filesystem_has_no_presigned_urls(tmp_path: Path) -> None:
    store = FilesystemObjectStore(tmp_path)

    with pytest.raises(FailedPrecondition) as error:
        store.presigned_get_url("a")

    assert error.value.reason == "PRESIGNED_URL_UNSUPPORTED"


def test_presigned_get_url_serves_the_object(s3_store: ObjectStore) -> None:
    s3_store.put("reports/r.pdf", b"%PDF-1.7", content_type="application/pdf")

    response = httpx.get(s3_store.presigned_get_url("reports/r.pdf", timedelta(minutes=5)))

    assert response.status_code == 200
    assert response.content == b"%PDF-1.7"


def test_presigned_put_url_accepts_an_upload(s3_store: ObjectStore) -> None:
    url = s3_store.presigned_put_url("uploads/notes.txt", timedelta(minutes=5))

    response = httpx.put(url, content=b"from a browser", headers={"Content-Type": "text/plain"})

    assert response.status_code == 200
    assert s3_store.get("uploads/notes.txt") == b"from a browser"
    assert s3_store.stat("uploads/notes.txt").content_type == "text/plain"


def test_presigned_url_expiry_is_bounded(s3_store: ObjectStore) -> None:
    with pytest.raises(InvalidArgument):
        s3_store.presigned_get_url("a", timedelta(days=8))


def test_presigned_urls_are_signed_for_the_public_url(s3_endpoint: str) -> None:
    settings = s3_settings(s3_endpoint).model_copy(update={"s3_public_url": "https://s3.example.org"})

    url = open_object_store(settings).presigned_get_url("a/b")

    assert url.startswith(f"https://s3.example.org/{settings.s3_bucket}/a/b?")


def test_s3_settings_require_endpoint_and_credentials() -> None:
    with pytest.raises(ValidationError, match="s3_endpoint, s3_access_key, s3_secret_key"):
        ObjectStoreSettings(backend="s3")
    with pytest.raises(ValidationError, match="without a scheme"):
        ObjectStoreSettings(backend="s3", s3_endpoint="http://m:9000", s3_access_key="a", s3_secret_key="b")  # type: ignore[arg-type]


def test_settings_nest_in_a_service_settings_class(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic_settings import BaseSettings, SettingsConfigDict

    class ServiceSettings(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="RS_TEST_", env_nested_delimiter="__")
        object_store: ObjectStoreSettings = ObjectStoreSettings()

    for name, value in {
        "BACKEND": "s3",
        "S3_ENDPOINT": "minio:9000",
        "S3_ACCESS_KEY": "a",
        "S3_SECRET_KEY": "b",
    }.items():
        monkeypatch.setenv(f"RS_TEST_OBJECT_STORE__{name}", value)

    settings = ServiceSettings().object_store

    assert (settings.backend, settings.s3_endpoint) == ("s3", "minio:9000")
    assert settings.s3_secret_key is not None and settings.s3_secret_key.get_secret_value() == "b"


def test_local_path_is_the_object_itself_on_a_local_store(store: ObjectStore) -> None:
    store.put("staging/a.dcm", b"DICM bytes")
    path = store.local_path("staging/a.dcm")
    if isinstance(store, FilesystemObjectStore):
        assert path is not None and path.read_bytes() == b"DICM bytes"
    else:
        assert path is None  # a remote store: callers download with get_file
    with pytest.raises(NotFound):
        store.local_path("staging/missing.dcm")
