"""The bot's start-up cache: a folder only this user can touch, files that carry their own SHA-256, no code.

A cache only saves start-up time, so anything doubtful is ignored (and rebuilt): a folder that is not ours or
that others could write to, a file that is not a plain file of ours, a digest that does not match. Nothing
read from it can run code: callers store JSON and plain numpy arrays, never Python objects.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import stat
from pathlib import Path

log = logging.getLogger(__name__)

_MAGIC = b"qingpu-bot-cache 1 sha256="
_DIGEST_HEX = 64
_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_OPEN_FILE = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_CREATE_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def default_cache_dir() -> Path:
    """The per-user cache folder of the command line: $XDG_CACHE_HOME/qingpu-bot or ~/.cache/qingpu-bot."""
    base = os.environ.get("XDG_CACHE_HOME") or ""
    return (Path(base) if Path(base).is_absolute() else Path.home() / ".cache") / "qingpu-bot"


def _refusal(info: os.stat_result) -> str | None:
    """Why a folder (or file) may not be trusted: not ours, or others may write to it (or read it)."""
    if info.st_uid != os.geteuid():
        return f"it belongs to user {info.st_uid}, not to this process's user {os.geteuid()}"
    if stat.S_IMODE(info.st_mode) & 0o077:
        return f"its mode is {stat.S_IMODE(info.st_mode):o}: group and others must have no access"
    return None


class CacheDir:
    """A cache folder opened once and checked: owned by this user, mode 0700 (no group or other access), not
    a symbolic link. Files are read and written relative to the opened folder, so the folder cannot be
    swapped for another after the check. Use `CacheDir.open(path)`, which returns None when the folder
    cannot be used, and `close()` when done (or `with`)."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd

    @classmethod
    def open(cls, path: Path | None) -> CacheDir | None:
        """The folder at `path`, created 0700 if missing; None (with a warning) when it is not safe to use.
        A folder of someone else's, or too open, is left as it is: never chmod what we did not make."""
        if path is None:
            return None
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):
                os.mkdir(path, 0o700)
            fd = os.open(path, _OPEN_DIR)
        except OSError as exc:
            log.warning("bot cache %s is not used (%s): building without it", path, exc.strerror or exc)
            return None
        reason = _refusal(os.fstat(fd))
        if reason is not None:
            os.close(fd)
            log.warning("bot cache %s is not used: %s; building without it", path, reason)
            return None
        return cls(path, fd)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> CacheDir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read(self, name: str) -> bytes | None:
        """The payload of a cache file, or None when it is missing, not a plain file of ours, or does not
        match the digest it was written with (a torn or damaged file)."""
        try:
            fd = os.open(name, _OPEN_FILE, dir_fd=self._fd)
        except OSError:
            return None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or _refusal(info) is not None:
                log.warning("bot cache file %s is ignored: not a private file of this user", self.path / name)
                return None
            with os.fdopen(fd, "rb", closefd=False) as fh:
                data = fh.read()
        except OSError:
            return None
        finally:
            os.close(fd)
        header_end = len(_MAGIC) + _DIGEST_HEX
        header, payload = data[:header_end], data[header_end + 1 :]
        if not header.startswith(_MAGIC) or data[header_end : header_end + 1] != b"\n":
            log.warning("bot cache file %s is ignored: not a cache file", self.path / name)
            return None
        if hashlib.sha256(payload).hexdigest().encode() != header[len(_MAGIC) :]:
            log.warning("bot cache file %s is ignored: its digest does not match", self.path / name)
            return None
        return payload

    def write(self, name: str, payload: bytes) -> None:
        """Store a payload with its digest, atomically (a reader sees the old file or the new one, whole).
        A failure is only logged: the cache is rebuilt next time."""
        partial = f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(partial, _CREATE_FILE, 0o600, dir_fd=self._fd)
            with os.fdopen(fd, "wb") as fh:
                fh.write(_MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n")
                fh.write(payload)
            os.replace(partial, name, src_dir_fd=self._fd, dst_dir_fd=self._fd)
        except OSError as exc:
            log.warning("bot cache file %s was not written (%s)", self.path / name, exc.strerror or exc)
            with contextlib.suppress(OSError):
                os.unlink(partial, dir_fd=self._fd)
