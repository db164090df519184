"""An RQ worker whose jobs run inside the app: `rq worker -w backend.worker.AppWorker` or `flask worker`.

Every AppWorker also runs RQ's scheduler: a job that failed is retried after a delay (`backend.queue` asks
for 10 s, 60 s, 300 s) by being parked in `rq:scheduled:<queue>`, and only a scheduler moves it back to its
queue. Many workers may run it; a lock in Redis (`rq:scheduler-lock:<queue>`, 61 s, refreshed every second)
lets one schedule at a time, and another takes over within its maintenance interval when that one dies.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.cli import ScriptInfo
from rq import Worker


class AppWorker(Worker):
    """Pushes an app context around the work loop; the forked work horses inherit it (and the bot,
    loaded once before they fork)."""

    def __init__(self, *args: Any, app: Flask | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.app = app

    def work(self, *args: Any, **kwargs: Any) -> bool:
        # always, even when `rq worker` passes its default False: without it no delayed retry ever runs
        kwargs["with_scheduler"] = True
        if self.app is None:
            # found as `flask --app backend` finds it: the app module imports this one (for `flask worker`)
            self.app = ScriptInfo(app_import_path="backend").load_app()
        from backend.chat.loader import prepare_for_fork

        prepare_for_fork(self.app)  # the bot is shared by every work horse forked below
        with self.app.app_context():
            return super().work(*args, **kwargs)

    def execute_job(self, job: Any, queue: Any) -> Any:
        if self.app is not None:
            from backend.chat.loader import refresh_before_fork

            refresh_before_fork(self.app)  # the work horse inherits the articles published now
        return super().execute_job(job, queue)
