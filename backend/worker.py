"""An RQ worker whose jobs run inside the app: `rq worker -w backend.worker.AppWorker` or `flask worker`."""

from __future__ import annotations

from typing import Any

from flask import Flask
from rq import Worker


class AppWorker(Worker):
    """Pushes an app context around the work loop; the forked work horses inherit it (and the bot,
    loaded once before they fork)."""

    def __init__(self, *args: Any, app: Flask | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.app = app

    def work(self, *args: Any, **kwargs: Any) -> bool:
        if self.app is None:
            from backend import create_app

            self.app = create_app()
        with self.app.app_context():
            from backend.chat.nlu import current_nlu

            current_nlu()  # built once here, shared by every work horse forked below
            self.app.extensions["db"].engine.dispose()  # no pooled connection may be inherited by a fork
            return super().work(*args, **kwargs)
