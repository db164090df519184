"""Content-addressed blob storage: a Protocol, and its implementation on the local disk."""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import Protocol, runtime_checkable

from backend.uploads.images import ProcessedImage

# A file name and nothing else: no separators, no "..", no hidden names; at least four characters
# before the extension so the two shard folders can be taken from it.
_KEY = re.compile(r"[A-Za-z0-9_-]{4,}(\.[A-Za-z0-9]{1,10})?")


@runtime_checkable
class Storage(Protocol):
    def put(self, key: str, data: bytes) -> None:
        """Store `data` under `key`; idempotent, since a key always names the same content."""
        ...

    def get(self, key: str) -> bytes:
        """The bytes stored under `key`; KeyError when there are none."""
        ...

    def exists(self, key: str) -> bool: ...


class LocalStorage:
    """Blobs in files under `root`, sharded by the key's first characters: ab/cd/abcdef….jpg."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        if path.is_file():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written beside its final name and renamed over it, so a reader never sees half a file;
        # concurrent writers of the same key each rename a complete copy of the same content.
        temporary = path.with_name(f".{key}.{secrets.token_hex(8)}.tmp")
        try:
            with temporary.open("xb") as file:
                file.write(data)
                file.flush()
                # Durable before the rename: a crash must not leave an empty file that put() then trusts.
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise KeyError(key) from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def _path(self, key: str) -> Path:
        if not _KEY.fullmatch(key):
            raise ValueError(f"not a storage key: {key!r}")
        return self.root / key[:2] / key[2:4] / key


def blob_key(image: ProcessedImage) -> str:
    return f"{image.sha256}.{image.extension}"
