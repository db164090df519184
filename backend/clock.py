"""The service's clock: the system's in production, one a test can set and move."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from flask import current_app


class Clock(Protocol):
    def now(self) -> dt.datetime: ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class MovableClock:
    """Starts at a given instant (or now) and moves only when told; for tests and demonstrations."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self._now = start or dt.datetime.now(dt.UTC)

    def now(self) -> dt.datetime:
        return self._now

    def set(self, instant: dt.datetime) -> None:
        self._now = instant

    def advance(self, delta: dt.timedelta) -> None:
        self._now += delta


def now() -> dt.datetime:
    """The current instant by the app's clock (routes and jobs pass it to services)."""
    return current_app.extensions["clock"].now()
