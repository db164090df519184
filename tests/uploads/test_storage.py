"""Content-addressed blobs on the local disk."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from backend.uploads.images import ProcessedImage
from backend.uploads.storage import LocalStorage, Storage, blob_key

CONTENT = b"\xff\xd8 not really a jpeg \xff\xd9"
KEY = f"{hashlib.sha256(CONTENT).hexdigest()}.jpg"


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "uploads")


def files_under(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def test_local_storage_is_a_storage(storage):
    assert isinstance(storage, Storage)


def test_put_then_get_and_exists(storage):
    assert not storage.exists(KEY)

    storage.put(KEY, CONTENT)

    assert storage.exists(KEY)
    assert storage.get(KEY) == CONTENT


def test_get_of_a_missing_key_raises_key_error(storage):
    with pytest.raises(KeyError):
        storage.get(KEY)


def test_put_is_idempotent(storage):
    storage.put(KEY, CONTENT)
    first_written = (storage.root / KEY[:2] / KEY[2:4] / KEY).stat().st_mtime_ns

    storage.put(KEY, CONTENT)

    assert storage.get(KEY) == CONTENT
    assert (storage.root / KEY[:2] / KEY[2:4] / KEY).stat().st_mtime_ns == first_written
    assert files_under(storage.root) == [f"{KEY[:2]}/{KEY[2:4]}/{KEY}"]


def test_keys_are_sharded_by_their_first_characters(storage):
    storage.put("abcdef0123.png", b"one")
    storage.put("abce99.webp", b"two")
    storage.put("ffff.jpg", b"three")

    assert files_under(storage.root) == ["ab/cd/abcdef0123.png", "ab/ce/abce99.webp", "ff/ff/ffff.jpg"]


def test_a_write_leaves_no_temporary_file(storage):
    storage.put(KEY, CONTENT)

    assert files_under(storage.root) == [f"{KEY[:2]}/{KEY[2:4]}/{KEY}"]


def test_a_failed_write_leaves_neither_the_blob_nor_a_temporary_file(storage, monkeypatch):
    def failing_replace(source: object, destination: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)

    with pytest.raises(OSError, match="disk full"):
        storage.put(KEY, CONTENT)

    assert not storage.exists(KEY)
    assert files_under(storage.root) == []


@pytest.mark.parametrize(
    "key",
    [
        "",
        "abc",  # too short to shard
        "../../etc/passwd",
        "..",
        "abcd..jpg",
        "ab/cdef.jpg",
        "ab\\cdef.jpg",
        "/abcdef.jpg",
        ".abcdef.jpg",  # hidden, like our temporary files
        "abcdef.jpg\n",
        "abcdef\x00.jpg",
        "abcd.tar.gz",
    ],
)
def test_refuses_keys_that_are_not_plain_file_names(storage, key):
    for operation in (
        lambda: storage.put(key, CONTENT),
        lambda: storage.get(key),
        lambda: storage.exists(key),
    ):
        with pytest.raises(ValueError):
            operation()
    assert not storage.root.exists()


def test_blob_key_is_the_content_hash_and_extension():
    image = ProcessedImage(
        content=CONTENT,
        content_type="image/jpeg",
        extension="jpg",
        width=1,
        height=1,
        sha256=hashlib.sha256(CONTENT).hexdigest(),
    )

    assert blob_key(image) == KEY
