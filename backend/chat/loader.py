"""Loading the bot for this process: built once, with the estates of the database as its gazetteer."""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from pathlib import Path

from flask import Flask, current_app

from backend.org.services import write_gazetteer
from bot import Bot
from bot.dialogue import Nlu


def current_nlu() -> Nlu:
    """The app's bot; the first call in a process builds it (gunicorn --preload and the RQ worker do it
    before forking). Estates imported later reach the bot when the processes restart."""
    if "nlu" in current_app.extensions:  # set by tests, or by a deployment that builds its own
        nlu: Nlu = current_app.extensions["nlu"]
        return nlu
    config = current_app.config["QINGPU"]
    # the start-up cache lives in the instance folder, which the service owns (never the shared /tmp)
    cache_dir = config.instance_dir / "cache" / "bot"
    if config.BOT_GAZETTEER:
        return load_nlu(config.content_dir, Path(config.BOT_GAZETTEER), cache_dir)
    return load_nlu(
        config.content_dir, _database_gazetteer(config.instance_dir, config.database_url), cache_dir
    )


@functools.lru_cache(maxsize=4)
def load_nlu(content_dir: Path, gazetteer: Path | None = None, cache_dir: Path | None = None) -> Bot:
    """The bot, built once per process (before gunicorn forks its workers, with --preload); `cache_dir` is a
    folder of the service's own for its start-up cache (None: none)."""
    return Bot.load(content_dir, gazetteer=gazetteer, cache_dir=cache_dir)


def prepare_for_fork(app: Flask) -> None:
    """Build the bot once before a process forks (gunicorn --preload, the RQ worker), so the children share
    its memory, and close pooled connections, which no fork may inherit."""
    with app.app_context():
        current_nlu()
    app.extensions["db"].engine.dispose()


@functools.lru_cache(maxsize=4)
def _database_gazetteer(instance_dir: Path, database_url: str) -> Path:
    """This process's snapshot of the estates, named by its content so processes never overwrite each other.
    Read by a reader of its own: on SQLite an ordinary session would wait for the write lock that the
    request's (or the job's) own transaction may already hold, i.e. for itself."""
    instance_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=instance_dir, suffix=".csv")
    os.close(fd)
    try:
        with current_app.extensions["db"].reader() as session:
            write_gazetteer(session, Path(tmp))
        digest = hashlib.sha256(Path(tmp).read_bytes()).hexdigest()[:16]
        path = instance_dir / f"bot-gazetteer-{digest}.csv"
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path
