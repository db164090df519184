"""The start-up cache: only in a private folder of the caller's, only data (never code), digests checked."""

from __future__ import annotations

import io
import json
import logging
import os
import pickle
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bot import Bot
from bot.cache import CacheDir
from bot.nlu import _models_from_bytes
from tests.support.bot import CONTENT, FIXTURES, REPO

GAZETTEER = FIXTURES / "estates.csv"
TEXTS = [
    "宜达新居8号楼有人在楼顶搭阳光房",
    "楼上装修把承重墙砸了，现在还在砸",
    "对面一套房子打了好多隔断，住了十几个人",
    "垃圾不分类罚多少钱",
    "在自家露台搭阳光房违法吗？",
    "我的投诉QP20240501-0003处理得怎么样了",
    "你好",
]


class _Hostile:
    """Unpickling this creates `marker`: proof that a planted file was loaded as code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _hostile_pickle(marker: Path) -> bytes:
    return pickle.dumps(_Hostile(marker))


def _private(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder filled by one load (which trained, and wrote what it learnt)."""
    folder = tmp_path_factory.mktemp("warm") / "cache"
    Bot.load(CONTENT, GAZETTEER, cache_dir=folder)
    return folder


def _same_answers(one: Bot, other: Bot) -> None:
    for text in TEXTS:
        assert one.category_scores(text) == other.category_scores(text), text
        assert one.understand(text).as_dict() == other.understand(text).as_dict(), text
        assert one.answer(text) == other.answer(text), text


def test_the_cache_folder_is_private_and_holds_only_data(warm_cache: Path) -> None:
    assert stat.S_IMODE(warm_cache.stat().st_mode) == 0o700
    names = sorted(p.name for p in warm_cache.iterdir())
    assert [n.split("-")[0] for n in names] == ["jieba", "models", "segmentations"]
    assert all(n.endswith((".json", ".npz")) for n in names)
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in warm_cache.iterdir())


def test_a_bot_loaded_from_the_cache_answers_exactly_as_a_freshly_trained_one(bot: Bot, warm_cache: Path):
    before = {p.name: p.stat().st_mtime_ns for p in warm_cache.iterdir()}
    cached = Bot.load(CONTENT, GAZETTEER, cache_dir=warm_cache)
    assert {p.name: p.stat().st_mtime_ns for p in warm_cache.iterdir()} == before  # read, not rewritten
    _same_answers(bot, cached)  # `bot` was trained without any cache


@pytest.mark.parametrize(
    "damage", ["truncate", "flip", "garbage", "pickle_with_a_good_digest", "object_array"]
)
def test_a_damaged_cache_file_is_ignored_and_rebuilt(bot: Bot, tmp_path: Path, warm_cache: Path, damage: str):
    folder = _private(tmp_path / "cache")
    for source in warm_cache.iterdir():
        (folder / source.name).write_bytes(source.read_bytes())
        (folder / source.name).chmod(0o600)
    [models] = folder.glob("models-*")
    marker = tmp_path / "pwned"
    data = models.read_bytes()
    assert _models_from_bytes(data[data.index(b"\n") + 1 :]) is not None
    if damage == "truncate":
        models.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        models.write_bytes(data[:-100] + bytes([data[-100] ^ 0xFF]) + data[-99:])
    elif damage == "garbage":
        models.write_bytes(os.urandom(1000))
    else:  # written by someone who knows the format: the digest matches, the payload is not models
        if damage == "pickle_with_a_good_digest":
            payload = _hostile_pickle(marker)
        else:
            buffer = io.BytesIO()
            np.savez(buffer, head=np.array([_Hostile(marker)], dtype=object))
            payload = buffer.getvalue()
        with CacheDir.open(folder) as cache:
            cache.write(models.name, payload)
    damaged = models.read_bytes()
    rebuilt = Bot.load(CONTENT, GAZETTEER, cache_dir=folder)
    assert not marker.exists()
    _same_answers(bot, rebuilt)
    assert models.read_bytes() != damaged  # trained again and written again, whole:
    with CacheDir.open(folder) as cache:
        assert _models_from_bytes(cache.read(models.name)) is not None


def test_a_folder_open_to_others_is_refused_and_left_as_it_is(tmp_path: Path, caplog) -> None:
    folder = tmp_path / "cache"
    folder.mkdir()
    folder.chmod(0o777)
    marker = tmp_path / "pwned"
    planted = folder / "models-planted.npz"
    planted.write_bytes(b"qingpu-bot-cache 1 sha256=" + b"0" * 64 + b"\n" + _hostile_pickle(marker))
    with caplog.at_level(logging.WARNING, logger="bot.cache"):
        assert CacheDir.open(folder) is None
    assert "mode is 777" in caplog.text
    assert stat.S_IMODE(folder.stat().st_mode) == 0o777  # never chmod a folder that is not ours to fix
    assert [p.name for p in folder.iterdir()] == [planted.name]
    assert not marker.exists()


