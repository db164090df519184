"""Loading the bot for this process: built once, with the estates of the database as its gazetteer, and kept
answering from the articles published now."""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import tempfile
import threading
import time
from pathlib import Path

from flask import Flask, current_app
from sqlalchemy.orm import Session

from backend.articles.index import current_index_version, published_for_index
from backend.db import Database
from backend.org.services import write_gazetteer
from bot import Bot
from bot.dialogue import Nlu

log = logging.getLogger(__name__)

# One rebuild at a time in a process: a second thread that saw the same change waits, then finds it done.
_rebuilding = threading.Lock()


def _fresh_lock_in_child() -> None:
    # a fork copies the lock as it is: held, if another thread was rebuilding at that moment
    global _rebuilding
    _rebuilding = threading.Lock()


os.register_at_fork(after_in_child=_fresh_lock_in_child)


def current_nlu(session: Session | None = None) -> Nlu:
    """The app's bot, answering from the articles published now; the first call in a process builds it
    (gunicorn --preload and the RQ worker do it before forking). Every call compares the articles' index
    version with the one the bot's index was built from and rebuilds it when they differ (see
    follow_published_articles): pass the session of the message being answered, whose transaction began with
    that message, and the version is read in it; without one, on a short reader of its own. Estates imported
    later reach the bot when the processes restart."""
    nlu = _this_process_bot()
    if isinstance(nlu, Bot):  # a stand-in of the tests has no articles to follow
        follow_published_articles(current_app.extensions["db"], nlu, session)
    return nlu


# The key of app.extensions under which this process keeps the app's bot once built, so that a message finds it
# without building the paths it is filed under again
_BUILT = "chat_bot"


def _this_process_bot() -> Nlu:
    extensions = current_app.extensions
    if "nlu" in extensions:  # set by tests, or by a deployment that builds its own
        nlu: Nlu = extensions["nlu"]
        return nlu
    built: Nlu | None = extensions.get(_BUILT)
    if built is None:
        built = extensions[_BUILT] = _build_bot()
    return built


def _build_bot() -> Bot:
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


def follow_published_articles(database: Database, bot: Bot, session: Session | None = None) -> bool:
    """Make `bot` answer from the articles published now; True when its index was rebuilt.

    One primary-key read of the committed index version per message, so that no message arriving after a
    withdrawal (or a publication) has committed, in whichever process, is answered from the articles as they
    were. It is read in `session` when one is given: the transaction of the message being answered, begun by
    that message (on MariaDB its snapshot is taken by its first statement, after the message arrived; on SQLite
    it holds the write lock, so nothing has committed since it began), which therefore sees every change
    committed before the message, for one statement on the connection the message already holds. Never pass a
    transaction that began before the message, nor one that changed the articles itself (it would see its own
    uncommitted version). Without `session`, the version is read on a short reader of its own.

    Only when that version differs from the one the bot's index was built from are the published articles
    read, with their version, in one fresh snapshot on a reader of their own (never the caller's transaction:
    the index is built from committed rows only, and on SQLite a reader never waits for the write lock), under
    this process's lock; so rebuilds are serial and each one is of a state at least as new as the one before.
    A message whose snapshot is a moment older than the index (another thread rebuilt it meanwhile) finds the
    fresh version equal to the index's and rebuilds nothing."""
    if session is not None:
        version = current_index_version(session)
    else:
        with database.reader() as reader:
            version = current_index_version(reader)
    if version == bot.articles_version:
        return False
    with _rebuilding:
        started = time.perf_counter()
        with database.reader() as reader:
            published = published_for_index(reader)
        if published.version == bot.articles_version:
            return False  # another thread rebuilt it while this one waited
        bot.replace_articles(published.articles, published.version)
    log.info(
        "bot: answering from %d published articles (index version %s), rebuilt in %.0f ms",
        len(published.articles),
        published.version,
        (time.perf_counter() - started) * 1000,
    )
    return True


def prepare_for_fork(app: Flask) -> None:
    """Build the bot once before a process forks (gunicorn --preload, the RQ worker), with the articles
    published now, so the children share its memory, and close pooled connections, which no fork may
    inherit."""
    with app.app_context():
        current_nlu()
    app.extensions["db"].engine.dispose()


def refresh_before_fork(app: Flask) -> None:
    """In a process that forks a child per job (the RQ worker, before each job): bring the bot's articles up
    to date here, so that the child inherits the index instead of rebuilding it for every job; then close the
    connection used, which no fork may inherit. A failure is only logged: the child checks again."""
    try:
        with app.app_context():
            current_nlu()
    except Exception:
        log.exception("bot: could not bring the published articles up to date before forking")
    finally:
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
