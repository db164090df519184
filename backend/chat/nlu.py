"""Getting the bot for this process: built once, with the estates of the database as its gazetteer."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from flask import current_app

from backend.chat.services import load_nlu
from backend.db import get_session
from backend.org.services import write_gazetteer


def current_nlu() -> Any:
    """The app's bot; the first call in a process builds it (gunicorn --preload does it before forking)."""
    if "nlu" in current_app.extensions:  # set by tests, or by a deployment that builds its own
        return current_app.extensions["nlu"]
    config = current_app.config["QINGPU"]
    if config.BOT_GAZETTEER:
        return load_nlu(config.content_dir, Path(config.BOT_GAZETTEER))
    path = config.instance_dir / "bot-gazetteer.csv"
    if not path.exists():
        # write then rename, so that another process never reads half a file
        fd, tmp = tempfile.mkstemp(dir=config.instance_dir, suffix=".csv")
        os.close(fd)
        write_gazetteer(get_session(), Path(tmp))
        os.replace(tmp, path)
    return load_nlu(config.content_dir, path)