def test_the_bot_is_built_without_a_refused_folder(
    bot: Bot, tmp_path: Path, warm_cache: Path, caplog
) -> None:
    folder = tmp_path / "cache"
    folder.mkdir()
    for source in warm_cache.iterdir():  # a good cache, but anyone could have written it
        (folder / source.name).write_bytes(source.read_bytes())
    folder.chmod(0o770)
    with caplog.at_level(logging.WARNING, logger="bot.cache"):
        built = Bot.load(CONTENT, GAZETTEER, cache_dir=folder)
    assert "is not used" in caplog.text
    _same_answers(bot, built)
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in warm_cache.iterdir())


def test_a_folder_of_someone_else_a_symlink_or_a_file_is_refused(tmp_path: Path, monkeypatch, caplog) -> None:
    good = _private(tmp_path / "good")
    link = tmp_path / "link"
    link.symlink_to(good, target_is_directory=True)
    plain = tmp_path / "plain"
    plain.write_text("not a folder")
    with caplog.at_level(logging.WARNING, logger="bot.cache"):
        assert CacheDir.open(link) is None
        assert CacheDir.open(plain) is None
        with monkeypatch.context() as patch:
            patch.setattr(os, "geteuid", lambda: os.getuid() + 1)
            assert CacheDir.open(good) is None
    assert "belongs to user" in caplog.text
    assert CacheDir.open(None) is None
    with CacheDir.open(good) as cache:
        assert cache is not None


def test_a_new_folder_is_created_private(tmp_path: Path) -> None:
    with CacheDir.open(tmp_path / "instance" / "cache" / "bot") as cache:
        cache.write("x.json", b"[]")
        assert cache.read("x.json") == b"[]"
        assert cache.read("missing.json") is None
    assert stat.S_IMODE((tmp_path / "instance" / "cache" / "bot").stat().st_mode) == 0o700


def test_a_cache_file_that_is_a_symlink_or_not_private_is_ignored(tmp_path: Path) -> None:
    folder = _private(tmp_path / "cache")
    with CacheDir.open(folder) as cache:
        cache.write("real.json", b"[1]")
        (folder / "link.json").symlink_to(folder / "real.json")
        assert cache.read("link.json") is None
        (folder / "real.json").chmod(0o666)
        assert cache.read("real.json") is None


_AUDIT = """
import json, os, sys
from pathlib import Path

shared = os.path.realpath(os.environ["TMPDIR"])
seen = []


def audit(event, args):
    if event == "open" and isinstance(args[0], (str, bytes)):
        path = os.path.realpath(os.fsdecode(args[0]))
        if path.startswith(shared + os.sep):
            seen.append(path)
    elif event == "pickle.find_class":
        seen.append("unpickled " + ".".join(map(str, args)))


sys.addaudithook(audit)
from bot import Bot

bot = Bot.load(Path(sys.argv[1]), cache_dir=Path(sys.argv[2]) if sys.argv[2] else None)
print(json.dumps({"seen": seen, "category": bot.understand("楼顶有人在搭阳光房").category}))
"""


@pytest.mark.parametrize("cache", ["private", "none"])
def test_nothing_is_read_from_the_shared_temporary_folder(tmp_path: Path, cache: str) -> None:
    """Files planted where the bot used to keep its cache ($TMPDIR/qingpu-bot/…, jieba's cache) are never
    opened, let alone unpickled."""
    shared = tmp_path / "shared-tmp"
    old = shared / "qingpu-bot"
    old.mkdir(parents=True)
    marker = tmp_path / "pwned"
    hostile = _hostile_pickle(marker)
    for name in ("models-0123456789abcdef01234567.pickle", "segmentations-0.json", "jieba-dict-1-min10.txt"):
        (old / name).write_bytes(hostile)
    (shared / "jieba.cache").write_bytes(hostile)
    (shared / "jieba.u0123456789abcdef0123456789abcdef.cache").write_bytes(hostile)
    folder = tmp_path / "private" if cache == "private" else ""
    result = subprocess.run(
        [sys.executable, "-c", _AUDIT, str(CONTENT), str(folder)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "TMPDIR": str(shared)},
        check=True,
        timeout=120,
    )
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out == {"seen": [], "category": "illegal_construction"}
    assert not marker.exists()
